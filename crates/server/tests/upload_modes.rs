//! Each `upload_mode` (atomic-resume, atomic, in-place) with real clients run as subprocesses
//! (curl, lftp, Python's ftplib) against an in-process server: a new file, an overwrite that
//! keeps the permission bits, and a resume after the client vanished mid-upload, each with the
//! quota ledger equal to the disk and no staging file left; and, in the atomic modes, readers
//! that see only the whole old or the whole new file while curl overwrites it. The `ferry`
//! client's part is in crates/ferry/tests/upload_modes.rs.
#![allow(clippy::unwrap_used)]

use std::os::unix::fs::PermissionsExt;
use std::path::Path;
use std::process::{Child, Command, Output, Stdio};
use std::time::{Duration, Instant};

use ferry_server::config::UploadMode;
use ferry_testkit::uploads::{assert_ledger_matches_disk, interrupted_upload, staging_files};
use ferry_testkit::{random_bytes, require, sha256, sha256_file, RawFtp, TestServer};

const CAROL: (&str, &str) = ("carol", "pw");
const MIB: usize = 1 << 20;

/// A server in `mode` whose user has a (large) quota, so every upload goes through the
/// reservation path.
fn server(mode: UploadMode) -> TestServer {
    TestServer::builder()
        .user_with_limits(CAROL.0, CAROL.1, Some(1 << 30), None)
        .config(|c| c.upload_mode = mode)
        .start()
}

fn run(cmd: &mut Command) -> Output {
    let out = cmd.output().unwrap();
    if !out.status.success() {
        panic!(
            "{cmd:?} failed ({}):\nstdout: {}\nstderr: {}",
            out.status,
            String::from_utf8_lossy(&out.stdout),
            String::from_utf8_lossy(&out.stderr)
        );
    }
    out
}

fn curl() -> Command {
    let mut c = Command::new("curl");
    c.args(["-sS", "--max-time", "60"]);
    c
}

/// Uploads a local file to `remote` in the user's home, resuming from the server's size when
/// `resume` (ftplib: `SIZE`, `REST`, `STOR` of the rest).
const FTPLIB_PUT: &str = r#"
import ftplib, sys
host, port, user, pw, local, remote, resume = sys.argv[1:8]
ftp = ftplib.FTP()
ftp.connect(host, int(port), timeout=30)
ftp.login(user, pw)
with open(local, "rb") as f:
    if resume == "1":
        ftp.voidcmd("TYPE I")
        size = ftp.size(remote)
        assert size is not None and size > 0, size
        f.seek(size)
        ftp.storbinary("STOR " + remote, f, rest=size)
        print("resumed at", size)
    else:
        ftp.storbinary("STOR " + remote, f)
ftp.quit()
"#;

#[derive(Clone, Copy, Debug)]
enum Client {
    Curl,
    Lftp,
    Ftplib,
}

impl Client {
    fn present(self) -> bool {
        require(match self {
            Client::Curl => "curl",
            Client::Lftp => "lftp",
            Client::Ftplib => "python3",
        })
    }

