//! The resume matrix in both directions (absent / correct prefix / wrong prefix / equal /
//! larger), and transfers interrupted by killing the client that resume on the next run.
#![allow(clippy::unwrap_used)]

mod common;

use std::time::Duration;

use common::{size_of, wait_for, Env};
use ferry_testkit::{random_bytes, sha256, sha256_file, TestServer, ALICE};

const SIZE: usize = 1_500_000;
const PREFIX: usize = 600_000;

fn flipped(mut d: Vec<u8>, at: usize) -> Vec<u8> {
    d[at] ^= 0xff;
    d
}

#[test]
fn get_resume_matrix() {
    let srv = TestServer::start();
    let env = Env::new();
    let remote = random_bytes(SIZE, 11);
    std::fs::write(srv.home("alice").join("f.bin"), &remote).unwrap();
    let url = format!("{}/f.bin", srv.url(ALICE));
    let want = sha256(&remote);
    let local = env.path("f.bin");
    let part = env.path("f.bin.part");
    let get = || env.run(&["get", &url]).ok();
    let reset = || {
        let _ = std::fs::remove_file(&local);
        let _ = std::fs::remove_file(&part);
    };

    // Absent: a plain download.
    let r = get();
    assert!(
        !r.stdout.contains("resumed") && r.stdout.contains("SHA-256 verified"),
        "{r:?}"
    );
    assert_eq!(sha256_file(&local), want);

    // A partial .part whose bytes are the remote prefix: resumed, only the rest moves.
    reset();
    std::fs::write(&part, &remote[..PREFIX]).unwrap();
    let r = get();
    assert!(
        r.stderr.contains(&format!("resuming at byte {PREFIX}")),
        "{r:?}"
    );
    assert!(r.stdout.contains("resumed at"), "{r:?}");
    assert_eq!(sha256_file(&local), want);
    assert!(!part.exists());

    // The same prefix under the final name (an older client's leftover) resumes too.
    reset();
    std::fs::write(&local, &remote[..PREFIX]).unwrap();
    let r = get();
    assert!(
        r.stderr.contains(&format!("resuming at byte {PREFIX}")),
        "{r:?}"
    );
    assert_eq!(sha256_file(&local), want);

    // A partial file with one wrong byte: not kept, downloaded again from scratch.
    reset();
    std::fs::write(&part, flipped(remote[..PREFIX].to_vec(), PREFIX / 2)).unwrap();
    let r = get();
    assert!(r.stderr.contains("differs"), "{r:?}");
    assert!(!r.stdout.contains("resumed"), "{r:?}");
    assert_eq!(sha256_file(&local), want);
    assert!(!part.exists());

    // Equal size and digest: skipped.
    let r = get();
    assert!(r.stdout.contains("skipped"), "{r:?}");
    assert_eq!(sha256_file(&local), want);

    // Equal size, different bytes: downloaded again.
    std::fs::write(&local, flipped(remote.clone(), SIZE - 1)).unwrap();
    let r = get();
    assert!(!r.stdout.contains("skipped"), "{r:?}");
    assert_eq!(sha256_file(&local), want);

    // Larger locally: downloaded again, the extra bytes gone.
    let mut larger = remote.clone();
    larger.extend_from_slice(b"trailing junk");
    std::fs::write(&local, &larger).unwrap();
    let r = get();
    assert!(
        !r.stdout.contains("skipped") && !r.stdout.contains("resumed"),
        "{r:?}"
    );
    assert_eq!(sha256_file(&local), want);
    assert_eq!(size_of(&local), SIZE as u64);
}

