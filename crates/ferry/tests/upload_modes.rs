//! `ferry put` against each of the server's `upload_mode`s (atomic-resume, atomic, in-place):
//! a new file, an overwrite that keeps the permission bits, and the resume of an upload whose
//! client vanished (ferry resumes by itself after checking the server's prefix), each with the
//! quota ledger equal to the disk and no staging file left. curl, lftp and ftplib are in
//! crates/server/tests/upload_modes.rs.
#![allow(clippy::unwrap_used)]

mod common;

use std::os::unix::fs::PermissionsExt;
use std::path::Path;

use common::Env;
use ferry_server::config::UploadMode;
use ferry_testkit::uploads::{assert_ledger_matches_disk, interrupted_upload};
use ferry_testkit::{random_bytes, sha256, sha256_file, TestServer};

const CAROL: (&str, &str) = ("carol", "pw");
const MIB: usize = 1 << 20;

fn mode_bits(p: &Path) -> u32 {
    std::fs::metadata(p).unwrap().permissions().mode() & 0o777
}

fn ferry_put_in(mode: UploadMode, seed: u64) {
    let srv = TestServer::builder()
        .user_with_limits(CAROL.0, CAROL.1, Some(1 << 30), None)
        .config(|c| c.upload_mode = mode)
        .start();
    let env = Env::new();
    let home = srv.home(CAROL.0);
    let target = home.join("f.bin");
    let put = |name: &str, data: &[u8], remote: &str| {
        std::fs::write(env.path(name), data).unwrap();
        env.run(&["put", name, &format!("{}/{remote}", srv.url(CAROL))])
            .ok()
    };
    let ctx = format!("ferry in {mode:?}");

    // 1. A new file.
    let a = random_bytes(3 * MIB, seed);
    let r = put("a.bin", &a, "f.bin");
    assert!(
        r.stdout.contains("SHA-256 verified") && !r.stderr.contains("resuming"),
        "{ctx}: {r:?}"
    );
    assert_eq!(sha256_file(&target), sha256(&a), "{ctx}: new file");
    assert_ledger_matches_disk(&srv, CAROL.0, &format!("{ctx}: new file"));

    // 2. An overwrite with other (and fewer) bytes keeps the permission bits.
    std::fs::set_permissions(&target, std::fs::Permissions::from_mode(0o640)).unwrap();
    let b = random_bytes(3 * MIB - 4321, seed + 1);
    let r = put("b.bin", &b, "f.bin");
    assert!(!r.stderr.contains("resuming"), "{ctx}: {r:?}");
    assert_eq!(sha256_file(&target), sha256(&b), "{ctx}: overwrite");
    assert_eq!(mode_bits(&target), 0o640, "{ctx}: overwrite");
    assert_ledger_matches_disk(&srv, CAROL.0, &format!("{ctx}: overwrite"));

    // 3. A new file's upload whose client vanished: ferry resumes the fragment, or (atomic)
    // there is none and it uploads the whole file.
    let c = random_bytes(3 * MIB, seed + 2);
    interrupted_upload(&srv, CAROL, "r.bin", &c[..MIB]);
    let on_server = home.join("r.bin");
    let kept = if mode == UploadMode::Atomic {
        assert!(
            !on_server.exists(),
            "{ctx}: an interrupted new file was left"
        );
        None
    } else {
        let fragment = std::fs::read(&on_server).unwrap();
        assert!(
            fragment.len() >= MIB / 2 && c.starts_with(&fragment),
            "{ctx}: the fragment of a new file ({} bytes) must be the target",
            fragment.len()
        );
        Some(fragment.len())
    };
    let r = put("c.bin", &c, "r.bin");
    match kept {
        Some(n) => assert!(
            r.stderr.contains(&format!("resuming at byte {n}")),
            "{ctx}: {r:?}"
        ),
        None => assert!(!r.stderr.contains("resuming"), "{ctx}: {r:?}"),
    }
    assert!(r.stdout.contains("SHA-256 verified"), "{ctx}: {r:?}");
    assert_eq!(
        sha256_file(&on_server),
        sha256(&c),
        "{ctx}: resumed new file"
    );
    assert_ledger_matches_disk(&srv, CAROL.0, &format!("{ctx}: resumed new file"));

    // 4. The same for an overwrite of f.bin (b, 0640): the old content stays (atomic) or the
    // fragment replaces it; the permission bits stay either way.
    let d = random_bytes(3 * MIB, seed + 3);
    interrupted_upload(&srv, CAROL, "f.bin", &d[..MIB]);
    let now = std::fs::read(&target).unwrap();
    let kept = if mode == UploadMode::Atomic {
        assert!(now == b, "{ctx}: an interrupted overwrite changed the file");
        None
    } else {
        assert!(
            now.len() >= MIB / 2 && d.starts_with(&now),
            "{ctx}: the fragment of an overwrite ({} bytes) must be the target",
            now.len()
        );
        Some(now.len())
    };
    assert_eq!(mode_bits(&target), 0o640, "{ctx}: interrupted overwrite");
    let r = put("d.bin", &d, "f.bin");
    match kept {
        Some(n) => assert!(
            r.stderr.contains(&format!("resuming at byte {n}")),
            "{ctx}: {r:?}"
        ),
        // The server holds the old, shorter file: not a prefix, so uploaded again.
        None => assert!(
            r.stderr.contains("differs") && !r.stderr.contains("resuming"),
            "{ctx}: {r:?}"
        ),
    }
    assert!(r.stdout.contains("SHA-256 verified"), "{ctx}: {r:?}");
    assert_eq!(sha256_file(&target), sha256(&d), "{ctx}: resumed overwrite");
    assert_eq!(mode_bits(&target), 0o640, "{ctx}: resumed overwrite");
    assert_ledger_matches_disk(&srv, CAROL.0, &format!("{ctx}: resumed overwrite"));
}

#[test]
fn ferry_put_atomic_resume() {
    ferry_put_in(UploadMode::AtomicResume, 500);
}

#[test]
fn ferry_put_atomic() {
    ferry_put_in(UploadMode::Atomic, 510);
}

#[test]
fn ferry_put_in_place() {
    ferry_put_in(UploadMode::InPlace, 520);
}
