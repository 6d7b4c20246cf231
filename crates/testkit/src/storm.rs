//! A storm against a running Ferry server, for the storm test and `ferry-storm` (issue 13):
//! honest clients doing verified transfers and a NOOP probe from one loopback address, while
//! attackers from others hold connections (idle, slowloris, endless lines), hoard passive
//! ports, write garbage and guess passwords. [`run_storm`] reports what the honest side saw,
//! how many wrong passwords the server verified per attacking address, and the server's RSS.
//!
//! Everything is bounded: every task stops at the deadline, every network wait has a timeout,
//! and every reconnect loop sleeps between tries. Targets must be on this machine (loopback).

use std::collections::BTreeMap;
use std::io;
use std::net::{IpAddr, SocketAddr};
use std::sync::atomic::{AtomicBool, AtomicU64, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use ferry_proto::{Reply, ReplyParser};
use sha2::{Digest, Sha256};
use tokio::io::{AsyncBufReadExt, AsyncReadExt, AsyncWriteExt, BufReader};
use tokio::net::tcp::{OwnedReadHalf, OwnedWriteHalf};
use tokio::net::{TcpSocket, TcpStream};
use tokio::time::{sleep, sleep_until, timeout};

/// How many of each kind of client; [`StormCounts::full`] is the storm of issue 13.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct StormCounts {
    /// Connect and say nothing.
    pub idle: usize,
    /// Send one byte of a command now and then, never ending the line.
    pub slowloris: usize,
    /// Send 1 MiB lines without a newline, again and again.
    pub long_lines: usize,
    /// Log in as the attacker account (when there is one) and loop PASV/EPSV, never
    /// connecting to the announced ports.
    pub pasv_hoarders: usize,
    /// Write random bytes and nonsense commands (never USER/PASS).
    pub garbage: usize,
    /// Loop wrong passwords, from the guesser addresses.
    pub guessers: usize,
    /// Honest clients looping STOR -> RETR -> SHA-256 check.
    pub honest: usize,
}

impl StormCounts {
    /// 1,950 held connections, 150 PASV hoarders, 60 garbage writers, 60 guessers and 10
    /// honest clients.
    pub fn full() -> StormCounts {
        StormCounts {
            idle: 900,
            slowloris: 900,
            long_lines: 150,
            pasv_hoarders: 150,
            garbage: 60,
            guessers: 60,
            honest: 10,
        }
    }

    /// The full storm with every attacker count multiplied by `factor` (at least one of each
    /// kind); the honest clients stay as they are, so figures stay comparable.
    pub fn scaled(factor: f64) -> StormCounts {
        let f = |n: usize| ((n as f64 * factor).round() as usize).max(1);
        let full = StormCounts::full();
        StormCounts {
            idle: f(full.idle),
            slowloris: f(full.slowloris),
            long_lines: f(full.long_lines),
            pasv_hoarders: f(full.pasv_hoarders),
            garbage: f(full.garbage),
            guessers: f(full.guessers),
            honest: full.honest,
        }
    }

    /// Connections the attackers try to hold at once.
    pub fn attackers(&self) -> usize {
        self.idle
            + self.slowloris
            + self.long_lines
            + self.pasv_hoarders
            + self.garbage
            + self.guessers
    }
}

/// What to storm, from where, and how hard.
#[derive(Debug, Clone)]
pub struct StormConfig {
    /// The server's control address (loopback).
    pub target: SocketAddr,
    /// Source address of the honest clients and the NOOP probe.
    pub honest_source: IpAddr,
    /// Source address of the held connections, PASV hoarders and garbage writers.
    pub attacker_source: IpAddr,
    /// Source addresses of the password guessers (worker `i` uses entry `i % len`).
    pub guesser_sources: Vec<IpAddr>,
    pub counts: StormCounts,
    /// How long the attack and the honest loops run.
    pub duration: Duration,
    /// The attackers' connections are spread over this time at the start.
    pub ramp: Duration,
    /// Quiet time after the storm before RSS is read as "after".
    pub settle: Duration,
    /// Honest traffic alone before the storm (then `settle`), so that "before" is also read
    /// from a server that has served its honest workload once: what the storm leaves is then
    /// told apart from what any busy minute leaves (buffers, caches). Zero: no warm-up.
    pub warmup: Duration,
    /// The honest account (used by the honest clients and the probe).
    pub honest_user: (String, String),
    /// An account the attackers own (the PASV hoarders log in with it); None: they send
    /// PASV without logging in.
    pub attacker_account: Option<(String, String)>,
    /// Accounts the guessers try (besides the honest account, which they always try).
    pub guessed_accounts: Vec<String>,
    /// Size of each honest upload.
    pub file_size: usize,
    pub probe_interval: Duration,
    /// Server process whose RSS is sampled (`/proc/<pid>/status`); None: no RSS figures.
    pub server_pid: Option<u32>,
    pub rss_interval: Duration,
    /// A slowloris client sends one byte per interval.
    pub slowloris_interval: Duration,
    /// A long-line client sends 1 MiB, then waits this long.
    pub long_line_pause: Duration,
    pub garbage_interval: Duration,
    pub pasv_interval: Duration,
    /// Wait before reconnecting after a refusal or a closed connection.
    pub reconnect_backoff: Duration,
    /// Bound on any single network operation (connect, reply, transfer).
    pub op_timeout: Duration,
}

