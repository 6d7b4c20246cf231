//! Uploads that never lose data (issue 14): atomic replacement while readers read, the three
//! `upload_mode`s when an upload is interrupted, and lack of quota leaving every target as it
//! was, with the ledger equal to the disk. Real sockets against an in-process server.
#![allow(clippy::unwrap_used)]

use std::io::Write;
use std::net::TcpStream;
use std::path::Path;
use std::time::Duration;

use ferry_proto::Reply;
use ferry_server::config::UploadMode;
use ferry_testkit::uploads::{staging_files, wait_for};
use ferry_testkit::{random_bytes, sha256, RawFtp, TestServer};

const CAROL: (&str, &str) = ("carol", "pw");
const DAVE: (&str, &str) = ("dave", "pw");
const MIB: usize = 1 << 20;

/// The ledger agrees with the disk, nothing is reserved, and no staging file is left.
fn assert_ledger_matches_disk(srv: &TestServer, user: &str) {
    ferry_testkit::uploads::assert_ledger_matches_disk(srv, user, user);
}

fn server(mode: UploadMode, quota: Option<u64>) -> TestServer {
    TestServer::builder()
        .user_with_limits(CAROL.0, CAROL.1, quota, None)
        .user(DAVE.0, DAVE.1)
        .config(|c| c.upload_mode = mode)
        .start()
}

/// An upload that tolerates the server closing the data connection early (over quota).
fn upload(c: &mut RawFtp, command: &str, data: &[u8]) -> Reply {
    c.upload_until_refused(command, data)
}

/// Starts an upload and sends `data` on its data connection, which stays open: the upload is
/// then in flight until the caller ends it.
fn upload_in_flight(c: &mut RawFtp, command: &str, data: &[u8]) -> TcpStream {
    let mut sock = c.passive();
    c.expect(command, 150);
    sock.write_all(data).unwrap();
    sock
}

#[test]
fn readers_see_the_whole_old_file_or_the_whole_new_one_during_an_overwrite() {
    let srv = server(UploadMode::AtomicResume, None);
    let old = random_bytes(8 * MIB, 1);
    let new = random_bytes(8 * MIB, 2);
    let (old_sum, new_sum) = (sha256(&old), sha256(&new));
    srv.login(DAVE).stor("f.bin", &old);
    let addr = srv.addr;
    let writer = std::thread::spawn(move || {
        let mut c = RawFtp::connect(addr);
        c.login(DAVE.0, DAVE.1);
        let mut sock = c.passive();
        c.expect("STOR f.bin", 150);
        // Slowly, so that many reads happen while the upload runs.
        for chunk in new.chunks(256 * 1024) {
            sock.write_all(chunk).unwrap();
            std::thread::sleep(Duration::from_millis(40));
        }
        drop(sock);
        assert_eq!(c.read_reply().code, 226);
    });
    let mut reader = srv.login(DAVE);
    let (mut olds, mut news) = (0, 0);
    while !writer.is_finished() || news == 0 {
        let got = sha256(&reader.retr("f.bin"));
        if got == old_sum {
            olds += 1;
        } else if got == new_sum {
            news += 1;
        } else {
            panic!("a reader saw neither the old nor the new file ({olds} old, {news} new before)");
        }
        assert!(olds + news < 10_000);
    }
    writer.join().unwrap();
    assert!(
        olds >= 3,
        "the old file was not readable while the upload ran ({olds} reads)"
    );
    assert_eq!(
        sha256(&std::fs::read(srv.home(DAVE.0).join("f.bin")).unwrap()),
        new_sum
    );
    assert!(staging_files(&srv.home(DAVE.0)).is_empty());
}

