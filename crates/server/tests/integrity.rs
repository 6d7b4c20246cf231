//! HASH, the X* digest commands, RANG, and resuming interrupted transfers in both directions.
//! Digests are checked against an independent implementation (Python's hashlib and zlib, and
//! sha256sum), never against our own code.
#![allow(clippy::unwrap_used)]

use std::io::{Read, Write};
use std::path::Path;
use std::process::{Command, Stdio};
use std::sync::atomic::Ordering;
use std::time::Duration;

use ferry_proto::hash::parse_hash_reply;
use ferry_testkit::{random_bytes, require, sha256, sha256_file, RawFtp, TestServer, ALICE};

/// Python's digest of bytes start..end of a file, in hex (`crc32` via zlib).
fn python_digest(path: &Path, algo: &str, start: u64, end: u64) -> String {
    let script = r#"
import hashlib, sys, zlib
path, algo, start, end = sys.argv[1], sys.argv[2], int(sys.argv[3]), int(sys.argv[4])
with open(path, "rb") as f:
    f.seek(start)
    data = f.read(end - start)
if algo == "crc32":
    print("%08x" % (zlib.crc32(data) & 0xffffffff))
else:
    print(hashlib.new(algo, data).hexdigest())
"#;
    let out = Command::new("python3")
        .arg("-c")
        .arg(script)
        .arg(path)
        .args([algo, &start.to_string(), &end.to_string()])
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8(out.stdout).unwrap().trim().to_owned()
}

const ALGOS: [(&str, &str, &str); 5] = [
    ("SHA-256", "XSHA256", "sha256"),
    ("SHA-512", "XSHA512", "sha512"),
    ("SHA-1", "XSHA1", "sha1"),
    ("MD5", "XMD5", "md5"),
    ("CRC32", "XCRC", "crc32"),
];

#[test]
fn every_algorithm_matches_an_independent_implementation() {
    if !require("python3") {
        return;
    }
    let srv = TestServer::start();
    let home = srv.home("alice");
    std::fs::write(home.join("empty"), b"").unwrap();
    std::fs::write(home.join("data file.bin"), random_bytes(1_000_003, 1)).unwrap();
    let mut c = srv.login(ALICE);
    for (name, legacy, py) in ALGOS {
        c.expect(&format!("OPTS HASH {name}"), 200);
        assert_eq!(c.expect("OPTS HASH", 200).text(), name);
        for file in ["empty", "data file.bin"] {
            let size = std::fs::metadata(home.join(file)).unwrap().len();
            let want = python_digest(&home.join(file), py, 0, size);
            let r = c.expect(&format!("HASH {file}"), 213);
            assert_eq!(
                r.text(),
                format!("{name} 0-{size} {want} {file}"),
                "{name} of {file}"
            );
            assert_eq!(
                c.expect(&format!("{legacy} {file}"), 250).text(),
                want,
                "{legacy} {file}"
            );
        }
        // A range in the middle, through RANG (inclusive end) and the X* form (exclusive end).
        let want = python_digest(&home.join("data file.bin"), py, 1000, 5000);
        c.expect("RANG 1000 4999", 350);
        let r = c.expect("HASH data file.bin", 213);
        assert_eq!(parse_hash_reply(&r.text()).unwrap().3, want);
        assert!(r.text().starts_with(&format!("{name} 1000-5000 ")));
        assert_eq!(
            c.expect(&format!("{legacy} data file.bin 1000 5000"), 250)
                .text(),
            want
        );
        // A zero-byte range.
        let empty = python_digest(&home.join("data file.bin"), py, 7, 7);
        assert_eq!(
            c.expect(&format!("{legacy} data file.bin 7 7"), 250).text(),
            empty
        );
    }
    // FEAT stars the selected algorithm.
    c.expect("OPTS HASH MD5", 200);
    let feat = c.expect("FEAT", 211).text();
    assert!(
        feat.contains(" HASH SHA-256;SHA-512;SHA-1;MD5*;CRC32"),
        "{feat}"
    );
    assert!(feat.contains(" RANG STREAM"), "{feat}");
    c.expect("OPTS HASH WHIRLPOOL", 501);
}