impl StormConfig {
    /// The storm of issue 13 against `target`: honest clients on 127.0.0.1, attackers on
    /// 127.0.0.2, guessers on 127.0.0.3, for 60 s.
    pub fn new(target: SocketAddr, honest_user: (&str, &str)) -> StormConfig {
        StormConfig {
            target,
            honest_source: IpAddr::from([127, 0, 0, 1]),
            attacker_source: IpAddr::from([127, 0, 0, 2]),
            guesser_sources: vec![IpAddr::from([127, 0, 0, 3])],
            counts: StormCounts::full(),
            duration: Duration::from_secs(60),
            ramp: Duration::from_secs(2),
            settle: Duration::from_secs(15),
            warmup: Duration::from_secs(10),
            honest_user: (honest_user.0.to_owned(), honest_user.1.to_owned()),
            attacker_account: None,
            guessed_accounts: vec!["root".into(), "admin".into(), "ftp".into(), "test".into()],
            file_size: 4 << 20,
            probe_interval: Duration::from_millis(100),
            server_pid: None,
            rss_interval: Duration::from_millis(100),
            slowloris_interval: Duration::from_secs(1),
            long_line_pause: Duration::from_secs(1),
            garbage_interval: Duration::from_millis(50),
            pasv_interval: Duration::from_millis(200),
            reconnect_backoff: Duration::from_millis(250),
            op_timeout: Duration::from_secs(60),
        }
    }
}

/// Wrong passwords that got a verification, from one guesser address.
#[derive(Debug, Clone, Default)]
pub struct GuessFigures {
    /// `530` replies to PASS: each is a password the server verified (and rejected).
    pub verified: u64,
    /// `530` per minute, averaged over the storm.
    pub per_minute: f64,
    /// The most `530` replies within any 60 s of the storm.
    pub worst_minute: u64,
    /// Connections or commands refused (`421`) or closed before a PASS reply.
    pub refused: u64,
    /// Wrong passwords that logged in (must stay 0).
    pub accepted: u64,
}

/// Latency of NOOP on a logged-in honest session.
#[derive(Debug, Clone, Default)]
pub struct ProbeFigures {
    pub samples: usize,
    pub p50: Duration,
    pub p99: Duration,
    pub max: Duration,
    /// NOOPs that failed (error, timeout, closed session); each reconnects.
    pub errors: u64,
}

/// The server's resident memory (KiB) and threads, from `/proc/<pid>/status`.
#[derive(Debug, Clone, Copy, Default)]
pub struct RssFigures {
    /// At start, before any traffic.
    pub before_kib: u64,
    /// After the honest warm-up and `settle`, before the attackers start (None: no warm-up).
    pub warm_kib: Option<u64>,
    pub peak_kib: u64,
    /// After the storm and `settle`.
    pub after_kib: u64,
    pub threads_before: u64,
    pub threads_peak: u64,
    pub threads_after: u64,
}

/// What the attackers achieved (to check that the storm happened at all).
#[derive(Debug, Clone, Default)]
pub struct AttackFigures {
    /// Attacker connections that got a `220` greeting.
    pub greeted: u64,
    /// Attacker connections refused at once (`421` greeting).
    pub refused: u64,
    /// Connection attempts that failed (refused by the kernel, timed out).
    pub connect_errors: u64,
    /// Most attacker connections held at once (sampled).
    pub peak_held: usize,
    /// PASV/EPSV replies `227`/`229` the hoarders got.
    pub passive_replies: u64,
    /// Hoarder logins that succeeded.
    pub hoarder_logins: u64,
    pub garbage_lines: u64,
    pub long_line_mib: u64,
}

#[derive(Debug, Clone, Default)]
pub struct StormReport {
    pub counts: Option<StormCounts>,
    pub duration: Duration,
    /// Honest STOR -> RETR cycles whose download had the upload's SHA-256.
    pub honest_ok: u64,
    pub honest_failed: u64,
    /// The first few honest failures, for the log.
    pub honest_errors: Vec<String>,
    pub guesses: BTreeMap<IpAddr, GuessFigures>,
    pub probe: ProbeFigures,
    pub rss: Option<RssFigures>,
    pub attack: AttackFigures,
    /// A fresh honest login after the storm (and settle) succeeded.
    pub final_login_ok: bool,
    pub final_login_error: Option<String>,
}

