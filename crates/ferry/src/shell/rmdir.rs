//! `rmdir DIR...`: every (empty) directory, each failure said and the others still removed.

use ferry_client::Result;

use super::operands::operands;
use super::Shell;
use crate::words::Word;

pub async fn rmdir(shell: &mut Shell, cmd: &str, words: &[Word]) -> Result<()> {
    let o = operands(cmd, words, "", 1, usize::MAX)?;
    let c = super::live(&mut shell.client, &shell.bars).await?;
    c.remove_dirs(&o.words, &shell.bars).await
}
