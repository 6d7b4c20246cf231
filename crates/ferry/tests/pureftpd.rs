//! Against another FTPS server: Pure-FTPd with a virtual user of its own (puredb, no system
//! account created) and TLS optional, its certificate self-signed by `openssl req -x509`
//! (marked as a CA, as most hand-made server certificates are) and trusted with --ca-file.
//! Pure-FTPd, openssl and root (Pure-FTPd chroots and switches to the virtual user's uid) are
//! peers: when one is missing, `ferry_testkit::peer_missing` fails the test (always under
//! CI=true).
#![allow(clippy::unwrap_used)]

mod common;

use std::net::TcpStream;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use common::Env;
use ferry_testkit::{peer_missing, random_bytes, sha256, sha256_file};

/// `openssl passwd -6 -salt ferrytest bench`: SHA-512 crypt, fast to check (pure-pw's default
/// argon2id costs seconds per login).
const BENCH_HASH: &str =
    "$6$ferrytest$qgzd1W8tmBAopWnaTqqERBzvj3zrNVi.y/cOwemTtPCpt4y6z0K8.Ov6r2Zo1vGrTAmX0Nezoww7jfm7YpoxO.";

struct PureFtpd {
    child: Child,
    port: u16,
    dir: tempfile::TempDir,
}

impl PureFtpd {
    fn home(&self) -> PathBuf {
        self.dir.path().join("home")
    }

    fn cert(&self) -> PathBuf {
        self.dir.path().join("cert.pem")
    }
}