impl StormReport {
    /// A Markdown table of the figures.
    pub fn markdown(&self) -> String {
        use std::fmt::Write;
        let mut s = String::new();
        let _ = writeln!(s, "| figure | value |");
        let _ = writeln!(s, "| --- | --- |");
        if let Some(c) = self.counts {
            let _ = writeln!(
                s,
                "| clients | {} idle, {} slowloris, {} long-line, {} PASV hoarders, {} garbage, {} guessers, {} honest |",
                c.idle, c.slowloris, c.long_lines, c.pasv_hoarders, c.garbage, c.guessers, c.honest
            );
        }
        let _ = writeln!(s, "| storm | {:.0} s |", self.duration.as_secs_f64());
        let _ = writeln!(
            s,
            "| honest transfers ok / failed (SHA-256 verified) | {} / {} |",
            self.honest_ok, self.honest_failed
        );
        for (ip, g) in &self.guesses {
            let _ = writeln!(
                s,
                "| failed logins verified from {ip} (530 to PASS) | {} in all, {:.1}/min average, {} in the worst minute |",
                g.verified, g.per_minute, g.worst_minute
            );
            let _ = writeln!(
                s,
                "| guesses from {ip} refused (421/closed) / accepted | {} / {} |",
                g.refused, g.accepted
            );
        }
        let p = &self.probe;
        let ms = |d: Duration| d.as_secs_f64() * 1000.0;
        let _ = writeln!(
            s,
            "| NOOP p50 / p99 / max | {:.2} / {:.2} / {:.2} ms ({} samples, {} errors) |",
            ms(p.p50),
            ms(p.p99),
            ms(p.max),
            p.samples,
            p.errors
        );
        match &self.rss {
            Some(r) => {
                let mib = |k: u64| k as f64 / 1024.0;
                let _ = writeln!(
                    s,
                    "| server RSS before / peak / after | {:.1} / {:.1} / {:.1} MiB (after/before {:.2}x) |",
                    mib(r.before_kib),
                    mib(r.peak_kib),
                    mib(r.after_kib),
                    r.after_kib as f64 / r.before_kib.max(1) as f64
                );
                if let Some(w) = r.warm_kib {
                    let _ = writeln!(
                        s,
                        "| server RSS after honest warm-up (quiet) / after the storm (quiet) | {:.1} / {:.1} MiB ({:.2}x) |",
                        mib(w),
                        mib(r.after_kib),
                        r.after_kib as f64 / w.max(1) as f64
                    );
                }
                let _ = writeln!(
                    s,
                    "| server threads before / peak / after | {} / {} / {} |",
                    r.threads_before, r.threads_peak, r.threads_after
                );
            }
            None => {
                let _ = writeln!(s, "| server RSS | not measured (no pid) |");
            }
        }
        let a = &self.attack;
        let _ = writeln!(
            s,
            "| attacker connections greeted / refused / connect errors / peak held | {} / {} / {} / {} |",
            a.greeted, a.refused, a.connect_errors, a.peak_held
        );
        let _ = writeln!(
            s,
            "| PASV/EPSV answered to hoarders (logins) | {} ({}) |",
            a.passive_replies, a.hoarder_logins
        );
        let _ = writeln!(
            s,
            "| garbage lines sent / long-line MiB sent | {} / {} |",
            a.garbage_lines, a.long_line_mib
        );
        let _ = writeln!(
            s,
            "| fresh login after the storm | {} |",
            if self.final_login_ok {
                "ok".to_owned()
            } else {
                format!(
                    "FAILED: {}",
                    self.final_login_error.as_deref().unwrap_or("?")
                )
            }
        );
        s
    }
}

/// Counters shared by the storm's tasks.
#[derive(Default)]
struct Shared {
    honest_ok: AtomicU64,
    honest_failed: AtomicU64,
    honest_errors: Mutex<Vec<String>>,
    /// (guesser address, time since start) of every `530` to PASS.
    verified: Mutex<Vec<(IpAddr, Duration)>>,
    guess_refused: Mutex<BTreeMap<IpAddr, u64>>,
    guess_accepted: AtomicU64,
    greeted: AtomicU64,
    refused: AtomicU64,
    connect_errors: AtomicU64,
    held: AtomicUsize,
    peak_held: AtomicUsize,
    passive_replies: AtomicU64,
    hoarder_logins: AtomicU64,
    garbage_lines: AtomicU64,
    long_line_bytes: AtomicU64,
}

impl Shared {
    fn honest_failure(&self, e: impl std::fmt::Display) {
        self.honest_failed.fetch_add(1, Ordering::Relaxed);
        let mut errs = self.honest_errors.lock().unwrap_or_else(|p| p.into_inner());
        if errs.len() < 10 {
            errs.push(e.to_string());
        }
    }

    fn guess_refused(&self, ip: IpAddr) {
        let mut m = self.guess_refused.lock().unwrap_or_else(|p| p.into_inner());
        *m.entry(ip).or_insert(0) += 1;
    }
}

/// Counts one attacker connection as held until dropped.
struct Held<'a>(&'a Shared);

impl<'a> Held<'a> {
    fn new(s: &'a Shared) -> Held<'a> {
        let n = s.held.fetch_add(1, Ordering::Relaxed) + 1;
        s.peak_held.fetch_max(n, Ordering::Relaxed);
        Held(s)
    }
}

impl Drop for Held<'_> {
    fn drop(&mut self) {
        self.0.held.fetch_sub(1, Ordering::Relaxed);
    }
}

fn err(msg: impl Into<String>) -> io::Error {
    io::Error::other(msg.into())
}

/// A TCP connection from `source` (any port) to `target`.
async fn connect_from(
    source: IpAddr,
    target: SocketAddr,
    limit: Duration,
) -> io::Result<TcpStream> {
    let sock = if target.is_ipv4() {
        TcpSocket::new_v4()?
    } else {
        TcpSocket::new_v6()?
    };
    // Thousands of short connections from one address: let ports in TIME_WAIT be reused.
    sock.set_reuseaddr(true)?;
    sock.bind(SocketAddr::new(source, 0))?;
    timeout(limit, sock.connect(target))
        .await
        .map_err(|_| err("connect timed out"))?
}

/// A control connection that reads replies.
struct Ctl {
    rd: BufReader<OwnedReadHalf>,
    wr: OwnedWriteHalf,
    source: IpAddr,
    target: SocketAddr,
    limit: Duration,
}

impl Ctl {
    /// Connects and reads the greeting.
    async fn open(source: IpAddr, target: SocketAddr, limit: Duration) -> io::Result<(Ctl, Reply)> {
        let stream = connect_from(source, target, limit).await?;
        let _ = stream.set_nodelay(true);
        let (rd, wr) = stream.into_split();
        let mut c = Ctl {
            rd: BufReader::with_capacity(4096, rd),
            wr,
            source,
            target,
            limit,
        };
        let greeting = c.reply().await?;
        Ok((c, greeting))
    }

