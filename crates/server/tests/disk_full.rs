//! A real full disk (a small tmpfs), not a simulated one: uploads that run out of space get
//! `452` and leave every target as it was (a new file absent, an overwritten one whole, a
//! resumed or appended one cut back), the space given back, the session usable and the ledger
//! equal to the disk; an inode-starved file system refuses STOR and MKD with `452`; a user on
//! another disk is unaffected; and a database on a full disk refuses or succeeds without ever
//! leaving the ledger wrong.
//!
//! Mounting needs root: CI runs as root, and a failed mount fails the test with its reason.
#![allow(clippy::unwrap_used)]

use std::io::Write;
use std::path::Path;
use std::process::Command;
use std::time::Duration;

use ferry_proto::Reply;
use ferry_store::Store;
use ferry_testkit::{peer_missing, random_bytes, sha256, sha256_file, RawFtp, TestServer};

const CAROL: (&str, &str) = ("carol", "pw");
const DAVE: (&str, &str) = ("dave", "pw");
const ERIN: (&str, &str) = ("erin", "pw");
const MIB: usize = 1 << 20;

// ---------------------------------------------------------------------------------------------
// A tmpfs mounted for one test, unmounted (lazily) when dropped, even by a failing test.

struct Tmpfs {
    dir: tempfile::TempDir,
}

impl Tmpfs {
    /// Mounts a tmpfs with `options` (e.g. `size=32m`). `None` (skip) only when not root and
    /// [`peer_missing`] allows it; a mount that fails as root fails the test.
    fn mount(options: &str) -> Option<Tmpfs> {
        let uid = Command::new("id").arg("-u").output().unwrap();
        if String::from_utf8_lossy(&uid.stdout).trim() != "0" {
            return peer_missing("mounting a tmpfs needs root");
        }
        let dir = tempfile::tempdir().unwrap();
        let out = Command::new("mount")
            .args(["-t", "tmpfs", "-o", options, "tmpfs"])
            .arg(dir.path())
            .output()
            .unwrap_or_else(|e| panic!("running mount: {e}"));
        assert!(
            out.status.success(),
            "mount -t tmpfs -o {options} failed ({}): {}",
            out.status,
            String::from_utf8_lossy(&out.stderr)
        );
        Some(Tmpfs { dir })
    }

    fn path(&self) -> &Path {
        self.dir.path()
    }

    /// (bytes available, inodes free), as statvfs reports them.
    fn free(&self) -> (u64, u64) {
        let out = Command::new("stat")
            .args(["-f", "-c", "%a %S %d"])
            .arg(self.path())
            .output()
            .unwrap();
        let text = String::from_utf8(out.stdout).unwrap();
        let v: Vec<u64> = text
            .split_whitespace()
            .map(|n| n.parse().unwrap())
            .collect();
        (v[0] * v[1], v[2])
    }
}

impl Drop for Tmpfs {
    fn drop(&mut self) {
        let _ = Command::new("umount").arg("-l").arg(self.path()).status();
    }
}

// ---------------------------------------------------------------------------------------------
// Helpers.

/// Starts an upload and sends `data` until the server stops taking it (every write bounded),
/// then returns the final reply (or the refusal of the command).
/// The ledger agrees with the disk, nothing is reserved, and no staging file is left
/// (bounded: an unlimited user's usage is written every 250 ms).
fn assert_ledger_matches_disk(srv: &TestServer, user: &str) {
    ferry_testkit::uploads::assert_ledger_matches_disk(srv, user, user);
}

fn upload(c: &mut RawFtp, command: &str, data: &[u8]) -> Reply {
    let mut sock = c.passive();
    sock.set_write_timeout(Some(Duration::from_secs(30)))
        .unwrap();
    let r = c.cmd(command);
    if r.code != 150 && r.code != 125 {
        return r;
    }
    for chunk in data.chunks(256 * 1024) {
        if sock.write_all(chunk).is_err() {
            break;
        }
    }
    drop(sock);
    c.read_reply()
}

/// The session still answers, and lists.
fn assert_session_usable(c: &mut RawFtp) {
    c.expect("NOOP", 200);
    c.expect("PWD", 257);
    let (_, r) = c.download("LIST");
    assert_eq!(r.code, 226, "LIST after a full disk: {r:?}");
}

