//! Helpers shared by the `ferryd` binary's tests (cli.rs, crash.rs): a temporary data dir,
//! running the binary against it with no inherited `FERRY_*` variables, a served instance
//! killed on drop, and a minimal FTP control client.
#![allow(dead_code, clippy::unwrap_used)]

use std::cell::Cell;
use std::fs::File;
use std::io::{BufRead, BufReader, Write};
use std::net::{SocketAddr, TcpListener, TcpStream};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, ExitStatus, Stdio};
use std::thread::sleep;
use std::time::{Duration, Instant};

use tempfile::TempDir;

pub const BIN: &str = env!("CARGO_BIN_EXE_ferryd");
/// How long a server gets to come up, and to exit after SIGTERM.
pub const SERVER_WAIT: Duration = Duration::from_secs(10);
/// How long an admin command may run (argon2id hashing on a loaded CI machine included).
pub const COMMAND_WAIT: Duration = Duration::from_secs(60);
/// How long to wait for any one FTP reply line.
pub const REPLY_WAIT: Duration = Duration::from_secs(10);

// ---------------------------------------------------------------------------------------------
// Helpers: a temp dir with a data dir, and running the binary against it.

/// What a finished command left behind.
pub struct Out {
    pub status: ExitStatus,
    pub stdout: String,
    pub stderr: String,
}

impl std::fmt::Debug for Out {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(
            f,
            "status: {}\n--- stdout ---\n{}\n--- stderr ---\n{}",
            self.status, self.stdout, self.stderr
        )
    }
}

/// A temporary directory holding the data dir (`<tmp>/data`) and the commands' output files.
pub struct Env {
    pub dir: TempDir,
    pub counter: Cell<u32>,
}

impl Env {
    pub fn new() -> Env {
        let dir = tempfile::tempdir().unwrap();
        std::fs::create_dir(dir.path().join("data")).unwrap();
        Env {
            dir,
            counter: Cell::new(0),
        }
    }

    pub fn root(&self) -> &Path {
        self.dir.path()
    }

    pub fn data(&self) -> PathBuf {
        self.root().join("data")
    }

    pub fn write_config(&self, text: &str) {
        std::fs::write(self.data().join("ferry.toml"), text).unwrap();
    }

    /// A fresh pair of files to capture one process's stdout and stderr.
    pub fn output_files(&self) -> (PathBuf, PathBuf) {
        let n = self.counter.get();
        self.counter.set(n + 1);
        (
            self.root().join(format!("out-{n}.stdout")),
            self.root().join(format!("out-{n}.stderr")),
        )
    }

    /// `ferryd --data-dir <data> ARGS...`, run from the temp dir with no `FERRY_*` variables
    /// inherited from the test's own environment.
    pub fn command(&self, args: &[&str], envs: &[(&str, &str)]) -> Command {
        let mut cmd = Command::new(BIN);
        for (k, _) in std::env::vars_os() {
            if k.to_string_lossy().starts_with("FERRY_") {
                cmd.env_remove(k);
            }
        }
        cmd.current_dir(self.root())
            .arg("--data-dir")
            .arg(self.data())
            .args(args)
            .envs(envs.iter().copied());
        cmd
    }

    /// Runs a command to completion (at most [`COMMAND_WAIT`]), feeding it `stdin` if given
    /// (otherwise stdin is `/dev/null`).
    pub fn run_with(&self, args: &[&str], stdin: Option<&str>, envs: &[(&str, &str)]) -> Out {
        let (out_path, err_path) = self.output_files();
        let mut cmd = self.command(args, envs);
        cmd.stdout(File::create(&out_path).unwrap())
            .stderr(File::create(&err_path).unwrap())
            .stdin(if stdin.is_some() {
                Stdio::piped()
            } else {
                Stdio::null()
            });
        let mut child = cmd.spawn().unwrap();
        if let Some(input) = stdin {
            let mut pipe = child.stdin.take().unwrap();
            // The command may exit before reading (e.g. on a bad argument): ignore EPIPE.
            let _ = pipe.write_all(input.as_bytes());
        }
        let status = match wait_timeout(&mut child, COMMAND_WAIT) {
            Some(s) => s,
            None => {
                let _ = child.kill();
                let _ = child.wait();
                panic!("ferryd {args:?} did not finish within {COMMAND_WAIT:?}");
            }
        };
        Out {
            status,
            stdout: std::fs::read_to_string(out_path).unwrap(),
            stderr: std::fs::read_to_string(err_path).unwrap(),
        }
    }

    pub fn run(&self, args: &[&str], stdin: Option<&str>) -> Out {
        self.run_with(args, stdin, &[])
    }

    /// Runs a command that must succeed; returns its stdout.
    pub fn ok(&self, args: &[&str], stdin: Option<&str>) -> String {
        let out = self.run(args, stdin);
        assert!(out.status.success(), "ferryd {args:?} failed:\n{out:?}");
        out.stdout
    }