    /// Uploads `local` as `remote` (a name in the home); with `resume`, the client's own
    /// resume of a partial file on the server. Returns the offset the client started sending
    /// from, as the client itself tells it (curl's `size_upload`, lftp's `REST` in its debug
    /// log, ftplib's `SIZE` answer), so a test knows a resume really resumed.
    fn put(self, srv: &TestServer, local: &Path, remote: &str, resume: bool) -> u64 {
        let len = std::fs::metadata(local).unwrap().len();
        match self {
            Client::Curl => {
                let mut c = curl();
                if resume {
                    c.args(["-C", "-"]);
                }
                let out = run(c
                    .args(["-w", "uploaded=%{size_upload}\\n", "-T"])
                    .arg(local)
                    .arg(format!("{}/{remote}", srv.url(CAROL))));
                let out = String::from_utf8_lossy(&out.stdout).into_owned();
                let sent: u64 = out
                    .lines()
                    .find_map(|l| l.strip_prefix("uploaded="))
                    .unwrap_or_else(|| panic!("no size_upload from curl: {out}"))
                    .parse()
                    .unwrap();
                len - sent
            }
            Client::Lftp => {
                let log = local.with_extension("lftp.log");
                let _ = std::fs::remove_file(&log);
                let put = if resume { "put -c" } else { "put" };
                let script = format!(
                    "debug -o '{}' 9; set ftp:ssl-allow no; set net:max-retries 1; \
                     set net:timeout 20; set cmd:fail-exit yes; open -u {},{} -p {} 127.0.0.1; \
                     {put} '{}' -o '{remote}'",
                    log.display(),
                    CAROL.0,
                    CAROL.1,
                    srv.port(),
                    local.display()
                );
                run(Command::new("lftp").arg("-c").arg(script));
                let log = std::fs::read_to_string(&log).unwrap();
                assert!(log.contains(&format!("STOR {remote}")), "lftp log: {log}");
                log.lines()
                    .find_map(|l| l.strip_prefix("---> REST "))
                    .map_or(0, |n| n.trim().parse().unwrap())
            }
            Client::Ftplib => {
                let out = run(Command::new("python3").arg("-c").arg(FTPLIB_PUT).args([
                    "127.0.0.1",
                    &srv.port().to_string(),
                    CAROL.0,
                    CAROL.1,
                    local.to_str().unwrap(),
                    remote,
                    if resume { "1" } else { "0" },
                ]));
                String::from_utf8_lossy(&out.stdout)
                    .lines()
                    .find_map(|l| l.strip_prefix("resumed at "))
                    .map_or(0, |n| n.trim().parse().unwrap())
            }
        }
    }
}

/// The server's `HASH` of `name` (stored with the upload, or computed) is the disk's SHA-256.
fn assert_hash_is_the_disk(srv: &TestServer, name: &str, what: &str) {
    let mut c = srv.login(CAROL);
    let r = c.expect(&format!("HASH {name}"), 213);
    let disk = sha256_file(&srv.home(CAROL.0).join(name));
    assert!(
        r.text().contains(&format!(" {disk} ")),
        "{what}: HASH {name} -> {r:?}, the disk's SHA-256 is {disk}"
    );
}

fn mode_bits(p: &Path) -> u32 {
    std::fs::metadata(p).unwrap().permissions().mode() & 0o777
}

