//! Hostile input over real sockets: extreme numbers in every numeric argument, bytes that are
//! not commands, and a seeded random session. Whatever arrives, the server answers each line
//! once, keeps the session going, and shows nothing outside the user's home.
#![allow(clippy::unwrap_used)]

use std::collections::BTreeMap;
use std::io::{Read, Write};
use std::net::{Shutdown, SocketAddr, TcpStream};
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use ferry_proto::Reply;
use ferry_testkit::{sha256, RawFtp, TestServer, ALICE, BOB};

const U64_MAX: &str = "18446744073709551615";
/// `i64::MAX`: the largest file offset there is.
const OFF_MAX: &str = "9223372036854775807";

/// Sends `line`, asserts a 5xx, and that the session still answers.
fn refused_and_survives(c: &mut RawFtp, line: &str) -> Reply {
    let r = c.cmd(line);
    assert!((500..600).contains(&r.code), "{line} -> {r:?}");
    c.expect("NOOP", 200);
    r
}

#[test]
fn rang_to_u64_max_then_stor_never_stores_an_empty_file() {
    let srv = TestServer::start();
    let mut c = srv.login(ALICE);
    // Once parsed, this reached `end - start + 1` in STOR: wrapped to a limit of 0 bytes, the
    // upload answered 226 and left an empty file (a panic in a debug build).
    let r = refused_and_survives(&mut c, &format!("RANG 0 {U64_MAX}"));
    assert_eq!(r.code, 501, "{r:?}");
    c.stor("f", b"hello world");
    assert_eq!(
        std::fs::read(srv.home("alice").join("f")).unwrap(),
        b"hello world"
    );
    c.expect("SIZE f", 213);

    // The widest range there is still holds every byte of an upload.
    c.expect(&format!("RANG 0 {OFF_MAX}"), 350);
    c.stor("g", b"hello world");
    assert_eq!(
        std::fs::read(srv.home("alice").join("g")).unwrap(),
        b"hello world"
    );
    c.expect(&format!("RANG 0 {OFF_MAX}"), 350);
    assert_eq!(c.retr("g"), b"hello world");
    for line in [
        format!("RANG {U64_MAX} {U64_MAX}"),
        "RANG 9223372036854775808 9223372036854775809".into(),
        "RANG 0 99999999999999999999999".into(),
        "RANG -1 5".into(),
        format!("RANG {OFF_MAX} 0"),
    ] {
        refused_and_survives(&mut c, &line);
    }
    // A range that starts past the end of the file is refused by RETR and STOR alike.
    c.expect(&format!("RANG {OFF_MAX} {OFF_MAX}"), 350);
    let (_, r) = c.download("RETR g");
    assert_eq!(r.code, 554, "{r:?}");
    c.expect(&format!("RANG {OFF_MAX} {OFF_MAX}"), 350);
    let r = c.upload("STOR g", b"x");
    assert_eq!(r.code, 554, "{r:?}");
    assert_eq!(
        std::fs::read(srv.home("alice").join("g")).unwrap(),
        b"hello world"
    );
    c.expect("NOOP", 200);
}

#[test]
fn rest_beyond_any_file_offset_is_refused() {
    let srv = TestServer::start();
    let mut c = srv.login(ALICE);
    c.stor("f", b"0123456789");
    for line in [
        format!("REST {U64_MAX}"),
        "REST 9223372036854775808".into(),
        "REST 18446744073709551616".into(),
        "REST 99999999999999999999999999999".into(),
        "REST -1".into(),
        "REST 1e3".into(),
    ] {
        let r = refused_and_survives(&mut c, &line);
        assert_eq!(r.code, 501, "{line} -> {r:?}");
    }
    // The largest offset parses, and is beyond the end of any file here.
    c.expect(&format!("REST {OFF_MAX}"), 350);
    let (_, r) = c.download("RETR f");
    assert_eq!(r.code, 554, "{r:?}");
    c.expect(&format!("REST {OFF_MAX}"), 350);
    let r = c.upload("STOR f", b"x");
    assert_eq!(r.code, 554, "{r:?}");
    assert_eq!(
        std::fs::read(srv.home("alice").join("f")).unwrap(),
        b"0123456789"
    );
    c.expect("NOOP", 200);
}

