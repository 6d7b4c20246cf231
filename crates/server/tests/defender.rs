//! The defender over real sockets: guesses at one account lock that (address, account) pair
//! and nobody else behind the address; guesses spread over accounts, garbage, over-long lines
//! and held connections ban the address; a ban closes the address's connections that have
//! not logged in; allow-listed networks are never banned. Attackers connect from 127.0.0.2
//! and 127.0.0.3, honest users from 127.0.0.1 (all loopback).
#![allow(clippy::unwrap_used)]

use std::io::{Read, Write};
use std::net::IpAddr;
use std::time::{Duration, Instant};

use ferry_testkit::{RawFtp, TestServer, ALICE, BOB};

const ATTACKER: &str = "127.0.0.2";
const GUESSER: &str = "127.0.0.3";

fn ip(s: &str) -> IpAddr {
    s.parse().unwrap()
}

fn server(f: impl FnOnce(&mut ferry_server::ServerConfig)) -> TestServer {
    TestServer::builder()
        .user(ALICE.0, ALICE.1)
        .user(BOB.0, BOB.1)
        .config(|c| {
            c.auth_failure_delay_ms = 5;
            c.max_login_failures = 1000;
            f(c);
        })
        .start()
}

/// One USER/PASS exchange; the PASS reply code.
fn try_login(c: &mut RawFtp, user: &str, password: &str) -> (u16, String) {
    let r = c.cmd(&format!("USER {user}"));
    if r.code != 331 {
        return (r.code, r.text());
    }
    let r = c.cmd(&format!("PASS {password}"));
    (r.code, r.text())
}

#[test]
fn guesses_at_another_account_do_not_lock_out_honest_users_behind_the_same_address() {
    let srv = server(|c| {
        c.ban_after_failures = 20;
        c.account_failures = 5;
    });
    let addr = srv.addr;
    // The guesser shares 127.0.0.1 with alice and hammers bob's account.
    let mut guesser = RawFtp::connect(addr);
    let mut verified_failures = 0;
    for i in 0..60 {
        let (code, text) = try_login(&mut guesser, BOB.0, &format!("guess{i}"));
        assert_eq!(code, 530, "{text}");
        if text.contains("Login incorrect") {
            verified_failures += 1;
        }
    }
    assert_eq!(
        verified_failures, 5,
        "only the first five guesses are verified"
    );
    // Bob's account is locked for this address, even with the right password...
    let (code, text) = try_login(&mut guesser, BOB.0, BOB.1);
    assert_eq!(code, 530);
    assert!(
        text.contains("Too many failed logins at this account"),
        "{text}"
    );
    // ... but honest alice behind the same address logs in and works, again and again.
    for _ in 0..5 {
        let mut honest = RawFtp::connect(addr);
        assert_eq!(honest.greeting.code, 220);
        honest.login(ALICE.0, ALICE.1);
        honest.stor("hello.txt", b"still here");
        assert_eq!(honest.retr("hello.txt"), b"still here");
    }
    // And bob from another address is not locked.
    let mut elsewhere = RawFtp::connect_from(addr, ip(GUESSER));
    elsewhere.login(BOB.0, BOB.1);
}

#[test]
fn guesses_spread_over_accounts_ban_the_address_within_its_threshold() {
    let srv = server(|c| {
        c.ban_after_failures = 12;
        c.account_failures = 3;
    });
    let mut verified = 0;
    let mut banned = false;
    'outer: for round in 0..10 {
        let mut c = RawFtp::connect_from(srv.addr, ip(GUESSER));
        if c.greeting.code == 421 {
            banned = true;
            break;
        }
        for i in 0..10 {
            let (code, text) = try_login(&mut c, &format!("user{round}x{i}"), "guess");
            match code {
                530 if text.contains("Login incorrect") => verified += 1,
                530 => {}
                421 => {
                    // The failure that fills the score was verified; later ones are not.
                    if text.contains("Too many failed attempts") {
                        verified += 1;
                    }
                    banned = true;
                    break 'outer;
                }
                _ => panic!("{code} {text}"),
            }
        }
    }
    assert!(banned, "the address was banned");
    assert_eq!(verified, 12, "no verification beyond the threshold");
    let again = RawFtp::connect_from(srv.addr, ip(GUESSER));
    assert_eq!(again.greeting.code, 421, "{:?}", again.greeting);
    // Other addresses are served as before.
    let mut honest = RawFtp::connect(srv.addr);
    honest.login(ALICE.0, ALICE.1);
    honest.expect("NOOP", 200);
}

