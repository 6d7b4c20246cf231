//! Every command over a real socket against a real server, with exact reply codes.
#![allow(clippy::unwrap_used)]

use std::io::Write;
use std::time::{Duration, Instant};

use ferry_testkit::{peer_missing, random_bytes, RawFtp, TestServer, ALICE, BOB};

#[test]
fn greeting_then_login_with_correct_password() {
    let srv = TestServer::start();
    let mut c = RawFtp::connect(srv.addr);
    assert_eq!(c.greeting.code, 220);
    c.login(ALICE.0, ALICE.1);
    c.expect("PWD", 257);
    c.expect("QUIT", 221);
    assert!(c.is_closed());
}

#[test]
fn wrong_password_and_unknown_user_get_the_same_530_after_the_same_delay() {
    let srv = TestServer::builder()
        .user(ALICE.0, ALICE.1)
        .config(|c| c.auth_failure_delay_ms = 400)
        .start();
    let mut c = RawFtp::connect(srv.addr);
    c.expect("USER alice", 331);
    let t = Instant::now();
    let wrong_pw = c.expect("PASS nope", 530);
    let d1 = t.elapsed();
    c.expect("USER nosuchuser", 331);
    let t = Instant::now();
    let unknown = c.expect("PASS nope", 530);
    let d2 = t.elapsed();
    assert_eq!(wrong_pw, unknown);
    assert!(
        d1 >= Duration::from_millis(400) && d2 >= Duration::from_millis(400),
        "{d1:?} {d2:?}"
    );
    // Still usable afterwards.
    c.login(ALICE.0, ALICE.1);
}

#[test]
fn too_many_failed_logins_close_the_connection() {
    let srv = TestServer::builder()
        .user(ALICE.0, ALICE.1)
        .config(|c| c.auth_failure_delay_ms = 10)
        .start();
    let mut c = RawFtp::connect(srv.addr);
    for _ in 0..3 {
        c.expect("USER alice", 331);
        c.expect("PASS bad", 530);
    }
    assert!(c.is_closed());
}

#[test]
fn commands_before_login_are_refused_except_the_allowed_few() {
    let srv = TestServer::start();
    let mut c = RawFtp::connect(srv.addr);
    for cmd in [
        "PWD",
        "CWD /",
        "LIST",
        "RETR x",
        "STOR x",
        "MKD d",
        "PASV",
        "EPSV",
        "SIZE x",
        "DELE x",
        "SITE HELP",
        "STAT /",
    ] {
        c.expect(cmd, 530);
    }
    c.expect("PASS x", 503);
    c.expect("SYST", 215);
    c.expect("NOOP", 200);
    c.expect("FEAT", 211);
    c.expect("HELP", 214);
    c.expect("OPTS UTF8 ON", 200);
    c.expect("HOST localhost", 220);
    c.login(ALICE.0, ALICE.1);
    c.expect("HOST localhost", 503);
    c.expect("USER bob", 530);
}

#[test]
fn feat_lists_the_extensions() {
    let srv = TestServer::start();
    let mut c = RawFtp::connect(srv.addr);
    let r = c.expect("FEAT", 211);
    let text = r.text();
    for f in [
        "EPSV",
        "EPRT",
        "MDTM",
        "MFMT",
        "MLST type*;size*;modify*",
        "REST STREAM",
        "SIZE",
        "UTF8",
        "TVFS",
    ] {
        assert!(text.contains(f), "FEAT lacks {f}: {text}");
    }
    // RFC 2389: feature lines start with a space.
    assert!(r.lines[1..r.lines.len() - 1]
        .iter()
        .all(|l| l.starts_with(' ')));
}

#[test]
fn unknown_and_malformed_commands_get_standard_codes() {
    let srv = TestServer::start();
    let mut c = srv.login(ALICE);
    c.expect("FROB x", 500);
    c.expect("TYPE X", 501);
    c.expect("TYPE E", 504);
    c.expect("MODE B", 504);
    c.expect("MODE Z", 504);
    c.expect("MODE Q", 501);
    c.expect("STRU R", 504);
    c.expect("MODE S", 200);
    c.expect("STRU F", 200);
    c.expect("REST abc", 501);
    c.expect("PORT 1,2,3", 501);
    c.expect("EPRT |9|x|1|", 501);
    c.expect("RNTO x", 503);
    c.expect("ABOR", 225);
    c.expect("ACCT x", 202);
    c.expect("AUTH TLS", 502);
    c.send_raw(b"CWD \xc3\x28\r\n");
    assert_eq!(c.read_reply().code, 501);
    c.expect("NOOP", 200);
}