#[test]
fn a_refused_restart_creates_no_file() {
    let srv = TestServer::start();
    let mut c = srv.login(ALICE);
    c.expect("REST 5", 350);
    let r = c.upload("STOR new", b"abc");
    assert_eq!(r.code, 554, "{r:?}");
    c.expect("RANG 5 9", 350);
    let r = c.upload("STOR new2", b"abc");
    assert_eq!(r.code, 554, "{r:?}");
    // A file left behind would be invisible to the file quota (the ledger never heard of it).
    assert!(!srv.home("alice").join("new").exists());
    assert!(!srv.home("alice").join("new2").exists());
    c.expect("SIZE new", 550);
    c.expect("NOOP", 200);
}

#[test]
fn allo_of_impossible_sizes_is_refused() {
    let srv = TestServer::builder()
        .user_with_quota(ALICE.0, ALICE.1, 1 << 20)
        .user(BOB.0, BOB.1)
        .start();
    let mut c = srv.login(ALICE);
    for line in [
        format!("ALLO {U64_MAX}"),
        "ALLO 9223372036854775808".into(),
        "ALLO 99999999999999999999999".into(),
        "ALLO 99999999999999999999999 R 1".into(),
        "ALLO -5".into(),
    ] {
        let r = refused_and_survives(&mut c, &line);
        assert_eq!(r.code, 501, "{line} -> {r:?}");
    }
    let r = refused_and_survives(&mut c, &format!("ALLO {OFF_MAX}"));
    assert_eq!(r.code, 552, "{r:?}");
    c.expect("ALLO 1000", 200);
    c.expect(&format!("ALLO 1000 R {U64_MAX}"), 200);

    let mut b = srv.login(BOB);
    let r = refused_and_survives(&mut b, &format!("ALLO {U64_MAX}"));
    assert_eq!(r.code, 501, "{r:?}");
    b.expect(&format!("ALLO {OFF_MAX}"), 200);
}

#[test]
fn mfmt_with_impossible_times_is_refused() {
    let srv = TestServer::start();
    let mut c = srv.login(ALICE);
    c.stor("f", b"x");
    for line in [
        "MFMT 99999999999 f",
        "MFMT 999999999990101000000 f",
        "MFMT 99999999999999999999999999 f",
        "MFMT 20201301000000 f",
        "MFMT 20200100000000 f",
        "MFMT 20200101250000 f",
        "MFMT -2020010100000 f",
        "MFMT 2020010100000\u{660} f",
        "MFMT 20200101000000",
    ] {
        let r = refused_and_survives(&mut c, line);
        assert_eq!(r.code, 501, "{line} -> {r:?}");
    }
    // The extremes of the grammar are times a file system may clamp, but they are answered.
    for line in ["MFMT 99991231235959 f", "MFMT 00000101000000 f"] {
        let r = c.cmd(line);
        assert!(
            r.code == 213 || (500..600).contains(&r.code),
            "{line} -> {r:?}"
        );
        c.expect("NOOP", 200);
    }
    c.expect("MFMT 20200102030405 f", 213);
    let r = c.expect("MDTM f", 213);
    assert_eq!(r.text(), "20200102030405");
}

#[test]
fn port_and_eprt_with_out_of_range_parts_are_refused() {
    let srv = TestServer::start();
    let mut c = srv.login(ALICE);
    for line in [
        "PORT 127,0,0,1,256,0",
        "PORT 127,0,0,1,4,256",
        "PORT 127,0,0,1,4,99999999999999999999",
        "PORT 999,0,0,1,4,1",
        "PORT 18446744073709551616,0,0,1,4,1",
        "PORT -1,0,0,1,4,1",
        "PORT 127,0,0,1,4",
        "PORT 127,0,0,1,4,1,1",
        "PORT ,,,,,",
        "EPRT |1|127.0.0.1|99999999|",
        "EPRT |1|127.0.0.1|65536|",
        "EPRT |1|127.0.0.1|18446744073709551616|",
        "EPRT |1|127.0.0.1|-1|",
        "EPRT |2|::1|99999999|",
        "EPRT |1|999.0.0.1|2000|",
        "EPRT |99999999999999999999|127.0.0.1|2000|",
        "EPRT ||||",
    ] {
        let r = refused_and_survives(&mut c, line);
        assert_eq!(r.code, 501, "{line} -> {r:?}");
    }
    // Well-formed but not the client's own address, or a privileged port: bounce protection.
    for line in [
        "PORT 10,0,0,1,4,1",
        "PORT 127,0,0,1,0,21",
        "EPRT |1|127.0.0.1|0|",
    ] {
        let r = refused_and_survives(&mut c, line);
        assert_eq!(r.code, 500, "{line} -> {r:?}");
    }
}

