//! Sessions under transfers: ABOR, STAT and NOOP while bytes move, many clients at once,
//! clients that vanish, big listings, shutdown.
#![allow(clippy::unwrap_used)]

use std::io::{Read, Write};
use std::time::{Duration, Instant};

use ferry_testkit::{random_bytes, sha256, sha256_file, RawFtp, TestServer, ALICE, BOB};

fn big_file(srv: &TestServer, name: &str, len: usize) -> Vec<u8> {
    let data = random_bytes(len, 42);
    std::fs::write(srv.home("alice").join(name), &data).unwrap();
    data
}

#[test]
fn abor_during_a_download_answers_426_then_226_and_the_session_goes_on() {
    let srv = TestServer::start();
    big_file(&srv, "big", 64 << 20);
    let mut c = srv.login(ALICE);
    let mut data = c.passive();
    c.expect("RETR big", 150);
    // Read a little, then stop reading: the server's transfer is blocked on a full socket.
    let mut buf = vec![0u8; 64 * 1024];
    data.read_exact(&mut buf).unwrap();
    // The control connection answers while the transfer runs.
    let stat = c.expect("STAT", 213);
    assert!(stat.text().contains("RETR /big"), "{stat:?}");
    c.expect("NOOP", 200);
    let t = Instant::now();
    c.send_raw(b"ABOR\r\n");
    assert_eq!(c.read_reply().code, 426);
    assert_eq!(c.read_reply().code, 226);
    assert!(t.elapsed() < Duration::from_secs(5));
    drop(data);
    c.expect("PWD", 257);
    c.stor("after", b"still works");
}

#[test]
fn abor_with_telnet_interrupt_and_urgent_data_like_ftplib() {
    let srv = TestServer::start();
    big_file(&srv, "big", 32 << 20);
    let mut c = srv.login(ALICE);
    let mut data = c.passive();
    c.expect("RETR big", 150);
    let mut buf = vec![0u8; 4096];
    data.read_exact(&mut buf).unwrap();
    // IAC IP IAC DM, then ABOR, as RFC 959 §4.1.3 describes.
    c.send_raw(b"\xff\xf4\xff\xf2ABOR\r\n");
    assert_eq!(c.read_reply().code, 426);
    assert_eq!(c.read_reply().code, 226);
    c.expect("NOOP", 200);
}

#[test]
fn abor_during_an_upload_keeps_what_was_written() {
    let srv = TestServer::start();
    let mut c = srv.login(ALICE);
    let mut data = c.passive();
    c.expect("STOR partial", 150);
    data.write_all(&random_bytes(1 << 20, 5)).unwrap();
    std::thread::sleep(Duration::from_millis(200));
    c.send_raw(b"ABOR\r\n");
    assert_eq!(c.read_reply().code, 426);
    assert_eq!(c.read_reply().code, 226);
    let on_disk = std::fs::metadata(srv.home("alice").join("partial"))
        .unwrap()
        .len();
    assert!(on_disk <= 1 << 20);
    c.expect("NOOP", 200);
}

#[test]
fn abor_while_waiting_for_the_data_connection() {
    let srv = TestServer::start();
    big_file(&srv, "f", 10);
    let mut c = srv.login(ALICE);
    c.expect("PASV", 227);
    c.expect("RETR f", 150); // the client never connects
    c.send_raw(b"ABOR\r\n");
    assert_eq!(c.read_reply().code, 426);
    assert_eq!(c.read_reply().code, 226);
    assert_eq!(c.retr("f").len(), 10);
}

#[test]
fn a_command_sent_during_a_transfer_waits_for_its_226() {
    let srv = TestServer::start();
    let data = big_file(&srv, "f", 8 << 20);
    let mut c = srv.login(ALICE);
    let mut sock = c.passive();
    c.expect("RETR f", 150);
    c.send_raw(b"PWD\r\n");
    let mut got = Vec::new();
    sock.read_to_end(&mut got).unwrap();
    assert_eq!(got, data);
    assert_eq!(c.read_reply().code, 226);
    assert_eq!(c.read_reply().code, 257);
}

#[test]
fn fifty_clients_upload_and_download_distinct_files_at_once() {
    let srv = TestServer::start();
    let addr = srv.addr;
    let threads: Vec<_> = (0..50u64)
        .map(|i| {
            std::thread::spawn(move || {
                let data = random_bytes(200_000 + (i as usize) * 7919, 1000 + i);
                let mut c = RawFtp::connect(addr);
                c.login(ALICE.0, ALICE.1);
                let name = format!("client-{i}.bin");
                c.stor(&name, &data);
                let back = c.retr(&name);
                assert_eq!(sha256(&back), sha256(&data), "client {i}");
                c.expect("QUIT", 221);
                (name, sha256(&data))
            })
        })
        .collect();
    for t in threads {
        let (name, digest) = t.join().unwrap();
        assert_eq!(
            sha256_file(&srv.home("alice").join(&name)),
            digest,
            "{name} on disk"
        );
    }
}

#[test]
fn a_client_that_vanishes_mid_transfer_costs_only_its_own_session() {
    let srv = TestServer::builder()
        .user(ALICE.0, ALICE.1)
        .config(|c| c.max_connections_per_ip = 2)
        .start();
    big_file(&srv, "big", 64 << 20);
    let mut other = srv.login(ALICE);
    {
        let mut c = srv.login(ALICE);
        let mut data = c.passive();
        c.expect("RETR big", 150);
        let mut buf = vec![0u8; 1 << 16];
        data.read_exact(&mut buf).unwrap();
        // Both sockets vanish without QUIT or ABOR.
    }
    {
        // The first vanished session frees its slot asynchronously: wait to be admitted.
        let mut c = login_when_admitted(&srv);
        let mut data = c.passive();
        c.expect("STOR half", 150);
        data.write_all(&random_bytes(1 << 20, 9)).unwrap();
    }
    other.expect("NOOP", 200);
    other.stor("x", b"fine");
    // Both dead sessions released their connection permits (the cap is 2).
    login_when_admitted(&srv);
}

