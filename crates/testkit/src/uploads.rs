//! Checks shared by the `upload_mode` tests of the server (curl, lftp, ftplib) and of the
//! `ferry` client: staging files left behind, the quota ledger against the disk, and an upload
//! cut off by a client that vanished mid-transfer.

use std::io::Write;
use std::path::Path;
use std::time::{Duration, Instant};

use crate::TestServer;

/// How many bytes of an upload to `dir/name` have reached the server's disk so far: the size
/// of the target, or of the largest staging file in `dir` while a staged upload runs (its
/// target appears only when it ends).
pub fn bytes_arrived(dir: &Path, name: &str) -> u64 {
    let target = std::fs::metadata(dir.join(name))
        .map(|m| m.len())
        .unwrap_or(0);
    let staged = std::fs::read_dir(dir)
        .map(|entries| {
            entries
                .filter_map(Result::ok)
                .filter(|e| {
                    e.file_name()
                        .to_string_lossy()
                        .starts_with(".ferry-upload.")
                })
                .filter_map(|e| e.metadata().ok().map(|m| m.len()))
                .max()
                .unwrap_or(0)
        })
        .unwrap_or(0);
    target.max(staged)
}

/// Files in `dir` (recursively) whose name is a staging name (`.ferry-upload.*`).
pub fn staging_files(dir: &Path) -> Vec<String> {
    let mut found = Vec::new();
    for e in std::fs::read_dir(dir).unwrap() {
        let e = e.unwrap();
        let name = e.file_name().to_string_lossy().into_owned();
        if e.file_type().unwrap().is_dir() {
            found.extend(staging_files(&e.path()));
        } else if name.starts_with(".ferry-upload.") {
            found.push(name);
        }
    }
    found
}

/// Waits (at most 10 s) until the ledger agrees with the disk, nothing is reserved and no
/// staging file is left; panics with both views otherwise. `what` names the step.
pub fn assert_ledger_matches_disk(srv: &TestServer, user: &str, what: &str) {
    let deadline = Instant::now() + Duration::from_secs(10);
    loop {
        let u = srv.usage(user);
        let (bytes, entries) = srv.disk_usage(user);
        let staging = staging_files(&srv.home(user));
        if (u.used_bytes, u.reserved_bytes, u.used_files) == (bytes, 0, entries)
            && staging.is_empty()
        {
            return;
        }
        assert!(
            Instant::now() < deadline,
            "{what}: ledger {u:?} vs disk bytes={bytes} entries={entries}, staging files {staging:?}"
        );
        std::thread::sleep(Duration::from_millis(50));
    }
}

/// Waits (at most 20 s) until `done` holds.
pub fn wait_for(what: &str, mut done: impl FnMut() -> bool) {
    let deadline = Instant::now() + Duration::from_secs(20);
    while !done() {
        assert!(Instant::now() < deadline, "timed out waiting for {what}");
        std::thread::sleep(Duration::from_millis(20));
    }
}

/// The length of the longest prefix of `sent` that has reached the disk for an upload to
/// `name` in `home`: the staging file's size, or the target's when it is a prefix of `sent`
/// (in place).
fn arrived(home: &Path, name: &str, sent: &[u8]) -> u64 {
    let staged = std::fs::read_dir(home)
        .unwrap()
        .filter_map(Result::ok)
        .filter(|e| {
            e.file_name()
                .to_string_lossy()
                .starts_with(".ferry-upload.")
        })
        .filter_map(|e| e.metadata().ok())
        .map(|m| m.len())
        .max()
        .unwrap_or(0);
    let in_place = match std::fs::read(home.join(name)) {
        Ok(d) if !d.is_empty() && sent.starts_with(&d) => d.len() as u64,
        _ => 0,
    };
    staged.max(in_place)
}

/// Starts `STOR name` as `user`, sends `sent` and, once at least half of it has reached the
/// disk, vanishes: the control connection closes first, the data connection 200 ms later (a
/// client that died). Returns once the server has settled the upload (the ledger equals the
/// disk and no staging file is left).
pub fn interrupted_upload(srv: &TestServer, user: (&str, &str), name: &str, sent: &[u8]) {
    let home = srv.home(user.0);
    let mut c = srv.login(user);
    c.expect("TYPE I", 200);
    let mut sock = c.passive();
    c.expect(&format!("STOR {name}"), 150);
    sock.write_all(sent).unwrap();
    let half = sent.len() as u64 / 2;
    wait_for(&format!("half of the upload of {name} to arrive"), || {
        arrived(&home, name, sent) >= half
    });
    drop(c);
    std::thread::sleep(Duration::from_millis(200));
    drop(sock);
    assert_ledger_matches_disk(srv, user.0, &format!("after the interrupted STOR {name}"));
}
