//! `mkdir [-p] DIR...`: every directory, each failure said and the others still made.

use ferry_client::Result;

use super::operands::operands;
use super::Shell;
use crate::words::Word;

pub async fn mkdir(shell: &mut Shell, cmd: &str, words: &[Word]) -> Result<()> {
    let o = operands(cmd, words, "p", 1, usize::MAX)?;
    let c = super::live(&mut shell.client, &shell.bars).await?;
    c.make_dirs_many(&o.words, o.has('p'), &shell.bars).await
}