impl Drop for PureFtpd {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

fn find(env: &str, name: &str, sub: &str) -> Option<PathBuf> {
    if let Some(p) = std::env::var_os(env) {
        return Some(PathBuf::from(p));
    }
    for dir in std::env::var("PATH").unwrap_or_default().split(':') {
        let p = Path::new(dir).join(name);
        if p.is_file() {
            return Some(p);
        }
    }
    let p = peers_dir()?.join("pure-ftpd/usr").join(sub).join(name);
    p.is_file().then_some(p)
}

/// Where scripts/test unpacks the peers: $FTP_PEERS_DIR, else ~/.cache/ftp-peers.
fn peers_dir() -> Option<PathBuf> {
    if let Some(p) = std::env::var_os("FTP_PEERS_DIR") {
        return Some(PathBuf::from(p));
    }
    let cache = match std::env::var_os("XDG_CACHE_HOME") {
        Some(c) => PathBuf::from(c),
        None => Path::new(&std::env::var_os("HOME")?).join(".cache"),
    };
    Some(cache.join("ftp-peers"))
}

fn run(cmd: &mut Command) -> bool {
    cmd.stdout(Stdio::null())
        .stderr(Stdio::null())
        .status()
        .is_ok_and(|s| s.success())
}

/// Starts Pure-FTPd on a free loopback port; `None` only when [`peer_missing`] lets a missing
/// peer skip.
fn start() -> Option<PureFtpd> {
    let (Some(server), Some(pw)) = (
        find("PURE_FTPD_BIN", "pure-ftpd", "sbin"),
        find("PURE_PW_BIN", "pure-pw", "bin"),
    ) else {
        return peer_missing(
            "pure-ftpd or pure-pw not found in PATH, $PURE_FTPD_BIN/$PURE_PW_BIN or the peers \
             directory (scripts/test unpacks them under ~/.cache/ftp-peers)",
        );
    };
    let uid = Command::new("id").arg("-u").output().unwrap();
    if String::from_utf8_lossy(&uid.stdout).trim() != "0" {
        return peer_missing("pure-ftpd needs root (it chroots and switches uid)");
    }
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    std::fs::create_dir(d.join("home")).unwrap();
    // The virtual user runs as nobody: it must reach and own its home.
    if !run(Command::new("chmod").arg("755").arg(d))
        || !run(Command::new("chown").arg("nobody").arg(d.join("home")))
    {
        return peer_missing("cannot hand a directory to the account nobody");
    }
    if !run(Command::new("openssl")
        .args(["req", "-x509", "-newkey", "ec", "-pkeyopt"])
        .args(["ec_paramgen_curve:P-256", "-nodes", "-days", "2"])
        .args([
            "-subj",
            "/CN=localhost",
            "-addext",
            "subjectAltName=IP:127.0.0.1",
        ])
        .arg("-keyout")
        .arg(d.join("key.pem"))
        .arg("-out")
        .arg(d.join("cert.pem")))
    {
        return peer_missing("openssl cannot make a certificate (is it installed?)");
    }
    let both = [
        std::fs::read(d.join("cert.pem")).unwrap(),
        std::fs::read(d.join("key.pem")).unwrap(),
    ]
    .concat();
    std::fs::write(d.join("both.pem"), both).unwrap();
    std::fs::write(
        d.join("passwd"),
        format!(
            "bench:{BENCH_HASH}:65534:65534::{}/./::::::::::::\n",
            d.join("home").display()
        ),
    )
    .unwrap();
    if !run(Command::new(&pw)
        .arg("mkdb")
        .arg(d.join("pureftpd.pdb"))
        .arg("-f")
        .arg(d.join("passwd")))
    {
        return peer_missing(format!("{} mkdb failed", pw.display()));
    }
    let port = std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port();
    let child = Command::new(&server)
        .arg("-S")
        .arg(format!("127.0.0.1,{port}"))
        .arg("-l")
        .arg(format!("puredb:{}", d.join("pureftpd.pdb").display()))
        .args(["-A", "-E", "-H", "-p", "34000:34999", "-Y", "1", "-2"])
        .arg(d.join("both.pem"))
        .stdout(Stdio::null())
        .stderr(std::fs::File::create(d.join("stderr")).unwrap())
        .spawn();
    let mut child = match child {
        Ok(c) => c,
        Err(e) => return peer_missing(format!("cannot run {}: {e}", server.display())),
    };
    let start = Instant::now();
    while TcpStream::connect(("127.0.0.1", port)).is_err() {
        if let Ok(Some(status)) = child.try_wait() {
            let err = std::fs::read_to_string(d.join("stderr")).unwrap_or_default();
            return peer_missing(format!(
                "{} exited at start ({status}): {}",
                server.display(),
                err.trim()
            ));
        }
        if start.elapsed() > Duration::from_secs(5) {
            let _ = child.kill();
            let _ = child.wait();
            panic!("pure-ftpd did not listen within 5 s");
        }
        std::thread::sleep(Duration::from_millis(20));
    }
    Some(PureFtpd { child, port, dir })
}

#[test]
fn ferry_over_tls_with_pure_ftpd() {
    let Some(srv) = start() else { return };
    let env = Env::new();
    let cert = srv.cert();
    let ca = cert.to_str().unwrap();
    let base = format!("ftp://bench:bench@127.0.0.1:{}", srv.port);
    let data = random_bytes(400_000, 11);
    std::fs::write(env.path("up.bin"), &data).unwrap();
    env.run(&[
        "--tls",
        "require",
        "--ca-file",
        ca,
        "put",
        "up.bin",
        &format!("{base}/"),
    ])
    .ok();
    assert_eq!(sha256_file(&srv.home().join("up.bin")), sha256(&data));
    let r = env
        .run(&[
            "--tls",
            "require",
            "--ca-file",
            ca,
            "ls",
            &format!("{base}/"),
        ])
        .ok();
    assert!(r.stdout.contains("up.bin"), "{r:?}");
    env.run(&[
        "--tls",
        "require",
        "--ca-file",
        ca,
        "get",
        &format!("{base}/up.bin"),
        "down.bin",
    ])
    .ok();
    assert_eq!(sha256_file(&env.path("down.bin")), sha256(&data));
    // Without --ca-file the self-signed certificate is unknown: refused, fingerprint shown.
    let r = env.run(&["ls", &format!("{base}/")]);
    assert_eq!(r.code, 7, "{r:?}");
    assert!(r.stderr.contains("fingerprint"), "{r:?}");
    // Plain FTP still works when asked for.
    env.run(&["--tls", "off", "ls", &format!("{base}/")]).ok();
}