#[test]
fn a_large_file_hashes_like_sha256sum() {
    if !require("sha256sum") {
        return;
    }
    let srv = TestServer::start();
    let path = srv.home("alice").join("large.bin");
    let mut f = std::fs::File::create(&path).unwrap();
    for i in 0..256 {
        f.write_all(&random_bytes(1 << 20, i)).unwrap();
    }
    drop(f);
    let out = Command::new("sha256sum").arg(&path).output().unwrap();
    let want = String::from_utf8(out.stdout)
        .unwrap()
        .split_whitespace()
        .next()
        .unwrap()
        .to_owned();
    let mut c = srv.login(ALICE);
    let r = c.expect("HASH large.bin", 213);
    assert_eq!(
        r.text(),
        format!("SHA-256 0-{} {want} large.bin", 256u64 << 20)
    );
}

#[test]
fn hash_refusals() {
    let srv = TestServer::builder()
        .user(ALICE.0, ALICE.1)
        .config(|c| c.hash_max_size = 1000)
        .start();
    std::fs::write(srv.home("alice").join("big"), random_bytes(2000, 2)).unwrap();
    std::fs::write(srv.home("alice").join("small"), b"12345").unwrap();
    let mut c = srv.login(ALICE);
    c.expect("HASH big", 556);
    c.expect("XMD5 big 0 1000", 250); // a range within the limit is fine
    c.expect("HASH nope", 550);
    c.expect("MKD d", 257);
    c.expect("HASH d", 550);
    c.expect("XSHA1 small 3 99", 501);
    c.expect("XSHA1 small 4 3", 501);
    c.expect("RANG 9 3", 501);
    c.expect("RANG 1 0", 350);
    c.expect("HASH small", 213);
}

fn upload(c: &mut RawFtp, cmd: &str, data: &[u8]) {
    assert_eq!(c.upload(cmd, data).code, 226, "{cmd}");
}

fn hash_hex(c: &mut RawFtp, path: &str) -> String {
    let r = c.expect(&format!("HASH {path}"), 213);
    parse_hash_reply(&r.text()).unwrap().3
}

#[test]
fn an_uploaded_file_is_hashed_from_the_store_without_reading_it() {
    let srv = TestServer::start();
    let mut c = srv.login(ALICE);
    let mut data = c.passive();
    c.expect("STOR one-gib.bin", 150);
    let mut whole = sha2::Sha256::default();
    for i in 0..1024u64 {
        let chunk = random_bytes(1 << 20, 100 + i);
        sha2::Digest::update(&mut whole, &chunk);
        data.write_all(&chunk).unwrap();
    }
    drop(data);
    assert_eq!(c.read_reply().code, 226);
    let want = hex::encode(sha2::Digest::finalize(whole));
    assert_eq!(
        srv.metrics.digests_stored_on_upload.load(Ordering::Relaxed),
        1
    );
    let computed_before = srv.metrics.digests_computed.load(Ordering::Relaxed);
    assert_eq!(hash_hex(&mut c, "one-gib.bin"), want);
    assert_eq!(
        srv.metrics.digests_from_store.load(Ordering::Relaxed),
        1,
        "served from the store"
    );
    assert_eq!(
        srv.metrics.digests_computed.load(Ordering::Relaxed),
        computed_before,
        "not recomputed"
    );
    // A digest computed on demand is stored too: the second HASH of another file is free.
    std::fs::write(
        srv.home("alice").join("outside.bin"),
        random_bytes(10_000, 3),
    )
    .unwrap();
    hash_hex(&mut c, "outside.bin");
    hash_hex(&mut c, "outside.bin");
    assert_eq!(
        srv.metrics.digests_computed.load(Ordering::Relaxed),
        computed_before + 1
    );
    assert_eq!(srv.metrics.digests_from_store.load(Ordering::Relaxed), 2);
    std::fs::remove_file(srv.home("alice").join("one-gib.bin")).unwrap();
}