/// After an upload refused for lack of space: `452`, the session usable, the ledger equal to
/// the disk, and the file system as free as before (no fragment kept).
fn assert_refused_cleanly(
    srv: &TestServer,
    c: &mut RawFtp,
    user: &str,
    what: &str,
    r: &Reply,
    fs: &Tmpfs,
    free_before: (u64, u64),
) {
    assert_eq!(r.code, 452, "{what}: {r:?}");
    assert_session_usable(c);
    assert_ledger_matches_disk(srv, user);
    assert_eq!(
        fs.free(),
        free_before,
        "{what}: the file system did not get its space back (bytes, inodes)"
    );
}

/// Dave, on the ordinary disk, stores and reads back files while the others fill theirs.
fn dave_meanwhile(addr: std::net::SocketAddr) -> std::thread::JoinHandle<()> {
    std::thread::spawn(move || {
        let mut c = RawFtp::connect(addr);
        c.login(DAVE.0, DAVE.1);
        c.expect("TYPE I", 200);
        for i in 0..6u64 {
            let data = random_bytes(3 * MIB + i as usize, 500 + i);
            let name = format!("d-{i}.bin");
            c.stor(&name, &data);
            let back = c.retr(&name);
            assert_eq!(
                sha256(&back),
                sha256(&data),
                "dave's {name} came back changed"
            );
        }
        c.expect("QUIT", 221);
    })
}

// ---------------------------------------------------------------------------------------------
// Uploads onto a full 32 MiB tmpfs.

fn uploads_onto_a_full_disk(carol_quota: Option<u64>) {
    let Some(fs) = Tmpfs::mount("size=32m") else {
        return;
    };
    let Some(inodes) = Tmpfs::mount("size=8m,nr_inodes=64") else {
        return;
    };
    let srv = TestServer::builder()
        .user_with_home(CAROL.0, CAROL.1, carol_quota, fs.path())
        .user_with_home(ERIN.0, ERIN.1, carol_quota, inodes.path())
        .user(DAVE.0, DAVE.1)
        .start();
    let dave = dave_meanwhile(srv.addr);
    let mut c = srv.login(CAROL);
    c.expect("TYPE I", 200);
    let big = random_bytes(64 * MIB, 1);

    // a) A new file that does not fit.
    let free = fs.free();
    let r = upload(&mut c, "STOR new.bin", &big);
    assert_refused_cleanly(&srv, &mut c, CAROL.0, "a) STOR new", &r, &fs, free);
    assert!(!fs.path().join("new.bin").exists(), "a) a fragment stayed");

    // b) An overwrite that does not fit: the old file stays whole.
    let old = random_bytes(8 * MIB, 2);
    c.stor("old.bin", &old);
    let free = fs.free();
    let r = upload(&mut c, "STOR old.bin", &big[..40 * MIB]);
    assert_refused_cleanly(&srv, &mut c, CAROL.0, "b) STOR over", &r, &fs, free);
    assert_eq!(
        sha256_file(&fs.path().join("old.bin")),
        sha256(&old),
        "b) the old file changed"
    );

    // c) A resume that does not fit: cut back to where it started.
    let start = &big[..4 * MIB];
    c.stor("part.bin", start);
    let free = fs.free();
    c.expect(&format!("REST {}", 4 * MIB), 350);
    let r = upload(&mut c, "STOR part.bin", &big[4 * MIB..]);
    assert_refused_cleanly(&srv, &mut c, CAROL.0, "c) REST+STOR", &r, &fs, free);
    assert_eq!(
        sha256_file(&fs.path().join("part.bin")),
        sha256(start),
        "c) the resumed file was not cut back to its 4 MiB"
    );

    // d) An append likewise.
    let r = upload(&mut c, "APPE part.bin", &big[4 * MIB..]);
    assert_refused_cleanly(&srv, &mut c, CAROL.0, "d) APPE", &r, &fs, free);
    assert_eq!(
        sha256_file(&fs.path().join("part.bin")),
        sha256(start),
        "d) the appended file was not cut back to its 4 MiB"
    );

    // g) Once space is freed, an upload that did not fit before fits.
    let filler = random_bytes(16 * MIB, 3);
    c.stor("filler.bin", &filler);
    let free = fs.free();
    let r = upload(&mut c, "STOR late.bin", &big[..12 * MIB]);
    assert_refused_cleanly(&srv, &mut c, CAROL.0, "g) STOR before DELE", &r, &fs, free);
    c.expect("DELE filler.bin", 250);
    c.stor("late.bin", &big[..12 * MIB]);
    assert_eq!(
        sha256_file(&fs.path().join("late.bin")),
        sha256(&big[..12 * MIB])
    );
    assert_session_usable(&mut c);
    assert_ledger_matches_disk(&srv, CAROL.0);

    // e) Out of inodes: STOR and MKD get 452, and the session goes on.
    let mut e = srv.login(ERIN);
    e.expect("TYPE I", 200);
    let mut stored = 0;
    let refusal = loop {
        assert!(stored < 100, "e) 64 inodes took {stored} files");
        let free = inodes.free();
        let r = upload(&mut e, &format!("STOR f{stored}"), b"x");
        if r.code != 226 {
            break (r, free);
        }
        stored += 1;
    };
    let (r, free) = refusal;
    assert_refused_cleanly(&srv, &mut e, ERIN.0, "e) STOR, no inode", &r, &inodes, free);
    let r = e.cmd("MKD sub");
    assert_refused_cleanly(&srv, &mut e, ERIN.0, "e) MKD, no inode", &r, &inodes, free);
    e.expect("DELE f0", 250);
    e.expect("MKD sub", 257);
    assert_session_usable(&mut e);
    assert_ledger_matches_disk(&srv, ERIN.0);

    // f) Dave was not affected.
    dave.join().unwrap();
    assert_ledger_matches_disk(&srv, DAVE.0);
}