#[test]
fn overlong_line_is_refused_and_the_session_survives() {
    let srv = TestServer::start();
    let mut c = srv.login(ALICE);
    let mut big = vec![b'A'; 64 * 1024];
    big.extend_from_slice(b"\r\n");
    c.send_raw(&big);
    assert_eq!(c.read_reply().code, 500);
    c.expect("NOOP", 200);
    // A line of exactly the limit is still a command.
    let path = "x".repeat(4000);
    c.expect(&format!("SIZE {path}"), 550);
}

#[test]
fn pwd_cwd_cdup_and_quoting() {
    let srv = TestServer::start();
    std::fs::create_dir_all(srv.home("alice").join("a/b \"q\"")).unwrap();
    let mut c = srv.login(ALICE);
    assert_eq!(
        c.expect("PWD", 257).text(),
        "\"/\" is the current directory."
    );
    c.expect("CWD a", 250);
    c.expect("CWD b \"q\"", 250);
    assert_eq!(
        c.expect("XPWD", 257).text(),
        "\"/a/b \"\"q\"\"\" is the current directory."
    );
    c.expect("CDUP", 250);
    assert!(c.expect("PWD", 257).text().starts_with("\"/a\""));
    c.expect("XCUP", 250);
    c.expect("CDUP", 250);
    assert!(c.expect("PWD", 257).text().starts_with("\"/\""));
    c.expect("CWD nonexistent", 550);
    c.expect("XCWD /a", 250);
    c.expect("CWD ~", 250);
    assert!(c.expect("PWD", 257).text().starts_with("\"/\""));
}

#[test]
fn mkd_rmd_dele_rename() {
    let srv = TestServer::start();
    let mut c = srv.login(ALICE);
    assert_eq!(c.expect("MKD new dir", 257).text(), "\"/new dir\" created.");
    let exists = c.expect("MKD new dir", 550);
    assert!(exists.text().contains("exists"), "{exists:?}");
    c.expect("XMKD new dir/sub", 257);
    c.expect("RMD new dir", 550); // not empty
    c.expect("XRMD new dir/sub", 250);
    c.stor("new dir/f.txt", b"hello");
    c.expect("RNFR new dir/f.txt", 350);
    c.expect("RNTO g.txt", 250);
    assert_eq!(
        std::fs::read(srv.home("alice").join("g.txt")).unwrap(),
        b"hello"
    );
    c.expect("RNFR missing", 550);
    c.expect("RNTO x", 503);
    // RNFR must be followed directly by RNTO.
    c.expect("RNFR g.txt", 350);
    c.expect("NOOP", 200);
    c.expect("RNTO h.txt", 503);
    // A directory cannot move into itself.
    c.expect("RNFR new dir", 350);
    c.expect("RNTO new dir/inner", 550);
    c.expect("DELE g.txt", 250);
    c.expect("DELE g.txt", 550);
    c.expect("DELE new dir", 550);
    c.expect("RMD new dir", 250);
    c.expect("RMD /", 550);
    c.expect("DELE /", 550);
}

#[test]
fn cannot_remove_the_working_directory() {
    let srv = TestServer::start();
    std::fs::create_dir_all(srv.home("alice").join("d")).unwrap();
    let mut c = srv.login(ALICE);
    c.expect("CWD d", 250);
    c.expect("RMD /d", 550);
    c.expect("CWD /", 250);
    c.expect("RMD d", 250);
}

#[test]
fn size_mdtm_mfmt() {
    let srv = TestServer::start();
    let mut c = srv.login(ALICE);
    c.stor("f.bin", &random_bytes(12345, 1));
    assert_eq!(c.expect("SIZE f.bin", 213).text(), "12345");
    c.expect("SIZE nope", 550);
    c.expect("MKD d", 257);
    c.expect("SIZE d", 550);
    let r = c.expect("MFMT 20200102030405 f.bin", 213);
    assert_eq!(r.text(), "Modify=20200102030405; /f.bin");
    assert_eq!(c.expect("MDTM f.bin", 213).text(), "20200102030405");
    c.expect("MFMT 2020 f.bin", 501);
    c.expect("MFMT 20200102030405 nope", 550);
    c.expect("MDTM nope", 550);
}

