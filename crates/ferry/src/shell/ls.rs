//! `ls [-l] [PATH]` (and `dir`): a remote listing, printed as `ferry ls` prints it.

use ferry_client::{CancellationToken, Result};

use super::operands::operands;
use super::Shell;
use crate::words::Word;

pub async fn ls(
    shell: &mut Shell,
    cmd: &str,
    words: &[Word],
    cancel: &CancellationToken,
) -> Result<()> {
    // Always the long form: -l and -a are accepted for habit's sake.
    let o = operands(cmd, words, "la", 0, 1)?;
    let path = o.words.first().cloned().unwrap_or_default();
    let c = shell.client().await?;
    crate::print::listing(c, &path, false, cancel).await
}
