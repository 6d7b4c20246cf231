//! `ferry register` (SITE REGISTER, over TLS when the server has it) and `ferry site exec`
//! against real Ferry servers.
#![allow(clippy::unwrap_used)]

mod common;

use common::Env;
use ferry_server::{ExecCommand, RegistrationMode, TlsMode};
use ferry_testkit::{TestServer, ALICE, BOB};

fn registration_server(mode: RegistrationMode) -> TestServer {
    TestServer::builder()
        .user(ALICE.0, ALICE.1)
        .config(|c| {
            c.registration = mode;
            c.tls = Some(TlsMode::Optional);
        })
        .start()
}

fn invite(srv: &TestServer) -> String {
    srv.with_store(async |store: &ferry_store::Store| {
        store.create_invite(None, 1, None).await.unwrap().1
    })
}

#[test]
fn register_with_an_invitation_creates_the_account_over_tls() {
    let srv = registration_server(RegistrationMode::Invite);
    let token = invite(&srv);
    let env = Env::new();
    let ca = srv.tls_cert_path();
    let url = format!("ftp://127.0.0.1:{}", srv.port());
    let mut cmd = env.command(&[
        "--ca-file",
        ca.to_str().unwrap(),
        "register",
        &url,
        "--user",
        "carol",
        "--invite",
        &token,
    ]);
    cmd.env("FERRY_PASSWORD", "carol's long password");
    let r = env.run_cmd(cmd).ok();
    assert!(r.stdout.contains("Registered carol"), "{r:?}");
    // The account works for a normal login.
    srv.login(("carol", "carol's long password"));
    // The invitation is used up now.
    let mut cmd = env.command(&[
        "--ca-file",
        ca.to_str().unwrap(),
        "register",
        &format!("ftp://dave@127.0.0.1:{}", srv.port()),
        "--invite",
        &token,
    ]);
    cmd.env("FERRY_PASSWORD", "dave's long password");
    let r = env.run_cmd(cmd);
    assert_eq!(r.code, 3, "{r:?}");
    assert!(r.stderr.contains("registration refused"), "{r:?}");
}

#[test]
fn open_registration_over_implicit_tls_then_ordinary_use() {
    let srv = TestServer::builder()
        .config(|c| {
            c.registration = RegistrationMode::Open;
            c.tls = Some(TlsMode::Optional);
            c.implicit_tls_listen = Some("127.0.0.1:0".parse().unwrap());
        })
        .start();
    let env = Env::new();
    let ca = srv.tls_cert_path();
    let ca = ca.to_str().unwrap();
    let url = format!(
        "ftps://erin@127.0.0.1:{}",
        srv.implicit_tls_addr.unwrap().port()
    );
    let mut cmd = env.command(&["--ca-file", ca, "register", &url]);
    cmd.env("FERRY_PASSWORD", "erin's long password");
    env.run_cmd(cmd).ok();
    let mut cmd = env.command(&["--ca-file", ca, "mkdir", &format!("{url}/made")]);
    cmd.env("FERRY_PASSWORD", "erin's long password");
    env.run_cmd(cmd).ok();
    assert!(srv.home("erin").join("made").is_dir());
    // Without a name: a usage error before anything is sent.
    let r = env.run(&["register", &format!("ftp://127.0.0.1:{}", srv.port())]);
    assert_eq!(r.code, 2, "{r:?}");
}

fn exec_server() -> TestServer {
    let cmd = |argv: &[&str], args: &[&str]| ExecCommand {
        argv: argv.iter().map(|s| s.to_string()).collect(),
        args: args.iter().map(|s| s.to_string()).collect(),
        users: vec!["alice".into()],
        timeout: 5,
        output_cap: 65536,
    };
    TestServer::builder()
        .user(ALICE.0, ALICE.1)
        .user(BOB.0, BOB.1)
        .config(|c| {
            let cmds = &mut c.site_exec.commands;
            cmds.insert("greet".into(), cmd(&["echo", "hello"], &[".*", ".*"]));
            cmds.insert("fail".into(), cmd(&["false"], &[]));
            cmds.insert("here".into(), cmd(&["pwd"], &[]));
        })
        .start()
}

#[test]
fn site_exec_prints_the_output_and_passes_the_exit_status_on() {
    let srv = exec_server();
    std::fs::create_dir(srv.home("alice").join("sub")).unwrap();
    let env = Env::new();
    let base = format!("ftp://alice:secret@{}", srv.addr);
    let r = env.run(&["site", "exec", &base, "greet"]).ok();
    assert_eq!(r.stdout, "hello\n");
    let r = env
        .run(&["site", "exec", &base, "greet", "big", "world"])
        .ok();
    assert_eq!(r.stdout, "hello big world\n");
    // The URL's directory is the command's working directory.
    let r = env
        .run(&["site", "exec", &format!("{base}/sub"), "here"])
        .ok();
    assert!(r.stdout.trim_end().ends_with("/sub"), "{r:?}");
    // A command that fails: exit 1, the status on stderr.
    let r = env.run(&["site", "exec", &base, "fail"]);
    assert_eq!(r.code, 1, "{r:?}");
    assert!(r.stderr.contains("Exit code 1"), "{r:?}");
    // Not allowed for bob: refused by the server (550: exit 4).
    let r = env.run(&[
        "site",
        "exec",
        &format!("ftp://bob:hunter2@{}", srv.addr),
        "greet",
    ]);
    assert_eq!(r.code, 4, "{r:?}");
}