#[test]
fn put_resume_matrix() {
    let srv = TestServer::start();
    let env = Env::new();
    let data = random_bytes(SIZE, 12);
    std::fs::write(env.path("p.bin"), &data).unwrap();
    let on_server = srv.home("alice").join("p.bin");
    let url = format!("{}/p.bin", srv.url(ALICE));
    let want = sha256(&data);
    let put = || env.run(&["put", "p.bin", &url]).ok();

    // Absent.
    let r = put();
    assert!(
        r.stdout.contains("SHA-256 verified") && !r.stdout.contains("resumed"),
        "{r:?}"
    );
    assert_eq!(sha256_file(&on_server), want);

    // The server holds a correct prefix: resumed (REST + STOR).
    std::fs::write(&on_server, &data[..PREFIX]).unwrap();
    let r = put();
    assert!(
        r.stderr.contains(&format!("resuming at byte {PREFIX}")),
        "{r:?}"
    );
    assert!(r.stdout.contains("resumed at"), "{r:?}");
    assert_eq!(sha256_file(&on_server), want);

    // A wrong prefix on the server: uploaded again.
    std::fs::write(&on_server, flipped(data[..PREFIX].to_vec(), 7)).unwrap();
    let r = put();
    assert!(
        r.stderr.contains("differs") && !r.stdout.contains("resumed"),
        "{r:?}"
    );
    assert_eq!(sha256_file(&on_server), want);

    // Equal: skipped.
    let r = put();
    assert!(r.stdout.contains("skipped"), "{r:?}");

    // Larger on the server: replaced.
    let mut larger = data.clone();
    larger.extend_from_slice(&[0u8; 1000]);
    std::fs::write(&on_server, &larger).unwrap();
    let r = put();
    assert!(
        !r.stdout.contains("skipped") && !r.stdout.contains("resumed"),
        "{r:?}"
    );
    assert_eq!(sha256_file(&on_server), want);
    assert_eq!(size_of(&on_server), SIZE as u64);
}

const BIG: usize = 3_000_000;

#[test]
fn a_killed_download_resumes_on_the_next_run() {
    let srv = TestServer::start();
    let env = Env::new();
    let data = random_bytes(BIG, 13);
    std::fs::write(srv.home("alice").join("big.bin"), &data).unwrap();
    let url = format!("{}/big.bin", srv.url(ALICE));
    let part = env.path("big.bin.part");

    let mut child = env
        .command(&["--limit-rate", "300k", "get", &url])
        .spawn()
        .unwrap();
    wait_for(Duration::from_secs(30), "part of the download", || {
        size_of(&part) >= 400_000
    });
    child.kill().unwrap();
    child.wait().unwrap();
    let kept = size_of(&part);
    assert!(kept > 0 && kept < BIG as u64, "kept {kept}");
    assert!(!env.path("big.bin").exists());

    let r = env.run(&["get", &url]).ok();
    assert!(r.stderr.contains("resuming at byte"), "{r:?}");
    assert_eq!(sha256_file(&env.path("big.bin")), sha256(&data));
    assert!(!part.exists());
}

#[test]
fn a_killed_upload_resumes_on_the_next_run() {
    let srv = TestServer::start();
    let env = Env::new();
    let data = random_bytes(BIG, 14);
    std::fs::write(env.path("up.bin"), &data).unwrap();
    let url = format!("{}/up.bin", srv.url(ALICE));
    let on_server = srv.home("alice").join("up.bin");

    let mut child = env
        .command(&["--limit-rate", "300k", "put", "up.bin", &url])
        .spawn()
        .unwrap();
    let home = srv.home("alice");
    wait_for(Duration::from_secs(30), "part of the upload", || {
        ferry_testkit::uploads::bytes_arrived(&home, "up.bin") >= 400_000
    });
    child.kill().unwrap();
    child.wait().unwrap();
    // The server notices the closed connections and keeps what arrived.
    std::thread::sleep(Duration::from_millis(300));
    let kept = size_of(&on_server);
    assert!(kept > 0 && kept < BIG as u64, "kept {kept}");

    let r = env.run(&["put", "up.bin", &url]).ok();
    assert!(r.stderr.contains("resuming at byte"), "{r:?}");
    assert_eq!(sha256_file(&on_server), sha256(&data));
}