#[test]
fn digest_ranges_at_the_limits_are_refused() {
    let srv = TestServer::start();
    let mut c = srv.login(ALICE);
    c.stor("f", b"hello world");
    for line in [
        format!("XCRC f {U64_MAX} {U64_MAX}"),
        format!("XCRC f 0 {U64_MAX}"),
        format!("XSHA256 f {OFF_MAX} {OFF_MAX}"),
        format!("XSHA1 f 0 {OFF_MAX}"),
        "XMD5 f 5 3".into(),
        "XSHA512 f 0 12".into(),
    ] {
        let r = refused_and_survives(&mut c, &line);
        assert_eq!(r.code, 501, "{line} -> {r:?}");
    }
    let r = c.expect("XCRC f 0 11", 250);
    assert_eq!(r.text(), "0d4a1185");
    let r = c.expect("XSHA256 f 6 11", 250);
    assert_eq!(r.text(), sha256(b"world"));
    // HASH after the widest RANG: a range past the end of the file is a bad parameter.
    c.expect(&format!("RANG 0 {OFF_MAX}"), 350);
    let r = refused_and_survives(&mut c, "HASH f");
    assert_eq!(r.code, 501, "{r:?}");
    c.expect("RANG 6 10", 350);
    let r = c.expect("HASH f", 213);
    assert!(r.text().contains(&sha256(b"world")), "{r:?}");
}

#[test]
fn site_chmod_with_impossible_modes_is_refused() {
    let srv = TestServer::start();
    let mut c = srv.login(ALICE);
    c.stor("f", b"x");
    for line in [
        "SITE CHMOD 99999999999999999999 f",
        "SITE CHMOD 37777777777 f",
        "SITE CHMOD 7777 f",
        "SITE CHMOD 1000 f",
        "SITE CHMOD -1 f",
        "SITE CHMOD 8 f",
        "SITE CHMOD f",
    ] {
        let r = refused_and_survives(&mut c, line);
        assert_eq!(r.code, 501, "{line} -> {r:?}");
    }
    c.expect("SITE CHMOD 640 f", 200);
}

#[test]
fn control_bytes_are_not_verbs() {
    let srv = TestServer::start();
    let mut c = srv.login(ALICE);
    // The command fuzzer's find, sent as it is: the LF ends a first line, " " is a second.
    c.send_raw(b"\x08\x08\x7a\x0a\x20\r\n");
    assert_eq!(c.read_reply().code, 500);
    assert_eq!(c.read_reply().code, 500);
    c.expect("NOOP", 200);
    for line in [
        &b"NO\x00OP"[..],
        b"\x1b[2JNOOP",
        b"\x7f",
        b"N\xc3\x96OP",
        b"\xc3\x28",
    ] {
        c.send_raw(line);
        c.send_raw(b"\r\n");
        let r = c.read_reply();
        assert!((500..600).contains(&r.code), "{line:?} -> {r:?}");
        c.expect("NOOP", 200);
    }
    // A line longer than the limit is one 500, however it arrives.
    c.send_raw(&vec![b'A'; ferry_proto::MAX_LINE + 10]);
    c.send_raw(b"\r\n");
    assert_eq!(c.read_reply().code, 500);
    c.expect("NOOP", 200);
}

// ---------------------------------------------------------------------------------------
// The seeded random session.

/// xorshift64*: reproducible from its seed, so a failure names the exact sequence.
struct Rng(u64);

impl Rng {
    fn new(seed: u64) -> Rng {
        Rng(seed.wrapping_mul(0x9E37_79B9_7F4A_7C15) | 1)
    }

    fn next(&mut self) -> u64 {
        self.0 ^= self.0 >> 12;
        self.0 ^= self.0 << 25;
        self.0 ^= self.0 >> 27;
        self.0.wrapping_mul(0x2545_F491_4F6C_DD1D)
    }

    fn below(&mut self, n: usize) -> usize {
        usize::try_from(self.next() % n as u64).unwrap()
    }

    fn chance(&mut self, percent: usize) -> bool {
        self.below(100) < percent
    }

    fn pick<'a>(&mut self, items: &[&'a str]) -> &'a str {
        items[self.below(items.len())]
    }

    fn bytes(&mut self, max: usize) -> Vec<u8> {
        let len = self.below(max + 1);
        (0..len).map(|_| self.next() as u8).collect()
    }
}

