#![allow(clippy::unwrap_used)]
//! `kill -9` of the real `ferryd` binary with twenty uploads in flight (new files, staged
//! overwrites, a `REST`+`STOR` resume and an `APPE`, for a user with a quota and one without),
//! then a restart on the same data dir: crash recovery must leave no staging file, every
//! complete file intact, every interrupted target as its upload mode says, and the ledger equal
//! to the disk (before and after `ferryd quota rescan`). In `atomic-resume` mode the fragments
//! are then resumed with curl and lftp to the exact files; in `atomic` mode they are gone.
//!
//! Real processes over real sockets; every wait is bounded (see common/mod.rs).

mod common;

use std::io::Write;
use std::net::{SocketAddr, TcpStream};
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::thread::{sleep, JoinHandle};
use std::time::{Duration, Instant};

use common::*;
use ferry_testkit::{random_bytes, require, sha256, sha256_file, RawFtp};

const MIB: usize = 1 << 20;
const Q: (&str, &str) = ("q", "pw-q");
const U: (&str, &str) = ("u", "pw-u");
/// What each upload sends at once before it slows down, and what the disk must show of
/// each before the kill.
const FAST: usize = 2 * MIB;
const SEEN_BEFORE_KILL: u64 = MIB as u64;
/// Each upload holds back at least this much, so none can complete before the kill.
const HELD_BACK: usize = MIB;
/// Bound on waiting for the uploads to be in flight, and for a client tool to finish.
const WAIT: Duration = Duration::from_secs(60);

#[derive(Clone)]
enum Kind {
    /// A whole-file STOR of a file that did not exist.
    New,
    /// A whole-file STOR over a complete file with this content.
    Overwrite(Arc<Vec<u8>>),
    /// `REST base` + `STOR`: the server holds the data's first `base` bytes.
    Rest(usize),
    /// `APPE`: the server holds the data's first `base` bytes.
    Appe(usize),
}

#[derive(Clone)]
struct Plan {
    user: (&'static str, &'static str),
    name: String,
    /// The whole file the upload is meant to produce.
    data: Arc<Vec<u8>>,
    kind: Kind,
}

impl Plan {
    fn base(&self) -> usize {
        match self.kind {
            Kind::Rest(b) | Kind::Appe(b) => b,
            _ => 0,
        }
    }

    fn staged(&self) -> bool {
        matches!(self.kind, Kind::New | Kind::Overwrite(_))
    }
}

fn home(env: &Env, user: &str) -> PathBuf {
    env.data().join("homes").join(user)
}

/// The uploads of one user: `new` new files, two overwrites, and `extra` (a resume or an
/// append) of a file whose first part the server already has.
fn plans(user: (&'static str, &'static str), seed: u64, new: usize, extra: Kind) -> Vec<Plan> {
    let mut out = Vec::new();
    let size = |i: u64| (8 + (seed + i) % 5) as usize * MIB + (seed as usize * 4099 + 17);
    for i in 0..new as u64 {
        out.push(Plan {
            user,
            name: format!("new-{i}.bin"),
            data: Arc::new(random_bytes(size(i), seed * 100 + i)),
            kind: Kind::New,
        });
    }
    for i in 0..2u64 {
        out.push(Plan {
            user,
            name: format!("dir/over-{i}.bin"),
            data: Arc::new(random_bytes(size(i + 7), seed * 100 + 50 + i)),
            kind: Kind::Overwrite(Arc::new(random_bytes(MIB + 333, seed * 100 + 70 + i))),
        });
    }
    let name = match extra {
        Kind::Rest(_) => "resumed.bin",
        _ => "appended.bin",
    };
    out.push(Plan {
        user,
        name: name.into(),
        data: Arc::new(random_bytes(size(9), seed * 100 + 90)),
        kind: extra,
    });
    out
}

