//! Against another FTPS server: Pure-FTPd with a virtual user of its own (puredb, no system
//! account created) and TLS optional, its certificate self-signed by `openssl req -x509`
//! (marked as a CA, as most hand-made server certificates are) and trusted with --ca-file.
//! Skipped, with the reason printed, when Pure-FTPd, openssl or root are missing (Pure-FTPd
//! chroots and switches to the virtual user's uid).
#![allow(clippy::unwrap_used)]

mod common;

use std::net::TcpStream;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use common::Env;
use ferry_testkit::{random_bytes, sha256, sha256_file};

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
    let home = std::env::var_os("HOME")?;
    let cache = std::env::var_os("XDG_CACHE_HOME")
        .map(PathBuf::from)
        .unwrap_or_else(|| Path::new(&home).join(".cache"));
    let p = cache.join("ftp-peers/pure-ftpd/usr").join(sub).join(name);
    p.is_file().then_some(p)
}

fn run(cmd: &mut Command) -> bool {
    cmd.stdout(Stdio::null())
        .stderr(Stdio::null())
        .status()
        .is_ok_and(|s| s.success())
}

fn start() -> Option<PureFtpd> {
    let (Some(server), Some(pw)) = (
        find("PURE_FTPD_BIN", "pure-ftpd", "sbin"),
        find("PURE_PW_BIN", "pure-pw", "bin"),
    ) else {
        eprintln!(
            "skipping: pure-ftpd not found (apt-get install pure-ftpd, or the bench's peers/setup)"
        );
        return None;
    };
    let uid = Command::new("id").arg("-u").output().ok()?;
    if String::from_utf8_lossy(&uid.stdout).trim() != "0" {
        eprintln!("skipping: pure-ftpd needs root (it chroots and switches uid)");
        return None;
    }
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    std::fs::create_dir(d.join("home")).unwrap();
    // The virtual user runs as nobody: it must reach and own its home.
    if !run(Command::new("chmod").arg("755").arg(d))
        || !run(Command::new("chown").arg("nobody").arg(d.join("home")))
    {
        eprintln!("skipping: cannot hand a directory to nobody");
        return None;
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
        eprintln!("skipping: openssl cannot make a certificate");
        return None;
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
        eprintln!("skipping: pure-pw mkdb failed");
        return None;
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
        .stderr(Stdio::null())
        .spawn();
    let mut child = match child {
        Ok(c) => c,
        Err(e) => {
            eprintln!("skipping: cannot run pure-ftpd: {e}");
            return None;
        }
    };
    let start = Instant::now();
    while TcpStream::connect(("127.0.0.1", port)).is_err() {
        if let Ok(Some(status)) = child.try_wait() {
            eprintln!("skipping: pure-ftpd exited at start ({status})");
            return None;
        }
        if start.elapsed() > Duration::from_secs(5) {
            let _ = child.kill();
            let _ = child.wait();
            eprintln!("skipping: pure-ftpd did not listen within 5 s");
            return None;
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