/// Verbs the random session sends. QUIT, REIN, USER, PASS, AUTH and CCC are left out: they
/// end the session or its login, after which nothing else would be exercised.
const VERBS: &[&str] = &[
    "NOOP", "SYST", "FEAT", "OPTS", "HELP", "STAT", "PWD", "XPWD", "CWD", "XCWD", "CDUP", "XCUP",
    "MKD", "XMKD", "RMD", "XRMD", "DELE", "RNFR", "RNTO", "SIZE", "MDTM", "MFMT", "REST", "RANG",
    "ALLO", "AVBL", "ABOR", "PASV", "EPSV", "PORT", "EPRT", "TYPE", "MODE", "STRU", "SITE", "HASH",
    "XSHA256", "XSHA512", "XSHA1", "XSHA", "XMD5", "XCRC", "MLST", "ACCT", "HOST", "PBSZ", "PROT",
    "RETR", "STOR", "APPE", "STOU", "LIST", "NLST", "MLSD", "LPRT", "SMNT", "FROB", "xsha256",
    "rEtR", "list",
];

const PATHS: &[&str] = &[
    "f1",
    "d1",
    "d1/f2",
    "new",
    "d1/new",
    "..",
    "../..",
    "../../..",
    "/..",
    "/../..",
    "/../../etc/passwd",
    "../bob",
    "../../ferry.db",
    "d1/../../..",
    "./././..",
    "//..//..//",
    "\\..\\..",
    "~",
    "~root",
    "escape_file",
    "escape_rel",
    "escape_dir",
    "escape_dir/ferry.db",
    "bob_link",
    "bob_link/bob-file",
    "%00",
    "a%00b",
    "%2e%2e/%2e%2e",
    "a\0b",
    "\0",
    "/",
    ".",
    "*",
    "*/*",
    "d1/*",
    "-la",
    "-R /",
    "a b",
    " leading",
    "\"quoted\"",
    "文件",
    "\u{202e}txt.exe",
];

const NUMBERS: &[&str] = &[
    "0",
    "1",
    "5",
    "100",
    "4096",
    U64_MAX,
    OFF_MAX,
    "9223372036854775808",
    "18446744073709551616",
    "99999999999999999999999",
    "-1",
    "+1",
    "1e9",
    "0x10",
    "",
    "abc",
];

const TIMES: &[&str] = &[
    "99999999999",
    "99991231235959",
    "00000101000000",
    "19700101000000",
    "20201301000000",
    "20200229235960",
    "2020010203040599",
    "20200102030405.999999999999",
    "-1000101000000",
];

const HOSTPORTS: &[&str] = &[
    "127,0,0,1,256,0",
    "999999999999,0,0,1,4,1",
    "127,0,0,1,4",
    "1,2,3,4,5,6,7",
    "127,0,0,1,0,21",
    "10,0,0,1,4,1",
    ",,,,,",
    "-1,0,0,1,4,1",
    "|1|127.0.0.1|99999999|",
    "|2|::1|65536|",
    "|1|127.0.0.1|80|",
    "|1|10.0.0.1|2000|",
    "|3|x|1|",
    "||||",
    "|1|999.1.1.1|2000|",
    "|2|::ffff:127.0.0.1|21|",
];

const SITE: &[&str] = &[
    "HELP",
    "QUOTA",
    "CHMOD 644 f1",
    "CHMOD 99999999999999999999 f1",
    "CHMOD 7777 f1",
    "CHMOD -1 f1",
    "CHMOD 600 escape_file",
    "CHMOD 644 ../../ferry.db",
    "EXEC ls",
    "EXEC ../../bin/sh",
    "REGISTER x y",
    "FROB",
    "",
];