#[test]
fn a_full_disk_leaves_every_target_as_it_was_for_an_unlimited_user() {
    uploads_onto_a_full_disk(None);
}

#[test]
fn a_full_disk_leaves_every_target_as_it_was_for_a_user_with_a_quota() {
    uploads_onto_a_full_disk(Some(1 << 30));
}

// ---------------------------------------------------------------------------------------------
// The database on a full disk.

#[test]
fn a_database_on_a_full_disk_refuses_or_succeeds_but_never_corrupts_the_ledger() {
    let Some(fs) = Tmpfs::mount("size=4m") else {
        return;
    };
    let homes = tempfile::tempdir().unwrap();
    let carol_home = homes.path().join("carol");
    let srv = TestServer::builder()
        .data_dir(fs.path())
        .user_with_home(CAROL.0, CAROL.1, Some(1 << 30), &carol_home)
        .start();
    let mut c = srv.login(CAROL);
    c.expect("TYPE I", 200);
    c.stor("before.bin", &random_bytes(MIB, 1));

    // Fill the database's file system, leaving a few KiB.
    let filler = fs.path().join("filler");
    {
        let mut f = std::fs::File::create(&filler).unwrap();
        let chunk = vec![0u8; 64 * 1024];
        loop {
            if let Err(e) = f.write_all(&chunk) {
                assert_eq!(e.raw_os_error(), Some(28), "filling: {e}");
                break;
            }
        }
        let len = f.metadata().unwrap().len();
        f.set_len(len.saturating_sub(8 * 1024)).unwrap();
    }

    // Uploads and MKD: refused for lack of space or done, the session going on either way.
    for i in 0..6 {
        let name = format!("full-{i}.bin");
        let data = random_bytes(256 * 1024 + i, 10 + i as u64);
        let r = upload(&mut c, &format!("STOR {name}"), &data);
        assert!(r.code == 226 || r.code == 452, "STOR {name}: {r:?}");
        let path = carol_home.join(&name);
        if r.code == 226 {
            assert_eq!(sha256_file(&path), sha256(&data), "{name}");
        } else {
            assert!(!path.exists(), "{name} refused with 452 but left on disk");
        }
        let r = c.cmd(&format!("MKD dir-{i}"));
        assert!(r.code == 257 || r.code == 452, "MKD dir-{i}: {r:?}");
        assert_eq!(
            carol_home.join(format!("dir-{i}")).is_dir(),
            r.code == 257,
            "MKD dir-{i} answered {r:?}"
        );
        c.expect("NOOP", 200);
    }

    // Space again: uploads work, and the ledger is already right.
    std::fs::remove_file(&filler).unwrap();
    c.stor("after.bin", &random_bytes(MIB, 2));
    assert_session_usable(&mut c);
    assert_ledger_matches_disk(&srv, CAROL.0);
    let (ledger, disk, integrity) = srv.with_store(async |store: &Store| {
        let u = store.user(CAROL.0).await.unwrap().unwrap();
        let ledger = store.quota_usage(u.id).await.unwrap().unwrap();
        let disk = ferry_server::rescan_usage(store, u.id, &carol_home)
            .await
            .unwrap();
        let integrity: String = sqlx::query_scalar("PRAGMA integrity_check")
            .fetch_one(store.pool())
            .await
            .unwrap();
        (ledger, disk, integrity)
    });
    assert_eq!(
        (ledger.used_bytes, ledger.used_files),
        disk,
        "the ledger differs from a rescan"
    );
    assert_eq!(integrity, "ok");
}