#[test]
fn concurrent_guessers_cannot_overshoot_the_threshold() {
    let srv = server(|c| {
        c.ban_after_failures = 10;
        c.account_failures = 1000;
        c.auth_failure_delay_ms = 50;
    });
    let addr = srv.addr;
    let workers: Vec<_> = (0..30)
        .map(|w| {
            std::thread::spawn(move || {
                let mut verified = 0;
                for i in 0..10 {
                    let Ok(s) = ferry_testkit::connect_from(addr, ip(GUESSER)) else {
                        break;
                    };
                    let mut c = RawFtp::over_stream(s);
                    if c.greeting.code != 220 {
                        break;
                    }
                    let (code, text) = try_login(&mut c, &format!("w{w}u{i}"), "guess");
                    if code == 530 && text.contains("Login incorrect") {
                        verified += 1;
                    }
                    if code != 530 {
                        break;
                    }
                }
                verified
            })
        })
        .collect();
    let verified: u32 = workers.into_iter().map(|w| w.join().unwrap()).sum();
    assert!(
        verified <= 10,
        "{verified} verifications for a threshold of 10"
    );
    assert!(verified >= 9, "{verified}");
}

#[test]
fn garbage_and_overlong_lines_before_login_ban_and_close() {
    let srv = server(|c| c.ban_after_failures = 10);
    // An over-long line before login is answered (when the peer still reads) and the
    // connection closed; two of them (5 points each) ban the address.
    for _ in 0..2 {
        let mut s = ferry_testkit::connect_from(srv.addr, ip(ATTACKER)).unwrap();
        s.set_read_timeout(Some(Duration::from_secs(5))).unwrap();
        let mut line = vec![b'A'; 5000];
        line.extend_from_slice(b"\r\n");
        let _ = s.write_all(&line);
        let mut rest = Vec::new();
        let _ = s.read_to_end(&mut rest);
        let text = String::from_utf8_lossy(&rest);
        assert!(text.starts_with("220"), "{text}");
    }
    assert_eq!(
        RawFtp::connect_from(srv.addr, ip(ATTACKER)).greeting.code,
        421
    );

    // Garbage commands before login fill the score too, and the ban ends the session.
    let mut c = RawFtp::connect_from(srv.addr, ip(GUESSER));
    let mut codes = Vec::new();
    for _ in 0..20 {
        // The ban's 421 may race our next line; a closed connection is the same verdict.
        if !c.try_send_raw(b"XYZZY plugh\r\n") {
            codes.push(421);
            break;
        }
        match c.try_read_reply() {
            Some(r) => codes.push(r.code),
            None => {
                codes.push(421);
                break;
            }
        }
    }
    // Unknown before login is refused as any command before login (530), 1 point each.
    assert_eq!(codes.iter().filter(|c| **c == 530).count(), 10, "{codes:?}");
    assert_eq!(codes.last(), Some(&421), "banned mid-session: {codes:?}");
    assert_eq!(
        RawFtp::connect_from(srv.addr, ip(GUESSER)).greeting.code,
        421
    );
    let mut honest = RawFtp::connect(srv.addr);
    honest.login(ALICE.0, ALICE.1);
}

