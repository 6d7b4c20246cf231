//! Test support: a real Ferry server on `127.0.0.1:0` with a temporary data directory and
//! seeded users ([`TestServer`]), a raw blocking FTP client that speaks exact protocol bytes
//! ([`RawFtp`]), and helpers for driving external clients (curl, lftp, Python ftplib).
//!
//! The server runs on its own thread and runtime, so tests may block freely (subprocesses,
//! blocking sockets) without starving it.
#![allow(clippy::unwrap_used, clippy::missing_panics_doc)]

pub mod hostile;
pub mod storm;
pub mod uploads;

use std::io::{BufRead, BufReader, Read, Write};
use std::net::{SocketAddr, TcpStream};
use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::Duration;

use ferry_proto::{Reply, ReplyParser};
use ferry_server::{Server, ServerConfig, ServerMetrics};
use ferry_store::{NewUser, QuotaUsage, Store};
use sha2::{Digest, Sha256};
use std::sync::Arc;

pub const ALICE: (&str, &str) = ("alice", "secret");
pub const BOB: (&str, &str) = ("bob", "hunter2");

pub struct TestServerBuilder {
    users: Vec<SeedUser>,
    config: ServerConfig,
    listen: SocketAddr,
    data_dir: Option<PathBuf>,
}

struct SeedUser {
    name: String,
    password: String,
    quota_bytes: Option<u64>,
    quota_files: Option<u64>,
    /// A home outside the data dir (e.g. on a small file system of its own).
    home: Option<PathBuf>,
}

impl TestServerBuilder {
    pub fn user(self, name: &str, password: &str) -> Self {
        self.user_with_limits(name, password, None, None)
    }

    pub fn user_with_quota(self, name: &str, password: &str, quota: u64) -> Self {
        self.user_with_limits(name, password, Some(quota), None)
    }

    /// A user with a byte quota and/or a file-count quota.
    pub fn user_with_limits(
        mut self,
        name: &str,
        password: &str,
        bytes: Option<u64>,
        files: Option<u64>,
    ) -> Self {
        self.users.push(SeedUser {
            name: name.into(),
            password: password.into(),
            quota_bytes: bytes,
            quota_files: files,
            home: None,
        });
        self
    }

    /// A user whose home is the directory `home` (created if missing), with an optional
    /// byte quota: for homes on a file system of their own.
    pub fn user_with_home(
        mut self,
        name: &str,
        password: &str,
        quota: Option<u64>,
        home: &Path,
    ) -> Self {
        self.users.push(SeedUser {
            name: name.into(),
            password: password.into(),
            quota_bytes: quota,
            quota_files: None,
            home: Some(home.to_path_buf()),
        });
        self
    }

    /// Keep the data dir (database, default homes) in `dir` instead of a fresh temporary
    /// directory; the caller owns and removes it.
    pub fn data_dir(mut self, dir: &Path) -> Self {
        self.data_dir = Some(dir.to_path_buf());
        self
    }

    pub fn config(mut self, f: impl FnOnce(&mut ServerConfig)) -> Self {
        f(&mut self.config);
        self
    }

    /// Listen on another address (e.g. `[::1]:0`).
    pub fn listen(mut self, addr: SocketAddr) -> Self {
        self.listen = addr;
        self
    }

    pub fn start(self) -> TestServer {
        if let Ok(filter) = std::env::var("FERRY_TEST_LOG") {
            // Once per test binary; later calls find a logger installed and change nothing.
            let _ = tracing_subscriber::fmt()
                .with_env_filter(tracing_subscriber::EnvFilter::new(filter))
                .with_writer(std::io::stderr)
                .try_init();
        }
        let dir = tempfile::tempdir().unwrap();
        let data = self.data_dir.unwrap_or_else(|| dir.path().to_path_buf());
        let mut config = self.config;
        config.data_dir = data.clone();
        config.listen = vec![self.listen];
        let homes = self
            .users
            .iter()
            .filter_map(|u| Some((u.name.clone(), u.home.clone()?)))
            .collect();
        let users = self.users;
        let (addr_tx, addr_rx) = std::sync::mpsc::channel();
        let (stop_tx, stop_rx) = tokio::sync::oneshot::channel::<()>();
        let thread = std::thread::spawn(move || {
            let rt = tokio::runtime::Builder::new_multi_thread()
                .worker_threads(2)
                .enable_all()
                .build()
                .unwrap();
            rt.block_on(async move {
                let store = Store::open_sqlite(&config.database_path()).await.unwrap();
                for u in &users {
                    let home = u.home.as_ref().map(|h| h.to_str().unwrap());
                    store
                        .add_user(NewUser {
                            name: &u.name,
                            password: &u.password,
                            home,
                            quota_bytes: u.quota_bytes,
                            quota_files: u.quota_files,
                        })
                        .await
                        .unwrap();
                    let dir = u.home.clone().unwrap_or(config.homes_dir().join(&u.name));
                    std::fs::create_dir_all(dir).unwrap();
                }
                let server = Server::bind(config, store).await.unwrap();
                addr_tx
                    .send((
                        server.local_addrs()[0],
                        server.implicit_tls_addr(),
                        server.metrics(),
                    ))
                    .unwrap();
                server
                    .run_until(async {
                        let _ = stop_rx.await;
                    })
                    .await
                    .unwrap();
            });
        });
        let (addr, implicit_tls_addr, metrics) = addr_rx
            .recv_timeout(Duration::from_secs(30))
            .expect("test server did not start");
        TestServer {
            addr,
            implicit_tls_addr,
            metrics,
            _dir: dir,
            data,
            homes,
            stop: Some(stop_tx),
            thread: Some(thread),
        }
    }
}