#[test]
fn retr_and_stor_round_trip_binary_exactly() {
    let srv = TestServer::start();
    let mut c = srv.login(ALICE);
    let data = random_bytes(3 * 1024 * 1024 + 17, 7);
    c.expect("TYPE I", 200);
    c.stor("big.bin", &data);
    assert_eq!(
        std::fs::read(srv.home("alice").join("big.bin")).unwrap(),
        data
    );
    assert_eq!(c.retr("big.bin"), data);
    // Empty files too.
    c.stor("empty", b"");
    assert_eq!(c.retr("empty"), b"");
    let (_, r) = c.download("RETR nope");
    assert_eq!(r.code, 550);
    c.expect("MKD d", 257);
    let (_, r) = c.download("RETR d");
    assert_eq!(r.code, 550);
}

#[test]
fn transfer_without_port_or_pasv_is_refused() {
    let srv = TestServer::start();
    let mut c = srv.login(ALICE);
    c.expect("RETR x", 425);
    c.expect("LIST", 425);
    c.expect("STOR x", 425);
    assert!(
        !srv.home("alice").join("x").exists(),
        "a refused STOR must not create the file"
    );
}

#[test]
fn ascii_type_converts_line_endings_both_ways() {
    let srv = TestServer::start();
    let mut c = srv.login(ALICE);
    c.expect("TYPE A", 200);
    c.stor("t.txt", b"one\r\ntwo\r\nthree");
    assert_eq!(
        std::fs::read(srv.home("alice").join("t.txt")).unwrap(),
        b"one\ntwo\nthree"
    );
    assert_eq!(c.retr("t.txt"), b"one\r\ntwo\r\nthree");
    c.expect("TYPE I", 200);
    assert_eq!(c.retr("t.txt"), b"one\ntwo\nthree");
}

#[test]
fn appe_appends_and_stou_creates_a_unique_file() {
    let srv = TestServer::start();
    let mut c = srv.login(ALICE);
    assert_eq!(c.upload("APPE log", b"abc").code, 226);
    assert_eq!(c.upload("APPE log", b"def").code, 226);
    assert_eq!(
        std::fs::read(srv.home("alice").join("log")).unwrap(),
        b"abcdef"
    );
    let mut data = c.passive();
    let r = c.cmd("STOU");
    assert_eq!(r.code, 150);
    let name = r.text().strip_prefix("FILE: ").unwrap().to_owned();
    data.write_all(b"unique").unwrap();
    drop(data);
    let done = c.read_reply();
    assert_eq!(done.code, 226);
    assert!(done.text().contains(&name));
    assert_eq!(
        std::fs::read(srv.home("alice").join(&name)).unwrap(),
        b"unique"
    );
}

#[test]
fn rest_applies_to_the_next_transfer_only() {
    let srv = TestServer::start();
    let mut c = srv.login(ALICE);
    let data = random_bytes(100_000, 3);
    c.stor("f", &data);
    c.expect("REST 40000", 350);
    assert_eq!(c.retr("f"), &data[40000..]);
    // Cleared after use: the next RETR is whole.
    assert_eq!(c.retr("f"), data);
    // Cleared after a failed transfer command too.
    c.expect("REST 10", 350);
    c.expect("RETR missing", 425); // no data plan yet: refused, and REST is gone
    assert_eq!(c.retr("f"), data);
    // Beyond the end: refused.
    c.expect("REST 100001", 350);
    let (_, r) = c.download("RETR f");
    assert_eq!(r.code, 554);
    // REST at the exact end gives nothing.
    c.expect("REST 100000", 350);
    assert_eq!(c.retr("f"), b"");
}