    /// Runs a command that must fail; returns its stderr (which must say something).
    pub fn fails(&self, args: &[&str], stdin: Option<&str>) -> String {
        let out = self.run(args, stdin);
        assert!(
            !out.status.success(),
            "ferryd {args:?} should have failed:\n{out:?}"
        );
        assert!(
            !out.stderr.trim().is_empty(),
            "ferryd {args:?} failed without a message:\n{out:?}"
        );
        out.stderr
    }

    pub fn add_user(&self, name: &str, password: &str, extra: &[&str]) -> String {
        let mut args = vec!["user", "add", name, "--password-stdin"];
        args.extend_from_slice(extra);
        self.ok(&args, Some(&format!("{password}\n")))
    }

    pub fn show(&self, name: &str) -> String {
        self.ok(&["user", "show", name], None)
    }

    pub fn list(&self) -> String {
        self.ok(&["user", "list"], None)
    }

    /// Starts `ferryd serve` on a free 127.0.0.1 port and waits until it greets.
    pub fn serve(&self, extra: &[&str], envs: &[(&str, &str)]) -> Server {
        const ATTEMPTS: usize = 3;
        for attempt in 1..=ATTEMPTS {
            let port = free_port();
            let addr = SocketAddr::from(([127, 0, 0, 1], port));
            let listen = addr.to_string();
            let mut args = vec![
                "serve",
                "--listen",
                &listen,
                "--auth-failure-delay-ms",
                "50",
            ];
            args.extend_from_slice(extra);
            let (out_path, err_path) = self.output_files();
            let child = self
                .command(&args, envs)
                .stdin(Stdio::null())
                .stdout(File::create(&out_path).unwrap())
                .stderr(File::create(&err_path).unwrap())
                .spawn()
                .unwrap();
            let mut server = Server {
                child,
                addr,
                greeting: String::new(),
                stderr: err_path,
            };
            match server.wait_ready() {
                Ok(greeting) => {
                    server.greeting = greeting;
                    return server;
                }
                Err(Some(status)) => {
                    let log = server.log();
                    // Someone took the port between our probe and the server's bind: retry.
                    if attempt < ATTEMPTS && log.contains("in use") {
                        continue;
                    }
                    panic!("ferryd serve exited early ({status}):\n{log}");
                }
                Err(None) => panic!(
                    "ferryd serve did not greet on {addr} within {SERVER_WAIT:?}:\n{}",
                    server.log()
                ),
            }
        }
        unreachable!()
    }

    /// Runs `ferryd serve` where it must refuse to start; returns its stderr.
    pub fn serve_fails(&self, extra: &[&str]) -> String {
        let port = free_port();
        let listen = format!("127.0.0.1:{port}");
        let mut args = vec!["serve", "--listen", &listen];
        args.extend_from_slice(extra);
        let (out_path, err_path) = self.output_files();
        let mut child = self
            .command(&args, &[])
            .stdin(Stdio::null())
            .stdout(File::create(&out_path).unwrap())
            .stderr(File::create(&err_path).unwrap())
            .spawn()
            .unwrap();
        let status = wait_timeout(&mut child, SERVER_WAIT);
        let stderr = std::fs::read_to_string(&err_path).unwrap();
        let Some(status) = status else {
            let _ = child.kill();
            let _ = child.wait();
            panic!("ferryd serve {extra:?} should have refused to start, but ran:\n{stderr}");
        };
        assert!(
            !status.success(),
            "ferryd serve {extra:?} should have failed:\n{stderr}"
        );
        stderr
    }
}

/// Polls `child` until it exits or `limit` passes.
pub fn wait_timeout(child: &mut Child, limit: Duration) -> Option<ExitStatus> {
    let deadline = Instant::now() + limit;
    loop {
        if let Some(status) = child.try_wait().unwrap() {
            return Some(status);
        }
        if Instant::now() >= deadline {
            return None;
        }
        sleep(Duration::from_millis(20));
    }
}

/// A port that was free a moment ago (bound to 127.0.0.1:0, read, released).
pub fn free_port() -> u16 {
    let l = TcpListener::bind("127.0.0.1:0").unwrap();
    l.local_addr().unwrap().port()
}

// ---------------------------------------------------------------------------------------------
// A running server, killed when dropped.

pub struct Server {
    pub child: Child,
    pub addr: SocketAddr,
    /// The 220 line the readiness probe received.
    pub greeting: String,
    pub stderr: PathBuf,
}

impl Server {
    /// Waits until a connection gets a `220` line. `Err(Some(status))` if the process exited,
    /// `Err(None)` on timeout.
    pub fn wait_ready(&mut self) -> Result<String, Option<ExitStatus>> {
        let deadline = Instant::now() + SERVER_WAIT;
        while Instant::now() < deadline {
            if let Some(status) = self.child.try_wait().unwrap() {
                return Err(Some(status));
            }
            if let Ok(stream) = TcpStream::connect_timeout(&self.addr, Duration::from_secs(1)) {
                stream.set_read_timeout(Some(REPLY_WAIT)).unwrap();
                let mut line = String::new();
                if BufReader::new(stream).read_line(&mut line).is_ok() && line.starts_with("220") {
                    // Make sure it is our process that answered.
                    if let Some(status) = self.child.try_wait().unwrap() {
                        return Err(Some(status));
                    }
                    return Ok(line.trim_end().to_owned());
                }
            }
            sleep(Duration::from_millis(50));
        }
        Err(None)
    }

