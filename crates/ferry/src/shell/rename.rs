//! `rename FROM TO` (and `mv`): RNFR and RNTO.

use ferry_client::Result;

use super::operands::operands;
use super::Shell;
use crate::words::Word;

pub async fn rename(shell: &mut Shell, cmd: &str, words: &[Word]) -> Result<()> {
    let o = operands(cmd, words, "", 2, 2)?;
    shell.client().await?.rename(&o.words[0], &o.words[1]).await
}