#[test]
fn rest_then_stor_keeps_the_prefix_and_replaces_the_rest() {
    let srv = TestServer::start();
    let mut c = srv.login(ALICE);
    c.stor("f", b"0123456789");
    c.expect("REST 4", 350);
    assert_eq!(c.upload("STOR f", b"abc").code, 226);
    assert_eq!(
        std::fs::read(srv.home("alice").join("f")).unwrap(),
        b"0123abc"
    );
    c.expect("REST 50", 350);
    assert_eq!(c.upload("STOR f", b"x").code, 554);
    assert_eq!(
        std::fs::read(srv.home("alice").join("f")).unwrap(),
        b"0123abc"
    );
}

fn listing(c: &mut RawFtp, cmd: &str) -> String {
    let (data, r) = c.download(cmd);
    assert_eq!(r.code, 226, "{cmd}: {r:?}");
    String::from_utf8(data).unwrap()
}

#[test]
fn list_nlst_mlsd_mlst_stat() {
    let srv = TestServer::start();
    let home = srv.home("alice");
    std::fs::create_dir(home.join("sub")).unwrap();
    std::fs::write(home.join("文件 \"1\".txt"), b"12345").unwrap();
    std::fs::write(home.join("b.log"), b"x").unwrap();
    let mut c = srv.login(ALICE);
    let list = listing(&mut c, "LIST -la");
    assert!(list.ends_with("\r\n"));
    let line = list
        .lines()
        .find(|l| l.ends_with("文件 \"1\".txt"))
        .unwrap();
    assert!(line.starts_with("-rw"), "{line}");
    assert!(line.contains(" 5 "), "{line}");
    assert!(list
        .lines()
        .any(|l| l.starts_with('d') && l.ends_with(" sub")));
    assert_eq!(c.nlst(""), vec!["b.log", "sub", "文件 \"1\".txt"]);
    assert_eq!(c.nlst("*.txt"), vec!["文件 \"1\".txt"]);
    let one = listing(&mut c, "LIST b.log");
    assert_eq!(one.lines().count(), 1);
    let mlsd = listing(&mut c, "MLSD");
    let f = mlsd
        .lines()
        .find(|l| l.ends_with("; 文件 \"1\".txt"))
        .unwrap();
    assert!(f.starts_with("type=file;size=5;modify="), "{f}");
    assert!(mlsd
        .lines()
        .any(|l| l.starts_with("type=dir;") && l.ends_with("; sub")));
    let (_, r) = c.download("MLSD b.log");
    assert_eq!(r.code, 501);
    let (_, r) = c.download("LIST nope");
    assert_eq!(r.code, 550);
    let r = c.expect("MLST b.log", 250);
    assert!(r.lines[1].starts_with(" type=file;size=1;"), "{r:?}");
    assert!(r.lines[1].ends_with("; /b.log"));
    c.expect("MLST nope", 550);
    let r = c.expect("STAT /", 213);
    assert!(r.lines.iter().any(|l| l.ends_with(" sub")));
    let r = c.expect("STAT", 211);
    assert!(r.text().contains("alice"));
    // An empty directory lists as nothing, successfully.
    assert_eq!(listing(&mut c, "LIST sub"), "");
}

#[test]
fn utf8_names_round_trip() {
    let srv = TestServer::start();
    let mut c = srv.login(ALICE);
    for name in [
        "中文 名字.txt",
        "it's \"quoted\".bin",
        "  spaces  ",
        "ümlaut-ß.dat",
        "emoji 🚢",
    ] {
        c.stor(name, name.as_bytes());
        assert_eq!(c.retr(name), name.as_bytes());
        assert!(c.nlst("").contains(&name.to_owned()), "{name}");
        assert_eq!(
            std::fs::read(srv.home("alice").join(name)).unwrap(),
            name.as_bytes()
        );
    }
    assert_eq!(c.expect("MKD 目录", 257).text(), "\"/目录\" created.");
    c.expect("CWD 目录", 250);
    assert!(c.expect("PWD", 257).text().starts_with("\"/目录\""));
}

