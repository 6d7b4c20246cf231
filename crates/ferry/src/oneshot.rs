//! The one-shot subcommands: connect, do one thing, print its result, exit with its code.

use std::path::PathBuf;
use std::time::Instant;

use ferry_client::glob::Operand;
use ferry_client::targets::default_local_name;
use ferry_client::{CancellationToken, Client, Error, FtpUrl, Result};

use crate::cli::{Command, Global, SiteCommand};
use crate::progress::Bars;
use crate::{output, print};

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
    print::exec_output(&out);
    Ok(if out.success() {
        crate::exit::OK
    } else {
        crate::exit::OTHER
    })
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
            // The whole home (`ftp://alice@host/`) is a tree like any other.
            let remote = url.path.as_str();
            let local = local
                .map(PathBuf::from)
                .unwrap_or_else(|| default_local_name(remote, &url.host));
            let started = Instant::now();
            let batch = client.get_tree(remote, &local, &bars, cancel).await?;
            print::batch(&bars, started, batch)
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
                .unwrap_or_else(|| default_local_name(remote, &url.host));
            let o = client.get_file(remote, &local, &bars, cancel).await?;
            print::transfer(&o);
            Ok(())
        }
        Command::Put {
            recursive, local, ..
        } => {
            let local = PathBuf::from(local);
            if recursive {
                let started = Instant::now();
                let batch = client.put_tree(&local, &url.path, &bars, cancel).await?;
                print::batch(&bars, started, batch)
            } else {
                let o = client.put_file(&local, &url.path, &bars, cancel).await?;
                print::transfer(&o);
                Ok(())
            }
        }
        Command::Ls { json, .. } => print::listing(client, &url.path, json, cancel).await,
        Command::Mkdir { .. } => client.mkdir(need_path(url)?).await,
        Command::Rm { recursive, .. } => {
            let path = Operand::Path(need_path(url)?.to_owned());
            client.remove_many(&[path], recursive, &bars, cancel).await
        }
        Command::Register { .. } | Command::Site(_) => {
            Err(Error::Usage("this command is not run here".to_owned()))
        }
        Command::Hash { json, .. } => {
            let path = need_path(url)?;
            let (algo, hex) = client.file_digest(path).await?;
            if json {
                outln!("{}", output::digest_json(path, algo.name(), &hex));
            } else {
                outln!("{hex}  {path}");
            }
            Ok(())
        }
    }
}
