//! Failures a well-behaved ferryd never produces, from a small scripted FTP server: a digest
//! that does not match (exit 6, the download kept as .part), and transfers cut off mid-way
//! (426, or the connection dropped) that ferry retries and resumes by itself.
#![allow(clippy::unwrap_used)]

mod common;

use std::io::{BufRead, BufReader, Write};
use std::net::{SocketAddr, TcpListener, TcpStream};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;
use std::time::Duration;

use common::Env;
use ferry_testkit::{random_bytes, sha256, sha256_file};

#[derive(Clone, Copy, PartialEq)]
enum Fault {
    /// HASH answers a wrong digest for the whole file.
    LyingHash,
    /// The first RETR stops half-way with 426.
    Abort426,
    /// The first RETR stops half-way and the control connection drops.
    Drop,
}

struct Scripted {
    addr: SocketAddr,
    retrs: Arc<AtomicUsize>,
}

fn serve(content: Vec<u8>, fault: Fault) -> Scripted {
    let listener = TcpListener::bind("127.0.0.1:0").unwrap();
    let addr = listener.local_addr().unwrap();
    let content = Arc::new(content);
    let retrs = Arc::new(AtomicUsize::new(0));
    let r = Arc::clone(&retrs);
    std::thread::spawn(move || {
        for conn in listener.incoming() {
            let Ok(conn) = conn else { return };
            let (content, r) = (Arc::clone(&content), Arc::clone(&r));
            std::thread::spawn(move || session(conn, &content, fault, &r));
        }
    });
    Scripted { addr, retrs }
}

fn session(conn: TcpStream, content: &[u8], fault: Fault, retrs: &AtomicUsize) {
    conn.set_read_timeout(Some(Duration::from_secs(30)))
        .unwrap();
    let mut out = conn.try_clone().unwrap();
    let mut lines = BufReader::new(conn);
    let mut say = |s: &str| out.write_all(format!("{s}\r\n").as_bytes()).is_ok();
    say("220 scripted");
    let mut data: Option<TcpListener> = None;
    let (mut rest, mut range) = (0usize, None::<(usize, usize)>);
    let mut line = String::new();
    loop {
        line.clear();
        if lines.read_line(&mut line).unwrap_or(0) == 0 {
            return;
        }
        let l = line.trim_end();
        let (verb, arg) = l.split_once(' ').unwrap_or((l, ""));
        let ok = match verb.to_ascii_uppercase().as_str() {
            "USER" => say("331 password"),
            "PASS" => say("230 in"),
            "FEAT" => say("211-Features:\r\n EPSV\r\n HASH SHA-256*\r\n RANG STREAM\r\n REST STREAM\r\n SIZE\r\n211 End"),
            "TYPE" | "OPTS" => say("200 ok"),
            "NOOP" => say("200 ok"),
            "ABOR" => say("226 nothing to abort"),
            "PWD" => say("257 \"/\""),
            "QUIT" => {
                say("221 bye");
                return;
            }
            "SIZE" => say(&format!("213 {}", content.len())),
            "REST" => {
                rest = arg.parse().unwrap();
                say(&format!("350 at {rest}"))
            }
            "RANG" => {
                let (a, b) = arg.split_once(' ').unwrap();
                range = Some((a.parse().unwrap(), b.parse::<usize>().unwrap() + 1));
                say("350 range")
            }
            "HASH" => {
                let (s, e) = range.take().unwrap_or((0, content.len()));
                let mut hex = sha256(&content[s..e]);
                if fault == Fault::LyingHash && (s, e) == (0, content.len()) {
                    hex = sha256(b"something else");
                }
                say(&format!("213 SHA-256 {s}-{e} {hex} {arg}"))
            }
            "EPSV" => {
                let l = TcpListener::bind("127.0.0.1:0").unwrap();
                let port = l.local_addr().unwrap().port();
                data = Some(l);
                say(&format!("229 Entering Extended Passive Mode (|||{port}|)"))
            }
            "RETR" => {
                let Some(l) = data.take() else {
                    say("425 no data connection");
                    continue;
                };
                say("150 here it comes");
                let (mut d, _) = l.accept().unwrap();
                let first = retrs.fetch_add(1, Ordering::SeqCst) == 0;
                let from = std::mem::take(&mut rest);
                if first && fault != Fault::LyingHash {
                    let half = content.len() / 2;
                    let _ = d.write_all(&content[from..half]);
                    drop(d);
                    if fault == Fault::Drop {
                        return;
                    }
                    say("426 connection closed; transfer aborted")
                } else {
                    let _ = d.write_all(&content[from..]);
                    drop(d);
                    say("226 done")
                }
            }
            _ => say("502 not here"),
        };
        if !ok {
            return;
        }
    }
}

#[test]
fn a_digest_mismatch_exits_6_and_keeps_the_part_file() {
    let content = random_bytes(300_000, 41);
    let srv = serve(content, Fault::LyingHash);
    let env = Env::new();
    let r = env.run(&["get", &format!("ftp://u:p@{}/f.bin", srv.addr)]);
    assert_eq!(r.code, 6, "{r:?}");
    assert!(r.stderr.contains("integrity"), "{r:?}");
    assert!(
        !env.path("f.bin").exists(),
        "an unverified file must not get the final name"
    );
    assert!(env.path("f.bin.part").exists());
}

#[test]
fn a_transfer_cut_off_with_426_is_retried_and_resumed() {
    let content = random_bytes(1_000_000, 42);
    let srv = serve(content.clone(), Fault::Abort426);
    let env = Env::new();
    let r = env
        .run(&["get", &format!("ftp://u:p@{}/f.bin", srv.addr)])
        .ok();
    assert!(r.stderr.contains("retrying"), "{r:?}");
    assert!(r.stderr.contains("resuming at byte 500000"), "{r:?}");
    assert_eq!(sha256_file(&env.path("f.bin")), sha256(&content));
    assert_eq!(srv.retrs.load(Ordering::SeqCst), 2);
}

#[test]
fn a_dropped_connection_is_retried_and_resumed() {
    let content = random_bytes(1_000_000, 43);
    let srv = serve(content.clone(), Fault::Drop);
    let env = Env::new();
    let r = env
        .run(&["get", &format!("ftp://u:p@{}/f.bin", srv.addr)])
        .ok();
    assert!(r.stderr.contains("retrying"), "{r:?}");
    assert!(r.stderr.contains("resuming at byte 500000"), "{r:?}");
    assert_eq!(sha256_file(&env.path("f.bin")), sha256(&content));

    // With no retries allowed the same failure is a network error (exit 7).
    let srv = serve(content, Fault::Drop);
    let env = Env::new();
    let r = env.run(&[
        "--retries",
        "0",
        "get",
        &format!("ftp://u:p@{}/f.bin", srv.addr),
    ]);
    assert_eq!(r.code, 7, "{r:?}");
}
