//! The interactive shell: a rustyline prompt over one client session. This file is the
//! loop (prompt, history, Ctrl-C) and the dispatch, one match from a command's name to its
//! handler; each command has a file of its own here, which parses its operands and calls
//! ferry-client, and table.rs lists them all (for `help` and Tab completion).
//!
//! Each command runs on the runtime while the terminal is in its normal mode, so Ctrl-C
//! arrives as SIGINT: it cancels the running command (a transfer sends ABOR and keeps the
//! session) and the prompt comes back. At the prompt rustyline reads Ctrl-C as a key (the
//! line is dropped) and Ctrl-D as the end (like `bye`). History is kept per user under
//! `$XDG_DATA_HOME/ferry/history` (or `~/.local/share/ferry/history`); lines that carry a
//! password are never added.

mod cat;
mod cd;
mod get;
mod hash;
mod help;
mod lls;
mod local_command;
mod ls;
mod mget;
mod mkdir;
mod mput;
mod open;
mod operands;
mod put;
mod quota;
mod quote;
mod rename;
mod rm;
mod rmdir;
mod site;
pub mod table;

use std::future::Future;
use std::io::IsTerminal;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::{Duration, Instant};

use ferry_client::url::contains_password;
use ferry_client::{CancellationToken, Client, Error, FtpUrl, Result};
use rustyline::error::ReadlineError;
use rustyline::history::DefaultHistory;
use rustyline::{CompletionType, Config, Editor};
use tokio::runtime::Runtime;
use tokio::signal::unix::{signal, Signal, SignalKind};

use crate::cli::Global;
use crate::complete::{RemoteNames, ShellHelper};
use crate::progress::Bars;
use crate::words::{parse_line, Word};

enum Flow {
    Continue,
    Quit,
}

struct Shell {
    g: Global,
    client: Option<Client>,
    url: Option<FtpUrl>,
    cwd: String,
    /// Remote listings for Tab completion; the session is lent to it at the prompt.
    completion: Arc<RemoteNames>,
    /// The exit code of the last command that failed: the shell's own when its commands
    /// come from a script (stdin not a terminal), as `sh` would report a failing script.
    last_failure: Option<i32>,
    bars: Bars,
}

/// `$XDG_DATA_HOME/ferry/history`, else `~/.local/share/ferry/history`.
pub fn history_path() -> Option<PathBuf> {
    let base = std::env::var_os("XDG_DATA_HOME")
        .filter(|v| !v.is_empty())
        .map(PathBuf::from)
        .or_else(|| std::env::var_os("HOME").map(|h| Path::new(&h).join(".local/share")))?;
    Some(base.join("ferry").join("history"))
}

/// Whether a line must stay out of the history.
fn is_secret(line: &str) -> bool {
    let mut words = line.split_whitespace();
    let first = words.next().unwrap_or("");
    let second = words.next().unwrap_or("");
    contains_password(line)
        || (first.eq_ignore_ascii_case("quote") && second.eq_ignore_ascii_case("PASS"))
}

/// Runs `fut` to its end; SIGINT meanwhile cancels it (it then winds down by itself).
async fn cancellable<F: Future>(
    fut: F,
    cancel: &CancellationToken,
    sigint: &mut Signal,
) -> F::Output {
    tokio::pin!(fut);
    loop {
        tokio::select! {
            out = &mut fut => return out,
            _ = sigint.recv(), if !cancel.is_cancelled() => {
                errln!("^C: aborting...");
                cancel.cancel();
            }
        }
    }
}

/// How the shell starts: with a URL to open, or with a session already logged in
/// (`ferry register`).
pub enum Start {
    Url(Option<String>),
    Connected(Box<Client>, FtpUrl),
}

pub fn run(g: Global, url: Option<String>) -> i32 {
    let rt = match tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
    {
        Ok(rt) => rt,
        Err(e) => {
            errln!("ferry: cannot start: {e}");
            return crate::exit::OTHER;
        }
    };
    run_on(&rt, g, Start::Url(url))
}