#[test]
fn staging_files_are_never_listed_reachable_or_counted_twice() {
    let srv = server(UploadMode::AtomicResume, Some(100 * MIB as u64));
    let mut c = srv.login(CAROL);
    c.stor("keep.txt", b"kept");
    let sock = upload_in_flight(&mut c, "STOR big.bin", &random_bytes(2 * MIB, 3));
    let home = srv.home(CAROL.0);
    wait_for("the staging file", || staging_files(&home).len() == 1);
    let temp = staging_files(&home).remove(0);
    let mut other = srv.login(CAROL);
    assert_eq!(other.nlst(""), vec!["keep.txt".to_owned()]);
    let (list, r) = other.download("LIST -a");
    assert_eq!(r.code, 226);
    assert!(!String::from_utf8_lossy(&list).contains(".ferry-upload"));
    let (mlsd, r) = other.download("MLSD");
    assert_eq!(r.code, 226);
    assert!(!String::from_utf8_lossy(&mlsd).contains(".ferry-upload"));
    for cmd in [
        "RETR", "DELE", "RNFR", "SIZE", "MDTM", "HASH", "STOR", "APPE",
    ] {
        let line = format!("{cmd} {temp}");
        let r = if cmd == "RETR" || cmd == "STOR" || cmd == "APPE" {
            let _data = other.passive();
            other.cmd(&line)
        } else {
            other.cmd(&line)
        };
        assert_eq!(r.code, 553, "{line}: {r:?}");
    }
    other.expect(&format!("CWD /{temp}/.."), 553);
    drop(sock);
    assert_eq!(c.read_reply().code, 226);
    assert_ledger_matches_disk(&srv, CAROL.0);
    assert_eq!(
        std::fs::metadata(home.join("big.bin")).unwrap().len(),
        2 * MIB as u64
    );
}

/// How a test cuts an upload off.
#[derive(Clone, Copy, Debug)]
enum Cut {
    /// The client vanishes: its control connection closes, then its data connection.
    ClientGone,
    /// `ABOR` on the control connection.
    Abor,
}

/// Interrupts an upload of `new` over `old` (if any) once at least half a MiB has reached the
/// disk, and returns the server once the ledger has settled.
fn interrupted_overwrite(mode: UploadMode, old: Option<&[u8]>, new: &[u8], cut: Cut) -> TestServer {
    let srv = server(mode, Some(100 * MIB as u64));
    if let Some(old) = old {
        srv.login(CAROL).stor("f.bin", old);
    }
    let mut c = srv.login(CAROL);
    let sock = upload_in_flight(&mut c, "STOR f.bin", new);
    let home = srv.home(CAROL.0);
    let written = |home: &Path| -> u64 {
        std::fs::read_dir(home)
            .unwrap()
            .filter_map(Result::ok)
            .filter(|e| {
                let name = e.file_name().to_string_lossy().into_owned();
                if mode == UploadMode::InPlace {
                    name == "f.bin"
                } else {
                    name.starts_with(".ferry-upload.")
                }
            })
            .map(|e| e.metadata().unwrap().len())
            .max()
            .unwrap_or(0)
    };
    wait_for("the bytes to arrive", || written(&home) >= MIB as u64 / 2);
    match cut {
        Cut::ClientGone => {
            drop(c);
            std::thread::sleep(Duration::from_millis(200));
            drop(sock);
        }
        Cut::Abor => {
            c.send_raw(b"ABOR\r\n");
            assert_eq!(c.read_reply().code, 426);
            assert_eq!(c.read_reply().code, 226);
            drop(sock);
        }
    }
    assert_ledger_matches_disk(&srv, CAROL.0);
    srv
}

#[test]
fn atomic_resume_keeps_an_interrupted_fragment_as_the_target_and_it_resumes() {
    let new = random_bytes(3 * MIB, 5);
    for (old, cut) in [
        (None, Cut::ClientGone),
        (Some(random_bytes(MIB, 4)), Cut::Abor),
    ] {
        // The client sends only part of the file, then is cut off.
        let srv = interrupted_overwrite(
            UploadMode::AtomicResume,
            old.as_deref(),
            &new[..2 * MIB],
            cut,
        );
        let path = srv.home(CAROL.0).join("f.bin");
        let fragment = std::fs::read(&path).unwrap();
        assert!(
            fragment.len() >= MIB / 2 && new.starts_with(&fragment),
            "{cut:?}: the fragment ({} bytes) must be the target",
            fragment.len()
        );
        // Resume as clients do: SIZE, REST, STOR of the rest.
        let mut c = srv.login(CAROL);
        let size: usize = c.expect("SIZE f.bin", 213).text().parse().unwrap();
        assert_eq!(size, fragment.len());
        c.expect("TYPE I", 200);
        c.expect(&format!("REST {size}"), 350);
        assert_eq!(upload(&mut c, "STOR f.bin", &new[size..]).code, 226);
        assert_eq!(sha256(&std::fs::read(&path).unwrap()), sha256(&new));
        assert_ledger_matches_disk(&srv, CAROL.0);
    }
}