    async fn reply(&mut self) -> io::Result<Reply> {
        timeout(self.limit, self.reply_untimed())
            .await
            .map_err(|_| err("timed out waiting for a reply"))?
    }

    async fn reply_untimed(&mut self) -> io::Result<Reply> {
        let mut parser = ReplyParser::new();
        let mut line = Vec::new();
        loop {
            line.clear();
            // A reply line longer than this is not from an FTP server worth waiting for.
            let n = (&mut self.rd)
                .take(64 << 10)
                .read_until(b'\n', &mut line)
                .await?;
            if n == 0 {
                return Err(io::Error::new(
                    io::ErrorKind::UnexpectedEof,
                    "connection closed",
                ));
            }
            let text = String::from_utf8_lossy(&line);
            let text = text.trim_end_matches(['\r', '\n']);
            match parser.push_line(text) {
                Ok(Some(r)) => return Ok(r),
                Ok(None) => {}
                Err(e) => return Err(err(format!("bad reply {text:?}: {e:?}"))),
            }
        }
    }

    async fn send(&mut self, line: &str) -> io::Result<()> {
        let mut bytes = Vec::with_capacity(line.len() + 2);
        bytes.extend_from_slice(line.as_bytes());
        bytes.extend_from_slice(b"\r\n");
        timeout(self.limit, self.wr.write_all(&bytes))
            .await
            .map_err(|_| err("timed out sending a command"))?
    }

    async fn cmd(&mut self, line: &str) -> io::Result<Reply> {
        self.send(line).await?;
        self.reply().await
    }

    async fn expect(&mut self, line: &str, code: u16) -> io::Result<Reply> {
        let r = self.cmd(line).await?;
        if r.code != code {
            let shown = if line.starts_with("PASS ") {
                "PASS ****"
            } else {
                line
            };
            return Err(err(format!("{shown} -> {} {}", r.code, r.text())));
        }
        Ok(r)
    }

    async fn login(&mut self, user: &str, password: &str) -> io::Result<()> {
        self.expect(&format!("USER {user}"), 331).await?;
        self.expect(&format!("PASS {password}"), 230).await?;
        Ok(())
    }

    /// EPSV, then the data connection (from the control connection's source address).
    async fn passive(&mut self) -> io::Result<TcpStream> {
        let r = self.expect("EPSV", 229).await?;
        let port = ferry_proto::hostport::parse_epsv_reply(&r.text())
            .ok_or_else(|| err(format!("bad EPSV reply {:?}", r.text())))?;
        connect_from(
            self.source,
            SocketAddr::new(self.target.ip(), port),
            self.limit,
        )
        .await
    }
}

/// Logs in from the honest address, or says why not.
async fn honest_session(cfg: &StormConfig) -> io::Result<Ctl> {
    let (mut c, greeting) = Ctl::open(cfg.honest_source, cfg.target, cfg.op_timeout).await?;
    if greeting.code != 220 {
        return Err(err(format!(
            "greeting {} {}",
            greeting.code,
            greeting.text()
        )));
    }
    c.login(&cfg.honest_user.0, &cfg.honest_user.1).await?;
    Ok(c)
}

/// One STOR -> RETR -> SHA-256 cycle.
async fn honest_cycle(c: &mut Ctl, name: &str, data: &[u8], limit: Duration) -> io::Result<()> {
    let mut up = c.passive().await?;
    let r = c.cmd(&format!("STOR {name}")).await?;
    if r.code != 150 && r.code != 125 {
        return Err(err(format!("STOR -> {} {}", r.code, r.text())));
    }
    timeout(limit, async {
        up.write_all(data).await?;
        up.shutdown().await
    })
    .await
    .map_err(|_| err("upload timed out"))??;
    drop(up);
    let r = c.reply().await?;
    if r.code != 226 {
        return Err(err(format!("STOR end -> {} {}", r.code, r.text())));
    }
    let mut down = c.passive().await?;
    let r = c.cmd(&format!("RETR {name}")).await?;
    if r.code != 150 && r.code != 125 {
        return Err(err(format!("RETR -> {} {}", r.code, r.text())));
    }
    let mut got = Vec::with_capacity(data.len());
    timeout(
        limit,
        (&mut down)
            .take(data.len() as u64 + 1)
            .read_to_end(&mut got),
    )
    .await
    .map_err(|_| err("download timed out"))??;
    drop(down);
    let r = c.reply().await?;
    if r.code != 226 {
        return Err(err(format!("RETR end -> {} {}", r.code, r.text())));
    }
    if Sha256::digest(&got) != Sha256::digest(data) {
        return Err(err(format!(
            "{name}: downloaded {} bytes whose SHA-256 differs from the {} uploaded",
            got.len(),
            data.len()
        )));
    }
    Ok(())
}