pub fn run_on(rt: &Runtime, g: Global, start: Start) -> i32 {
    // Installed now, before any command, so a Ctrl-C during the first one cannot kill us.
    let mut sigint = match rt.block_on(async { signal(SignalKind::interrupt()) }) {
        Ok(s) => s,
        Err(e) => {
            errln!("ferry: cannot handle Ctrl-C: {e}");
            return crate::exit::OTHER;
        }
    };
    let config = Config::builder()
        .auto_add_history(false)
        .completion_type(CompletionType::List)
        .max_history_size(5000)
        .map(|b| b.build())
        .unwrap_or_default();
    let mut rl: Editor<ShellHelper, DefaultHistory> = match Editor::with_config(config) {
        Ok(rl) => rl,
        Err(e) => {
            errln!("ferry: cannot start the shell: {e}");
            return crate::exit::OTHER;
        }
    };
    let completion = Arc::new(RemoteNames::new(rt.handle().clone()));
    rl.set_helper(Some(ShellHelper::new(Arc::clone(&completion))));
    let history = history_path();
    if let Some(h) = &history {
        let _ = rl.load_history(h);
    }
    let mut shell = Shell {
        bars: Bars::new(g.quiet),
        g,
        client: None,
        url: None,
        cwd: String::new(),
        completion,
        last_failure: None,
    };
    match start {
        Start::Url(Some(u)) => {
            if let Err(e) = open::open(&mut shell, &u, rt, &mut sigint) {
                shell.last_failure = Some(crate::exit::code(&e));
                report(&e);
            }
        }
        Start::Url(None) => {}
        Start::Connected(c, url) => {
            let cancel = CancellationToken::new();
            let mut c = *c;
            let cwd = rt.block_on(cancellable(c.pwd(), &cancel, &mut sigint));
            shell.cwd = cwd.unwrap_or_default();
            shell.client = Some(c);
            shell.url = Some(url);
        }
    }
    loop {
        let prompt = shell.prompt();
        // The session serves Tab completion while the prompt waits, and comes back after.
        shell.completion.lend(shell.client.take());
        let read = rl.readline(&prompt);
        shell.client = shell.completion.take_back();
        match read {
            Ok(line) => {
                let line = line.trim();
                if line.is_empty() {
                    continue;
                }
                if !is_secret(line) {
                    let _ = rl.add_history_entry(line);
                    if let Some(h) = &history {
                        save_history(&mut rl, h);
                    }
                }
                // A SIGINT that arrived while idle must not cancel the next command.
                rt.block_on(async {
                    while tokio::time::timeout(Duration::ZERO, sigint.recv())
                        .await
                        .is_ok()
                    {}
                });
                let flow = shell.dispatch(line, rt, &mut sigint);
                // The command may have changed the server's files or the directory.
                shell.completion.forget();
                if let Flow::Quit = flow {
                    break;
                }
            }
            Err(ReadlineError::Interrupted) => continue,
            Err(ReadlineError::Eof) => break,
            Err(e) => {
                errln!("ferry: {e}");
                break;
            }
        }
    }
    if let Some(mut c) = shell.client.take() {
        rt.block_on(c.quit());
    }
    if let Some(h) = &history {
        save_history(&mut rl, h);
    }
    // At a terminal the user saw every error; a script's caller has only the status.
    match shell.last_failure {
        Some(code) if !std::io::stdin().is_terminal() => code,
        _ => crate::exit::OK,
    }
}

fn save_history(rl: &mut Editor<ShellHelper, DefaultHistory>, path: &Path) {
    if let Some(dir) = path.parent() {
        let _ = std::fs::create_dir_all(dir);
    }
    let _ = rl.save_history(path);
}

impl Shell {
    fn prompt(&self) -> String {
        match (&self.client, &self.url) {
            (Some(c), Some(u)) => format!("ferry {}@{}:{}> ", c.user(), u.authority(), self.cwd),
            _ => "ferry> ".to_owned(),
        }
    }