/// Complete files that no upload touches: (user, name, content).
fn bystanders() -> Vec<((&'static str, &'static str), String, Vec<u8>)> {
    let mut out = Vec::new();
    for (k, user) in [Q, U].into_iter().enumerate() {
        for i in 0..2u64 {
            let name = if i == 0 {
                "keep.bin".to_owned()
            } else {
                "dir/keep.bin".to_owned()
            };
            out.push((
                user,
                name,
                random_bytes(512 * 1024 + 5, 900 + k as u64 * 10 + i),
            ));
        }
    }
    out
}

/// Puts the complete files (bystanders, the old versions of the overwrites, the starts of the
/// resumes) on the server through FTP, so the ledger counts them as the server does.
fn seed_files(addr: SocketAddr, plans: &[Plan]) {
    for user in [Q, U] {
        let mut c = RawFtp::connect(addr);
        c.login(user.0, user.1);
        c.expect("TYPE I", 200);
        c.expect("MKD dir", 257);
        for (owner, name, data) in bystanders() {
            if owner == user {
                c.stor(&name, &data);
            }
        }
        for p in plans.iter().filter(|p| p.user == user) {
            match &p.kind {
                Kind::Overwrite(old) => c.stor(&p.name, old),
                Kind::Rest(b) | Kind::Appe(b) => c.stor(&p.name, &p.data[..*b]),
                Kind::New => {}
            }
        }
        c.expect("QUIT", 221);
    }
}

/// Starts one upload and sends its data: [`FAST`] at once, then slowly, holding back the last
/// [`HELD_BACK`] bytes until `stop` (set only after the server is dead), so every upload is in
/// flight when the server is killed.
fn start_upload(addr: SocketAddr, plan: Plan, stop: Arc<AtomicBool>) -> JoinHandle<()> {
    std::thread::spawn(move || {
        let mut c = RawFtp::connect(addr);
        c.login(plan.user.0, plan.user.1);
        c.expect("TYPE I", 200);
        let mut sock: TcpStream = c.passive();
        sock.set_write_timeout(Some(Duration::from_secs(10)))
            .unwrap();
        match plan.kind {
            Kind::Rest(b) => {
                c.expect(&format!("REST {b}"), 350);
                c.expect(&format!("STOR {}", plan.name), 150);
            }
            Kind::Appe(_) => {
                c.expect(&format!("APPE {}", plan.name), 150);
            }
            _ => {
                c.expect(&format!("STOR {}", plan.name), 150);
            }
        }
        let body = &plan.data[plan.base()..plan.data.len() - HELD_BACK];
        let deadline = Instant::now() + WAIT;
        let (fast, slow) = body.split_at(FAST);
        if sock.write_all(fast).is_err() {
            return;
        }
        for chunk in slow.chunks(16 * 1024) {
            if stop.load(Ordering::SeqCst) || sock.write_all(chunk).is_err() {
                return;
            }
            sleep(Duration::from_millis(20));
        }
        // Never end the data: that would complete the upload.
        while !stop.load(Ordering::SeqCst) && Instant::now() < deadline {
            sleep(Duration::from_millis(10));
        }
        drop(sock);
    })
}

/// Staging files under `dir`, with their sizes.
fn staging_files(dir: &Path) -> Vec<(PathBuf, u64)> {
    let mut found = Vec::new();
    for e in std::fs::read_dir(dir).unwrap() {
        let e = e.unwrap();
        let ft = e.file_type().unwrap();
        if ft.is_dir() {
            found.extend(staging_files(&e.path()));
        } else if e
            .file_name()
            .to_string_lossy()
            .starts_with(".ferry-upload.")
        {
            // It may be renamed or removed meanwhile.
            let len = e.metadata().map(|m| m.len()).unwrap_or(0);
            found.push((e.path(), len));
        }
    }
    found
}

/// (bytes of regular files, entries) under `dir`, as `quota rescan` counts them.
fn walk(dir: &Path) -> (u64, u64) {
    let mut acc = (0, 0);
    for e in std::fs::read_dir(dir).unwrap() {
        let e = e.unwrap();
        let ft = e.file_type().unwrap();
        acc.1 += 1;
        if ft.is_dir() {
            let (b, n) = walk(&e.path());
            acc.0 += b;
            acc.1 += n;
        } else if ft.is_file() {
            acc.0 += e.metadata().unwrap().len();
        }
    }
    acc
}