#[test]
fn atomic_discards_an_interrupted_upload_and_keeps_the_old_file() {
    let old = random_bytes(MIB, 6);
    let new = random_bytes(3 * MIB, 7);
    for cut in [Cut::ClientGone, Cut::Abor] {
        let srv = interrupted_overwrite(UploadMode::Atomic, Some(&old), &new[..2 * MIB], cut);
        assert_eq!(
            std::fs::read(srv.home(CAROL.0).join("f.bin")).unwrap(),
            old,
            "{cut:?}"
        );
        let srv = interrupted_overwrite(UploadMode::Atomic, None, &new[..2 * MIB], cut);
        assert!(!srv.home(CAROL.0).join("f.bin").exists(), "{cut:?}");
    }
    // In atomic mode an interrupted resume is cut back to where it started.
    let srv = server(UploadMode::Atomic, Some(100 * MIB as u64));
    let mut c = srv.login(CAROL);
    c.stor("r.bin", &new[..MIB]);
    let path = srv.home(CAROL.0).join("r.bin");
    {
        let mut c2 = srv.login(CAROL);
        c2.expect(&format!("REST {MIB}"), 350);
        let sock = upload_in_flight(&mut c2, "STOR r.bin", &new[MIB..2 * MIB]);
        wait_for("the resume to write", || {
            std::fs::metadata(&path).unwrap().len() >= MIB as u64 + MIB as u64 / 2
        });
        drop(c2);
        std::thread::sleep(Duration::from_millis(200));
        drop(sock);
    }
    wait_for("the resume to be cut back", || {
        std::fs::metadata(&path).unwrap().len() == MIB as u64
    });
    assert_eq!(std::fs::read(&path).unwrap(), &new[..MIB]);
    assert_ledger_matches_disk(&srv, CAROL.0);
    c.expect("NOOP", 200);
}

#[test]
fn in_place_writes_into_the_target_and_keeps_what_arrived() {
    let old = random_bytes(MIB, 8);
    let new = random_bytes(3 * MIB, 9);
    let srv = interrupted_overwrite(
        UploadMode::InPlace,
        Some(&old),
        &new[..2 * MIB],
        Cut::ClientGone,
    );
    let kept = std::fs::read(srv.home(CAROL.0).join("f.bin")).unwrap();
    assert!(
        kept.len() >= MIB / 2 && new.starts_with(&kept),
        "{} bytes kept",
        kept.len()
    );
    assert!(staging_files(&srv.home(CAROL.0)).is_empty());
}

/// Lack of quota, for a new file, an overwrite and a resume, in each mode: the target as
/// before, the ledger equal to the disk, the session usable, another user unaffected.
#[test]
fn an_upload_over_quota_leaves_every_target_as_it_was() {
    for mode in [
        UploadMode::AtomicResume,
        UploadMode::Atomic,
        UploadMode::InPlace,
    ] {
        let quota = 2 * MIB as u64;
        let srv = server(mode, Some(quota));
        let addr = srv.addr;
        // Another user uploads all along.
        let bystander = std::thread::spawn(move || {
            let mut d = RawFtp::connect(addr);
            d.login(DAVE.0, DAVE.1);
            for i in 0..5 {
                let data = random_bytes(MIB, 100 + i);
                d.stor("d.bin", &data);
                assert_eq!(sha256(&d.retr("d.bin")), sha256(&data));
            }
        });
        let mut c = srv.login(CAROL);
        let home = srv.home(CAROL.0);
        let old = random_bytes(MIB / 2, 10);
        c.stor("old.bin", &old);
        c.stor("resume.bin", &old);
        // A new file.
        let r = upload(&mut c, "STOR new.bin", &random_bytes(3 * MIB, 11));
        assert_eq!(r.code, 552, "{mode:?} new: {r:?}");
        assert!(
            !home.join("new.bin").exists(),
            "{mode:?}: new file left behind"
        );
        assert_ledger_matches_disk(&srv, CAROL.0);
        // A resume.
        c.expect(&format!("REST {}", old.len()), 350);
        let r = upload(&mut c, "STOR resume.bin", &random_bytes(3 * MIB, 12));
        assert_eq!(r.code, 552, "{mode:?} resume: {r:?}");
        assert_eq!(
            std::fs::read(home.join("resume.bin")).unwrap(),
            old,
            "{mode:?} resume"
        );
        assert_ledger_matches_disk(&srv, CAROL.0);
        let r = upload(&mut c, "APPE resume.bin", &random_bytes(3 * MIB, 13));
        assert_eq!(r.code, 552, "{mode:?} append: {r:?}");
        assert_eq!(
            std::fs::read(home.join("resume.bin")).unwrap(),
            old,
            "{mode:?} append"
        );
        assert_ledger_matches_disk(&srv, CAROL.0);
        // An overwrite: the old file stays whole in the atomic modes; in place it was
        // truncated at the start, so it is removed rather than left as a fragment.
        let r = upload(&mut c, "STOR old.bin", &random_bytes(3 * MIB, 14));
        assert_eq!(r.code, 552, "{mode:?} overwrite: {r:?}");
        if mode == UploadMode::InPlace {
            assert!(
                !home.join("old.bin").exists(),
                "in-place fragment left behind"
            );
        } else {
            assert_eq!(
                std::fs::read(home.join("old.bin")).unwrap(),
                old,
                "{mode:?} overwrite"
            );
        }
        assert_ledger_matches_disk(&srv, CAROL.0);
        // The session goes on, and an overwrite that fits still works with the quota full
        // of the file it replaces.
        c.expect("PWD", 257);
        let fits = random_bytes(MIB + MIB / 4, 15);
        c.stor("resume.bin", &fits);
        assert_eq!(std::fs::read(home.join("resume.bin")).unwrap(), fits);
        assert_ledger_matches_disk(&srv, CAROL.0);
        bystander.join().unwrap();
    }
}

