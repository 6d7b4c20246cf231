//! FTPS in the `ferry` binary against real Ferry servers: verified certificates (--ca-file)
//! over explicit and implicit TLS, trust on first use with pins in known_hosts, a changed
//! certificate refused, `--tls require` against a plain server, and data connections that
//! resume the control session (`tls_session_reuse = require`).
#![allow(clippy::unwrap_used)]

mod common;

use std::net::SocketAddr;
use std::process::Command;
use std::time::Duration;

use common::{Env, BIN};
use expectrl::Expect;
use ferry_server::tls::{load_certified_key, CertFiles};
use ferry_server::{SessionReuse, TlsMode};
use ferry_testkit::{random_bytes, sha256, sha256_file, TestServer, ALICE};

fn tls_server(mode: TlsMode, listen: Option<SocketAddr>) -> TestServer {
    let mut b = TestServer::builder().user(ALICE.0, ALICE.1).config(|c| {
        c.tls = Some(mode);
        c.implicit_tls_listen = Some("127.0.0.1:0".parse().unwrap());
    });
    if let Some(a) = listen {
        b = b.listen(a);
    }
    b.start()
}

/// The server's certificate fingerprint, as `ferryd tls show` prints it.
fn fingerprint(srv: &TestServer) -> String {
    let files = CertFiles {
        cert: srv.tls_cert_path(),
        key: srv.data_dir().join("tls").join("key.pem"),
    };
    load_certified_key(&files).unwrap().1.fingerprint
}

fn known_hosts(env: &Env) -> std::path::PathBuf {
    env.home
        .path()
        .join("config")
        .join("ferry")
        .join("known_hosts")
}

#[test]
fn verified_certificate_get_and_put_over_explicit_and_implicit_tls() {
    // Required: the server refuses clear logins and clear data, so success proves both are
    // encrypted.
    let srv = tls_server(TlsMode::Required, None);
    let env = Env::new();
    let ca = srv.tls_cert_path();
    let ca = ca.to_str().unwrap();
    let data = random_bytes(700_000, 7);
    std::fs::write(env.path("up.bin"), &data).unwrap();
    let explicit = format!("ftp://alice:secret@127.0.0.1:{}", srv.port());
    let implicit = format!(
        "ftps://alice:secret@127.0.0.1:{}",
        srv.implicit_tls_addr.unwrap().port()
    );
    for (base, name) in [(&explicit, "explicit.bin"), (&implicit, "implicit.bin")] {
        let r = env
            .run(&[
                "--tls",
                "require",
                "--ca-file",
                ca,
                "put",
                "up.bin",
                &format!("{base}/{name}"),
            ])
            .ok();
        assert!(r.stdout.contains("SHA-256 verified"), "{r:?}");
        assert!(!r.stderr.contains("not encrypted"), "{r:?}");
        assert_eq!(sha256_file(&srv.home("alice").join(name)), sha256(&data));
        let back = format!("back-{name}");
        let r = env
            .run(&["--ca-file", ca, "get", &format!("{base}/{name}"), &back])
            .ok();
        assert!(r.stdout.contains("SHA-256 verified"), "{r:?}");
        assert_eq!(sha256_file(&env.path(&back)), sha256(&data));
    }
    // A verified certificate is not pinned, but the host is remembered as speaking TLS
    // (explicit TLS only: an ftps:// URL never falls back anyway).
    let pins = std::fs::read_to_string(known_hosts(&env)).unwrap();
    assert_eq!(pins, format!("127.0.0.1:{} tls\n", srv.port()));
}

