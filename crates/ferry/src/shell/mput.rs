//! `mput PATTERN...`: every local file the patterns match, into the remote directory.

use std::time::Instant;

use ferry_client::{CancellationToken, Result};

use super::operands::operands;
use super::Shell;
use crate::print;
use crate::words::Word;

pub async fn mput(
    shell: &mut Shell,
    cmd: &str,
    words: &[Word],
    cancel: &CancellationToken,
) -> Result<()> {
    let o = operands(cmd, words, "", 1, usize::MAX)?;
    let patterns = o.patterns()?;
    let bars = &shell.bars;
    let c = super::live(&mut shell.client, bars).await?;
    let started = Instant::now();
    let batch = c.put_many(&patterns, bars, cancel).await?;
    print::batch(bars, started, batch)
}