    pub fn log(&self) -> String {
        std::fs::read_to_string(&self.stderr).unwrap_or_default()
    }

    pub fn connect(&self) -> Ftp {
        Ftp::connect(self.addr)
    }

    /// Logs in on a new connection; returns the PASS reply's code.
    pub fn login_code(&self, user: &str, password: &str) -> u16 {
        let mut ftp = self.connect();
        let code = ftp.login(user, password);
        ftp.quit();
        code
    }

    /// Sends SIGTERM and waits (bounded) for the process to exit.
    pub fn terminate(&mut self) -> Option<ExitStatus> {
        let pid = self.child.id().to_string();
        let status = Command::new("kill").args(["-TERM", &pid]).status().unwrap();
        assert!(status.success(), "kill -TERM {pid} failed");
        wait_timeout(&mut self.child, SERVER_WAIT)
    }
}

impl Drop for Server {
    fn drop(&mut self) {
        if let Ok(None) = self.child.try_wait() {
            let _ = self.child.kill();
        }
        let _ = self.child.wait();
    }
}

// ---------------------------------------------------------------------------------------------
// A minimal FTP control-connection client.

pub struct Ftp {
    pub reader: BufReader<TcpStream>,
    pub writer: TcpStream,
    pub greeting: String,
}

impl Ftp {
    pub fn connect(addr: SocketAddr) -> Ftp {
        let stream = TcpStream::connect_timeout(&addr, REPLY_WAIT).unwrap();
        stream.set_read_timeout(Some(REPLY_WAIT)).unwrap();
        stream.set_write_timeout(Some(REPLY_WAIT)).unwrap();
        let writer = stream.try_clone().unwrap();
        let mut ftp = Ftp {
            reader: BufReader::new(stream),
            writer,
            greeting: String::new(),
        };
        let greeting = ftp.reply().expect("connection closed before the greeting");
        assert!(greeting.starts_with("220"), "bad greeting {greeting:?}");
        ftp.greeting = greeting;
        ftp
    }

    /// Reads one reply (following multi-line replies to their last line); `None` on EOF.
    pub fn reply(&mut self) -> Option<String> {
        let mut first = String::new();
        match self.reader.read_line(&mut first) {
            Ok(0) => return None,
            Ok(_) => {}
            Err(e) => panic!("reading a reply: {e}"),
        }
        let first = first.trim_end().to_owned();
        assert!(
            first.len() >= 3 && first.as_bytes()[..3].iter().all(u8::is_ascii_digit),
            "malformed reply {first:?}"
        );
        if first.as_bytes().get(3) == Some(&b'-') {
            let end = format!("{} ", &first[..3]);
            loop {
                let mut line = String::new();
                let n = self.reader.read_line(&mut line).unwrap();
                assert!(n > 0, "EOF inside multi-line reply after {first:?}");
                if line.starts_with(&end) {
                    break;
                }
            }
        }
        Some(first)
    }

    pub fn cmd(&mut self, line: &str) -> String {
        self.writer
            .write_all(format!("{line}\r\n").as_bytes())
            .unwrap();
        self.reply()
            .unwrap_or_else(|| panic!("connection closed after {line:?}"))
    }

    /// USER + PASS; returns the PASS reply's code (USER must get 331).
    pub fn login(&mut self, user: &str, password: &str) -> u16 {
        let r = self.cmd(&format!("USER {user}"));
        assert!(r.starts_with("331"), "USER {user}: {r:?}");
        let r = self.cmd(&format!("PASS {password}"));
        r[..3].parse().unwrap()
    }

    pub fn quit(mut self) {
        let _ = self.writer.write_all(b"QUIT\r\n");
        let _ = self.reply();
    }
}

pub fn line_with<'a>(text: &'a str, prefix: &str) -> &'a str {
    text.lines()
        .find(|l| l.starts_with(prefix))
        .unwrap_or_else(|| panic!("no {prefix:?} line in:\n{text}"))
}

/// The value of `field:` in `user show` output.
pub fn field<'a>(show: &'a str, name: &str) -> &'a str {
    line_with(show, &format!("{name}:"))[name.len() + 1..].trim()
}

/// The `user list` row of `name`, split into columns.
pub fn list_row(list: &str, name: &str) -> Option<Vec<String>> {
    list.lines()
        .skip(1)
        .map(|l| l.split_whitespace().map(str::to_owned).collect::<Vec<_>>())
        .find(|cols| cols.first().map(String::as_str) == Some(name))
}