#[test]
fn a_full_quota_still_allows_replacing_a_file_with_one_of_the_same_size() {
    let quota = 2 * MIB as u64;
    let srv = server(UploadMode::AtomicResume, Some(quota));
    let mut c = srv.login(CAROL);
    let first = random_bytes(quota as usize - 100, 20);
    c.stor("f.bin", &first);
    let second = random_bytes(quota as usize - 100, 21);
    c.stor("f.bin", &second);
    assert_eq!(
        std::fs::read(srv.home(CAROL.0).join("f.bin")).unwrap(),
        second
    );
    assert_ledger_matches_disk(&srv, CAROL.0);
    // But not with a larger one.
    let r = upload(&mut c, "STOR f.bin", &random_bytes(quota as usize + 1, 22));
    assert_eq!(r.code, 552);
    assert_eq!(
        std::fs::read(srv.home(CAROL.0).join("f.bin")).unwrap(),
        second
    );
    assert_ledger_matches_disk(&srv, CAROL.0);
}

#[test]
fn an_overwrite_keeps_the_old_permission_bits_and_a_link_keeps_its_target() {
    use std::os::unix::fs::PermissionsExt;
    let srv = server(UploadMode::AtomicResume, None);
    let mut c = srv.login(DAVE);
    let home = srv.home(DAVE.0);
    c.stor("f.txt", b"one");
    std::fs::set_permissions(home.join("f.txt"), std::fs::Permissions::from_mode(0o640)).unwrap();
    c.stor("f.txt", b"two");
    let m = std::fs::metadata(home.join("f.txt")).unwrap();
    assert_eq!(m.permissions().mode() & 0o777, 0o640);
    // An upload through a symlink inside the home replaces the linked file, not the link.
    std::fs::create_dir(home.join("real")).unwrap();
    std::fs::write(home.join("real/t.txt"), b"old").unwrap();
    std::os::unix::fs::symlink("real/t.txt", home.join("link.txt")).unwrap();
    c.stor("link.txt", b"through the link");
    assert!(std::fs::symlink_metadata(home.join("link.txt"))
        .unwrap()
        .file_type()
        .is_symlink());
    assert_eq!(
        std::fs::read(home.join("real/t.txt")).unwrap(),
        b"through the link"
    );
    // A link leading out of the home is refused, and nothing outside changes.
    let outside = tempfile::tempdir().unwrap();
    std::fs::write(outside.path().join("x"), b"outside").unwrap();
    std::os::unix::fs::symlink(outside.path().join("x"), home.join("out.txt")).unwrap();
    let r = upload(&mut c, "STOR out.txt", b"escape");
    assert_eq!(r.code, 550, "{r:?}");
    assert_eq!(std::fs::read(outside.path().join("x")).unwrap(), b"outside");
    assert!(staging_files(&home).is_empty());
}
