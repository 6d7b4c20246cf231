//! `rm [-r] [--] PATH...` (and `delete`): files, wildcards expanded, trees only with `-r`;
//! the same rule for a directory as `ferry rm` ([`ferry_client::Client::remove`]).

use ferry_client::{CancellationToken, Result};

use super::operands::operands;
use super::Shell;
use crate::words::Word;

pub async fn rm(
    shell: &mut Shell,
    cmd: &str,
    words: &[Word],
    cancel: &CancellationToken,
) -> Result<()> {
    let o = operands(cmd, words, "r", 1, usize::MAX)?;
    let targets = o.patterns()?;
    let c = super::live(&mut shell.client, &shell.bars).await?;
    c.remove_many(&targets, o.has('r'), &shell.bars, cancel)
        .await
}
