//! Per-user quotas through the reservation ledger: exact under concurrency, on every upload
//! path, across aborts and vanished clients, and visible to clients.
#![allow(clippy::unwrap_used)]

use std::io::Write;
use std::process::Command;
use std::time::{Duration, Instant};

use ferry_proto::Reply;
use ferry_testkit::{random_bytes, require, RawFtp, TestServer};

const CAROL: (&str, &str) = ("carol", "pw");
const MIB: u64 = 1 << 20;

fn server_with_quota(bytes: Option<u64>, files: Option<u64>) -> TestServer {
    TestServer::builder()
        .user_with_limits(CAROL.0, CAROL.1, bytes, files)
        .start()
}

/// An upload that tolerates the server closing the data connection early (over quota).
fn upload(c: &mut RawFtp, command: &str, data: &[u8]) -> Reply {
    c.upload_until_refused(command, data)
}

/// The ledger agrees with the disk, and nothing is left reserved.
fn assert_ledger_matches_disk(srv: &TestServer) {
    // Settling happens before the final reply, but let a vanished client's session end first.
    let deadline = Instant::now() + Duration::from_secs(10);
    loop {
        let u = srv.usage(CAROL.0);
        let (bytes, entries) = srv.disk_usage(CAROL.0);
        if (u.used_bytes, u.reserved_bytes, u.used_files) == (bytes, 0, entries) {
            return;
        }
        assert!(
            Instant::now() < deadline,
            "ledger {u:?} vs disk bytes={bytes} entries={entries}"
        );
        std::thread::sleep(Duration::from_millis(50));
    }
}

#[test]
fn twenty_parallel_uploads_never_exceed_the_quota() {
    let quota = 10 * MIB;
    let srv = server_with_quota(Some(quota), None);
    let addr = srv.addr;
    let threads: Vec<_> = (0..20u64)
        .map(|i| {
            std::thread::spawn(move || {
                let mut c = RawFtp::connect(addr);
                c.login(CAROL.0, CAROL.1);
                let data = random_bytes((MIB + i * 1000) as usize, i);
                let r = upload(&mut c, &format!("STOR f{i}"), &data);
                c.expect("NOOP", 200);
                r.code
            })
        })
        .collect();
    let codes: Vec<u16> = threads.into_iter().map(|t| t.join().unwrap()).collect();
    assert!(codes.iter().all(|c| *c == 226 || *c == 552), "{codes:?}");
    assert!(
        codes.contains(&552),
        "20 MiB into 10 MiB must refuse something: {codes:?}"
    );
    assert!(codes.contains(&226));
    let (bytes, _) = srv.disk_usage(CAROL.0);
    assert!(
        bytes <= quota,
        "{bytes} bytes stored over a {quota}-byte quota"
    );
    assert_ledger_matches_disk(&srv);
    // The quota is full to the byte or close: another upload is refused.
    let mut c = srv.login(CAROL);
    let left = quota - bytes;
    let r = upload(&mut c, "STOR more", &random_bytes(left as usize + 1, 99));
    assert_eq!(r.code, 552);
    assert_ledger_matches_disk(&srv);
}

#[test]
fn every_upload_path_is_charged_exactly() {
    let srv = server_with_quota(Some(MIB), None);
    let mut c = srv.login(CAROL);
    let home = srv.home(CAROL.0);
    let steps: Vec<(&str, &str, usize, u64)> = vec![
        // (what, command, bytes sent, expected file size after)
        ("new file", "STOR f", 1000, 1000),
        ("overwrite credits the old size", "STOR f", 300, 300),
        ("append grows", "APPE f", 25, 325),
        ("append creates", "APPE g", 10, 10),
    ];
    for (what, cmd, n, size) in steps {
        assert_eq!(upload(&mut c, cmd, &random_bytes(n, 1)).code, 226, "{what}");
        let name = cmd.split(' ').nth(1).unwrap();
        assert_eq!(
            std::fs::metadata(home.join(name)).unwrap().len(),
            size,
            "{what}"
        );
        assert_ledger_matches_disk(&srv);
    }
    // REST + STOR: only growth past the offset is charged; what followed the offset is credited.
    c.expect("REST 100", 350);
    assert_eq!(upload(&mut c, "STOR f", &random_bytes(50, 2)).code, 226);
    assert_eq!(std::fs::metadata(home.join("f")).unwrap().len(), 150);
    assert_ledger_matches_disk(&srv);
    // STOU counts a new file.
    assert_eq!(upload(&mut c, "STOU", b"unique").code, 226);
    assert_ledger_matches_disk(&srv);
    // MKD, RMD, DELE and RNTO over an existing file all adjust the ledger.
    c.expect("MKD d", 257);
    assert_ledger_matches_disk(&srv);
    c.expect("RMD d", 250);
    assert_ledger_matches_disk(&srv);
    c.expect("RNFR g", 350);
    c.expect("RNTO f", 250);
    assert_ledger_matches_disk(&srv);
    c.expect("DELE f", 250);
    assert_ledger_matches_disk(&srv);
    // ASCII uploads are charged what reaches the disk.
    c.expect("TYPE A", 200);
    assert_eq!(upload(&mut c, "STOR t", b"a\r\nb\r\n").code, 226);
    assert_ledger_matches_disk(&srv);
}