#[test]
fn a_digest_is_never_served_stale() {
    let srv = TestServer::start();
    let home = srv.home("alice");
    let mut c = srv.login(ALICE);
    let a = random_bytes(50_000, 10);
    upload(&mut c, "STOR f", &a);
    assert_eq!(hash_hex(&mut c, "f"), sha256(&a));
    // Overwrite with content of the same size, immediately (within one file-system clock tick).
    let b = random_bytes(50_000, 11);
    upload(&mut c, "STOR f", &b);
    assert_eq!(hash_hex(&mut c, "f"), sha256(&b));
    // Append.
    upload(&mut c, "APPE f", b"tail");
    let mut ab = b.clone();
    ab.extend_from_slice(b"tail");
    assert_eq!(hash_hex(&mut c, "f"), sha256(&ab));
    // REST + STOR rewriting the end with bytes of the same length.
    c.expect("REST 50000", 350);
    upload(&mut c, "STOR f", b"TAIL");
    ab.truncate(50_000);
    ab.extend_from_slice(b"TAIL");
    assert_eq!(hash_hex(&mut c, "f"), sha256(&ab));
    // RNTO another file onto the path.
    let g = random_bytes(777, 12);
    upload(&mut c, "STOR g", &g);
    hash_hex(&mut c, "g");
    c.expect("RNFR g", 350);
    c.expect("RNTO f", 250);
    assert_eq!(hash_hex(&mut c, "f"), sha256(&g));
    // A change behind the server's back, same size.
    let h = random_bytes(777, 13);
    std::fs::write(home.join("f"), &h).unwrap();
    assert_eq!(hash_hex(&mut c, "f"), sha256(&h));
    // And one keeping size and modification time (only the change time moves).
    let i = random_bytes(777, 14);
    let mtime = std::fs::metadata(home.join("f"))
        .unwrap()
        .modified()
        .unwrap();
    let file = std::fs::OpenOptions::new()
        .write(true)
        .open(home.join("f"))
        .unwrap();
    (&file).write_all(&i).unwrap();
    file.set_modified(mtime).unwrap();
    drop(file);
    std::thread::sleep(Duration::from_millis(20));
    assert_eq!(hash_hex(&mut c, "f"), sha256(&i));
}

#[test]
fn retr_and_stor_honour_rang() {
    let srv = TestServer::start();
    let data = random_bytes(10_000, 20);
    std::fs::write(srv.home("alice").join("f"), &data).unwrap();
    let mut c = srv.login(ALICE);
    c.expect("RANG 100 199", 350);
    assert_eq!(c.retr("f"), &data[100..200]);
    // Cleared after use.
    assert_eq!(c.retr("f"), data);
    c.expect("RANG 9000 99999", 350);
    assert_eq!(c.retr("f"), &data[9000..]);
    // REST and RANG exclude each other: the later one wins.
    c.expect("RANG 0 9", 350);
    c.expect("REST 5", 350);
    assert_eq!(c.retr("f"), &data[5..]);
    // STOR after RANG writes at most the range's length from its start.
    c.expect("RANG 4 7", 350);
    upload(&mut c, "STOR f", b"ABCDEFGHIJ");
    let mut want = data[..4].to_vec();
    want.extend_from_slice(b"ABCD");
    assert_eq!(std::fs::read(srv.home("alice").join("f")).unwrap(), want);
}

/// Starts a download, reads `keep` bytes, and drops both connections (a client that died).
fn interrupted_download(srv: &TestServer, path: &str, keep: usize) -> Vec<u8> {
    let mut c = srv.login(ALICE);
    let mut data = c.passive();
    c.expect(&format!("RETR {path}"), 150);
    let mut got = vec![0u8; keep];
    data.read_exact(&mut got).unwrap();
    got
}