#[test]
fn a_host_that_spoke_tls_is_refused_in_plain_ftp_unless_tls_off() {
    // Two hosts that spoke TLS: one verified by --ca-file (remembered as `tls`), one pinned.
    let verified = tls_server(TlsMode::Optional, None);
    let pinned = tls_server(TlsMode::Optional, None);
    let env = Env::new();
    let ca = verified.tls_cert_path();
    env.run(&[
        "--ca-file",
        ca.to_str().unwrap(),
        "ls",
        &format!("ftp://alice:secret@{}/", verified.addr),
    ])
    .ok();
    env.run(&[
        "--trust-fingerprint",
        &fingerprint(&pinned),
        "ls",
        &format!("ftp://alice:secret@{}/", pinned.addr),
    ])
    .ok();
    // The same addresses now answer without TLS, as when someone in the middle strips the
    // AUTH TLS offer: refused before the password is sent, with why and what to do.
    let addrs = [verified.addr, pinned.addr];
    drop((verified, pinned));
    for addr in addrs {
        let plain = TestServer::builder()
            .user(ALICE.0, ALICE.1)
            .listen(addr)
            .config(|c| c.tls = Some(TlsMode::Off))
            .start();
        std::fs::write(plain.home("alice").join("f.txt"), b"clear").unwrap();
        let url = format!("ftp://alice:secret@{addr}/");
        let r = env.run(&["ls", &url]);
        assert_eq!(r.code, 7, "{r:?}");
        assert!(r.stderr.contains("spoke TLS before"), "{r:?}");
        assert!(r.stderr.contains("--tls off"), "{r:?}");
        assert!(!r.stdout.contains("f.txt"), "{r:?}");
        // The shell refuses too.
        let r = env.run_script(&[&url], "ls\n");
        assert_ne!(r.code, 0, "{r:?}");
        assert!(!r.stdout.contains("f.txt"), "{r:?}");
        // --tls off is the user saying plain FTP is meant.
        let r = env.run(&["--tls", "off", "ls", &url]).ok();
        assert!(r.stdout.contains("f.txt"), "{r:?}");
        // And saying it once does not forget the host.
        assert_eq!(env.run(&["ls", &url]).code, 7);
    }
    // A host never seen with TLS still falls back, with the note.
    let other = TestServer::start();
    let r = env
        .run(&["ls", &format!("ftp://alice:secret@{}/", other.addr)])
        .ok();
    assert!(r.stderr.contains("not encrypted"), "{r:?}");
}

#[test]
fn unknown_certificate_is_pinned_on_request_then_trusted_then_a_change_is_refused() {
    let srv = tls_server(TlsMode::Optional, None);
    let addr = srv.addr;
    let fp = fingerprint(&srv);
    let env = Env::new();
    let url = format!("ftp://alice:secret@{addr}/");

    // Not interactive and nothing pinned: refused, with the fingerprint and how to pin it.
    let r = env.run(&["ls", &url]);
    assert_eq!(r.code, 7, "{r:?}");
    assert!(r.stderr.contains(&fp), "{r:?}");
    assert!(r.stderr.contains("--trust-fingerprint"), "{r:?}");
    assert!(!known_hosts(&env).exists());

    // A wrong fingerprint is refused too.
    let wrong = "AB:".repeat(31) + "AB";
    let r = env.run(&["--trust-fingerprint", &wrong, "ls", &url]);
    assert_eq!(r.code, 7, "{r:?}");

    // The right one (typed in lower case, without colons) is accepted and pinned.
    let typed = fp.replace(':', "").to_lowercase();
    let r = env.run(&["--trust-fingerprint", &typed, "ls", &url]).ok();
    assert!(r.stderr.contains("pinned"), "{r:?}");
    let pins = std::fs::read_to_string(known_hosts(&env)).unwrap();
    assert_eq!(pins.trim(), format!("127.0.0.1:{} {fp}", addr.port()));

    // Later runs trust the pin silently.
    std::fs::write(srv.home("alice").join("f.txt"), b"pinned").unwrap();
    let r = env.run(&["get", &format!("{url}f.txt")]).ok();
    assert!(r.stderr.is_empty(), "{r:?}");
    assert_eq!(std::fs::read(env.path("f.txt")).unwrap(), b"pinned");

    // Another server (so another certificate) on the same address: refused, loudly.
    drop(srv);
    let other = tls_server(TlsMode::Optional, Some(addr));
    let new_fp = fingerprint(&other);
    assert_ne!(new_fp, fp);
    let r = env.run(&["ls", &url]);
    assert_eq!(r.code, 7, "{r:?}");
    assert!(r.stderr.contains("CHANGED"), "{r:?}");
    assert!(
        r.stderr.contains(&fp) && r.stderr.contains(&new_fp),
        "{r:?}"
    );
    // The pin is untouched.
    let pins = std::fs::read_to_string(known_hosts(&env)).unwrap();
    assert!(pins.contains(&fp), "{pins}");
}

