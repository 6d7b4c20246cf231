//! `quota`: the server's own words (`SITE QUOTA`, Ferry's and a few others'), else the room
//! left (`AVBL`), else that the server does not say.

use ferry_client::Result;

use super::operands::operands;
use super::Shell;
use crate::words::Word;

pub async fn quota(shell: &mut Shell, cmd: &str, words: &[Word]) -> Result<()> {
    operands(cmd, words, "", 0, 0)?;
    let c = shell.client().await?;
    match c.site("QUOTA").await {
        Ok(r) => {
            for l in &r.lines {
                outln!("{}", l.trim_start());
            }
            Ok(())
        }
        Err(e) => match c.available(None).await? {
            Some(n) => {
                outln!("{} available", ferry_proto::size::format_size(n));
                Ok(())
            }
            None if matches!(e.code(), Some(500..=504)) => {
                outln!("the server does not report quotas (no SITE QUOTA, no AVBL)");
                Ok(())
            }
            None => Err(e),
        },
    }
}