#[test]
fn an_upload_over_quota_gets_552_leaves_nothing_and_the_session_goes_on() {
    let srv = server_with_quota(Some(MIB), None);
    let mut c = srv.login(CAROL);
    let r = upload(&mut c, "STOR big", &random_bytes(3 * MIB as usize, 3));
    assert_eq!(r.code, 552, "{r:?}");
    // The policy of issue 14: an upload refused for lack of space leaves nothing behind.
    assert!(
        !srv.home(CAROL.0).join("big").exists(),
        "a fragment of a refused upload was left under its name"
    );
    assert_ledger_matches_disk(&srv);
    c.expect("PWD", 257);
    // Its space was given back at once.
    assert_eq!(
        upload(&mut c, "STOR small", &random_bytes(1000, 4)).code,
        226
    );
    assert_ledger_matches_disk(&srv);
}

/// A small file arrives whole before the server looks (and is written without a blocking
/// thread): the ledger holds the same way.
#[test]
fn a_small_upload_over_quota_leaves_nothing_either() {
    let srv = server_with_quota(Some(1000), None);
    let mut c = srv.login(CAROL);
    let r = upload(&mut c, "STOR small", &random_bytes(4096, 6));
    assert_eq!(r.code, 552, "{r:?}");
    assert!(
        !srv.home(CAROL.0).join("small").exists(),
        "a fragment of a refused upload was left under its name"
    );
    assert_ledger_matches_disk(&srv);
    assert_eq!(upload(&mut c, "STOR fits", &random_bytes(999, 7)).code, 226);
    assert_ledger_matches_disk(&srv);
}

#[test]
fn allo_avbl_and_site_quota_tell_the_client_before_any_byte_moves() {
    let srv = server_with_quota(Some(MIB), Some(10));
    let mut c = srv.login(CAROL);
    c.stor("f", &random_bytes(1000, 5));
    c.expect(&format!("ALLO {}", MIB - 1000), 200);
    let r = c.expect(&format!("ALLO {}", MIB - 999), 552);
    assert!(r.text().contains("Exceeded storage allocation"), "{r:?}");
    assert_eq!(c.expect("AVBL", 213).text(), (MIB - 1000).to_string());
    c.expect("AVBL nonexistent", 550);
    let r = c.expect("SITE QUOTA", 200);
    let text = r.text();
    assert!(
        text.contains(&format!("used=1000 limit={MIB} available={}", MIB - 1000)),
        "{text}"
    );
    assert!(text.contains("Files: 1 of 10 used"), "{text}");
    assert!(c.expect("FEAT", 211).text().contains("AVBL"));
    // ALLO reserves nothing: the space is still there for a real upload.
    c.expect(&format!("ALLO {}", MIB - 1000), 200);
    c.stor("g", &random_bytes((MIB - 1000) as usize, 6));
    assert_eq!(c.expect("AVBL", 213).text(), "0");
}

#[test]
fn unlimited_users_get_disk_space_from_avbl() {
    let srv = server_with_quota(None, None);
    let mut c = srv.login(CAROL);
    c.expect("ALLO 999999999999", 200);
    let free: u64 = c.expect("AVBL", 213).text().parse().unwrap();
    assert!(free > 0);
    c.stor("f", b"12345");
    assert_ledger_matches_disk(&srv);
}

#[test]
fn the_file_quota_counts_files_and_directories() {
    let srv = server_with_quota(None, Some(2));
    let mut c = srv.login(CAROL);
    c.stor("a", b"1");
    c.expect("MKD d", 257);
    assert_eq!(upload(&mut c, "STOR b", b"2").code, 552);
    assert!(
        !srv.home(CAROL.0).join("b").exists(),
        "a refused new file must not remain"
    );
    c.expect("MKD e", 552);
    // Overwriting an existing file needs no new slot.
    c.stor("a", b"again");
    c.expect("DELE a", 250);
    c.stor("b", b"2");
    assert_ledger_matches_disk(&srv);
}

#[test]
fn a_client_killed_mid_upload_leaves_usage_equal_to_disk() {
    let srv = server_with_quota(Some(100 * MIB), None);
    {
        let mut c = srv.login(CAROL);
        let mut data = c.passive();
        c.expect("STOR partial", 150);
        data.write_all(&random_bytes(3 * MIB as usize + 12345, 7))
            .unwrap();
        // Both connections vanish: no ABOR, no QUIT.
    }
    assert_ledger_matches_disk(&srv);
    assert!(srv.disk_usage(CAROL.0).0 > 0);
}

