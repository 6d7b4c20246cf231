//! `quote LINE`: a raw FTP command and its reply, except the commands that would open data
//! connections the shell does not read or end the session behind its back.

use ferry_client::{Error, Result};

use super::Shell;
use crate::print;
use crate::words::Word;

const REFUSED: &[&str] = &[
    "RETR", "STOR", "APPE", "STOU", "LIST", "NLST", "MLSD", "PASV", "EPSV", "PORT", "EPRT", "QUIT",
    "REIN",
];

pub async fn quote(shell: &mut Shell, words: &[Word]) -> Result<()> {
    if words.is_empty() {
        return Err(Error::Usage("quote: missing command line".into()));
    }
    let line = words
        .iter()
        .map(|w| w.text.as_str())
        .collect::<Vec<_>>()
        .join(" ");
    let upper = line.to_ascii_uppercase();
    for verb in REFUSED {
        if upper == *verb || upper.starts_with(&format!("{verb} ")) {
            return Err(Error::Usage(format!(
                "quote {verb}: use the shell's own commands for this"
            )));
        }
    }
    let r = shell.client().await?.quote(&line).await?;
    print::reply(&r);
    Ok(())
}
