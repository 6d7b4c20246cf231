//! `cat REMOTE`: a remote file on the terminal, without bars, checked as any download.

use ferry_client::{CancellationToken, Error, Result};

use super::operands::operands;
use super::Shell;
use crate::progress::Bars;
use crate::words::Word;

pub async fn cat(
    shell: &mut Shell,
    cmd: &str,
    words: &[Word],
    cancel: &CancellationToken,
) -> Result<()> {
    let o = operands(cmd, words, "", 1, 1)?;
    let remote = &o.words[0];
    let notes = Bars::notes_only(shell.g.quiet);
    let out = crate::stdio::stdout_file().map_err(|e| Error::local("opening stdout", e))?;
    let c = super::live(&mut shell.client, &notes).await?;
    match c.get_stream(remote, out, remote, &notes, cancel).await {
        Err(e) if crate::stdio::reader_left(&e) => Ok(()),
        r => r.map(drop),
    }
}
