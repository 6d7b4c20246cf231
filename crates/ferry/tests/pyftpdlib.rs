//! Against another server: pyftpdlib, which has MLSD and REST but no digest command, so
//! ferry must resume and check by size alone, and say so. python3 with pyftpdlib is a peer:
//! when it is missing, `ferry_testkit::peer_missing` fails the test (always under CI=true).
#![allow(clippy::unwrap_used)]

mod common;

use std::net::TcpStream;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use common::Env;
use ferry_testkit::{peer_missing, random_bytes, sha256, sha256_file};

struct Pyftpd {
    child: Child,
    port: u16,
    dir: tempfile::TempDir,
}

impl Drop for Pyftpd {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// Starts pyftpdlib on a free loopback port; `None` only when [`peer_missing`] lets a missing
/// peer skip.
fn start() -> Option<Pyftpd> {
    match Command::new("python3")
        .args(["-c", "import pyftpdlib"])
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .status()
    {
        Ok(s) if s.success() => {}
        Ok(_) => {
            return peer_missing(
                "python3 cannot import pyftpdlib (scripts/test installs it: pip install pyftpdlib)",
            )
        }
        Err(e) => return peer_missing(format!("cannot run python3: {e}")),
    }
    let dir = tempfile::tempdir().unwrap();
    let port = std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port();
    let child = Command::new("python3")
        .args([
            "-m",
            "pyftpdlib",
            "-i",
            "127.0.0.1",
            "-p",
            &port.to_string(),
        ])
        .args(["-u", "user", "-P", "pass", "-w", "-d"])
        .arg(dir.path())
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn();
    let mut child = match child {
        Ok(c) => c,
        Err(e) => return peer_missing(format!("cannot run python3: {e}")),
    };
    let start = Instant::now();
    while TcpStream::connect(("127.0.0.1", port)).is_err() {
        if let Ok(Some(status)) = child.try_wait() {
            panic!("pyftpdlib exited at start ({status})");
        }
        if start.elapsed() > Duration::from_secs(20) {
            let _ = child.kill();
            panic!("pyftpdlib did not start listening within 20 s");
        }
        std::thread::sleep(Duration::from_millis(50));
    }
    Some(Pyftpd { child, port, dir })
}

#[test]
fn transfers_listing_and_size_only_resume_against_pyftpdlib() {
    let Some(py) = start() else { return };
    let env = Env::new();
    let base = format!("ftp://user:pass@127.0.0.1:{}", py.port);
    let data = random_bytes(1_200_000, 21);
    std::fs::write(env.path("é.bin"), &data).unwrap();

    let r = env.run(&["put", "é.bin", &format!("{base}/")]).ok();
    assert!(r.stderr.contains("size only"), "the user is told: {r:?}");
    assert!(r.stdout.contains("size checked"), "{r:?}");
    assert_eq!(sha256_file(&py.dir.path().join("é.bin")), sha256(&data));

    std::fs::create_dir(py.dir.path().join("sub")).unwrap();
    let r = env.run(&["ls", "--json", &format!("{base}/")]).ok();
    let v: serde_json::Value = serde_json::from_str(&r.stdout).unwrap();
    let names: Vec<&str> = v
        .as_array()
        .unwrap()
        .iter()
        .map(|e| e["name"].as_str().unwrap())
        .collect();
    assert_eq!(names, ["sub", "é.bin"]);
    let r = env.run(&["ls", &format!("{base}/")]).ok();
    assert!(
        r.stdout.contains("é.bin") && r.stdout.contains("sub/"),
        "{r:?}"
    );
    // Modes shown (asked for with OPTS MLST unix.mode), never `-?????????`.
    assert!(!r.stdout.contains('?'), "{r:?}");
    assert!(r.stdout.lines().any(|l| l.starts_with("drwx")), "{r:?}");

    // Resume a download by size: the .part holds a correct prefix.
    std::fs::write(env.path("copy.bin.part"), &data[..500_000]).unwrap();
    let url = format!("{base}/%C3%A9.bin");
    let r = env.run(&["get", &url, "copy.bin"]).ok();
    assert!(r.stderr.contains("resuming at byte 500000"), "{r:?}");
    assert_eq!(sha256_file(&env.path("copy.bin")), sha256(&data));

    // Resume an upload by size (REST + STOR on pyftpdlib).
    std::fs::write(py.dir.path().join("é.bin"), &data[..700_000]).unwrap();
    let r = env.run(&["put", "é.bin", &format!("{base}/")]).ok();
    assert!(r.stderr.contains("resuming at byte 700000"), "{r:?}");
    assert_eq!(sha256_file(&py.dir.path().join("é.bin")), sha256(&data));

    // --verify required refuses what cannot be verified.
    let r = env.run(&["--verify", "required", "get", &url, "strict.bin"]);
    assert_eq!(r.code, 6, "{r:?}");
    assert!(!env.path("strict.bin").exists());

    env.run(&["--active", "get", &url, "active.bin"]).ok();
    assert_eq!(sha256_file(&env.path("active.bin")), sha256(&data));

    env.run(&["rm", &url]).ok();
    assert!(!py.dir.path().join("é.bin").exists());
}

fn mtime(p: &std::path::Path) -> i64 {
    std::fs::metadata(p)
        .unwrap()
        .modified()
        .unwrap()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_secs() as i64
}

fn set_mtime(p: &std::path::Path, unix: u64) {
    std::fs::OpenOptions::new()
        .write(true)
        .open(p)
        .unwrap()
        .set_modified(std::time::UNIX_EPOCH + Duration::from_secs(unix))
        .unwrap();
}

/// Without any digest, a file of the same size is the same only when the modification times
/// agree too (rsync's quick check): transfers keep the source's time (MDTM on download, MFMT
/// on upload), a file that changed in place is sent again, an unchanged one is skipped.
#[test]
fn without_digests_equal_size_needs_equal_times_and_transfers_keep_times() {
    let Some(py) = start() else { return };
    let env = Env::new();
    let base = format!("ftp://user:pass@127.0.0.1:{}", py.port);
    let theirs = random_bytes(100_000, 51);
    let remote = py.dir.path().join("same.bin");
    std::fs::write(&remote, &theirs).unwrap();
    set_mtime(&remote, 1_600_000_000);
    // Same size, other content and time: not "identical".
    std::fs::write(env.path("same.bin"), random_bytes(100_000, 52)).unwrap();
    let url = format!("{base}/same.bin");
    let r = env.run(&["get", &url]).ok();
    assert!(!r.stdout.contains("skipped"), "{r:?}");
    assert_eq!(sha256_file(&env.path("same.bin")), sha256(&theirs));
    assert_eq!(
        mtime(&env.path("same.bin")),
        1_600_000_000,
        "the time is kept"
    );
    // Now unchanged: skipped by the quick check, and said so once.
    let r = env.run(&["get", &url]).ok();
    assert!(r.stdout.contains("skipped"), "{r:?}");
    assert!(r.stdout.contains("modification time"), "{r:?}");
    assert!(!r.stderr.contains("skipped"), "said once: {r:?}");

    // Uploads: the server's copy of the same size but another time is replaced, and takes
    // the local file's time.
    let mine = random_bytes(100_000, 53);
    std::fs::write(env.path("up.bin"), &mine).unwrap();
    set_mtime(&env.path("up.bin"), 1_500_000_000);
    std::fs::write(py.dir.path().join("up.bin"), random_bytes(100_000, 54)).unwrap();
    let r = env.run(&["put", "up.bin", &format!("{base}/")]).ok();
    assert!(!r.stdout.contains("skipped"), "{r:?}");
    assert_eq!(sha256_file(&py.dir.path().join("up.bin")), sha256(&mine));
    assert_eq!(mtime(&py.dir.path().join("up.bin")), 1_500_000_000, "MFMT");
    let r = env.run(&["put", "up.bin", &format!("{base}/")]).ok();
    assert!(r.stdout.contains("skipped"), "{r:?}");
}

/// `--verify required` against a server without any digest fails before a byte moves.
#[test]
fn verify_required_without_digests_fails_before_transferring() {
    let Some(py) = start() else { return };
    let env = Env::new();
    let base = format!("ftp://user:pass@127.0.0.1:{}", py.port);
    std::fs::write(py.dir.path().join("f.bin"), random_bytes(300_000, 55)).unwrap();
    let r = env.run(&["--verify", "required", "get", &format!("{base}/f.bin")]);
    assert_eq!(r.code, 6, "{r:?}");
    assert!(r.stderr.contains("--verify required"), "{r:?}");
    assert!(
        !env.path("f.bin").exists() && !env.path("f.bin.part").exists(),
        "nothing downloaded: {r:?}"
    );
    std::fs::write(env.path("g.bin"), random_bytes(1000, 56)).unwrap();
    let r = env.run(&["--verify", "required", "put", "g.bin", &format!("{base}/")]);
    assert_eq!(r.code, 6, "{r:?}");
    assert!(
        !py.dir.path().join("g.bin").exists(),
        "nothing uploaded: {r:?}"
    );
}

/// `quota` on a server without quotas says so instead of its raw `500`.
#[test]
fn quota_on_a_server_without_quotas_says_so() {
    let Some(py) = start() else { return };
    let env = Env::new();
    let r = env.run_script(
        &[
            "--tls",
            "off",
            &format!("ftp://user:pass@127.0.0.1:{}/", py.port),
        ],
        "quota\n",
    );
    assert_eq!(r.code, 0, "{r:?}");
    assert!(
        r.stdout.contains("does not report quotas") && !r.stderr.contains("500"),
        "{r:?}"
    );
}
