//! The interactive shell: a rustyline prompt over one client session.
//!
//! Each command runs on the runtime while the terminal is in its normal mode, so Ctrl-C
//! arrives as SIGINT: it cancels the running command (a transfer sends ABOR and keeps the
//! session) and the prompt comes back. At the prompt rustyline reads Ctrl-C as a key (the
//! line is dropped) and Ctrl-D as the end (like `bye`). History is kept per user under
//! `$XDG_DATA_HOME/ferry/history` (or `~/.local/share/ferry/history`); lines that carry a
//! password are never added.

use std::future::Future;
use std::io::IsTerminal;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::{Duration, Instant};

use ferry_client::glob::matches;
use ferry_client::listing::join;
use ferry_client::url::contains_password;
use ferry_client::{CancellationToken, Client, EntryType, Error, FtpUrl, RemoteEntry, Result};
use rustyline::error::ReadlineError;
use rustyline::history::DefaultHistory;
use rustyline::{CompletionType, Config, Editor};
use tokio::runtime::Runtime;
use tokio::signal::unix::{signal, Signal, SignalKind};

use crate::cli::Global;
use crate::complete::{RemoteNames, ShellHelper};
use crate::output;
use crate::progress::Bars;
use crate::words::{parse_line, Word};

/// Every shell command: name, arguments, what it does (for `help` and completion).
pub const COMMANDS: &[(&str, &str, &str)] = &[
    (
        "open",
        "URL",
        "connect to [ftp://][user@]host[:port][/dir] (ftps:// for implicit TLS)",
    ),
    ("close", "", "disconnect"),
    ("bye", "", "disconnect and leave (also quit, exit, Ctrl-D)"),
    ("help", "[COMMAND]", "list the commands, or explain one"),
    (
        "!",
        "[COMMAND]",
        "run a local shell command (a shell without COMMAND)",
    ),
    ("cd", "DIR", "change the remote directory"),
    ("cdup", "", "go to the parent remote directory"),
    ("pwd", "", "print the remote directory"),
    (
        "lcd",
        "[DIR]",
        "change the local directory (home without DIR)",
    ),
    ("lpwd", "", "print the local directory"),
    ("ls", "[-l] [PATH]", "list a remote directory (ls -l style)"),
    ("dir", "[-l] [PATH]", "same as ls"),
    ("lls", "[-l] [DIR]", "list a local directory (ls -l style)"),
    (
        "mkdir",
        "[-p] DIR...",
        "create remote directories (-p: and their parents)",
    ),
    ("rmdir", "DIR...", "remove empty remote directories"),
    (
        "rm",
        "[-r] [--] PATH...",
        "delete remote files (wildcards allowed; -r for trees; -- ends options)",
    ),
    ("rename", "FROM TO", "rename or move a remote file"),
    (
        "get",
        "[-r] REMOTE [LOCAL]",
        "download (resumes and verifies by itself)",
    ),
    (
        "put",
        "[-r] LOCAL [REMOTE]",
        "upload (resumes and verifies by itself)",
    ),
    (
        "mget",
        "PATTERN...",
        "download every remote file matching (e.g. *.txt)",
    ),
    ("mput", "PATTERN...", "upload every local file matching"),
    (
        "cat",
        "REMOTE",
        "print a remote file (verified as any download)",
    ),
    (
        "reget",
        "REMOTE [LOCAL]",
        "resume a download (get does this too)",
    ),
    (
        "reput",
        "LOCAL [REMOTE]",
        "resume an upload (put does this too)",
    ),
    ("hash", "PATH", "print the server's digest of a file"),
    ("quota", "", "show your quota on the server"),
    (
        "site",
        "ARGS",
        "send a SITE command (site help lists them; site exec NAME [ARGS] runs one)",
    ),
    (
        "quote",
        "LINE",
        "send a raw FTP command and print the reply",
    ),
];

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
            if let Err(e) = shell.open(&u, rt, &mut sigint) {
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
            self.local_command(command);
            return Flow::Continue;
        }
        let words = parse_line(line);
        let Some(cmd) = words.first().map(|w| w.text.to_ascii_lowercase()) else {
            return Flow::Continue;
        };
        let args = &words[1..];
        let started = Instant::now();
        let r = match cmd.as_str() {
            "bye" | "quit" | "exit" => return Flow::Quit,
            "open" => match args {
                [u] => self.open(&u.text, rt, sigint),
                _ => Err(Error::Usage(
                    "usage: open [ftp://][user@]host[:port][/dir]".to_owned(),
                )),
            },
            _ => {
                let cancel = CancellationToken::new();
                let r = rt.block_on(cancellable(self.exec(&cmd, args, &cancel), &cancel, sigint));
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

    /// `!COMMAND`: runs a local shell command (`sh -c`), on the same terminal.
    fn local_command(&mut self, command: &str) {
        let command = command.trim();
        let shell = std::env::var_os("SHELL").unwrap_or_else(|| "sh".into());
        let mut c = std::process::Command::new(&shell);
        if !command.is_empty() {
            c.arg("-c").arg(command);
        }
        match c.status() {
            Ok(status) if status.success() => {}
            Ok(status) => {
                errln!("!{command}: {status}");
                self.last_failure = Some(crate::exit::OTHER);
            }
            Err(e) => {
                errln!("!{command}: cannot run {}: {e}", shell.to_string_lossy());
                self.last_failure = Some(crate::exit::OTHER);
            }
        }
    }

    /// `open URL` (`ftp://` may be left out: `open host:2121`): asks for the password if
    /// needed (outside the runtime: it blocks), logs in, goes to the URL's directory. The
    /// current session is kept until the new one is logged in, so a failed (or, with
    /// Ctrl-C, abandoned) open leaves it as it was.
    fn open(&mut self, u: &str, rt: &Runtime, sigint: &mut Signal) -> Result<()> {
        let u = if u.contains("://") {
            u.to_owned()
        } else {
            format!("ftp://{u}")
        };
        let url = FtpUrl::parse(&u)?;
        let creds = crate::login::credentials(&url, &self.g)?;
        let connecting = async {
            let mut c = crate::login::connect(&url, creds, &self.g).await?;
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
        if let Some(mut old) = self.client.replace(c) {
            rt.block_on(old.quit());
        }
        self.url = Some(url);
        self.cwd = cwd;
        Ok(())
    }

    /// The session, reconnected first if it was lost or the server closed it meanwhile.
    async fn client(&mut self) -> Result<&mut Client> {
        live(&mut self.client, &self.bars).await
    }

    async fn exec(&mut self, cmd: &str, words: &[Word], cancel: &CancellationToken) -> Result<()> {
        let args: Vec<String> = words.iter().map(|w| w.text.clone()).collect();
        // `site` and `quote` pass their words on as they are; every other command takes the
        // options it knows (anything else is a usage error, never a remote name) and then
        // operands.
        let opts = |allowed: &str, min: usize, max: usize| {
            Operands::parse(cmd, words, allowed)?.count(cmd, min, max)
        };
        match cmd {
            "help" | "?" => {
                let o = opts("", 0, 1)?;
                help(o.words.first().map(String::as_str));
                Ok(())
            }
            "close" => {
                opts("", 0, 0)?;
                if let Some(mut c) = self.client.take() {
                    c.quit().await;
                }
                self.url = None;
                Ok(())
            }
            "lcd" => {
                let o = opts("", 0, 1)?;
                let dir = match o.words.first() {
                    Some(d) => PathBuf::from(d),
                    None => std::env::var_os("HOME")
                        .map(PathBuf::from)
                        .unwrap_or_default(),
                };
                std::env::set_current_dir(&dir)
                    .map_err(|e| Error::local(format!("lcd {}", dir.display()), e))?;
                outln!("Local directory: {}", current_dir().display());
                Ok(())
            }
            "lpwd" => {
                opts("", 0, 0)?;
                outln!("{}", current_dir().display());
                Ok(())
            }
            "lls" => {
                // Always the long form (as ls): -l and -a are accepted for habit's sake.
                let o = opts("la", 0, 1)?;
                lls(Path::new(
                    o.words.first().map(String::as_str).unwrap_or("."),
                ))
            }
            "cd" => {
                let o = opts("", 1, 1)?;
                let c = self.client().await?;
                c.cwd(&o.words[0]).await?;
                self.cwd = c.pwd().await?;
                Ok(())
            }
            "cdup" => {
                opts("", 0, 0)?;
                let c = self.client().await?;
                c.cdup().await?;
                self.cwd = c.pwd().await?;
                Ok(())
            }
            "pwd" => {
                opts("", 0, 0)?;
                let c = self.client().await?;
                let d = c.pwd().await?;
                outln!("{d}");
                Ok(())
            }
            "ls" | "dir" => {
                let o = opts("la", 0, 1)?;
                let path = o.words.first().cloned().unwrap_or_default();
                let c = self.client().await?;
                crate::oneshot::ls(c, &path, false, cancel).await
            }
            "mkdir" => {
                let o = opts("p", 1, usize::MAX)?;
                let parents = o.has('p');
                let c = self.client().await?;
                let mut tally = Tally::new(cmd, o.words.len());
                for d in &o.words {
                    let r = if parents {
                        c.make_dirs(d).await
                    } else {
                        c.mkdir(d).await
                    };
                    tally.record(d, r)?;
                }
                tally.finish()
            }
            "rmdir" => {
                let o = opts("", 1, usize::MAX)?;
                let c = self.client().await?;
                let mut tally = Tally::new(cmd, o.words.len());
                for d in &o.words {
                    tally.record(d, c.rmdir(d).await)?;
                }
                tally.finish()
            }
            "rename" | "mv" => {
                let o = opts("", 2, 2)?;
                self.client().await?.rename(&o.words[0], &o.words[1]).await
            }
            "rm" | "delete" => {
                let o = opts("r", 1, usize::MAX)?;
                let recursive = o.has('r');
                let c = self.client().await?;
                let mut targets = Vec::new();
                for pattern in &o.raw {
                    targets.extend(expand_remote(c, pattern, cancel).await?);
                }
                let mut tally = Tally::new(cmd, targets.len());
                for (path, kind) in targets {
                    let r = match kind {
                        Some(EntryType::Dir) if recursive => c.remove_tree(&path, cancel).await,
                        Some(EntryType::Dir) => {
                            Err(Error::Usage(format!("{path} is a directory (use rm -r)")))
                        }
                        _ => c.delete(&path).await,
                    };
                    tally.record(&path, r)?;
                }
                tally.finish()
            }
            "get" | "reget" => {
                let o = opts("r", 1, 2)?;
                let recursive = o.has('r');
                let remote = o.words[0].clone();
                // The root (`get -r /`) lands in a directory named after the host, as with
                // the one-shot command.
                let host = self.url.as_ref().map(|u| u.host.clone());
                let local = o.words.get(1).map(PathBuf::from).unwrap_or_else(|| {
                    let base = remote.trim_end_matches('/').rsplit('/').next();
                    PathBuf::from(
                        base.filter(|b| !b.is_empty())
                            .map(str::to_owned)
                            .or(host)
                            .unwrap_or_else(|| "download".to_owned()),
                    )
                });
                let bars = &self.bars;
                let c = live(&mut self.client, bars).await?;
                if recursive {
                    let started = Instant::now();
                    let b = c.get_tree(&remote, &local, bars, cancel).await?;
                    bars.clear();
                    outln!(
                        "{}",
                        output::batch_summary(&b.outcomes, b.failures.len(), started.elapsed())
                    );
                    b.into_result().map(drop)
                } else {
                    let o = c.get_file(&remote, &local, bars, cancel).await?;
                    outln!("{}", output::summary(&o));
                    Ok(())
                }
            }
            "put" | "reput" => {
                let o = opts("r", 1, 2)?;
                let recursive = o.has('r');
                let local = PathBuf::from(&o.words[0]);
                let remote = o.words.get(1).cloned().unwrap_or_default();
                let bars = &self.bars;
                let c = live(&mut self.client, bars).await?;
                if recursive {
                    let remote = if remote.is_empty() {
                        local
                            .file_name()
                            .map(|n| n.to_string_lossy().into_owned())
                            .unwrap_or_default()
                    } else {
                        remote
                    };
                    let started = Instant::now();
                    let b = c.put_tree(&local, &remote, bars, cancel).await?;
                    bars.clear();
                    outln!(
                        "{}",
                        output::batch_summary(&b.outcomes, b.failures.len(), started.elapsed())
                    );
                    b.into_result().map(drop)
                } else {
                    let o = c.put_file(&local, &remote, bars, cancel).await?;
                    outln!("{}", output::summary(&o));
                    Ok(())
                }
            }
            "mget" => {
                let o = opts("", 1, usize::MAX)?;
                let bars = &self.bars;
                let c = live(&mut self.client, bars).await?;
                let mut files = Vec::new();
                for p in &o.raw {
                    for (path, kind) in expand_remote(c, p, cancel).await? {
                        if kind != Some(EntryType::Dir) {
                            files.push(path);
                        }
                    }
                }
                let mut batch = Batch::start();
                for f in files {
                    // The local name is the server's: checked before it touches the disk.
                    let got = match ferry_client::names::local_name_of(&f) {
                        Ok(local) => c.get_file(&f, &local, bars, cancel).await,
                        Err(e) => Err(e),
                    };
                    batch.record(&f, got)?;
                }
                bars.clear();
                batch.finish()
            }
            "mput" => {
                let o = opts("", 1, usize::MAX)?;
                let bars = &self.bars;
                let c = live(&mut self.client, bars).await?;
                let mut files = Vec::new();
                for p in &o.raw {
                    files.extend(expand_local(p)?);
                }
                let started = Instant::now();
                let total = files
                    .iter()
                    .filter_map(|f| std::fs::metadata(f).ok())
                    .map(|m| m.len())
                    .sum();
                bars_batch(bars, files.len(), total);
                let mut batch = Batch {
                    started,
                    ..Batch::start()
                };
                for f in files {
                    let label = f.display().to_string();
                    batch.record(&label, c.put_file(&f, "", bars, cancel).await)?;
                }
                bars.clear();
                batch.finish()
            }
            "cat" => {
                // On the terminal, without bars; checked as any download.
                let o = opts("", 1, 1)?;
                let remote = &o.words[0];
                let notes = Bars::notes_only(self.g.quiet);
                let out =
                    crate::stdio::stdout_file().map_err(|e| Error::local("opening stdout", e))?;
                let c = live(&mut self.client, &notes).await?;
                match c.get_stream(remote, out, remote, &notes, cancel).await {
                    Err(e) if crate::stdio::reader_left(&e) => Ok(()),
                    r => r.map(drop),
                }
            }
            "hash" => {
                let p = opts("", 1, 1)?.words.remove(0);
                let c = self.client().await?;
                let (algo, hex) = crate::oneshot::remote_hash(c, &p).await?;
                outln!("{hex}  {p}  ({algo})");
                Ok(())
            }
            "quota" => {
                opts("", 0, 0)?;
                let c = self.client().await?;
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
                        // SITE QUOTA is Ferry's own (and a few others'); no AVBL either.
                        None if matches!(e.code(), Some(500..=504)) => {
                            outln!("the server does not report quotas (no SITE QUOTA, no AVBL)");
                            Ok(())
                        }
                        None => Err(e),
                    },
                }
            }
            "site" => {
                if args.is_empty() {
                    return Err(Error::Usage(
                        "site: missing arguments (try site help)".into(),
                    ));
                }
                if args[0].eq_ignore_ascii_case("exec") {
                    let name = args
                        .get(1)
                        .ok_or_else(|| Error::Usage("site exec: missing command name".into()))?
                        .clone();
                    let c = self.client().await?;
                    let out = c.site_exec(&name, &args[2..]).await?;
                    crate::oneshot::print_exec(&out);
                    return Ok(());
                }
                let line = args.join(" ");
                let c = self.client().await?;
                let r = c.quote(&format!("SITE {line}")).await?;
                print_reply(&r);
                Ok(())
            }
            "quote" => {
                if args.is_empty() {
                    return Err(Error::Usage("quote: missing command line".into()));
                }
                let line = args.join(" ");
                let upper = line.to_ascii_uppercase();
                // These open data connections the shell would not read, or end the session
                // behind its back.
                for verb in [
                    "RETR", "STOR", "APPE", "STOU", "LIST", "NLST", "MLSD", "PASV", "EPSV", "PORT",
                    "EPRT", "QUIT", "REIN",
                ] {
                    if upper == verb || upper.starts_with(&format!("{verb} ")) {
                        return Err(Error::Usage(format!(
                            "quote {verb}: use the shell's own commands for this"
                        )));
                    }
                }
                let c = self.client().await?;
                let r = c.quote(&line).await?;
                print_reply(&r);
                Ok(())
            }
            other => Err(Error::Usage(format!(
                "unknown command {other:?}: type help for the list"
            ))),
        }
    }
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

/// A command's words split into options and operands, as GNU getopt does: a word starting
/// with `-` is one or more one-letter options (`-la`) wherever it stands, up to `--`, after
/// which everything is an operand (`rm -- -dash.txt`); `-` alone is an operand.
struct Operands {
    flags: Vec<char>,
    words: Vec<String>,
    /// The same operands with what was quoted in them (for wildcards).
    raw: Vec<Word>,
}

impl Operands {
    /// Splits `args`; an option not in `allowed` is a usage error.
    fn parse(cmd: &str, args: &[Word], allowed: &str) -> Result<Operands> {
        let mut o = Operands {
            flags: Vec::new(),
            words: Vec::new(),
            raw: Vec::new(),
        };
        let mut options_done = false;
        for word in args {
            let a = &word.text;
            if options_done || a == "-" || !a.starts_with('-') {
                o.words.push(a.clone());
                o.raw.push(word.clone());
            } else if a == "--" {
                options_done = true;
            } else if a.starts_with("--") {
                return Err(Error::Usage(format!(
                    "{cmd}: unknown option {a} (see help {cmd})"
                )));
            } else {
                for f in a.chars().skip(1) {
                    if !allowed.contains(f) {
                        return Err(Error::Usage(format!(
                            "{cmd}: unknown option -{f} (see help {cmd})"
                        )));
                    }
                    o.flags.push(f);
                }
            }
        }
        Ok(o)
    }

    /// Requires between `min` and `max` operands.
    fn count(self, cmd: &str, min: usize, max: usize) -> Result<Operands> {
        let n = self.words.len();
        if n < min {
            return Err(Error::Usage(format!(
                "{cmd}: missing argument (see help {cmd})"
            )));
        }
        if n > max {
            return Err(Error::Usage(format!(
                "{cmd}: too many arguments (see help {cmd})"
            )));
        }
        Ok(self)
    }

    fn has(&self, flag: char) -> bool {
        self.flags.contains(&flag)
    }
}

/// A command applied to several operands (`mkdir a b`, `rm *.tmp`): each failure is said as
/// it happens and the others still run, as the Unix commands do; the result is the one
/// error itself when there was a single operand, else [`Error::Batch`].
struct Tally {
    cmd: String,
    total: usize,
    failed: usize,
    first: Option<Error>,
}

impl Tally {
    fn new(cmd: &str, total: usize) -> Tally {
        Tally {
            cmd: cmd.to_owned(),
            total,
            failed: 0,
            first: None,
        }
    }

    /// Notes one operand's result; an abort (Ctrl-C) ends the command at once.
    fn record(&mut self, operand: &str, r: Result<()>) -> Result<()> {
        match r {
            Ok(()) => Ok(()),
            Err(Error::Aborted) => Err(Error::Aborted),
            Err(e) => {
                if self.total > 1 {
                    report(&Error::Usage(format!("{} {operand}: {e}", self.cmd)));
                }
                self.failed += 1;
                self.first.get_or_insert(e);
                Ok(())
            }
        }
    }

    fn finish(self) -> Result<()> {
        match self.first {
            None => Ok(()),
            Some(e) if self.total <= 1 => Err(e),
            Some(first) => Err(Error::Batch {
                failed: self.failed,
                total: self.total,
                first: Box::new(first),
            }),
        }
    }
}

/// An error for the user, with what to do about a certificate refusal.
fn report(e: &Error) {
    crate::report_error("error", e);
}

fn bars_batch(bars: &Bars, files: usize, bytes: u64) {
    if files > 1 {
        ferry_client::Progress::batch(bars, files, bytes);
    }
}

fn print_reply(r: &ferry_proto::Reply) {
    for (i, l) in r.lines.iter().enumerate() {
        if i == 0 {
            outln!("{} {l}", r.code);
        } else {
            outln!("{l}");
        }
    }
}

fn current_dir() -> PathBuf {
    std::env::current_dir().unwrap_or_default()
}

fn help(topic: Option<&str>) {
    match topic {
        Some(t) => match COMMANDS.iter().find(|(n, _, _)| *n == t) {
            Some((n, a, h)) => outln!("{n} {a}\n    {h}"),
            None => outln!("no command {t:?}"),
        },
        None => {
            outln!("Commands (Tab completes; Ctrl-C aborts a transfer; Ctrl-D leaves):");
            for (n, a, h) in COMMANDS {
                outln!("  {:<26} {h}", format!("{n} {a}"));
            }
        }
    }
}

/// A local directory (or file) listed as `ls` lists remote ones.
fn lls(path: &Path) -> Result<()> {
    use std::os::unix::fs::PermissionsExt;

    let context = |e| Error::local(format!("lls {}", path.display()), e);
    let entry = |name: String, m: &std::fs::Metadata| RemoteEntry {
        name,
        kind: if m.is_dir() {
            EntryType::Dir
        } else if m.is_file() {
            EntryType::File
        } else if m.file_type().is_symlink() {
            EntryType::Link
        } else {
            EntryType::Other
        },
        size: m.is_file().then_some(m.len()),
        modified: m
            .modified()
            .ok()
            .and_then(|t| t.duration_since(std::time::UNIX_EPOCH).ok())
            .map(|d| d.as_secs() as i64),
        mode: Some(m.permissions().mode() & 0o777),
        perm: None,
    };
    let meta = std::fs::metadata(path).map_err(context)?;
    let mut entries = Vec::new();
    if meta.is_dir() {
        for e in std::fs::read_dir(path).map_err(context)? {
            let e = e.map_err(context)?;
            let name = e.file_name().to_string_lossy().into_owned();
            // Not followed: a symlink shows as one, as ls -l shows it.
            if let Ok(m) = e.path().symlink_metadata() {
                entries.push(entry(name, &m));
            }
        }
        entries.sort_by(|a, b| a.name.cmp(&b.name));
    } else {
        entries.push(entry(path.display().to_string(), &meta));
    }
    for line in output::entries_long(&entries) {
        outln!("{line}");
    }
    Ok(())
}

/// The remote paths a word names, with their types when known. A word without unquoted
/// wildcards names one path; one with them lists its directory and matches the names, but
/// a name equal to the word itself is taken literally first (as lftp does: `rm x[1].txt`
/// deletes that file when it exists).
async fn expand_remote(
    c: &mut Client,
    word: &Word,
    cancel: &CancellationToken,
) -> Result<Vec<(String, Option<EntryType>)>> {
    let Some((dir, pattern)) = word.split_pattern().map_err(Error::Usage)? else {
        let path = word.text.as_str();
        let kind = match c.size(path).await? {
            Some(_) => Some(EntryType::File),
            None if c.is_dir(path).await? => Some(EntryType::Dir),
            None => None,
        };
        return Ok(vec![(path.to_owned(), kind)]);
    };
    let entries = c.list(&dir, cancel).await?;
    let literal = word.last_component();
    if let Some(e) = entries.iter().find(|e| e.name == literal) {
        return Ok(vec![(word.text.clone(), Some(e.kind))]);
    }
    let found: Vec<_> = entries
        .into_iter()
        .filter(|e| matches(&pattern, &e.name))
        .map(|e| (join(&dir, &e.name), Some(e.kind)))
        .collect();
    if found.is_empty() {
        return Err(Error::Server {
            command: word.text.clone(),
            code: 550,
            text: "no remote file matches".to_owned(),
        });
    }
    Ok(found)
}

/// The local regular files a word names (wildcards in the last component, with the same
/// quoting rules as [`expand_remote`]).
fn expand_local(word: &Word) -> Result<Vec<PathBuf>> {
    let Some((dir, pattern)) = word.split_pattern().map_err(Error::Usage)? else {
        return Ok(vec![PathBuf::from(&word.text)]);
    };
    let in_dir = !dir.is_empty();
    let dir = if in_dir {
        PathBuf::from(dir)
    } else {
        PathBuf::from(".")
    };
    let literal = dir.join(word.last_component());
    if literal.is_file() {
        return Ok(vec![PathBuf::from(&word.text)]);
    }
    let mut found: Vec<PathBuf> = std::fs::read_dir(&dir)
        .map_err(|e| Error::local(format!("{}", dir.display()), e))?
        .filter_map(|e| e.ok())
        .filter(|e| e.file_type().is_ok_and(|t| t.is_file()))
        .filter(|e| matches(&pattern, &e.file_name().to_string_lossy()))
        .map(|e| {
            if in_dir {
                e.path()
            } else {
                PathBuf::from(e.file_name())
            }
        })
        .collect();
    found.sort();
    if found.is_empty() {
        return Err(Error::local(
            word.text.clone(),
            std::io::Error::new(std::io::ErrorKind::NotFound, "no local file matches"),
        ));
    }
    Ok(found)
}

/// The results of an mget/mput: each failure is reported as it happens, the batch goes on,
/// and the first error decides the outcome; an abort (Ctrl-C) ends the batch at once.
struct Batch {
    started: Instant,
    done: Vec<ferry_client::Outcome>,
    failed: usize,
    first_err: Option<Error>,
}

impl Batch {
    fn start() -> Batch {
        Batch {
            started: Instant::now(),
            done: Vec::new(),
            failed: 0,
            first_err: None,
        }
    }

    fn record(
        &mut self,
        name: &str,
        result: Result<ferry_client::Outcome, Error>,
    ) -> Result<(), Error> {
        match result {
            Ok(o) => self.done.push(o),
            Err(Error::Aborted) => return Err(Error::Aborted),
            Err(e) => {
                errln!("{name}: {e}");
                self.failed += 1;
                self.first_err.get_or_insert(e);
            }
        }
        Ok(())
    }

    fn finish(self) -> Result<(), Error> {
        outln!(
            "{}",
            output::batch_summary(&self.done, self.failed, self.started.elapsed())
        );
        match self.first_err {
            None => Ok(()),
            // Each failure was printed above: the batch's error only carries its class.
            Some(first) => Err(Error::Batch {
                failed: self.failed,
                total: self.failed + self.done.len(),
                first: Box::new(first),
            }),
        }
    }
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