/// One argument, of any kind the grammar has and some it has not.
fn argument(rng: &mut Rng) -> Vec<u8> {
    match rng.below(10) {
        0..=2 => rng.pick(PATHS).into(),
        3 => format!("{}/{}", rng.pick(PATHS), rng.pick(PATHS)).into_bytes(),
        4 => rng.pick(NUMBERS).into(),
        5 => format!("{} {}", rng.pick(NUMBERS), rng.pick(NUMBERS)).into_bytes(),
        6 => format!(
            "{} {} {}",
            rng.pick(PATHS),
            rng.pick(NUMBERS),
            rng.pick(NUMBERS)
        )
        .into_bytes(),
        7 => match rng.below(3) {
            0 => format!("{} {}", rng.pick(TIMES), rng.pick(PATHS)).into_bytes(),
            1 => rng.pick(HOSTPORTS).into(),
            _ => rng.pick(SITE).into(),
        },
        8 => {
            // Random bytes: control characters, telnet IAC, invalid UTF-8. Never a line feed,
            // which would end the line early and make two commands of one.
            let mut b = rng.bytes(48);
            b.retain(|&x| x != b'\n');
            b
        }
        _ => {
            let unit = rng.pick(&["a", "../", "/..", "%00", "文"]);
            unit.repeat(1 + rng.below(1400)).into_bytes()
        }
    }
}

/// Where the next data connection goes, as far as the client can tell from the replies.
#[derive(Clone, Copy)]
enum Plan {
    None,
    Passive(SocketAddr),
    /// PORT/EPRT was accepted: the server dials out (to a port nobody listens on).
    Active,
}

/// What must never show up in a reply or in data: the canaries outside the home, and the
/// host path of the data directory.
struct Secrets(Vec<String>);

impl Secrets {
    fn check(&self, what: &str, bytes: &[u8]) {
        let text = String::from_utf8_lossy(bytes);
        for s in &self.0 {
            assert!(
                !text.contains(s.as_str()),
                "{what} revealed {s:?} from outside the home: {text:?}"
            );
        }
    }
}

struct Session {
    c: RawFtp,
    plan: Plan,
    secrets: Secrets,
    lines: usize,
    transfers: usize,
    /// How often each final reply code came back, to show the run reached the handlers.
    codes: BTreeMap<u16, usize>,
    log: Vec<String>,
}

impl Session {
    /// Sends one line and reads its replies up to the final one; a 1xx runs the transfer.
    fn line(&mut self, verb: &str, line: &[u8]) -> Reply {
        self.lines += 1;
        self.log
            .push(String::from_utf8_lossy(line).chars().take(120).collect());
        if self.log.len() > 20 {
            self.log.remove(0);
        }
        let mut wire = line.to_vec();
        wire.extend_from_slice(b"\r\n");
        self.c.send_raw(&wire);
        let mut r = self.reply();
        if r.is_positive_preliminary() {
            self.transfer(verb);
            r = self.reply();
            assert!(
                !r.is_positive_preliminary(),
                "two preliminary replies: {r:?}"
            );
        }
        self.track_plan(verb, &r);
        *self.codes.entry(r.code).or_default() += 1;
        r
    }

    fn reply(&mut self) -> Reply {
        let Some(r) = self.c.try_read_reply() else {
            panic!(
                "no reply (server closed or hung); the last lines sent: {:#?}",
                self.log
            );
        };
        self.secrets.check("a reply", r.encode().as_bytes());
        r
    }

    fn track_plan(&mut self, verb: &str, r: &Reply) {
        let verb = verb.to_ascii_uppercase();
        self.plan = match (verb.as_str(), r.code) {
            ("PASV", 227) => ferry_proto::hostport::parse_pasv_reply(&r.text())
                .map_or(Plan::None, |a| Plan::Passive(SocketAddr::V4(a))),
            ("EPSV", 229) => ferry_proto::hostport::parse_epsv_reply(&r.text())
                .map_or(Plan::None, |p| {
                    Plan::Passive(SocketAddr::new([127, 0, 0, 1].into(), p))
                }),
            // Only a listener that could not be opened drops the plan: a parse error (501) or
            // a refusal before the handler (503, 522) leaves the previous one in place.
            ("PASV" | "EPSV", 425) => Plan::None,
            ("PORT" | "EPRT", 200) => Plan::Active,
            // The handler itself refused the target (a parse error leaves the plan alone).
            ("PORT" | "EPRT", 500) => Plan::None,
            _ => self.plan,
        };
    }