#[test]
fn pasv_port_and_eprt_data_connections() {
    let srv = TestServer::start();
    let mut c = srv.login(ALICE);
    c.stor("f", b"data!");
    // PASV
    let r = c.expect("PASV", 227);
    let addr = ferry_proto::hostport::parse_pasv_reply(&r.text()).unwrap();
    let mut data = std::net::TcpStream::connect(addr).unwrap();
    c.expect("RETR f", 150);
    let mut buf = Vec::new();
    std::io::Read::read_to_end(&mut data, &mut buf).unwrap();
    assert_eq!(c.read_reply().code, 226);
    assert_eq!(buf, b"data!");
    // PORT and EPRT: we listen, the server connects.
    for use_eprt in [false, true] {
        let l = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        let p = l.local_addr().unwrap().port();
        if use_eprt {
            c.expect(&format!("EPRT |1|127.0.0.1|{p}|"), 200);
        } else {
            c.expect(&format!("PORT 127,0,0,1,{},{}", p >> 8, p & 255), 200);
        }
        c.expect("RETR f", 150);
        let (mut s, _) = l.accept().unwrap();
        let mut buf = Vec::new();
        std::io::Read::read_to_end(&mut s, &mut buf).unwrap();
        assert_eq!(c.read_reply().code, 226);
        assert_eq!(buf, b"data!");
    }
}

#[test]
fn port_to_another_host_or_a_privileged_port_is_refused() {
    let srv = TestServer::start();
    let mut c = srv.login(ALICE);
    c.expect("PORT 10,0,0,1,200,0", 500);
    c.expect("PORT 127,0,0,1,0,25", 500);
    c.expect("EPRT |1|192.168.1.1|40000|", 500);
    c.expect("EPRT |1|127.0.0.1|21|", 500);
    // The refused PORT left no data plan behind.
    c.expect("RETR x", 425);
}

#[test]
fn passive_connection_from_a_foreign_address_is_refused_and_does_not_consume_the_transfer() {
    let srv = TestServer::start();
    let mut c = srv.login(ALICE);
    c.stor("f", b"payload");
    let r = c.expect("EPSV", 229);
    let port = ferry_proto::hostport::parse_epsv_reply(&r.text()).unwrap();
    // 127.0.0.2 is another address on the loopback interface: a "third party".
    let thief = std::net::TcpStream::connect_timeout(
        &"127.0.0.1:9".parse().unwrap(),
        Duration::from_millis(1),
    )
    .ok();
    drop(thief);
    let sock = socket_from("127.0.0.2", port);
    c.expect("RETR f", 150);
    if let Some(mut s) = sock {
        let mut buf = Vec::new();
        let _ = std::io::Read::read_to_end(&mut s, &mut buf);
        assert!(buf.is_empty(), "a foreign address received data");
    }
    let mut good = std::net::TcpStream::connect(("127.0.0.1", port)).unwrap();
    let mut buf = Vec::new();
    std::io::Read::read_to_end(&mut good, &mut buf).unwrap();
    assert_eq!(buf, b"payload");
    assert_eq!(c.read_reply().code, 226);
}

/// Connects to 127.0.0.1:port from source address `src` (None if the host cannot).
fn socket_from(src: &str, port: u16) -> Option<std::net::TcpStream> {
    let sock = tokio::net::TcpSocket::new_v4().ok()?;
    sock.bind(format!("{src}:0").parse().unwrap()).ok()?;
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .ok()?;
    let s = rt
        .block_on(sock.connect(format!("127.0.0.1:{port}").parse().unwrap()))
        .ok()?;
    s.into_std().ok().inspect(|s| {
        s.set_nonblocking(false).unwrap();
        s.set_read_timeout(Some(Duration::from_secs(5))).unwrap();
    })
}

#[test]
fn epsv_all_refuses_other_data_setup() {
    let srv = TestServer::start();
    let mut c = srv.login(ALICE);
    c.expect("EPSV ALL", 200);
    c.expect("PASV", 503);
    c.expect("PORT 127,0,0,1,200,0", 503);
    c.expect("EPRT |1|127.0.0.1|40000|", 503);
    c.expect("EPSV", 229);
    c.expect("EPSV 2", 522);
}

#[test]
fn rein_logs_out() {
    let srv = TestServer::start();
    let mut c = srv.login(ALICE);
    c.expect("REIN", 220);
    c.expect("PWD", 530);
    c.login(BOB.0, BOB.1);
    c.stor("bobs", b"1");
    assert!(srv.home("bob").join("bobs").exists());
}