    fn dispatch(&mut self, line: &str, rt: &Runtime, sigint: &mut Signal) -> Flow {
        if let Some(command) = line.strip_prefix('!') {
            local_command::local_command(self, command);
            return Flow::Continue;
        }
        let words = parse_line(line);
        let Some(cmd) = words.first().map(|w| w.text.to_ascii_lowercase()) else {
            return Flow::Continue;
        };
        let args = &words[1..];
        let started = Instant::now();
        let r = match table::find(&cmd).map(|c| c.name) {
            None => Err(unknown(&cmd)),
            Some("bye") => return Flow::Quit,
            // Outside the runtime: the password prompt blocks.
            Some("open") => match args {
                [u] => open::open(self, &u.text, rt, sigint),
                _ => Err(Error::Usage(
                    "usage: open [ftp://][user@]host[:port][/dir]".to_owned(),
                )),
            },
            Some(command) => {
                let cancel = CancellationToken::new();
                let running = self.exec(command, &cmd, args, &cancel);
                let r = rt.block_on(cancellable(running, &cancel, sigint));
                self.bars.clear();
                r
            }
        };
        match r {
            Ok(()) => {}
            Err(e) => {
                self.last_failure = Some(crate::exit::code(&e));
                match e {
                    Error::Aborted => errln!(
                        "interrupted after {:.1} s: {cmd} aborted",
                        started.elapsed().as_secs_f64()
                    ),
                    e => report(&e),
                }
            }
        }
        Flow::Continue
    }

    /// The session, reconnected first if it was lost or the server closed it meanwhile.
    async fn client(&mut self) -> Result<&mut Client> {
        live(&mut self.client, &self.bars).await
    }

    /// Runs the command `name` (as typed, lower case) of the table's command `command`.
    async fn exec(
        &mut self,
        command: &str,
        name: &str,
        words: &[Word],
        cancel: &CancellationToken,
    ) -> Result<()> {
        match command {
            "help" => help::help(name, words),
            "close" => open::close(self, name, words).await,
            "cd" => cd::cd(self, name, words).await,
            "cdup" => cd::cdup(self, name, words).await,
            "pwd" => cd::pwd(self, name, words).await,
            "lcd" => cd::lcd(name, words),
            "lpwd" => cd::lpwd(name, words),
            "ls" | "dir" => ls::ls(self, name, words, cancel).await,
            "lls" => lls::lls(name, words),
            "mkdir" => mkdir::mkdir(self, name, words).await,
            "rmdir" => rmdir::rmdir(self, name, words).await,
            "rm" => rm::rm(self, name, words, cancel).await,
            "rename" => rename::rename(self, name, words).await,
            "get" | "reget" => get::get(self, name, words, cancel).await,
            "put" | "reput" => put::put(self, name, words, cancel).await,
            "mget" => mget::mget(self, name, words, cancel).await,
            "mput" => mput::mput(self, name, words, cancel).await,
            "cat" => cat::cat(self, name, words, cancel).await,
            "hash" => hash::hash(self, name, words).await,
            "quota" => quota::quota(self, name, words).await,
            // These two pass their words on as they are; every other command takes the
            // options it knows (anything else is a usage error, never a remote name) and
            // then operands.
            "site" => site::site(self, words).await,
            "quote" => quote::quote(self, words).await,
            _ => Err(unknown(name)),
        }
    }
}

fn unknown(name: &str) -> Error {
    Error::Usage(format!("unknown command {name:?}: type help for the list"))
}

/// The session of `slot`, reconnected first if it was lost (a failed command dropped it) or
/// the server closed it while the shell waited (its idle timeout): the command then runs as
/// if nothing had happened, with the remembered credentials and directory.
async fn live<'a>(slot: &'a mut Option<Client>, bars: &Bars) -> Result<&'a mut Client> {
    let c = slot
        .as_mut()
        .ok_or_else(|| Error::Usage("not connected: use open ftp://user@host/".to_owned()))?;
    c.ensure_connected(bars).await?;
    Ok(c)
}

/// An error for the user, with what to do about a certificate refusal.
fn report(e: &Error) {
    crate::report_error("error", e);
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn secrets_stay_out_of_history() {
        assert!(is_secret("open ftp://a:pw@h/"));
        assert!(is_secret("quote pass hunter2"));
        assert!(!is_secret("open ftp://a@h/"));
        assert!(!is_secret("get x"));
    }
}