#[test]
fn abor_mid_upload_leaves_usage_equal_to_disk() {
    let srv = server_with_quota(Some(100 * MIB), None);
    let mut c = srv.login(CAROL);
    let mut data = c.passive();
    c.expect("STOR partial", 150);
    data.write_all(&random_bytes(2 * MIB as usize, 8)).unwrap();
    std::thread::sleep(Duration::from_millis(200));
    c.send_raw(b"ABOR\r\n");
    assert_eq!(c.read_reply().code, 426);
    assert_eq!(c.read_reply().code, 226);
    assert_ledger_matches_disk(&srv);
}

#[test]
fn a_lowered_quota_applies_to_live_sessions_and_deletes_nothing() {
    let srv = server_with_quota(Some(10 * MIB), None);
    let mut c = srv.login(CAROL);
    c.stor("f", &random_bytes(2 * MIB as usize, 9));
    srv.with_store(async |store: &ferry_store::Store| {
        let update = ferry_store::UserUpdate {
            quota_bytes: Some(Some(MIB)),
            ..Default::default()
        };
        store.update_user(CAROL.0, update).await.unwrap();
    });
    assert_eq!(upload(&mut c, "STOR g", b"x").code, 552);
    c.expect("ALLO 1", 552);
    assert_eq!(
        std::fs::metadata(srv.home(CAROL.0).join("f"))
            .unwrap()
            .len(),
        2 * MIB
    );
    assert_eq!(c.expect("AVBL", 213).text(), "0");
    c.expect("DELE f", 250);
    c.stor("g", b"fits again");
}

#[test]
fn rescan_repairs_usage_after_changes_behind_the_servers_back() {
    let srv = server_with_quota(Some(10 * MIB), None);
    let mut c = srv.login(CAROL);
    c.stor("f", &random_bytes(1000, 10));
    let home = srv.home(CAROL.0);
    std::fs::create_dir(home.join("sub")).unwrap();
    std::fs::write(home.join("sub/behind"), random_bytes(5000, 11)).unwrap();
    std::fs::remove_file(home.join("f")).unwrap();
    assert_eq!(srv.usage(CAROL.0).used_bytes, 1000);
    let (bytes, files) = srv.with_store(async |store: &ferry_store::Store| {
        let u = store.user(CAROL.0).await.unwrap().unwrap();
        ferry_server::rescan_usage(store, u.id, &home)
            .await
            .unwrap()
    });
    assert_eq!((bytes, files), (5000, 2));
    assert_ledger_matches_disk(&srv);
    assert_eq!(c.expect("AVBL", 213).text(), (10 * MIB - 5000).to_string());
}

#[test]
fn curl_and_lftp_uploads_over_quota_fail_with_552() {
    let srv = server_with_quota(Some(MIB), None);
    let tmp = tempfile::tempdir().unwrap();
    let big = tmp.path().join("big.bin");
    std::fs::write(&big, random_bytes(2 * MIB as usize, 12)).unwrap();
    if require("curl") {
        let out = Command::new("curl")
            .args(["-sS", "--max-time", "60", "-T"])
            .arg(&big)
            .arg(format!(
                "ftp://{}:{}@{}/big.bin",
                CAROL.0, CAROL.1, srv.addr
            ))
            .output()
            .unwrap();
        assert!(!out.status.success(), "curl succeeded over quota");
        assert_ledger_matches_disk(&srv);
    }
    std::fs::remove_file(srv.home(CAROL.0).join("big.bin")).ok();
    srv.with_store(async |store: &ferry_store::Store| {
        let u = store.user(CAROL.0).await.unwrap().unwrap();
        ferry_server::rescan_usage(store, u.id, &srv.home(CAROL.0))
            .await
            .unwrap();
    });
    if require("lftp") {
        let script = format!(
            "set ftp:ssl-allow no; set net:max-retries 1; set cmd:fail-exit yes; open -u {},{} -p {} 127.0.0.1; put {}",
            CAROL.0,
            CAROL.1,
            srv.port(),
            big.display()
        );
        let out = Command::new("lftp").arg("-c").arg(script).output().unwrap();
        assert!(!out.status.success(), "lftp succeeded over quota");
        let err = String::from_utf8_lossy(&out.stderr);
        assert!(err.contains("552"), "{err}");
        assert_ledger_matches_disk(&srv);
    }
}

#[test]
fn an_unlimited_user_is_counted_and_a_quota_set_live_applies_within_a_second() {
    let srv = server_with_quota(None, None);
    let mut c = srv.login(CAROL);
    for i in 0..20 {
        c.stor(&format!("f{i}"), &random_bytes(100_000, i));
    }
    c.expect("DELE f0", 250);
    assert_ledger_matches_disk(&srv);
    srv.with_store(async |store: &ferry_store::Store| {
        let update = ferry_store::UserUpdate {
            quota_bytes: Some(Some(2 * MIB)),
            ..Default::default()
        };
        store.update_user(CAROL.0, update).await.unwrap();
    });
    std::thread::sleep(Duration::from_millis(1100));
    let r = upload(&mut c, "STOR big", &random_bytes(MIB as usize, 99));
    assert_eq!(r.code, 552, "{r:?}");
    assert_ledger_matches_disk(&srv);
    assert!(srv.disk_usage(CAROL.0).0 <= 2 * MIB);
}