#[test]
fn site_help_and_chmod() {
    let srv = TestServer::start();
    let mut c = srv.login(ALICE);
    c.stor("f", b"1");
    c.expect("SITE HELP", 214);
    c.expect("SITE CHMOD 600 f", 200);
    use std::os::unix::fs::PermissionsExt;
    assert_eq!(
        std::fs::metadata(srv.home("alice").join("f"))
            .unwrap()
            .permissions()
            .mode()
            & 0o7777,
        0o600
    );
    c.expect("SITE CHMOD 4755 f", 501);
    c.expect("SITE CHMOD 9 f", 501);
    c.expect("SITE FROB", 504);
}

#[test]
fn help_and_syst_and_opts() {
    let srv = TestServer::start();
    let mut c = srv.login(ALICE);
    assert!(c.expect("HELP", 214).text().contains("RETR"));
    c.expect("HELP RETR", 214);
    c.expect("HELP FROB", 502);
    assert_eq!(c.expect("SYST", 215).text(), "UNIX Type: L8");
    c.expect("OPTS MLST type;size;", 200);
    c.expect("OPTS FROB", 501);
    c.expect("ALLO 1000", 200);
}

#[test]
fn idle_and_login_timeouts_close_the_session() {
    let srv = TestServer::builder()
        .user(ALICE.0, ALICE.1)
        .config(|c| {
            c.idle_timeout = 1;
            c.login_timeout = 1;
        })
        .start();
    let mut idle = srv.login(ALICE);
    let mut never = RawFtp::connect(srv.addr);
    std::thread::sleep(Duration::from_millis(1500));
    assert_eq!(idle.try_read_reply().map(|r| r.code), Some(421));
    assert_eq!(never.try_read_reply().map(|r| r.code), Some(421));
    assert!(idle.is_closed());
}

#[test]
fn connection_caps_in_total_and_per_ip() {
    let srv = TestServer::builder()
        .user(ALICE.0, ALICE.1)
        .config(|c| {
            c.max_connections_per_ip = 2;
        })
        .start();
    let a = RawFtp::connect(srv.addr);
    let b = RawFtp::connect(srv.addr);
    let mut third = std::net::TcpStream::connect(srv.addr).unwrap();
    let mut s = String::new();
    std::io::Read::read_to_string(&mut third, &mut s).unwrap();
    assert!(s.starts_with("421"), "{s}");
    drop(a);
    drop(b);
    // Permits come back when sessions end.
    std::thread::sleep(Duration::from_millis(300));
    let mut c = RawFtp::connect(srv.addr);
    assert_eq!(c.greeting.code, 220);
    c.login(ALICE.0, ALICE.1);
}

#[test]
fn ipv6_control_and_data_with_epsv_and_eprt() {
    if std::net::TcpListener::bind("[::1]:0").is_err() {
        peer_missing::<()>("no IPv6 loopback (::1) on this machine");
        return;
    }
    let srv = TestServer::builder()
        .user(ALICE.0, ALICE.1)
        .listen("[::1]:0".parse().unwrap())
        .start();
    let mut c = RawFtp::connect(srv.addr);
    c.login(ALICE.0, ALICE.1);
    c.stor("v6", b"over ipv6");
    assert_eq!(c.retr("v6"), b"over ipv6");
    // PASV cannot describe an IPv6 address: a clean refusal, and the session goes on.
    c.expect("PASV", 522);
    c.expect("EPSV 1", 522);
    let l = std::net::TcpListener::bind("[::1]:0").unwrap();
    let p = l.local_addr().unwrap().port();
    c.expect(&format!("EPRT |2|::1|{p}|"), 200);
    c.expect("RETR v6", 150);
    let (mut s, _) = l.accept().unwrap();
    let mut buf = Vec::new();
    std::io::Read::read_to_end(&mut s, &mut buf).unwrap();
    assert_eq!(buf, b"over ipv6");
    assert_eq!(c.read_reply().code, 226);
}

#[test]
fn pipelined_commands_are_answered_in_order() {
    let srv = TestServer::start();
    let mut c = srv.login(ALICE);
    c.send_raw(b"NOOP\r\nPWD\r\nSYST\r\nMKD p\r\n");
    assert_eq!(c.read_reply().code, 200);
    assert_eq!(c.read_reply().code, 257);
    assert_eq!(c.read_reply().code, 215);
    assert_eq!(c.read_reply().code, 257);
}
