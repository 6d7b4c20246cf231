//! The one-shot subcommands: connect, do one thing, print its result, exit with its code.

use std::path::{Path, PathBuf};
use std::time::Instant;

use ferry_client::{CancellationToken, Client, Error, FtpUrl, Result};

use crate::cli::{Command, Global, SiteCommand};
use crate::output;
use crate::progress::Bars;

/// The URL a command operates on.
fn url_of(cmd: &Command) -> &str {
    match cmd {
        Command::Get { url, .. }
        | Command::Put { url, .. }
        | Command::Ls { url, .. }
        | Command::Mkdir { url }
        | Command::Rm { url, .. }
        | Command::Hash { url, .. }
        | Command::Register { url, .. }
        | Command::Site(SiteCommand::Exec { url, .. }) => url,
    }
}

/// Runs one command; Ok carries the exit status (SITE EXEC passes the remote one on).
pub async fn run(cmd: Command, g: &Global, creds: ferry_client::Credentials) -> Result<i32> {
    let url = FtpUrl::parse(url_of(&cmd))?;
    let verb = verb_of(&cmd);
    // Ctrl-C cancels as in the shell: a transfer stops with ABOR, keeps what arrived (the
    // next run resumes it), and says so; a second Ctrl-C leaves at once.
    let cancel = CancellationToken::new();
    let on_ctrl_c = {
        let cancel = cancel.clone();
        tokio::spawn(async move {
            if tokio::signal::ctrl_c().await.is_ok() {
                errln!("^C: aborting...");
                cancel.cancel();
                if tokio::signal::ctrl_c().await.is_ok() {
                    std::process::exit(crate::exit::INTERRUPTED);
                }
            }
        })
    };
    let started = std::time::Instant::now();
    let r = async {
        let mut client = tokio::select! {
            c = crate::login::connect(&url, creds, g) => c?,
            _ = cancel.cancelled() => return Err(Error::Aborted),
        };
        let r = match cmd {
            Command::Site(SiteCommand::Exec { name, args, .. }) => {
                site_exec(&mut client, &url, &name, &args).await
            }
            cmd => execute(&mut client, &url, cmd, g, &cancel)
                .await
                .map(|()| crate::exit::OK),
        };
        client.quit().await;
        r
    }
    .await;
    on_ctrl_c.abort();
    if let Err(Error::Aborted) = r {
        errln!(
            "interrupted after {:.1} s: {verb} aborted{}",
            started.elapsed().as_secs_f64(),
            if matches!(verb, "get" | "put") {
                " (run it again to resume)"
            } else {
                ""
            }
        );
    }
    r
}

/// The subcommand's name, for messages.
fn verb_of(cmd: &Command) -> &'static str {
    match cmd {
        Command::Get { .. } => "get",
        Command::Put { .. } => "put",
        Command::Ls { .. } => "ls",
        Command::Mkdir { .. } => "mkdir",
        Command::Rm { .. } => "rm",
        Command::Hash { .. } => "hash",
        Command::Register { .. } => "register",
        Command::Site(_) => "site exec",
    }
}

/// `site exec`: in the URL's directory, prints the output; 0 when the command exited 0.
async fn site_exec(client: &mut Client, url: &FtpUrl, name: &str, args: &[String]) -> Result<i32> {
    if !url.path.is_empty() && url.path != "/" {
        client.cwd(&url.path).await?;
    }
    let out = client.site_exec(name, args).await?;
    print_exec(&out);
    Ok(if out.success() {
        crate::exit::OK
    } else {
        crate::exit::OTHER
    })
}

/// The output lines on stdout; the status on stderr unless the command exited 0.
pub fn print_exec(out: &ferry_client::ExecOutput) {
    for l in &out.output {
        outln!("{l}");
    }
    if !out.success() {
        errln!("{}", out.status);
    }
}

pub fn parse_url(cmd: &Command) -> Result<FtpUrl> {
    FtpUrl::parse(url_of(cmd))
}

fn need_path(url: &FtpUrl) -> Result<&str> {
    if url.path.is_empty() || url.path == "/" {
        Err(Error::Usage(format!("{url}: the URL must name a path")))
    } else {
        Ok(&url.path)
    }
}