async fn honest_client(cfg: Arc<StormConfig>, shared: Arc<Shared>, id: usize, deadline: Instant) {
    let name = format!("storm-honest-{id}.bin");
    let mut session: Option<Ctl> = None;
    // Bounded by the deadline; the count bound is a guard against a zero-time loop.
    for iter in 0..1_000_000u64 {
        if Instant::now() >= deadline {
            break;
        }
        let c = match session.as_mut() {
            Some(c) => c,
            None => match honest_session(&cfg).await {
                Ok(c) => session.insert(c),
                Err(e) => {
                    shared.honest_failure(format!("client {id}: login: {e}"));
                    sleep(cfg.reconnect_backoff).await;
                    continue;
                }
            },
        };
        let data = crate::random_bytes(cfg.file_size, (id as u64) << 32 | iter);
        match honest_cycle(c, &name, &data, cfg.op_timeout).await {
            Ok(()) => {
                shared.honest_ok.fetch_add(1, Ordering::Relaxed);
            }
            Err(e) => {
                shared.honest_failure(format!("client {id}: cycle {iter}: {e}"));
                session = None;
                sleep(cfg.reconnect_backoff).await;
            }
        }
    }
    if let Some(mut c) = session {
        let _ = c.cmd("QUIT").await;
    }
}

async fn probe(cfg: Arc<StormConfig>, deadline: Instant) -> (Vec<Duration>, u64) {
    let mut samples = Vec::new();
    let mut errors = 0u64;
    let mut session: Option<Ctl> = None;
    let mut tick = tokio::time::interval(cfg.probe_interval);
    tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    while Instant::now() < deadline && samples.len() < 10_000_000 {
        tick.tick().await;
        let c = match session.as_mut() {
            Some(c) => c,
            None => match honest_session(&cfg).await {
                Ok(c) => session.insert(c),
                Err(_) => {
                    errors += 1;
                    continue;
                }
            },
        };
        let t0 = Instant::now();
        match c.expect("NOOP", 200).await {
            Ok(_) => samples.push(t0.elapsed()),
            Err(_) => {
                errors += 1;
                session = None;
            }
        }
    }
    (samples, errors)
}

/// Connects from the attacker address and reads the greeting; counts the outcome.
async fn attacker_connect(
    cfg: &StormConfig,
    shared: &Shared,
    source: IpAddr,
    deadline: Instant,
) -> Option<Ctl> {
    // A connection still pending at the deadline (a full backlog) is abandoned, not awaited.
    let open = Ctl::open(source, cfg.target, cfg.op_timeout);
    let opened = tokio::time::timeout_at(tokio::time::Instant::from_std(deadline), open).await;
    let Ok(opened) = opened else {
        return None;
    };
    match opened {
        Ok((c, g)) if g.code == 220 => {
            shared.greeted.fetch_add(1, Ordering::Relaxed);
            Some(c)
        }
        Ok(_) => {
            shared.refused.fetch_add(1, Ordering::Relaxed);
            None
        }
        Err(_) => {
            shared.connect_errors.fetch_add(1, Ordering::Relaxed);
            None
        }
    }
}

#[derive(Clone, Copy)]
enum Attacker {
    Idle,
    Slowloris,
    LongLines,
    PasvHoarder,
    Garbage,
}

/// Nonsense the garbage writers send besides random bytes; none of it logs in.
const NONSENSE: &[&str] = &[
    "XYZZY plugh",
    "RETR ../../../../etc/passwd",
    "CWD ..",
    "PORT 1,2,3,4,5,6",
    "SITE CHMOD 777 /",
    "STOR",
    "LIST -laR /",
    "EPRT |9|::1|0|",
    "MKD \u{0}",
    "HELP ME",
    "ACCT nobody",
    "FEAT FEAT FEAT",
];

/// One attacker: connects, misbehaves until the server closes or the deadline, reconnects.
async fn attacker(
    cfg: Arc<StormConfig>,
    shared: Arc<Shared>,
    kind: Attacker,
    id: usize,
    long_line: Arc<Vec<u8>>,
    deadline: Instant,
) {
    let tdeadline = tokio::time::Instant::from_std(deadline);
    let mut seed = (id as u64).wrapping_mul(0x9E37_79B9_7F4A_7C15) | 1;
    for _round in 0..100_000u32 {
        if Instant::now() >= deadline {
            return;
        }
        let Some(mut c) = attacker_connect(&cfg, &shared, cfg.attacker_source, deadline).await
        else {
            sleep(cfg.reconnect_backoff).await;
            continue;
        };
        let _held = Held::new(&shared);
        let mut buf = [0u8; 4096];
        if let Attacker::PasvHoarder = kind {
            hoard_passive(&cfg, &shared, &mut c, tdeadline).await;
            drop(c);
            if Instant::now() < deadline {
                sleep(cfg.reconnect_backoff).await;
            }
            continue;
        }
        let Ctl { mut rd, mut wr, .. } = c;
        match kind {
            Attacker::Idle => {
                tokio::select! {
                    _ = sleep_until(tdeadline) => {}
                    _ = drain(&mut rd, &mut buf) => {}
                }
            }
            Attacker::Slowloris => {
                // A USER line that never ends: one byte per interval.
                let line: Vec<u8> = b"USER "
                    .iter()
                    .copied()
                    .chain(std::iter::repeat(b'a'))
                    .take(4000)
                    .collect();
                let send = async {
                    for b in &line {
                        sleep(cfg.slowloris_interval).await;
                        if wr.write_all(std::slice::from_ref(b)).await.is_err() {
                            return;
                        }
                    }
                };
                tokio::select! {
                    _ = sleep_until(tdeadline) => {}
                    _ = send => {}
                    _ = drain(&mut rd, &mut buf) => {}
                }
            }
            Attacker::LongLines => {
                let send = async {
                    for _ in 0..1_000_000u32 {
                        if wr.write_all(&long_line).await.is_err() {
                            return;
                        }
                        shared
                            .long_line_bytes
                            .fetch_add(long_line.len() as u64, Ordering::Relaxed);
                        sleep(cfg.long_line_pause).await;
                    }
                };
                tokio::select! {
                    _ = sleep_until(tdeadline) => {}
                    _ = send => {}
                    _ = drain(&mut rd, &mut buf) => {}
                }
            }
            Attacker::Garbage => {
                let send = async {
                    for i in 0..10_000_000u64 {
                        let mut line = Vec::with_capacity(80);
                        if i % 2 == 0 {
                            for _ in 0..8 {
                                seed ^= seed << 13;
                                seed ^= seed >> 7;
                                seed ^= seed << 17;
                                line.extend_from_slice(&seed.to_le_bytes());
                            }
                            // One line each, starting with a space: random bytes never
                            // spell a USER or PASS that would count as a login attempt.
                            for b in line.iter_mut() {
                                if *b == b'\n' || *b == b'\r' {
                                    *b = b'?';
                                }
                            }
                            line.insert(0, b' ');
                        } else {
                            line.extend_from_slice(
                                NONSENSE[(i as usize / 2) % NONSENSE.len()].as_bytes(),
                            );
                        }
                        line.extend_from_slice(b"\r\n");
                        if wr.write_all(&line).await.is_err() {
                            return;
                        }
                        shared.garbage_lines.fetch_add(1, Ordering::Relaxed);
                        sleep(cfg.garbage_interval).await;
                    }
                };
                tokio::select! {
                    _ = sleep_until(tdeadline) => {}
                    _ = send => {}
                    _ = drain(&mut rd, &mut buf) => {}
                }
            }
            Attacker::PasvHoarder => {}
        }
        drop((rd, wr));
        if Instant::now() < deadline {
            sleep(cfg.reconnect_backoff).await;
        }
    }
}

