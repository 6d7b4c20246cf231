//! Against another server: vsftpd (its Debian package unpacked under the peers cache, not
//! installed), plain FTP only, no MLSD and no digest command, so ferry lists with LIST and
//! resumes and checks by size alone. vsftpd authenticates a system account through PAM: the
//! test creates (once) the account `ferrytest` with a SHA-512 crypt password and its own PAM
//! service, and points the account's home at a temporary directory. vsftpd and root are
//! peers: when one is missing, or vsftpd exits at start, `ferry_testkit::peer_missing` fails
//! the test (always under CI=true).
#![allow(clippy::unwrap_used)]

mod common;

use std::io::Read;
use std::net::TcpStream;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use common::{Env, Run};
use ferry_testkit::{peer_missing, random_bytes, sha256, sha256_file};

const USER: &str = "ferrytest";
const PASSWORD: &str = "ferry-vsftpd-Pw1";
const PAM_SERVICE: &str = "vsftpd-ferrytest";

struct Vsftpd {
    child: Child,
    port: u16,
    dir: tempfile::TempDir,
}

impl Vsftpd {
    fn home(&self) -> PathBuf {
        self.dir.path().join("home")
    }
}

impl Drop for Vsftpd {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// $VSFTPD_BIN, else the copy scripts/test unpacks under $FTP_PEERS_DIR (default
/// ~/.cache/ftp-peers).
fn find_bin() -> Option<PathBuf> {
    if let Some(p) = std::env::var_os("VSFTPD_BIN") {
        return Some(PathBuf::from(p));
    }
    let peers = match std::env::var_os("FTP_PEERS_DIR") {
        Some(p) => PathBuf::from(p),
        None => {
            let cache = match std::env::var_os("XDG_CACHE_HOME") {
                Some(c) => PathBuf::from(c),
                None => Path::new(&std::env::var_os("HOME")?).join(".cache"),
            };
            cache.join("ftp-peers")
        }
    };
    let p = peers.join("vsftpd/usr/sbin/vsftpd");
    p.is_file().then_some(p)
}

fn run(cmd: &mut Command) -> bool {
    cmd.stdout(Stdio::null())
        .stderr(Stdio::null())
        .status()
        .is_ok_and(|s| s.success())
}

fn set_password() -> bool {
    let Ok(mut child) = Command::new("chpasswd")
        .args(["-c", "SHA512"])
        .stdin(Stdio::piped())
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
    else {
        return false;
    };
    use std::io::Write;
    let wrote = child
        .stdin
        .take()
        .unwrap()
        .write_all(format!("{USER}:{PASSWORD}\n").as_bytes())
        .is_ok();
    child.wait().is_ok_and(|s| s.success()) && wrote
}

/// Reads the greeting on 127.0.0.1:port; true when it starts with 220.
fn greets_220(port: u16) -> bool {
    let Ok(mut s) = TcpStream::connect(("127.0.0.1", port)) else {
        return false;
    };
    let _ = s.set_read_timeout(Some(Duration::from_secs(2)));
    let mut buf = [0u8; 3];
    s.read_exact(&mut buf).is_ok() && &buf == b"220"
}

/// Starts vsftpd on a free loopback port; `None` only when [`peer_missing`] lets a missing
/// peer skip.
fn start() -> Option<Vsftpd> {
    let Some(bin) = find_bin() else {
        return peer_missing(
            "vsftpd not found in $VSFTPD_BIN or the peers directory (scripts/test unpacks it \
             under $FTP_PEERS_DIR, default ~/.cache/ftp-peers)",
        );
    };
    let uid = Command::new("id").arg("-u").output().unwrap();
    if String::from_utf8_lossy(&uid.stdout).trim() != "0" {
        return peer_missing("vsftpd needs root (it creates a system account, chroots)");
    }
    let have_user = run(Command::new("id").arg(USER));
    if !have_user
        && !run(Command::new("useradd").args([
            "-M",
            "-d",
            "/nonexistent",
            "-s",
            "/usr/sbin/nologin",
            USER,
        ]))
    {
        return peer_missing(format!("cannot create the account {USER} (useradd)"));
    }
    if !set_password() {
        return peer_missing(format!("cannot set the password of {USER} (chpasswd)"));
    }
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    let home = d.join("home");
    let empty = d.join("empty");
    std::fs::create_dir(&home).unwrap();
    std::fs::create_dir(&empty).unwrap();
    // The account must reach its home (tempdir is 0700) and own it; `empty` is vsftpd's
    // secure_chroot_dir and must not be writable by it.
    if !run(Command::new("chmod").arg("755").arg(d).arg(&empty))
        || !run(Command::new("chown").arg(USER).arg(&home))
        || !run(Command::new("usermod").arg("-d").arg(&home).arg(USER))
    {
        return peer_missing(format!("cannot give {USER} its home directory"));
    }
    let pam = Path::new("/etc/pam.d").join(PAM_SERVICE);
    if !pam.exists()
        && std::fs::write(
            &pam,
            "auth required pam_unix.so\naccount required pam_unix.so\nsession required pam_unix.so\n",
        )
        .is_err()
    {
        return peer_missing(format!("cannot write {}", pam.display()));
    }
    let port = std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port();
    let conf = d.join("vsftpd.conf");
    std::fs::write(
        &conf,
        format!(
            "listen=YES\n\
             listen_address=127.0.0.1\n\
             listen_port={port}\n\
             background=NO\n\
             anonymous_enable=NO\n\
             local_enable=YES\n\
             write_enable=YES\n\
             local_umask=022\n\
             chroot_local_user=YES\n\
             allow_writeable_chroot=YES\n\
             local_root={home}\n\
             pasv_enable=YES\n\
             pasv_min_port=46000\n\
             pasv_max_port=46999\n\
             seccomp_sandbox=NO\n\
             pam_service_name={PAM_SERVICE}\n\
             secure_chroot_dir={empty}\n\
             xferlog_enable=NO\n",
            home = home.display(),
            empty = empty.display(),
        ),
    )
    .unwrap();
    let child = Command::new(&bin)
        .arg(&conf)
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(Stdio::piped())
        .spawn();
    let mut child = match child {
        Ok(c) => c,
        Err(e) => return peer_missing(format!("cannot run {}: {e}", bin.display())),
    };
    let start = Instant::now();
    while !greets_220(port) {
        if let Ok(Some(status)) = child.try_wait() {
            let mut err = String::new();
            if let Some(mut e) = child.stderr.take() {
                let _ = e.read_to_string(&mut err);
            }
            return peer_missing(format!(
                "{} exited at start ({status}): {}",
                bin.display(),
                err.trim()
            ));
        }
        if start.elapsed() > Duration::from_secs(10) {
            let _ = child.kill();
            let _ = child.wait();
            panic!("vsftpd did not greet with 220 within 10 s");
        }
        std::thread::sleep(Duration::from_millis(20));
    }
    Some(Vsftpd { child, port, dir })
}

/// ferry --tls off [-q] ARGS, with the password in FERRY_PASSWORD.
fn ferry(env: &Env, quiet: bool, password: &str, args: &[&str]) -> Run {
    let mut all = vec!["--tls", "off"];
    if quiet {
        all.push("-q");
    }
    all.extend_from_slice(args);
    let mut c = env.command(&all);
    c.env("FERRY_PASSWORD", password);
    env.run_cmd(c)
}

#[test]
fn transfers_listing_resume_and_login_against_vsftpd() {
    let Some(srv) = start() else { return };
    let env = Env::new();
    let base = format!("ftp://{USER}@127.0.0.1:{}", srv.port);
    let data = random_bytes(3 << 20, 31);
    std::fs::write(env.path("big.bin"), &data).unwrap();

    // Upload: the file lands in the account's home, byte for byte.
    ferry(
        &env,
        true,
        PASSWORD,
        &["put", "big.bin", &format!("{base}/")],
    )
    .ok();
    assert_eq!(sha256_file(&srv.home().join("big.bin")), sha256(&data));

    // Listing (LIST parsed: vsftpd has no MLSD) shows the file with its size.
    let r = ferry(&env, true, PASSWORD, &["ls", "--json", &format!("{base}/")]).ok();
    let v: serde_json::Value = serde_json::from_str(&r.stdout).unwrap();
    let entry = v
        .as_array()
        .unwrap()
        .iter()
        .find(|e| e["name"] == "big.bin")
        .unwrap_or_else(|| panic!("big.bin not listed: {r:?}"));
    assert_eq!(entry["size"].as_u64(), Some(data.len() as u64), "{r:?}");

    // Download.
    let url = format!("{base}/big.bin");
    ferry(&env, true, PASSWORD, &["get", &url, "down.bin"]).ok();
    assert_eq!(sha256_file(&env.path("down.bin")), sha256(&data));

    // Resumed download: a correct prefix in copy.bin.part, no digest on the server, so by size
    // (and the user is told, hence no -q here).
    std::fs::write(env.path("copy.bin.part"), &data[..1_000_000]).unwrap();
    let r = ferry(&env, false, PASSWORD, &["get", &url, "copy.bin"]).ok();
    assert!(r.stderr.contains("resuming at byte 1000000"), "{r:?}");
    assert!(r.stderr.contains("size only"), "the user is told: {r:?}");
    assert_eq!(sha256_file(&env.path("copy.bin")), sha256(&data));
    assert!(!env.path("copy.bin.part").exists());

    // mkdir and rm change the server's directory.
    ferry(&env, true, PASSWORD, &["mkdir", &format!("{base}/newdir")]).ok();
    assert!(srv.home().join("newdir").is_dir());
    ferry(&env, true, PASSWORD, &["rm", &url]).ok();
    assert!(!srv.home().join("big.bin").exists());

    // A wrong password: login failed, exit 3.
    let r = ferry(&env, true, "not-the-password", &["ls", &format!("{base}/")]);
    assert_eq!(r.code, 3, "{r:?}");
}