#[test]
fn interactive_acceptance_pins_the_certificate() {
    let srv = tls_server(TlsMode::Optional, None);
    let fp = fingerprint(&srv);
    let env = Env::new();
    let url = format!("ftp://alice:secret@{}/", srv.addr);
    let run = |answer: &str| {
        let mut cmd = Command::new(BIN);
        cmd.args(["ls", &url])
            .current_dir(env.work.path())
            .env("HOME", env.home.path())
            .env("XDG_CONFIG_HOME", env.home.path().join("config"))
            .env("TERM", "xterm")
            .env_remove("FERRY_PASSWORD");
        let mut p = expectrl::Session::spawn(cmd).unwrap();
        p.set_expect_timeout(Some(Duration::from_secs(10)));
        p.expect(fp.as_str()).unwrap();
        p.expect("[y/N]").unwrap();
        p.send_line(answer).unwrap();
        p.expect(expectrl::Eof).unwrap();
    };
    run("n");
    assert!(!known_hosts(&env).exists(), "refused: nothing pinned");
    run("y");
    let pins = std::fs::read_to_string(known_hosts(&env)).unwrap();
    assert!(pins.contains(&fp), "{pins}");
    // Trusted from now on, without a terminal.
    env.run(&["ls", &url]).ok();
}

#[test]
fn tls_require_refuses_a_server_without_tls() {
    let srv = TestServer::start();
    let env = Env::new();
    let r = env.run(&[
        "--tls",
        "require",
        "ls",
        &format!("ftp://alice:secret@{}/", srv.addr),
    ]);
    assert_eq!(r.code, 7, "{r:?}");
    assert!(r.stderr.contains("does not offer TLS"), "{r:?}");
    // auto goes on in clear, and says so.
    let r = env
        .run(&["ls", &format!("ftp://alice:secret@{}/", srv.addr)])
        .ok();
    assert!(r.stderr.contains("not encrypted"), "{r:?}");
    // Insecure warns loudly whenever TLS is in play.
    let tls = tls_server(TlsMode::Optional, None);
    let r = env
        .run(&[
            "--insecure",
            "ls",
            &format!("ftp://alice:secret@{}/", tls.addr),
        ])
        .ok();
    assert!(r.stderr.contains("WARNING"), "{r:?}");
}

#[test]
fn data_connections_resume_the_control_session_when_the_server_requires_it() {
    let srv = TestServer::builder()
        .user(ALICE.0, ALICE.1)
        .config(|c| {
            c.tls = Some(TlsMode::Required);
            c.tls_session_reuse = SessionReuse::Require;
        })
        .start();
    let env = Env::new();
    let ca = srv.tls_cert_path();
    let dir = env.path("tree");
    std::fs::create_dir(&dir).unwrap();
    // Several uploads in a row in one session, then downloads and listings.
    for i in 0..5 {
        std::fs::write(
            dir.join(format!("f{i}.bin")),
            random_bytes(50_000 + i, i as u64),
        )
        .unwrap();
    }
    let base = format!("ftp://alice:secret@{}", srv.addr);
    env.run(&[
        "--ca-file",
        ca.to_str().unwrap(),
        "put",
        "-r",
        "tree",
        &format!("{base}/"),
    ])
    .ok();
    let r = env
        .run(&[
            "--ca-file",
            ca.to_str().unwrap(),
            "get",
            "-r",
            &format!("{base}/tree"),
            "copy",
        ])
        .ok();
    assert!(r.stdout.contains("5 files"), "{r:?}");
    for i in 0..5 {
        let name = format!("f{i}.bin");
        assert_eq!(
            sha256_file(&env.path("copy").join(&name)),
            sha256_file(&dir.join(&name))
        );
    }
}