/// Starts an upload, sends `part`, and drops both connections: the server keeps whatever
/// reached it (anywhere from nothing to all of `part`).
fn interrupted_upload(srv: &TestServer, path: &str, part: &[u8]) {
    let mut c = srv.login(ALICE);
    let mut data = c.passive();
    c.expect(&format!("STOR {path}"), 150);
    data.write_all(part).unwrap();
}

/// Sends `part` and closes the data connection early, as a client whose data connection
/// broke: the server stores exactly `part`.
fn upload_cut_short(srv: &TestServer, path: &str, part: &[u8]) {
    let mut c = srv.login(ALICE);
    upload(&mut c, &format!("STOR {path}"), part);
}

/// Waits until the server has settled an interrupted upload: the file exists (a staged upload
/// takes its name only when it ends) and stops growing.
fn settled_size(path: &Path) -> u64 {
    let deadline = std::time::Instant::now() + Duration::from_secs(30);
    let mut last = None;
    loop {
        assert!(
            std::time::Instant::now() < deadline,
            "{} never settled",
            path.display()
        );
        std::thread::sleep(Duration::from_millis(150));
        let now = std::fs::metadata(path).map(|m| m.len()).ok();
        if now.is_some() && now == last {
            return now.unwrap_or(0);
        }
        last = now;
    }
}

#[test]
fn downloads_resume_with_curl_lftp_and_ftplib() {
    let srv = TestServer::start();
    let tmp = tempfile::tempdir().unwrap();
    let data = random_bytes(6 << 20, 30);
    std::fs::write(srv.home("alice").join("f.bin"), &data).unwrap();
    let want = sha256(&data);
    if require("curl") {
        let local = tmp.path().join("curl.bin");
        std::fs::write(&local, interrupted_download(&srv, "f.bin", 1_234_567)).unwrap();
        let st = Command::new("curl")
            .args(["-sS", "-C", "-", "-o"])
            .arg(&local)
            .arg(format!("{}/f.bin", srv.url(ALICE)))
            .status()
            .unwrap();
        assert!(st.success());
        assert_eq!(sha256_file(&local), want);
        // A curl killed mid-transfer (slowed down so it is still running), then resumed.
        let big = random_bytes(24 << 20, 31);
        std::fs::write(srv.home("alice").join("big.bin"), &big).unwrap();
        let killed = tmp.path().join("killed.bin");
        let mut child = Command::new("curl")
            .args(["-sS", "--limit-rate", "1M", "-o"])
            .arg(&killed)
            .arg(format!("{}/big.bin", srv.url(ALICE)))
            .stderr(Stdio::null())
            .spawn()
            .unwrap();
        std::thread::sleep(Duration::from_millis(700));
        child.kill().unwrap();
        child.wait().unwrap();
        let partial = std::fs::metadata(&killed).unwrap().len();
        assert!(
            partial > 0 && partial < big.len() as u64,
            "partial {partial}"
        );
        let st = Command::new("curl")
            .args(["-sS", "-C", "-", "-o"])
            .arg(&killed)
            .arg(format!("{}/big.bin", srv.url(ALICE)))
            .status()
            .unwrap();
        assert!(st.success());
        assert_eq!(sha256_file(&killed), sha256(&big));
    }
    if require("lftp") {
        let local = tmp.path().join("f.bin");
        std::fs::write(&local, interrupted_download(&srv, "f.bin", 2_000_003)).unwrap();
        let script = format!("set ftp:ssl-allow no; set net:max-retries 1; open -u {},{} -p {} 127.0.0.1; get -c f.bin", ALICE.0, ALICE.1, srv.port());
        let st = Command::new("lftp")
            .arg("-c")
            .arg(script)
            .current_dir(tmp.path())
            .status()
            .unwrap();
        assert!(st.success());
        assert_eq!(sha256_file(&local), want);
    }
    if require("python3") {
        let local = tmp.path().join("py.bin");
        std::fs::write(&local, interrupted_download(&srv, "f.bin", 3_333_333)).unwrap();
        let script = r#"
import ftplib, os, sys
port, path = int(sys.argv[1]), sys.argv[2]
ftp = ftplib.FTP()
ftp.connect("127.0.0.1", port, timeout=30)
ftp.login("alice", "secret")
with open(path, "ab") as f:
    ftp.retrbinary("RETR f.bin", f.write, rest=os.path.getsize(path))
ftp.quit()
"#;
        let st = Command::new("python3")
            .arg("-c")
            .arg(script)
            .arg(srv.port().to_string())
            .arg(&local)
            .status()
            .unwrap();
        assert!(st.success());
        assert_eq!(sha256_file(&local), want);
    }
}