/// Logs in as soon as the per-IP cap admits a new connection (within 10 s).
fn login_when_admitted(srv: &TestServer) -> RawFtp {
    let deadline = Instant::now() + Duration::from_secs(10);
    loop {
        let mut c = RawFtp::connect(srv.addr);
        if c.greeting.code == 220 {
            c.login(ALICE.0, ALICE.1);
            return c;
        }
        assert!(
            Instant::now() < deadline,
            "connection permits were not released"
        );
        std::thread::sleep(Duration::from_millis(50));
    }
}

#[test]
fn a_large_directory_lists_completely() {
    let srv = TestServer::start();
    let dir = srv.home("alice").join("many");
    std::fs::create_dir(&dir).unwrap();
    for i in 0..20_000 {
        std::fs::File::create(dir.join(format!("file-{i:05}"))).unwrap();
    }
    let mut c = srv.login(ALICE);
    let (data, r) = c.download("LIST many");
    assert_eq!(r.code, 226);
    assert_eq!(String::from_utf8(data).unwrap().lines().count(), 20_000);
    let (data, r) = c.download("MLSD many");
    assert_eq!(r.code, 226);
    assert_eq!(String::from_utf8(data).unwrap().lines().count(), 20_000);
    let stat = c.expect("STAT many", 213);
    assert!(stat.lines.len() <= 10_003);
}

#[test]
fn shutdown_tells_connected_sessions_421() {
    let srv = TestServer::start();
    let mut c = srv.login(ALICE);
    let stopper = std::thread::spawn(move || drop(srv));
    assert_eq!(c.try_read_reply().map(|r| r.code), Some(421));
    stopper.join().unwrap();
}

#[test]
fn a_user_at_the_session_cap_is_refused_until_a_session_ends() {
    let srv = TestServer::builder()
        .user(ALICE.0, ALICE.1)
        .user(BOB.0, BOB.1)
        .config(|c| c.max_connections_per_user = 2)
        .start();
    let mut first = srv.login(ALICE);
    let mut second = srv.login(ALICE);
    let mut third = RawFtp::connect(srv.addr);
    third.expect(&format!("USER {}", ALICE.0), 331);
    let refused = third.expect(&format!("PASS {}", ALICE.1), 530);
    assert!(refused.text().contains("Too many sessions"), "{refused:?}");
    // The refused session stays usable (and is not logged in); other users are not affected.
    third.expect("PWD", 530);
    srv.login(BOB).expect("NOOP", 200);
    // REIN gives the slot back at once.
    second.expect("REIN", 220);
    third.expect(&format!("USER {}", ALICE.0), 331);
    third.expect(&format!("PASS {}", ALICE.1), 230);
    // So does QUIT (the permit is released when the session task ends).
    first.expect("QUIT", 221);
    let deadline = Instant::now() + Duration::from_secs(10);
    loop {
        second.expect(&format!("USER {}", ALICE.0), 331);
        if second.cmd(&format!("PASS {}", ALICE.1)).code == 230 {
            break;
        }
        assert!(Instant::now() < deadline, "QUIT did not release the slot");
        std::thread::sleep(Duration::from_millis(50));
    }
    second.stor("ok", b"still works");
}

/// Uploads are read on the transfer task first (a small file that arrives whole needs no
/// blocking thread) and go on in the blocking loop when more comes: every way the bytes can
/// arrive gives the same file.
#[test]
fn uploads_arriving_whole_in_pieces_or_large_are_stored_exactly() {
    let srv = TestServer::start();
    let mut c = srv.login(ALICE);
    let cases: [(&str, Vec<Vec<u8>>); 5] = [
        ("empty", vec![]),
        ("small", vec![random_bytes(4096, 1)]),
        (
            "trickle",
            (0..5).map(|i| random_bytes(10 + i, i as u64)).collect(),
        ),
        ("edge", vec![random_bytes(64 * 1024, 2), random_bytes(1, 3)]),
        (
            "large",
            (0..8).map(|i| random_bytes(300_000, 10 + i)).collect(),
        ),
    ];
    for (name, pieces) in cases {
        let mut data = c.passive();
        c.expect(&format!("STOR {name}"), 150);
        for p in &pieces {
            data.write_all(p).unwrap();
            // Pauses make the server see the upload piece by piece.
            std::thread::sleep(Duration::from_millis(30));
        }
        drop(data);
        assert_eq!(c.read_reply().code, 226, "{name}");
        let sent: Vec<u8> = pieces.concat();
        assert_eq!(
            sha256_file(&srv.home("alice").join(name)),
            sha256(&sent),
            "{name}"
        );
    }
}

#[test]
fn abor_before_any_upload_byte_arrives() {
    // A quota makes usage exact at once (unlimited users are written in batches).
    let srv = TestServer::builder()
        .user_with_quota(ALICE.0, ALICE.1, 1 << 20)
        .start();
    let mut c = srv.login(ALICE);
    let data = c.passive();
    c.expect("STOR waiting", 150);
    std::thread::sleep(Duration::from_millis(100));
    c.send_raw(b"ABOR\r\n");
    assert_eq!(c.read_reply().code, 426);
    assert_eq!(c.read_reply().code, 226);
    drop(data);
    c.stor("after", b"the session goes on");
    let usage = srv.usage("alice");
    assert_eq!((usage.used_bytes, usage.reserved_bytes), (19, 0));
}