    /// The data side of a transfer the server has just opened with a 1xx.
    fn transfer(&mut self, verb: &str) {
        self.transfers += 1;
        let plan = std::mem::replace(&mut self.plan, Plan::None);
        let addr = match plan {
            Plan::Passive(addr) => addr,
            // An active plan dials a closed port: the final reply says so.
            Plan::Active => return,
            Plan::None => panic!(
                "a transfer opened with no data plan in place; the last lines sent: {:#?}",
                self.log
            ),
        };
        let Ok(mut data) = TcpStream::connect_timeout(&addr, Duration::from_secs(5)) else {
            return;
        };
        data.set_read_timeout(Some(Duration::from_secs(10)))
            .unwrap();
        data.set_write_timeout(Some(Duration::from_secs(10)))
            .unwrap();
        let upload = ["STOR", "APPE", "STOU"].contains(&verb.to_ascii_uppercase().as_str());
        if upload {
            let n = 1 + self.lines % 20_000;
            let _ = data.write_all(&ferry_testkit::random_bytes(n, self.lines as u64));
            let _ = data.shutdown(Shutdown::Write);
        }
        let mut got = Vec::new();
        let _ = data.take(16 << 20).read_to_end(&mut got);
        self.secrets.check("a data connection", &got);
    }

    /// A data command done properly: a fresh PASV, connected, sometimes a REST or RANG first.
    fn data_step(&mut self, rng: &mut Rng) {
        let verb = rng.pick(&[
            "RETR", "RETR", "LIST", "NLST", "MLSD", "STOR", "STOR", "APPE", "STOU",
        ]);
        let r = self.line("PASV", b"PASV");
        assert_eq!(r.code, 227, "{r:?}");
        if rng.chance(25) {
            let (v, arg) = if rng.chance(50) {
                ("REST", rng.pick(NUMBERS).to_owned())
            } else {
                (
                    "RANG",
                    format!("{} {}", rng.pick(NUMBERS), rng.pick(NUMBERS)),
                )
            };
            self.line(v, format!("{v} {arg}").as_bytes());
        }
        let mut line = verb.as_bytes().to_vec();
        if rng.chance(85) {
            line.push(b' ');
            line.extend(if rng.chance(60) {
                rng.pick(PATHS).as_bytes().to_vec()
            } else {
                argument(rng)
            });
        }
        self.line(verb, &line);
    }

    fn control_step(&mut self, rng: &mut Rng) {
        let verb = rng.pick(VERBS);
        let mut line = verb.as_bytes().to_vec();
        if rng.chance(85) {
            line.push(b' ');
            line.extend(argument(rng));
        }
        // EPSV ALL would refuse every later PASV: the rest of the run would test nothing.
        if verb.eq_ignore_ascii_case("EPSV") && line.len() > 5 {
            line.truncate(4);
        }
        self.line(verb, &line);
    }

    fn garbage_step(&mut self, rng: &mut Rng) {
        let mut b = if rng.chance(20) {
            vec![b'Z'; ferry_proto::MAX_LINE + rng.below(3000)]
        } else {
            rng.bytes(80)
        };
        b.retain(|&x| x != b'\n');
        // A line that happens to read QUIT, REIN, USER... would end the session.
        if ferry_proto::Command::parse(&b).is_ok_and(|c| {
            matches!(
                c,
                ferry_proto::Command::Quit
                    | ferry_proto::Command::Rein
                    | ferry_proto::Command::User(_)
                    | ferry_proto::Command::Pass(_)
                    | ferry_proto::Command::Auth(_)
                    | ferry_proto::Command::Epsv { all: true, .. }
            )
        }) {
            return;
        }
        self.line("", &b);
    }
}

/// Every entry under `root` except the home being attacked: its kind, size and contents (the
/// database files only by name, as the server writes them).
fn snapshot(root: &Path, skip: &Path) -> BTreeMap<PathBuf, String> {
    fn walk(dir: &Path, root: &Path, skip: &Path, out: &mut BTreeMap<PathBuf, String>) {
        for e in std::fs::read_dir(dir).unwrap() {
            let path = e.unwrap().path();
            if path == skip {
                continue;
            }
            let rel = path.strip_prefix(root).unwrap().to_path_buf();
            let meta = std::fs::symlink_metadata(&path).unwrap();
            let name = rel.to_string_lossy();
            let what = if meta.is_dir() {
                walk(&path, root, skip, out);
                "dir".to_owned()
            } else if meta.file_type().is_symlink() {
                format!("link {:?}", std::fs::read_link(&path).unwrap())
            } else if name.starts_with("ferry.db") {
                continue;
            } else {
                use std::os::unix::fs::PermissionsExt;
                format!(
                    "file {:o} {}",
                    meta.permissions().mode(),
                    sha256(&std::fs::read(&path).unwrap())
                )
            };
            out.insert(rel, what);
        }
    }
    let mut out = BTreeMap::new();
    walk(root, root, skip, &mut out);
    out
}