/// Logs in as the attacker account (when there is one), then PASV/EPSV again and again
/// without ever connecting, until the server stops answering or the deadline.
async fn hoard_passive(
    cfg: &StormConfig,
    shared: &Shared,
    c: &mut Ctl,
    deadline: tokio::time::Instant,
) {
    let hoard = async {
        if let Some((user, password)) = &cfg.attacker_account {
            if c.login(user, password).await.is_err() {
                return;
            }
            shared.hoarder_logins.fetch_add(1, Ordering::Relaxed);
        }
        for i in 0..10_000_000u64 {
            let verb = if i % 2 == 0 { "PASV" } else { "EPSV" };
            match c.cmd(verb).await {
                Ok(r) if r.code == 227 || r.code == 229 => {
                    shared.passive_replies.fetch_add(1, Ordering::Relaxed);
                }
                Ok(r) if r.code == 421 => return,
                Ok(_) => {}
                Err(_) => return,
            }
            sleep(cfg.pasv_interval).await;
        }
    };
    tokio::select! {
        _ = sleep_until(deadline) => {}
        _ = hoard => {}
    }
}

/// Reads and discards until the server closes the connection.
async fn drain(rd: &mut BufReader<OwnedReadHalf>, buf: &mut [u8]) {
    while let Ok(n) = rd.read(buf).await {
        if n == 0 {
            return;
        }
    }
}

/// One password guesser: wrong passwords, in turn at the honest account and the others.
async fn guesser(
    cfg: Arc<StormConfig>,
    shared: Arc<Shared>,
    id: usize,
    start: Instant,
    deadline: Instant,
) {
    let source = cfg.guesser_sources[id % cfg.guesser_sources.len()];
    let mut accounts = vec![cfg.honest_user.0.clone()];
    accounts.extend(cfg.guessed_accounts.iter().cloned());
    let mut attempt = 0usize;
    let tdeadline = tokio::time::Instant::from_std(deadline);
    for _round in 0..100_000u32 {
        if Instant::now() >= deadline {
            return;
        }
        let Some(mut c) = attacker_connect(&cfg, &shared, source, deadline).await else {
            shared.guess_refused(source);
            sleep(cfg.reconnect_backoff).await;
            continue;
        };
        let _held = Held::new(&shared);
        let guess = async {
            for _ in 0..1_000_000u32 {
                attempt += 1;
                let account = &accounts[(id + attempt) % accounts.len()];
                match c.cmd(&format!("USER {account}")).await {
                    Ok(r) if r.code == 331 => {}
                    _ => return,
                }
                match c.cmd(&format!("PASS wrong-{id}-{attempt}")).await {
                    // A `530` for an account locked for this address, and a `421` from a ban
                    // decided before the PASS, come without a password verification; a
                    // `421` that bans after one ("Too many failed attempts") verified it.
                    Ok(r) if r.code == 530 && r.text().contains("Too many failed logins") => {}
                    Ok(r)
                        if r.code == 530
                            || (r.code == 421 && r.text().contains("Too many failed attempts")) =>
                    {
                        let at = start.elapsed();
                        shared
                            .verified
                            .lock()
                            .unwrap_or_else(|p| p.into_inner())
                            .push((source, at));
                    }
                    Ok(r) if r.code == 230 => {
                        shared.guess_accepted.fetch_add(1, Ordering::Relaxed);
                        return;
                    }
                    _ => return,
                }
            }
        };
        tokio::select! {
            _ = sleep_until(tdeadline) => return,
            _ = guess => shared.guess_refused(source),
        }
        drop(c);
        sleep(cfg.reconnect_backoff).await;
    }
}

/// `(VmRSS KiB, Threads)` of a process.
pub fn process_status(pid: u32) -> Option<(u64, u64)> {
    let text = std::fs::read_to_string(format!("/proc/{pid}/status")).ok()?;
    let field = |name: &str| -> Option<u64> {
        let line = text.lines().find(|l| l.starts_with(name))?;
        line[name.len()..].split_whitespace().next()?.parse().ok()
    };
    Some((field("VmRSS:")?, field("Threads:")?))
}