/// (used bytes, used files, reserved line present) from `ferryd user show`.
fn ledger(env: &Env, user: &str) -> (u64, u64, String) {
    let show = env.show(user);
    // "3.4 KiB (3500 bytes), 3 files"
    let used = field(&show, "used");
    let bytes = used
        .split_once('(')
        .and_then(|(_, r)| r.split_once(" bytes)"))
        .map(|(n, _)| n.parse::<u64>().unwrap())
        .unwrap_or_else(|| panic!("bad used line in:\n{show}"));
    let files = used
        .rsplit_once(", ")
        .and_then(|(_, r)| r.strip_suffix(" files"))
        .map(|n| n.parse::<u64>().unwrap())
        .unwrap_or_else(|| panic!("bad used line in:\n{show}"));
    (bytes, files, show)
}

/// The ledger of both users equals their homes, nothing is reserved, and `quota rescan`
/// (which sets the ledger from the disk) changes nothing.
fn assert_ledger_equals_disk(env: &Env, when: &str) {
    for user in [Q.0, U.0] {
        let disk = walk(&home(env, user));
        let (bytes, files, show) = ledger(env, user);
        assert_eq!(
            (bytes, files),
            disk,
            "{when}: ledger of {user} differs from its home (bytes, entries):\n{show}"
        );
        assert!(
            !show.contains("reserved:"),
            "{when}: {user} still has bytes reserved:\n{show}"
        );
    }
    let before: Vec<String> = [Q.0, U.0].iter().map(|u| env.show(u)).collect();
    env.ok(&["quota", "rescan"], None);
    let after: Vec<String> = [Q.0, U.0].iter().map(|u| env.show(u)).collect();
    assert_eq!(before, after, "{when}: `quota rescan` changed the ledger");
}

fn assert_no_staging(env: &Env) {
    for user in [Q.0, U.0] {
        let left = staging_files(&home(env, user));
        assert!(
            left.is_empty(),
            "staging files left in {user}'s home: {left:?}"
        );
    }
}

fn assert_bystanders_intact(env: &Env) {
    for (user, name, data) in bystanders() {
        let path = home(env, user.0).join(&name);
        assert_eq!(
            sha256_file(&path),
            sha256(&data),
            "complete file {}/{name} changed",
            user.0
        );
    }
}

/// Seeds the files, starts the uploads, waits until the disk shows every one in flight, kills
/// the server with SIGKILL and starts it again on the same data dir. Returns the new server.
fn crash_with_uploads_in_flight(env: &Env, envs: &[(&str, &str)], plans: &[Plan]) -> Server {
    let mut server = env.serve(&[], envs);
    seed_files(server.addr, plans);
    let stop = Arc::new(AtomicBool::new(false));
    let threads: Vec<_> = plans
        .iter()
        .map(|p| start_upload(server.addr, p.clone(), Arc::clone(&stop)))
        .collect();

    // In flight: each staged upload's hidden file holds at least SEEN_BEFORE_KILL bytes, and
    // each in-place one grew by as much.
    let deadline = Instant::now() + WAIT;
    loop {
        let mut ready = true;
        let mut state = Vec::new();
        for user in [Q, U] {
            let staged = plans
                .iter()
                .filter(|p| p.user == user && p.staged())
                .count();
            let found = staging_files(&home(env, user.0));
            let big = found.iter().filter(|(_, n)| *n >= SEEN_BEFORE_KILL).count();
            ready &= big == staged;
            state.push(format!(
                "{}: {big}/{staged} staged uploads under way",
                user.0
            ));
            for p in plans.iter().filter(|p| p.user == user && !p.staged()) {
                let len = std::fs::metadata(home(env, user.0).join(&p.name))
                    .map(|m| m.len())
                    .unwrap_or(0);
                ready &= len >= p.base() as u64 + SEEN_BEFORE_KILL;
                state.push(format!("{}/{}: {len} bytes", user.0, p.name));
            }
        }
        if ready {
            break;
        }
        if Instant::now() > deadline || threads.iter().any(|t| t.is_finished()) {
            stop.store(true, Ordering::SeqCst);
            panic!(
                "the uploads were not all in flight within {WAIT:?} (or one ended):\n{}\n{}",
                state.join("\n"),
                server.log()
            );
        }
        sleep(Duration::from_millis(20));
    }

    server.child.kill().unwrap(); // SIGKILL
    let status = server.child.wait().unwrap();
    assert!(!status.success(), "ferryd survived SIGKILL: {status}");
    stop.store(true, Ordering::SeqCst);
    for t in threads {
        t.join().unwrap();
    }
    drop(server);
    env.serve(&[], envs)
}