#[test]
fn a_ban_closes_the_addresses_connections_still_logging_in_but_not_logged_in_ones() {
    let srv = server(|c| {
        c.ban_after_failures = 5;
        c.account_failures = 1000;
    });
    // Mallory logged in from the attacker's address before the storm: she stays.
    let mut logged_in = RawFtp::connect_from(srv.addr, ip(ATTACKER));
    logged_in.login(ALICE.0, ALICE.1);
    let mut idle: Vec<_> = (0..4)
        .map(|_| RawFtp::connect_from(srv.addr, ip(ATTACKER)))
        .collect();
    let mut guesser = RawFtp::connect_from(srv.addr, ip(ATTACKER));
    for i in 0..5 {
        let (code, _) = try_login(&mut guesser, &format!("nobody{i}"), "x");
        if code == 421 {
            break;
        }
    }
    for c in &mut idle {
        let r = c.read_reply();
        assert_eq!(r.code, 421, "{r:?}");
        assert!(c.is_closed());
    }
    logged_in.expect("NOOP", 200);
}

#[test]
fn connections_waiting_to_log_in_are_capped_per_address() {
    let srv = server(|c| {
        c.max_prelogin_per_ip = 4;
        c.ban_after_failures = 1000;
    });
    let held: Vec<_> = (0..4)
        .map(|_| RawFtp::connect_from(srv.addr, ip(ATTACKER)))
        .collect();
    assert!(held.iter().all(|c| c.greeting.code == 220));
    let over = RawFtp::connect_from(srv.addr, ip(ATTACKER));
    assert_eq!(over.greeting.code, 421);
    assert!(over.greeting.text().contains("waiting to log in"));
    // Other addresses are not affected, and a login frees its slot.
    let mut honest = RawFtp::connect(srv.addr);
    honest.login(ALICE.0, ALICE.1);
    let mut first = held.into_iter().next().unwrap();
    first.login(BOB.0, BOB.1);
    let next = RawFtp::connect_from(srv.addr, ip(ATTACKER));
    assert_eq!(next.greeting.code, 220);
}

#[test]
fn connections_held_until_the_login_timeout_count_against_the_address() {
    let srv = server(|c| {
        c.login_timeout = 1;
        c.ban_after_failures = 6;
    });
    let idle: Vec<_> = (0..3)
        .map(|_| RawFtp::connect_from(srv.addr, ip(ATTACKER)))
        .collect();
    let started = Instant::now();
    for mut c in idle {
        assert_eq!(c.read_reply().code, 421);
    }
    assert!(started.elapsed() < Duration::from_secs(10));
    // Three timeouts (2 points each) reach the threshold of 6.
    let mut banned = false;
    for _ in 0..50 {
        if RawFtp::connect_from(srv.addr, ip(ATTACKER)).greeting.code == 421 {
            banned = true;
            break;
        }
        std::thread::sleep(Duration::from_millis(20));
    }
    assert!(banned);
}

#[test]
fn allow_listed_networks_are_never_banned() {
    let srv = server(|c| {
        c.ban_after_failures = 3;
        c.max_prelogin_per_ip = 2;
        c.ban_allow = vec!["127.0.0.2/32".into()];
    });
    let held: Vec<_> = (0..6)
        .map(|_| RawFtp::connect_from(srv.addr, ip(ATTACKER)))
        .collect();
    assert!(held.iter().all(|c| c.greeting.code == 220));
    let mut c = RawFtp::connect_from(srv.addr, ip(ATTACKER));
    for i in 0..10 {
        let (code, _) = try_login(&mut c, &format!("nobody{i}"), "x");
        assert_eq!(code, 530);
    }
    c.login(ALICE.0, ALICE.1);
}

#[test]
fn the_defender_survives_a_burst_of_raw_garbage() {
    let srv = server(|c| c.ban_after_failures = 20);
    for seed in 0..40u64 {
        let Ok(mut s) = ferry_testkit::connect_from(srv.addr, ip(ATTACKER)) else {
            continue;
        };
        s.set_read_timeout(Some(Duration::from_secs(5))).unwrap();
        let junk = ferry_testkit::random_bytes(3000, seed);
        let _ = s.write_all(&junk);
        let _ = s.write_all(b"\r\n");
        let mut sink = [0u8; 4096];
        let _ = s.read(&mut sink);
    }
    let mut honest = RawFtp::connect(srv.addr);
    honest.login(ALICE.0, ALICE.1);
    honest.expect("NOOP", 200);
}