/// The soft limit on open files of this process (`/proc/self/limits`).
pub fn open_files_limit() -> Option<u64> {
    let text = std::fs::read_to_string("/proc/self/limits").ok()?;
    let line = text.lines().find(|l| l.starts_with("Max open files"))?;
    line["Max open files".len()..]
        .split_whitespace()
        .next()?
        .parse()
        .ok()
}

fn percentile(sorted: &[Duration], p: f64) -> Duration {
    if sorted.is_empty() {
        return Duration::ZERO;
    }
    let rank = ((p / 100.0) * sorted.len() as f64).ceil() as usize;
    sorted[rank.clamp(1, sorted.len()) - 1]
}

/// Runs the storm and returns what was seen. Blocking: it runs its own runtimes (one for the
/// attackers, one for the honest clients, one thread for the probe, so the probe's latency
/// is not spent waiting behind thousands of attacker tasks in our own scheduler).
///
/// With `warmup`, the honest clients first run alone for that long (their results are not
/// counted), and the server's memory is read once more after `settle`.
pub fn run_storm(cfg: StormConfig) -> io::Result<StormReport> {
    if cfg.guesser_sources.is_empty() {
        return Err(err("no guesser source address"));
    }
    let cfg = Arc::new(cfg);
    let shared = Arc::new(Shared::default());
    let warm_up = |cfg: &Arc<StormConfig>| -> io::Result<()> {
        let rt = tokio::runtime::Builder::new_multi_thread()
            .worker_threads(2)
            .enable_all()
            .build()?;
        let uncounted = Arc::new(Shared::default());
        let until = Instant::now() + cfg.warmup;
        rt.block_on(async {
            let mut tasks = tokio::task::JoinSet::new();
            for id in 0..cfg.counts.honest {
                tasks.spawn(honest_client(
                    Arc::clone(cfg),
                    Arc::clone(&uncounted),
                    id,
                    until,
                ));
            }
            while tasks.join_next().await.is_some() {}
        });
        Ok(())
    };
    let stop_sampling = Arc::new(AtomicBool::new(false));
    let rss_samples: Arc<Mutex<Vec<(u64, u64)>>> = Arc::default();
    let before = cfg.server_pid.and_then(process_status);
    let warm = match (cfg.server_pid, cfg.warmup.is_zero()) {
        (Some(_), false) => {
            warm_up(&cfg)?;
            std::thread::sleep(cfg.settle);
            cfg.server_pid.and_then(process_status)
        }
        _ => None,
    };
    let sampler = cfg.server_pid.map(|pid| {
        let stop = Arc::clone(&stop_sampling);
        let out = Arc::clone(&rss_samples);
        let every = cfg.rss_interval;
        std::thread::spawn(move || {
            while !stop.load(Ordering::Relaxed) {
                if let Some(s) = process_status(pid) {
                    out.lock().unwrap_or_else(|p| p.into_inner()).push(s);
                }
                std::thread::sleep(every);
            }
        })
    });

    let start = Instant::now();
    let deadline = start + cfg.ramp + cfg.duration;

    let probe_thread = {
        let cfg = Arc::clone(&cfg);
        std::thread::spawn(move || -> io::Result<(Vec<Duration>, u64)> {
            let rt = tokio::runtime::Builder::new_current_thread()
                .enable_all()
                .build()?;
            Ok(rt.block_on(probe(cfg, deadline)))
        })
    };
    let honest_thread = {
        let cfg = Arc::clone(&cfg);
        let shared = Arc::clone(&shared);
        std::thread::spawn(move || -> io::Result<()> {
            let rt = tokio::runtime::Builder::new_multi_thread()
                .worker_threads(2)
                .thread_name("storm-honest")
                .enable_all()
                .build()?;
            rt.block_on(async {
                let mut tasks = tokio::task::JoinSet::new();
                for id in 0..cfg.counts.honest {
                    tasks.spawn(honest_client(
                        Arc::clone(&cfg),
                        Arc::clone(&shared),
                        id,
                        deadline,
                    ));
                }
                while tasks.join_next().await.is_some() {}
            });
            Ok(())
        })
    };

    let attack_rt = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .thread_name("storm-attack")
        .enable_all()
        .build()?;
    attack_rt.block_on(async {
        let long_line = Arc::new(vec![b'A'; 1 << 20]);
        let c = cfg.counts;
        let mut kinds: Vec<Attacker> = Vec::with_capacity(c.attackers());
        // Interleaved, so every kind is present early in the ramp.
        let mut left = [
            (Attacker::Idle, c.idle),
            (Attacker::Slowloris, c.slowloris),
            (Attacker::LongLines, c.long_lines),
            (Attacker::PasvHoarder, c.pasv_hoarders),
            (Attacker::Garbage, c.garbage),
        ];
        while left.iter().any(|(_, n)| *n > 0) {
            for (k, n) in left.iter_mut() {
                if *n > 0 {
                    kinds.push(*k);
                    *n -= 1;
                }
            }
        }
        let total = kinds.len() + c.guessers;
        let step = cfg
            .ramp
            .checked_div(total.max(1) as u32)
            .unwrap_or_default();
        let mut tasks = tokio::task::JoinSet::new();
        let mut n = 0u32;
        for g in 0..c.guessers {
            let (cfg, shared) = (Arc::clone(&cfg), Arc::clone(&shared));
            let at = tokio::time::Instant::from_std(start + step * n);
            tasks.spawn(async move {
                sleep_until(at).await;
                guesser(cfg, shared, g, start, deadline).await
            });
            n += 1;
        }
        for (id, kind) in kinds.into_iter().enumerate() {
            let (cfg, shared, line) = (
                Arc::clone(&cfg),
                Arc::clone(&shared),
                Arc::clone(&long_line),
            );
            let at = tokio::time::Instant::from_std(start + step * n);
            tasks.spawn(async move {
                sleep_until(at).await;
                attacker(cfg, shared, kind, id, line, deadline).await
            });
            n += 1;
        }
        while tasks.join_next().await.is_some() {}
    });
    drop(attack_rt);
    let probe_result = probe_thread
        .join()
        .map_err(|_| err("probe thread panicked"))??;
    honest_thread
        .join()
        .map_err(|_| err("honest thread panicked"))??;
    let storm_time = start.elapsed();

    std::thread::sleep(cfg.settle);
    let after = cfg.server_pid.and_then(process_status);
    stop_sampling.store(true, Ordering::Relaxed);
    if let Some(t) = sampler {
        let _ = t.join();
    }

    let final_login = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()?
        .block_on(async {
            let mut c = honest_session(&cfg).await?;
            c.expect("NOOP", 200).await?;
            let _ = c.cmd("QUIT").await;
            io::Result::Ok(())
        });

    let (mut samples, probe_errors) = probe_result;
    samples.sort();
    let probe = ProbeFigures {
        samples: samples.len(),
        p50: percentile(&samples, 50.0),
        p99: percentile(&samples, 99.0),
        max: samples.last().copied().unwrap_or_default(),
        errors: probe_errors,
    };

    let minutes = storm_time.as_secs_f64() / 60.0;
    let verified = std::mem::take(&mut *shared.verified.lock().unwrap_or_else(|p| p.into_inner()));
    let refused = shared
        .guess_refused
        .lock()
        .unwrap_or_else(|p| p.into_inner())
        .clone();
    let mut guesses = BTreeMap::new();
    for &ip in &cfg.guesser_sources {
        let mut times: Vec<Duration> = verified
            .iter()
            .filter(|(a, _)| *a == ip)
            .map(|(_, t)| *t)
            .collect();
        times.sort();
        let mut worst = 0usize;
        let mut lo = 0usize;
        for hi in 0..times.len() {
            while times[hi] - times[lo] >= Duration::from_secs(60) {
                lo += 1;
            }
            worst = worst.max(hi - lo + 1);
        }
        guesses.insert(
            ip,
            GuessFigures {
                verified: times.len() as u64,
                per_minute: times.len() as f64 / minutes.max(1e-9),
                worst_minute: worst as u64,
                refused: refused.get(&ip).copied().unwrap_or(0),
                accepted: 0,
            },
        );
    }
    if let Some(g) = guesses.values_mut().next() {
        g.accepted = shared.guess_accepted.load(Ordering::Relaxed);
    }

    let rss = match (before, after) {
        (Some(b), Some(a)) => {
            let all = rss_samples.lock().unwrap_or_else(|p| p.into_inner());
            Some(RssFigures {
                before_kib: b.0,
                warm_kib: warm.map(|w| w.0),
                peak_kib: all.iter().map(|s| s.0).chain([b.0, a.0]).max().unwrap_or(0),
                after_kib: a.0,
                threads_before: b.1,
                threads_peak: all.iter().map(|s| s.1).chain([b.1, a.1]).max().unwrap_or(0),
                threads_after: a.1,
            })
        }
        _ => None,
    };

    let errors = shared
        .honest_errors
        .lock()
        .unwrap_or_else(|p| p.into_inner())
        .clone();
    Ok(StormReport {
        counts: Some(cfg.counts),
        duration: storm_time,
        honest_ok: shared.honest_ok.load(Ordering::Relaxed),
        honest_failed: shared.honest_failed.load(Ordering::Relaxed),
        honest_errors: errors,
        guesses,
        probe,
        rss,
        attack: AttackFigures {
            greeted: shared.greeted.load(Ordering::Relaxed),
            refused: shared.refused.load(Ordering::Relaxed),
            connect_errors: shared.connect_errors.load(Ordering::Relaxed),
            peak_held: shared.peak_held.load(Ordering::Relaxed),
            passive_replies: shared.passive_replies.load(Ordering::Relaxed),
            hoarder_logins: shared.hoarder_logins.load(Ordering::Relaxed),
            garbage_lines: shared.garbage_lines.load(Ordering::Relaxed),
            long_line_mib: shared.long_line_bytes.load(Ordering::Relaxed) >> 20,
        },
        final_login_ok: final_login.is_ok(),
        final_login_error: final_login.err().map(|e| e.to_string()),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn percentiles_pick_ranks() {
        let v: Vec<Duration> = (1..=100).map(Duration::from_millis).collect();
        assert_eq!(percentile(&v, 50.0), Duration::from_millis(50));
        assert_eq!(percentile(&v, 99.0), Duration::from_millis(99));
        assert_eq!(percentile(&[], 99.0), Duration::ZERO);
    }

    #[test]
    fn scaling_keeps_honest_clients_and_one_of_each() {
        let s = StormCounts::scaled(0.33);
        assert_eq!(s.idle, 297);
        assert_eq!(s.honest, 10);
        assert_eq!(StormCounts::scaled(0.0).guessers, 1);
    }
}