fn is_prefix(short: &[u8], long: &[u8]) -> bool {
    short.len() <= long.len() && long[..short.len()] == *short
}

fn all_plans() -> Vec<Plan> {
    let mut v = plans(Q, 1, 7, Kind::Rest(3 * MIB + 11));
    v.extend(plans(U, 2, 7, Kind::Appe(2 * MIB + 5)));
    v
}

#[test]
fn kill_9_mid_upload_atomic_resume_keeps_resumable_prefixes_and_an_exact_ledger() {
    let curl = require("curl");
    let lftp = require("lftp");
    if !curl || !lftp {
        return;
    }
    let env = Env::new();
    env.add_user(Q.0, Q.1, &["--quota", "1GiB"]);
    env.add_user(U.0, U.1, &[]);
    let plans = all_plans();
    assert_eq!(plans.len(), 20);

    let server = crash_with_uploads_in_flight(&env, &[], &plans);

    // Recovery: no hidden file, bystanders whole, each target a non-empty prefix of its data.
    assert_no_staging(&env);
    assert_bystanders_intact(&env);
    for p in &plans {
        let path = home(&env, p.user.0).join(&p.name);
        let got = std::fs::read(&path)
            .unwrap_or_else(|e| panic!("{}/{} after recovery: {e}", p.user.0, p.name));
        assert!(
            is_prefix(&got, &p.data),
            "{}/{} ({} bytes) is not a prefix of its upload",
            p.user.0,
            p.name,
            got.len()
        );
        // The disk showed at least this much before the kill: the fragment was kept.
        assert!(
            got.len() as u64 >= p.base() as u64 + SEEN_BEFORE_KILL,
            "{}/{} lost its fragment: {} bytes",
            p.user.0,
            p.name,
            got.len()
        );
        assert!(
            got.len() < p.data.len(),
            "{}/{} is complete, though its upload was cut off",
            p.user.0,
            p.name
        );
    }
    assert_ledger_equals_disk(&env, "after recovery");
    let log = server.log();
    assert!(
        log.contains("resolved uploads interrupted by a crash") && log.contains("uploads=20"),
        "the startup log does not report the 20 resolved uploads:\n{log}"
    );

    // Resume every one: half with curl, half with lftp.
    let local = env.root().join("local");
    std::fs::create_dir(&local).unwrap();
    let port = server.addr.port();
    for (i, p) in plans.iter().enumerate() {
        let file = local.join(format!("{}-{i}.bin", p.user.0));
        std::fs::write(&file, &*p.data).unwrap();
        let mut cmd = if i % 2 == 0 {
            let mut c = Command::new("curl");
            c.args(["-sS", "--max-time", "60", "-C", "-", "-T"])
                .arg(&file)
                .arg(format!(
                    "ftp://{}:{}@127.0.0.1:{port}/{}",
                    p.user.0, p.user.1, p.name
                ));
            c
        } else {
            let mut c = Command::new("lftp");
            c.arg("-c").arg(format!(
                "set ftp:ssl-allow no; set net:max-retries 1; set net:timeout 10; \
                 open -u {},{} -p {port} 127.0.0.1; put -c {} -o {}",
                p.user.0,
                p.user.1,
                file.display(),
                p.name
            ));
            c
        };
        let tool = if i % 2 == 0 { "curl" } else { "lftp" };
        let remote = home(&env, p.user.0).join(&p.name);
        let had = std::fs::metadata(&remote).unwrap().len();
        let mut child = cmd
            .stdin(Stdio::null())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .unwrap();
        let status = wait_timeout(&mut child, WAIT);
        if status.is_none() {
            let _ = child.kill();
        }
        let out = child.wait_with_output().unwrap();
        assert!(
            status.is_some_and(|s| s.success()),
            "{tool} resume of {}/{} failed ({status:?}):\n{}{}",
            p.user.0,
            p.name,
            String::from_utf8_lossy(&out.stdout),
            String::from_utf8_lossy(&out.stderr)
        );
        assert_eq!(
            sha256_file(&remote),
            sha256(&p.data),
            "{tool} resume of {}/{} did not produce the file",
            p.user.0,
            p.name
        );
        // It resumed: the server received only what the fragment lacked.
        let sent = format!("bytes={}", p.data.len() as u64 - had);
        let log = server.log();
        assert!(
            log.lines().any(|l| l.contains(" transfer")
                && l.contains(&format!("/{} ", p.name))
                && l.contains(&sent)
                && l.contains("result=\"ok\"")),
            "{tool} did not resume {}/{} from {had} bytes ({sent} expected):\n{log}",
            p.user.0,
            p.name
        );
    }
    assert_no_staging(&env);
    assert_bystanders_intact(&env);
    // The unlimited user's usage is written in batches (every 250 ms): wait for it, bounded.
    let deadline = Instant::now() + Duration::from_secs(10);
    while ledger(&env, U.0).0 != walk(&home(&env, U.0)).0 && Instant::now() < deadline {
        sleep(Duration::from_millis(50));
    }
    assert_ledger_equals_disk(&env, "after resuming");
}