/// The four steps of the brief for one client in one mode.
fn new_overwrite_and_resume(client: Client, mode: UploadMode, seed: u64) {
    if !client.present() {
        return;
    }
    let srv = server(mode);
    let tmp = tempfile::tempdir().unwrap();
    let home = srv.home(CAROL.0);
    let target = home.join("f.bin");
    let local = |name: &str, data: &[u8]| {
        let p = tmp.path().join(name);
        std::fs::write(&p, data).unwrap();
        p
    };
    let ctx = format!("{client:?} in {mode:?}");

    // 1. A new file.
    let a = random_bytes(3 * MIB, seed);
    assert_eq!(client.put(&srv, &local("a.bin", &a), "f.bin", false), 0);
    assert_eq!(sha256_file(&target), sha256(&a), "{ctx}: new file");
    assert_ledger_matches_disk(&srv, CAROL.0, &format!("{ctx}: new file"));
    assert_hash_is_the_disk(&srv, "f.bin", &format!("{ctx}: new file"));

    // 2. An overwrite with other (and fewer) bytes keeps the permission bits.
    std::fs::set_permissions(&target, std::fs::Permissions::from_mode(0o640)).unwrap();
    let b = random_bytes(3 * MIB - 4321, seed + 1);
    assert_eq!(client.put(&srv, &local("b.bin", &b), "f.bin", false), 0);
    assert_eq!(sha256_file(&target), sha256(&b), "{ctx}: overwrite");
    assert_eq!(mode_bits(&target), 0o640, "{ctx}: overwrite");
    assert_ledger_matches_disk(&srv, CAROL.0, &format!("{ctx}: overwrite"));
    assert_hash_is_the_disk(&srv, "f.bin", &format!("{ctx}: overwrite"));

    // 3. An upload of a new file whose client vanished: the fragment is the target and the
    // client resumes it, or (atomic) nothing is left and a plain upload works.
    let c = random_bytes(3 * MIB, seed + 2);
    interrupted_upload(&srv, CAROL, "r.bin", &c[..MIB]);
    let r = home.join("r.bin");
    let kept = if mode == UploadMode::Atomic {
        assert!(!r.exists(), "{ctx}: an interrupted new file was left");
        0
    } else {
        let fragment = std::fs::read(&r).unwrap();
        assert!(
            fragment.len() >= MIB / 2 && c.starts_with(&fragment),
            "{ctx}: the fragment of a new file ({} bytes) must be the target",
            fragment.len()
        );
        assert_hash_is_the_disk(&srv, "r.bin", &format!("{ctx}: fragment of a new file"));
        fragment.len() as u64
    };
    let from = client.put(
        &srv,
        &local("c.bin", &c),
        "r.bin",
        mode != UploadMode::Atomic,
    );
    assert_eq!(from, kept, "{ctx}: where the new file's upload resumed");
    assert_eq!(sha256_file(&r), sha256(&c), "{ctx}: resumed new file");
    assert_ledger_matches_disk(&srv, CAROL.0, &format!("{ctx}: resumed new file"));
    assert_hash_is_the_disk(&srv, "r.bin", &format!("{ctx}: resumed new file"));

    // 4. The same for an overwrite of f.bin (b, 0640): the old content stays (atomic) or the
    // fragment replaces it, and either way the permission bits stay.
    let d = random_bytes(3 * MIB, seed + 3);
    interrupted_upload(&srv, CAROL, "f.bin", &d[..MIB]);
    let now = std::fs::read(&target).unwrap();
    let kept = if mode == UploadMode::Atomic {
        assert!(now == b, "{ctx}: an interrupted overwrite changed the file");
        0
    } else {
        assert!(
            now.len() >= MIB / 2 && d.starts_with(&now),
            "{ctx}: the fragment of an overwrite ({} bytes) must be the target",
            now.len()
        );
        now.len() as u64
    };
    assert_hash_is_the_disk(&srv, "f.bin", &format!("{ctx}: interrupted overwrite"));
    assert_eq!(mode_bits(&target), 0o640, "{ctx}: interrupted overwrite");
    let from = client.put(
        &srv,
        &local("d.bin", &d),
        "f.bin",
        mode != UploadMode::Atomic,
    );
    assert_eq!(from, kept, "{ctx}: where the overwrite's upload resumed");
    assert_eq!(sha256_file(&target), sha256(&d), "{ctx}: resumed overwrite");
    assert_eq!(mode_bits(&target), 0o640, "{ctx}: resumed overwrite");
    assert_ledger_matches_disk(&srv, CAROL.0, &format!("{ctx}: resumed overwrite"));
    assert_hash_is_the_disk(&srv, "f.bin", &format!("{ctx}: resumed overwrite"));
}

macro_rules! matrix {
    ($($name:ident: $client:ident, $mode:ident, $seed:expr;)*) => {$(
        #[test]
        fn $name() {
            new_overwrite_and_resume(Client::$client, UploadMode::$mode, $seed);
        }
    )*};
}

matrix! {
    curl_atomic_resume: Curl, AtomicResume, 100;
    curl_atomic: Curl, Atomic, 110;
    curl_in_place: Curl, InPlace, 120;
    lftp_atomic_resume: Lftp, AtomicResume, 200;
    lftp_atomic: Lftp, Atomic, 210;
    lftp_in_place: Lftp, InPlace, 220;
    ftplib_atomic_resume: Ftplib, AtomicResume, 300;
    ftplib_atomic: Ftplib, Atomic, 310;
    ftplib_in_place: Ftplib, InPlace, 320;
}

/// Kills a child still running when the test panics, so no curl outlives it.
struct Reaped(Child);

impl Drop for Reaped {
    fn drop(&mut self) {
        if self.0.try_wait().ok().flatten().is_none() {
            let _ = self.0.kill();
            let _ = self.0.wait();
        }
    }
}