async fn execute(
    client: &mut Client,
    url: &FtpUrl,
    cmd: Command,
    g: &Global,
    cancel: &CancellationToken,
) -> Result<()> {
    let bars = Bars::new(g.quiet);
    match cmd {
        Command::Get {
            recursive, local, ..
        } if recursive => {
            if local.as_deref() == Some("-") {
                return Err(Error::Usage(
                    "get -r: a tree cannot go to stdout (-)".into(),
                ));
            }
            // The whole home (`ftp://alice@host/`) is a tree like any other; without a
            // LOCAL it lands in a directory named after the host, as wget's does.
            let remote = url.path.as_str();
            let name = base_of(remote).unwrap_or(&url.host).to_owned();
            let local = local
                .map(PathBuf::from)
                .unwrap_or_else(|| PathBuf::from(&name));
            let started = Instant::now();
            let batch = client.get_tree(remote, &local, &bars, cancel).await?;
            bars.clear();
            outln!(
                "{}",
                output::batch_summary(&batch.outcomes, batch.failures.len(), started.elapsed())
            );
            batch.into_result().map(drop)
        }
        Command::Get { local, .. } if local.as_deref() == Some("-") => {
            // `-`: the file on stdout (checked as usual), the summary on stderr.
            let remote = need_path(url)?;
            let out = crate::stdio::stdout_file().map_err(|e| Error::local("opening stdout", e))?;
            let notes = Bars::notes_only(g.quiet);
            match client.get_stream(remote, out, remote, &notes, cancel).await {
                Err(e) if crate::stdio::reader_left(&e) => Ok(()),
                Err(e) => Err(e),
                Ok(o) => {
                    if !g.quiet {
                        errln!("{}", output::summary(&o));
                    }
                    Ok(())
                }
            }
        }
        Command::Get { local, .. } => {
            let remote = need_path(url)?;
            let local = local
                .map(PathBuf::from)
                .unwrap_or_else(|| PathBuf::from(base_of(remote).unwrap_or("download")));
            let o = client.get_file(remote, &local, &bars, cancel).await?;
            outln!("{}", output::summary(&o));
            Ok(())
        }
        Command::Put {
            recursive, local, ..
        } => {
            let local = PathBuf::from(local);
            if recursive {
                let base = base_name(&local);
                let remote = if url.path.is_empty() || url.path.ends_with('/') {
                    ferry_client::listing::join(&url.path, &base)
                } else {
                    url.path.clone()
                };
                let started = Instant::now();
                let batch = client.put_tree(&local, &remote, &bars, cancel).await?;
                bars.clear();
                outln!(
                    "{}",
                    output::batch_summary(&batch.outcomes, batch.failures.len(), started.elapsed())
                );
                batch.into_result().map(drop)
            } else {
                let o = client.put_file(&local, &url.path, &bars, cancel).await?;
                outln!("{}", output::summary(&o));
                Ok(())
            }
        }
        Command::Ls { json, .. } => ls(client, &url.path, json, cancel).await,
        Command::Mkdir { .. } => client.mkdir(need_path(url)?).await,
        Command::Rm { recursive, .. } => {
            let path = need_path(url)?;
            if recursive {
                return client.remove_tree(path, cancel).await;
            }
            match client.delete(path).await {
                Err(e) if e.code() == Some(550) && client.is_dir(path).await.unwrap_or(false) => {
                    Err(Error::Usage(format!(
                        "{path} is a directory (use rm -r to delete a tree)"
                    )))
                }
                r => r,
            }
        }
        Command::Register { .. } | Command::Site(_) => {
            Err(Error::Usage("this command is not run here".to_owned()))
        }
        Command::Hash { json, .. } => {
            let path = need_path(url)?;
            let (algo, hex) = remote_hash(client, path).await?;
            if json {
                outln!("{}", output::digest_json(path, algo.name(), &hex));
            } else {
                outln!("{hex}  {path}");
            }
            Ok(())
        }
    }
}

/// The last component of a remote path (`b` of `/a/b/`), None for the root.
fn base_of(remote: &str) -> Option<&str> {
    remote
        .trim_end_matches('/')
        .rsplit('/')
        .next()
        .filter(|n| !n.is_empty())
}

fn base_name(p: &Path) -> String {
    p.canonicalize()
        .ok()
        .and_then(|c| c.file_name().map(|n| n.to_string_lossy().into_owned()))
        .unwrap_or_else(|| "upload".to_owned())
}

/// The server's digest of a file, or an error saying why there is none.
pub async fn remote_hash(
    client: &mut Client,
    path: &str,
) -> Result<(ferry_proto::hash::HashAlgo, String)> {
    if client.size(path).await?.is_none() {
        if client.is_dir(path).await.unwrap_or(false) {
            return Err(Error::Usage(format!(
                "{path} is a directory: only files have a digest"
            )));
        }
        return Err(Error::Server {
            command: format!("HASH {path}"),
            code: 550,
            text: "No such file or no permission.".to_owned(),
        });
    }
    client.remote_digest(path, None).await?.ok_or_else(|| {
        Error::Protocol("the server offers no digest command (HASH, XSHA256, XSHA1, XMD5)".into())
    })
}

/// Prints a listing: MLSD-based `ls -l` lines, raw `LIST` lines from servers without MLSD,
/// or JSON. A path naming a file lists that file.
pub async fn ls(
    client: &mut Client,
    path: &str,
    json: bool,
    cancel: &CancellationToken,
) -> Result<()> {
    let mlsd = client.features().has("MLST");
    if !mlsd && !json {
        for line in client.list_raw(path, cancel).await? {
            outln!("{line}");
        }
        return Ok(());
    }
    let entries = match client.list(path, cancel).await {
        Ok(e) => e,
        Err(e) if e.code() == Some(550) || e.code() == Some(501) => {
            match client.stat(path).await? {
                Some(entry) => vec![entry],
                None => return Err(e),
            }
        }
        Err(e) => return Err(e),
    };
    if json {
        outln!("{}", output::entries_json(&entries));
    } else {
        for line in output::entries_long(&entries) {
            outln!("{line}");
        }
    }
    Ok(())
}