#[test]
fn a_random_hostile_session_is_answered_line_by_line_and_stays_in_the_home() {
    let seed: u64 = std::env::var("FERRY_ROBUSTNESS_SEED")
        .ok()
        .and_then(|s| s.parse().ok())
        .unwrap_or(0x5EED_F3E7);
    let steps: usize = std::env::var("FERRY_ROBUSTNESS_STEPS")
        .ok()
        .and_then(|s| s.parse().ok())
        .unwrap_or(12_000);
    // The count bounds the run; the budget keeps a slow machine under CI's patience.
    let budget = Duration::from_secs(40);

    let srv = TestServer::start();
    let data_dir = srv.data_dir().to_path_buf();
    let home = srv.home("alice");
    let token = format!("{:016x}", Rng::new(seed ^ 0xC0FFEE).next());
    let canary = data_dir.join(format!("canary-{token}.txt"));
    std::fs::write(&canary, format!("CANARY-CONTENTS-{token}")).unwrap();
    std::fs::write(
        srv.home("bob").join("bob-file"),
        format!("BOB-SECRET-{token}"),
    )
    .unwrap();
    std::fs::write(home.join("f1"), b"hello alice\n").unwrap();
    std::fs::create_dir(home.join("d1")).unwrap();
    std::fs::write(home.join("d1/f2"), vec![b'x'; 70_000]).unwrap();
    std::os::unix::fs::symlink(&canary, home.join("escape_file")).unwrap();
    std::os::unix::fs::symlink(format!("../../canary-{token}.txt"), home.join("escape_rel"))
        .unwrap();
    std::os::unix::fs::symlink(&data_dir, home.join("escape_dir")).unwrap();
    std::os::unix::fs::symlink("../bob", home.join("bob_link")).unwrap();
    let before = snapshot(&data_dir, &home);

    // The token is in the canary's name, its contents, bob's file and the links' targets; the
    // client never sends it, so no reply can echo it back.
    let secrets = Secrets(vec![token.clone(), data_dir.to_string_lossy().into_owned()]);
    let mut s = Session {
        c: srv.login(ALICE),
        plan: Plan::None,
        secrets,
        lines: 0,
        transfers: 0,
        codes: BTreeMap::new(),
        log: Vec::new(),
    };
    let mut rng = Rng::new(seed);
    let started = Instant::now();
    let mut done = 0;
    let mut slowest = Duration::ZERO;
    while done < steps && started.elapsed() < budget {
        let step_started = Instant::now();
        match rng.below(100) {
            0..=24 => s.data_step(&mut rng),
            25..=84 => s.control_step(&mut rng),
            _ => s.garbage_step(&mut rng),
        }
        // Exactly one final reply per line: a reply too many, or one missing, shows up here
        // as a code other than SYST's 215 (or as no reply at all).
        let r = s.line("SYST", b"SYST");
        assert_eq!(
            r.code, 215,
            "out of step after {done} steps (seed {seed}): {r:?}; last lines: {:#?}",
            s.log
        );
        slowest = slowest.max(step_started.elapsed());
        done += 1;
    }
    let took = started.elapsed();
    eprintln!(
        "seed {seed}: {done} steps, {} lines, {} transfers in {took:?} (slowest step {slowest:?}); replies {:?}",
        s.lines, s.transfers, s.codes
    );
    // Every transfer the client connected to completes: none waited out the data timeout.
    assert!(slowest < Duration::from_secs(20), "a step took {slowest:?}");
    assert!(done >= steps.min(300), "only {done} steps in {took:?}");
    assert!(
        s.transfers >= done / 20,
        "too few transfers ran: {}",
        s.transfers
    );

    // The session is still fine, and so is the server for anyone else.
    s.c.expect("NOOP", 200);
    s.c.expect("QUIT", 221);
    let mut fresh = srv.login(ALICE);
    fresh.expect("NOOP", 200);
    fresh.expect("CWD /", 250);
    let listing = fresh.nlst("");
    s.secrets
        .check("a final listing", listing.join("\n").as_bytes());
    fresh.expect("QUIT", 221);

    // Nothing outside the home was created, changed or removed.
    let after = snapshot(&data_dir, &home);
    assert_eq!(before, after, "the tree outside the home changed");
    assert_eq!(
        std::fs::read_to_string(&canary).unwrap(),
        format!("CANARY-CONTENTS-{token}")
    );
}
