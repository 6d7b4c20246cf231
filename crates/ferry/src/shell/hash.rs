//! `hash PATH`: the server's digest of a file.

use ferry_client::Result;

use super::operands::operands;
use super::Shell;
use crate::words::Word;

pub async fn hash(shell: &mut Shell, cmd: &str, words: &[Word]) -> Result<()> {
    let path = operands(cmd, words, "", 1, 1)?.words.remove(0);
    let (algo, hex) = shell.client().await?.file_digest(&path).await?;
    outln!("{hex}  {path}  ({algo})");
    Ok(())
}