/// curl overwrites a 6 MiB file at 4 MB/s while the test reads it in a loop: every read is the
/// whole old file or the whole new one, and some reads happen while the upload is staged.
fn readers_see_old_or_new_while_curl_overwrites(mode: UploadMode) {
    if !require("curl") {
        return;
    }
    let srv = server(mode);
    let tmp = tempfile::tempdir().unwrap();
    let home = srv.home(CAROL.0);
    let old = random_bytes(6 * MIB, 400 + mode as u64);
    let new = random_bytes(6 * MIB, 410 + mode as u64);
    let (old_sum, new_sum) = (sha256(&old), sha256(&new));
    srv.login(CAROL).stor("f.bin", &old);
    let local = tmp.path().join("new.bin");
    std::fs::write(&local, &new).unwrap();
    let mut writer = Reaped(
        curl()
            .args(["--limit-rate", "4M", "-T"])
            .arg(&local)
            .arg(format!("{}/f.bin", srv.url(CAROL)))
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .unwrap(),
    );
    let mut reader = RawFtp::connect(srv.addr);
    reader.login(CAROL.0, CAROL.1);
    reader.expect("TYPE I", 200);
    let deadline = Instant::now() + Duration::from_secs(60);
    // Reads that began while a staging file existed: the upload was under way.
    let (mut olds, mut news, mut while_staged) = (0, 0, 0);
    let status = loop {
        if let Some(status) = writer.0.try_wait().unwrap() {
            break status;
        }
        assert!(Instant::now() < deadline, "curl did not finish in 60 s");
        let staged = !staging_files(&home).is_empty();
        let got = sha256(&reader.retr("f.bin"));
        if got == old_sum {
            olds += 1;
        } else if got == new_sum {
            news += 1;
        } else {
            panic!(
                "{mode:?}: a reader saw neither the old nor the new file \
                 ({olds} old, {news} new before)"
            );
        }
        if staged && got == old_sum {
            while_staged += 1;
        }
    };
    let mut err = String::new();
    std::io::Read::read_to_string(writer.0.stderr.as_mut().unwrap(), &mut err).unwrap();
    assert!(status.success(), "{mode:?}: curl failed ({status}): {err}");
    assert!(
        while_staged >= 1,
        "{mode:?}: no read happened while the upload was staged ({olds} old, {news} new)"
    );
    assert_eq!(sha256(&reader.retr("f.bin")), new_sum, "{mode:?}: after");
    assert_ledger_matches_disk(&srv, CAROL.0, &format!("{mode:?}: after the overwrite"));
}

#[test]
fn atomic_resume_readers_see_old_or_new_while_curl_overwrites() {
    readers_see_old_or_new_while_curl_overwrites(UploadMode::AtomicResume);
}

#[test]
fn atomic_readers_see_old_or_new_while_curl_overwrites() {
    readers_see_old_or_new_while_curl_overwrites(UploadMode::Atomic);
}

/// A staged upload whose directory is renamed (`RNFR d`, `RNTO e`) while it runs cannot take
/// its name; its staging file, found where the rename moved it, is removed, so no hidden
/// bytes outlive it uncounted and `e` can be removed.
#[test]
fn a_directory_renamed_during_a_staged_upload_leaves_no_staging_file() {
    use std::io::Write;
    for mode in [UploadMode::AtomicResume, UploadMode::Atomic] {
        let srv = server(mode);
        let home = srv.home(CAROL.0);
        let mut c = srv.login(CAROL);
        c.expect("MKD d", 257);
        let data = random_bytes(2 * MIB, 600);
        let mut sock = c.passive();
        c.expect("STOR d/f.bin", 150);
        sock.write_all(&data[..MIB]).unwrap();
        ferry_testkit::uploads::wait_for("the staging file", || staging_files(&home).len() == 1);
        let mut other = srv.login(CAROL);
        other.expect("RNFR d", 350);
        other.expect("RNTO e", 250);
        sock.write_all(&data[MIB..]).unwrap();
        drop(sock);
        // Whatever the reply, the upload must not leave bytes the ledger does not count.
        let end = c.read_reply();
        assert_ledger_matches_disk(
            &srv,
            CAROL.0,
            &format!("{mode:?}: upload ended with {end:?} after its directory was renamed"),
        );
        other.expect("RMD e", 250);
    }
}