/// A running in-process server; stopped and its data removed on drop.
pub struct TestServer {
    pub addr: SocketAddr,
    /// The implicit-FTPS listener, when configured.
    pub implicit_tls_addr: Option<SocketAddr>,
    /// The server's live counters (digest store hits, ...).
    pub metrics: Arc<ServerMetrics>,
    /// Removed on drop (the data dir, unless the builder chose another).
    _dir: tempfile::TempDir,
    data: PathBuf,
    /// Users whose home is not `<data>/homes/<name>`.
    homes: std::collections::HashMap<String, PathBuf>,
    stop: Option<tokio::sync::oneshot::Sender<()>>,
    thread: Option<std::thread::JoinHandle<()>>,
}

impl TestServer {
    /// A builder with a fast failed-login delay (so tests stay quick) and no users.
    pub fn builder() -> TestServerBuilder {
        let config = ServerConfig {
            auth_failure_delay_ms: 200,
            ..ServerConfig::default()
        };
        TestServerBuilder {
            users: Vec::new(),
            config,
            listen: "127.0.0.1:0".parse().unwrap(),
            data_dir: None,
        }
    }

    /// A server with users alice/secret and bob/hunter2.
    pub fn start() -> TestServer {
        Self::builder()
            .user(ALICE.0, ALICE.1)
            .user(BOB.0, BOB.1)
            .start()
    }

    pub fn port(&self) -> u16 {
        self.addr.port()
    }

    pub fn data_dir(&self) -> &Path {
        &self.data
    }

    /// The generated TLS certificate (PEM), when TLS is enabled without a configured one.
    pub fn tls_cert_path(&self) -> PathBuf {
        self.data.join("tls").join("cert.pem")
    }

    /// The host directory of a user's home.
    pub fn home(&self, user: &str) -> PathBuf {
        match self.homes.get(user) {
            Some(h) => h.clone(),
            None => self.data.join("homes").join(user),
        }
    }

    /// `ftp://user:password@127.0.0.1:port` (no trailing slash).
    pub fn url(&self, (user, password): (&str, &str)) -> String {
        format!("ftp://{user}:{password}@{}", self.addr)
    }

    /// Runs `f` against the server's store (the same SQLite database, opened alongside).
    pub fn with_store<T>(&self, f: impl AsyncFnOnce(&Store) -> T) -> T {
        let rt = tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
            .unwrap();
        let db = self.data.join("ferry.db");
        rt.block_on(async move {
            let store = Store::open_sqlite(&db).await.unwrap();
            let out = f(&store).await;
            store.close().await;
            out
        })
    }

    /// The quota ledger's view of a user.
    pub fn usage(&self, user: &str) -> QuotaUsage {
        self.with_store(async |store: &Store| {
            let u = store.user(user).await.unwrap().unwrap();
            store.quota_usage(u.id).await.unwrap().unwrap()
        })
    }

    /// What a user's home holds on disk: (bytes in regular files, entries).
    pub fn disk_usage(&self, user: &str) -> (u64, u64) {
        fn walk(dir: &Path, acc: &mut (u64, u64)) {
            for e in std::fs::read_dir(dir).unwrap() {
                let e = e.unwrap();
                let ft = e.file_type().unwrap();
                acc.1 += 1;
                if ft.is_dir() {
                    walk(&e.path(), acc);
                } else if ft.is_file() {
                    acc.0 += e.metadata().unwrap().len();
                }
            }
        }
        let mut acc = (0, 0);
        walk(&self.home(user), &mut acc);
        acc
    }

    /// A raw client, already logged in.
    pub fn login(&self, (user, password): (&str, &str)) -> RawFtp {
        let mut c = RawFtp::connect(self.addr);
        c.login(user, password);
        c
    }
}

impl Drop for TestServer {
    fn drop(&mut self) {
        if let Some(s) = self.stop.take() {
            let _ = s.send(());
        }
        if let Some(t) = self.thread.take() {
            let _ = t.join();
        }
    }
}