#[test]
fn uploads_resume_with_lftp_ftplib_and_a_verified_prefix() {
    let srv = TestServer::start();
    let tmp = tempfile::tempdir().unwrap();
    let data = random_bytes(6 << 20, 40);
    let local = tmp.path().join("up.bin");
    std::fs::write(&local, &data).unwrap();
    let want = sha256(&data);
    let remote = |name: &str| srv.home("alice").join(name);
    if require("lftp") {
        upload_cut_short(&srv, "lftp.bin", &data[..1_500_000]);
        std::fs::rename(&local, tmp.path().join("lftp.bin")).unwrap();
        let script = format!("set ftp:ssl-allow no; set net:max-retries 1; open -u {},{} -p {} 127.0.0.1; put -c lftp.bin", ALICE.0, ALICE.1, srv.port());
        let st = Command::new("lftp")
            .arg("-c")
            .arg(script)
            .current_dir(tmp.path())
            .status()
            .unwrap();
        assert!(st.success());
        assert_eq!(sha256_file(&remote("lftp.bin")), want);
        std::fs::rename(tmp.path().join("lftp.bin"), &local).unwrap();
    }
    if require("python3") {
        interrupted_upload(&srv, "py.bin", &data[..2_500_000]);
        settled_size(&remote("py.bin"));
        let script = r#"
import ftplib, sys
port, path = int(sys.argv[1]), sys.argv[2]
ftp = ftplib.FTP()
ftp.connect("127.0.0.1", port, timeout=30)
ftp.login("alice", "secret")
ftp.voidcmd("TYPE I")
have = ftp.size("py.bin")
with open(path, "rb") as f:
    f.seek(have)
    ftp.storbinary("STOR py.bin", f, rest=have)
ftp.quit()
"#;
        let st = Command::new("python3")
            .arg("-c")
            .arg(script)
            .arg(srv.port().to_string())
            .arg(&local)
            .status()
            .unwrap();
        assert!(st.success());
        assert_eq!(sha256_file(&remote("py.bin")), want);
    }
    // Our own protocol steps: SIZE, then RANG + HASH to prove the prefix, then REST + STOR.
    upload_cut_short(&srv, "raw.bin", &data[..3_000_000]);
    let have = 3_000_000u64;
    let mut c = srv.login(ALICE);
    assert_eq!(c.expect("SIZE raw.bin", 213).text(), have.to_string());
    c.expect(&format!("RANG 0 {}", have - 1), 350);
    let prefix = hash_hex(&mut c, "raw.bin");
    assert_eq!(
        prefix,
        sha256(&data[..have as usize]),
        "the server's prefix is ours"
    );
    c.expect(&format!("REST {have}"), 350);
    upload(&mut c, "STOR raw.bin", &data[have as usize..]);
    assert_eq!(hash_hex(&mut c, "raw.bin"), want);
    // A prefix that does not match is detected before resuming.
    std::fs::write(remote("wrong.bin"), random_bytes(1000, 41)).unwrap();
    c.expect("RANG 0 999", 350);
    assert_ne!(hash_hex(&mut c, "wrong.bin"), sha256(&data[..1000]));
}