#[test]
fn kill_9_mid_upload_atomic_leaves_old_contents_and_no_fragments() {
    let env = Env::new();
    env.add_user(Q.0, Q.1, &["--quota", "1GiB"]);
    env.add_user(U.0, U.1, &[]);
    let mut plans = plans(Q, 3, 2, Kind::Rest(3 * MIB + 11));
    plans.extend(self::plans(U, 4, 2, Kind::Appe(2 * MIB + 5)));
    let envs = [("FERRY_UPLOAD_MODE", "atomic")];

    let server = crash_with_uploads_in_flight(&env, &envs, &plans);

    assert_no_staging(&env);
    assert_bystanders_intact(&env);
    for p in &plans {
        let path = home(&env, p.user.0).join(&p.name);
        let what = format!("{}/{}", p.user.0, p.name);
        match &p.kind {
            Kind::New => assert!(
                !path.exists(),
                "{what}: an interrupted new file exists in atomic mode ({:?} bytes)",
                std::fs::metadata(&path).map(|m| m.len())
            ),
            Kind::Overwrite(old) => assert_eq!(
                sha256_file(&path),
                sha256(old),
                "{what}: an interrupted overwrite changed the old file in atomic mode"
            ),
            Kind::Rest(base) | Kind::Appe(base) => {
                let got = std::fs::read(&path).unwrap();
                assert_eq!(
                    got.len(),
                    *base,
                    "{what}: an interrupted in-place upload was not cut back to its start"
                );
                assert!(is_prefix(&got, &p.data), "{what}: content changed");
            }
        }
    }
    assert_ledger_equals_disk(&env, "after recovery (atomic)");
    let log = server.log();
    assert!(
        log.contains("resolved uploads interrupted by a crash")
            && log.contains(&format!("uploads={}", plans.len())),
        "the startup log does not report the resolved uploads:\n{log}"
    );
}