/// A blocking FTP client that sends exactly the bytes a test gives it.
pub struct RawFtp {
    reader: BufReader<TcpStream>,
    writer: TcpStream,
    pub greeting: Reply,
}

impl RawFtp {
    pub fn connect(addr: SocketAddr) -> RawFtp {
        RawFtp::over_stream(TcpStream::connect(addr).unwrap())
    }

    /// Connects from another loopback address (`127.0.0.2`, ...): a second client host, for
    /// the defender's per-address rules.
    pub fn connect_from(addr: SocketAddr, source: std::net::IpAddr) -> RawFtp {
        RawFtp::over_stream(connect_from(addr, source).unwrap())
    }

    /// A client over a connection made elsewhere (e.g. by [`connect_from`]); reads the greeting.
    pub fn over_stream(stream: TcpStream) -> RawFtp {
        stream
            .set_read_timeout(Some(Duration::from_secs(30)))
            .unwrap();
        let writer = stream.try_clone().unwrap();
        let mut c = RawFtp {
            reader: BufReader::new(stream),
            writer,
            greeting: Reply::new(0, ""),
        };
        c.greeting = c.read_reply();
        c
    }

    pub fn local_addr(&self) -> SocketAddr {
        self.writer.local_addr().unwrap()
    }

    /// Like [`RawFtp::send_raw`], for a peer that may have closed: false when it had.
    pub fn try_send_raw(&mut self, bytes: &[u8]) -> bool {
        self.writer.write_all(bytes).is_ok()
    }

    pub fn send_raw(&mut self, bytes: &[u8]) {
        self.writer.write_all(bytes).unwrap();
    }

    /// Reads one complete reply; panics on EOF.
    pub fn read_reply(&mut self) -> Reply {
        self.try_read_reply()
            .expect("connection closed while waiting for a reply")
    }

    /// Reads one complete reply, or `None` if the server closed the connection.
    pub fn try_read_reply(&mut self) -> Option<Reply> {
        let mut parser = ReplyParser::new();
        loop {
            let mut line = Vec::new();
            match self.reader.read_until(b'\n', &mut line) {
                Ok(0) | Err(_) => return None,
                Ok(_) => {}
            }
            let text = String::from_utf8_lossy(&line);
            let text = text.trim_end_matches(['\r', '\n']);
            if let Some(r) = parser.push_line(text).unwrap() {
                return Some(r);
            }
        }
    }

    /// Sends `line` + CRLF and returns the reply.
    pub fn cmd(&mut self, line: &str) -> Reply {
        self.send_raw(format!("{line}\r\n").as_bytes());
        self.read_reply()
    }

    /// Sends a command and asserts the reply code.
    pub fn expect(&mut self, line: &str, code: u16) -> Reply {
        let r = self.cmd(line);
        assert_eq!(r.code, code, "{line} -> {r:?}");
        r
    }

    pub fn login(&mut self, user: &str, password: &str) {
        self.expect(&format!("USER {user}"), 331);
        self.expect(&format!("PASS {password}"), 230);
    }

    /// EPSV, then connects the data socket.
    pub fn passive(&mut self) -> TcpStream {
        let r = self.expect("EPSV", 229);
        let port = ferry_proto::hostport::parse_epsv_reply(&r.text()).unwrap();
        let ip = self.writer.peer_addr().unwrap().ip();
        let s = TcpStream::connect(SocketAddr::new(ip, port)).unwrap();
        s.set_read_timeout(Some(Duration::from_secs(30))).unwrap();
        s
    }

    /// Runs a command that returns data (RETR, LIST, ...) and returns (data, final reply).
    pub fn download(&mut self, command: &str) -> (Vec<u8>, Reply) {
        let mut data = self.passive();
        let r = self.cmd(command);
        if r.code != 150 && r.code != 125 {
            return (Vec::new(), r);
        }
        let mut buf = Vec::new();
        data.read_to_end(&mut buf).unwrap();
        let done = self.read_reply();
        (buf, done)
    }

    /// RETR that must succeed.
    pub fn retr(&mut self, path: &str) -> Vec<u8> {
        let (data, r) = self.download(&format!("RETR {path}"));
        assert_eq!(r.code, 226, "RETR {path}: {r:?}");
        data
    }

    /// Runs an upload command (STOR, APPE, STOU) with `data`, returning the final reply
    /// (or the refusal if the command was refused before the transfer).
    pub fn upload(&mut self, command: &str, data: &[u8]) -> Reply {
        let mut sock = self.passive();
        let r = self.cmd(command);
        if r.code != 150 && r.code != 125 {
            return r;
        }
        sock.write_all(data).unwrap();
        drop(sock);
        self.read_reply()
    }

