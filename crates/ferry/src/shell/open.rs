//! `open URL` and `close`: the shell's session.

use ferry_client::{Error, FtpUrl, Result};
use tokio::runtime::Runtime;
use tokio::signal::unix::Signal;

use super::operands::operands;
use super::Shell;
use crate::words::Word;

/// `open URL` (`ftp://` may be left out: `open host:2121`): asks for the password if
/// needed (outside the runtime: it blocks), logs in, goes to the URL's directory. The
/// current session is kept until the new one is logged in, so a failed (or, with
/// Ctrl-C, abandoned) open leaves it as it was.
pub fn open(shell: &mut Shell, u: &str, rt: &Runtime, sigint: &mut Signal) -> Result<()> {
    let u = if u.contains("://") {
        u.to_owned()
    } else {
        format!("ftp://{u}")
    };
    let url = FtpUrl::parse(&u)?;
    let creds = crate::login::credentials(&url, &shell.g)?;
    let connecting = async {
        let mut c = crate::login::connect(&url, creds, &shell.g).await?;
        if !url.path.is_empty() && url.path != "/" {
            c.cwd(&url.path).await?;
        }
        let cwd = c.pwd().await.unwrap_or_default();
        Ok::<_, Error>((c, cwd))
    };
    // Ctrl-C gives up at once: nothing is half-done on a connection not yet in use.
    let (c, cwd) = rt.block_on(async {
        tokio::select! {
            r = connecting => r,
            _ = sigint.recv() => Err(Error::Aborted),
        }
    })?;
    let how = match (c.is_tls(), c.is_data_tls()) {
        (true, true) => " (TLS)",
        (true, false) => " (TLS, data in clear)",
        _ => "",
    };
    outln!("Connected to {} as {}{how}.", url.authority(), c.user());
    if let Some(mut old) = shell.client.replace(c) {
        rt.block_on(old.quit());
    }
    shell.url = Some(url);
    shell.cwd = cwd;
    Ok(())
}

/// `close`: logs out and forgets the server.
pub async fn close(shell: &mut Shell, cmd: &str, words: &[Word]) -> Result<()> {
    operands(cmd, words, "", 0, 0)?;
    if let Some(mut c) = shell.client.take() {
        c.quit().await;
    }
    shell.url = None;
    Ok(())
}