    /// Like [`RawFtp::upload`], but tolerates the server closing the data connection before
    /// all of `data` is sent (an upload refused midway, over quota or out of disk space).
    pub fn upload_until_refused(&mut self, command: &str, data: &[u8]) -> Reply {
        let mut sock = self.passive();
        let r = self.cmd(command);
        if r.code != 150 && r.code != 125 {
            return r;
        }
        for chunk in data.chunks(64 * 1024) {
            if sock.write_all(chunk).is_err() {
                break;
            }
        }
        drop(sock);
        self.read_reply()
    }

    pub fn stor(&mut self, path: &str, data: &[u8]) {
        let r = self.upload(&format!("STOR {path}"), data);
        assert_eq!(r.code, 226, "STOR {path}: {r:?}");
    }

    /// The names NLST returns for `path` (the working directory if empty).
    pub fn nlst(&mut self, path: &str) -> Vec<String> {
        let cmd = if path.is_empty() {
            "NLST".to_owned()
        } else {
            format!("NLST {path}")
        };
        let (data, r) = self.download(&cmd);
        assert_eq!(r.code, 226, "{cmd}: {r:?}");
        let mut names: Vec<String> = String::from_utf8(data)
            .unwrap()
            .lines()
            .map(str::to_owned)
            .collect();
        names.sort();
        names
    }

    /// True when the server has closed the control connection.
    pub fn is_closed(&mut self) -> bool {
        let mut b = [0u8; 1];
        self.reader
            .get_ref()
            .set_read_timeout(Some(Duration::from_secs(5)))
            .unwrap();
        matches!(self.reader.read(&mut b), Ok(0) | Err(_))
    }
}

/// A TCP connection to `addr` from the address `source` (port chosen by the system).
pub fn connect_from(addr: SocketAddr, source: std::net::IpAddr) -> std::io::Result<TcpStream> {
    let domain = socket2::Domain::for_address(addr);
    let socket = socket2::Socket::new(domain, socket2::Type::STREAM, None)?;
    socket.bind(&SocketAddr::new(source, 0).into())?;
    socket.connect_timeout(&addr.into(), Duration::from_secs(10))?;
    Ok(socket.into())
}

pub fn sha256(data: &[u8]) -> String {
    hex::encode(Sha256::digest(data))
}

pub fn sha256_file(path: &Path) -> String {
    let mut f = std::fs::File::open(path).unwrap();
    let mut h = Sha256::new();
    let mut buf = vec![0u8; 1 << 20];
    loop {
        let n = f.read(&mut buf).unwrap();
        if n == 0 {
            break;
        }
        h.update(&buf[..n]);
    }
    hex::encode(h.finalize())
}

/// Deterministic pseudo-random bytes (xorshift), so failures are reproducible.
pub fn random_bytes(len: usize, seed: u64) -> Vec<u8> {
    let mut x = seed.wrapping_mul(0x9E37_79B9_7F4A_7C15) | 1;
    let mut out = Vec::with_capacity(len + 8);
    while out.len() < len {
        x ^= x << 13;
        x ^= x >> 7;
        x ^= x << 17;
        out.extend_from_slice(&x.to_le_bytes());
    }
    out.truncate(len);
    out
}

/// Whether an external program is installed (for interop tests).
pub fn have(program: &str) -> bool {
    Command::new("sh")
        .arg("-c")
        .arg(format!("command -v {program}"))
        .output()
        .map(|o| o.status.success())
        .unwrap_or(false)
}

/// The one rule for a test whose peer (another FTP server, a client tool, root, an IPv6
/// loopback) is missing, so that such a test can never pass without testing anything:
/// under `CI=true` it panics with `reason`, whatever else is set; elsewhere too, unless
/// `FERRY_ALLOW_MISSING_TOOLS` is set, when it prints the reason and returns `None` for the
/// caller to skip with (`return peer_missing("...")`).
#[track_caller]
pub fn peer_missing<T>(reason: impl std::fmt::Display) -> Option<T> {
    if std::env::var("CI").is_ok_and(|v| v == "true") {
        panic!("{reason} (CI=true: a missing peer fails the test; scripts/test installs them)");
    }
    if std::env::var_os("FERRY_ALLOW_MISSING_TOOLS").is_some() {
        eprintln!("skipping (FERRY_ALLOW_MISSING_TOOLS is set): {reason}");
        return None;
    }
    panic!(
        "{reason} (run scripts/test, which installs the peers, or set \
         FERRY_ALLOW_MISSING_TOOLS=1 to skip)"
    );
}

/// True when `program` is installed; otherwise [`peer_missing`] decides (false: skip).
#[track_caller]
pub fn require(program: &str) -> bool {
    have(program) || peer_missing::<()>(format!("{program} is not installed")).is_some()
}
