//! Self-registration (SITE REGISTER) and restricted commands (SITE EXEC) over real sockets.
#![allow(clippy::unwrap_used)]

use std::time::{Duration, Instant};

use ferry_server::{ExecCommand, RegistrationMode, TlsMode};
use ferry_testkit::{RawFtp, TestServer, ALICE, BOB};

const MIB: u64 = 1 << 20;

fn registration_server(mode: RegistrationMode, ban_after_failures: u32) -> TestServer {
    TestServer::builder()
        .user(ALICE.0, ALICE.1)
        .config(|c| {
            c.registration = mode;
            c.default_quota = Some(MIB);
            c.ban_after_failures = ban_after_failures;
        })
        .start()
}

fn invite(srv: &TestServer, quota: Option<u64>, uses: u64, expires_in: i64) -> String {
    srv.with_store(async |store: &ferry_store::Store| {
        let now = std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .unwrap()
            .as_secs() as i64;
        store
            .create_invite(quota, uses, Some(now + expires_in))
            .await
            .unwrap()
            .1
    })
}

#[test]
fn registration_is_off_by_default() {
    let srv = TestServer::start();
    let mut c = RawFtp::connect(srv.addr);
    let r = c.expect("SITE REGISTER carol", 530);
    assert!(r.text().contains("disabled"), "{r:?}");
    c.expect("SITE HELP", 530); // other SITE commands still need a login
}

#[test]
fn open_registration_creates_the_user_logs_them_in_and_applies_the_default_quota() {
    let srv = registration_server(RegistrationMode::Open, 100);
    let mut c = RawFtp::connect(srv.addr);
    c.expect("SITE REGISTER carol", 331);
    c.expect("PASS short", 530);
    c.expect("SITE REGISTER carol", 331);
    let r = c.expect("PASS long enough password", 230);
    assert!(r.text().contains("Registered"), "{r:?}");
    c.stor("hello.txt", b"hi");
    assert!(srv.home("carol").join("hello.txt").exists(), "home created");
    c.expect(&format!("ALLO {}", 2 * MIB), 552);
    // The account works for a normal login afterwards.
    let mut again = RawFtp::connect(srv.addr);
    again.login("carol", "long enough password");
    // Names: taken, reserved, malformed.
    let mut c = RawFtp::connect(srv.addr);
    c.expect("SITE REGISTER carol", 550);
    c.expect("SITE REGISTER alice", 550);
    c.expect("SITE REGISTER root", 550);
    let mut c = RawFtp::connect(srv.addr);
    c.expect("SITE REGISTER Alice", 550);
}

#[test]
fn invitations_grant_their_quota_and_are_used_up_expire_and_refuse_bad_tokens() {
    let srv = registration_server(RegistrationMode::Invite, 100);
    let good = invite(&srv, Some(5 * MIB), 1, 3600);
    let expired = invite(&srv, None, 5, -10);
    let mut c = RawFtp::connect(srv.addr);
    c.expect("SITE REGISTER dave", 530); // a token is required
    c.expect("SITE REGISTER dave 00000000000000000000000000000000", 530);
    c.expect(&format!("SITE REGISTER dave {expired}"), 530);
    let mut c = RawFtp::connect(srv.addr);
    c.expect(&format!("SITE REGISTER dave {good}"), 331);
    c.expect("PASS dave's password", 230);
    c.expect(&format!("ALLO {}", 5 * MIB), 200);
    c.expect(&format!("ALLO {}", 5 * MIB + 1), 552);
    let mut c = RawFtp::connect(srv.addr);
    c.expect(&format!("SITE REGISTER erin {good}"), 530); // used up
}

#[test]
fn registration_needs_tls_when_the_server_has_it_unless_allowed() {
    let srv = TestServer::builder()
        .config(|c| {
            c.registration = RegistrationMode::Open;
            c.tls = Some(TlsMode::Optional);
        })
        .start();
    let mut c = RawFtp::connect(srv.addr);
    let r = c.expect("SITE REGISTER frank", 530);
    assert!(r.text().contains("TLS"), "{r:?}");
    let srv = TestServer::builder()
        .config(|c| {
            c.registration = RegistrationMode::Open;
            c.tls = Some(TlsMode::Optional);
            c.registration_allow_plaintext = true;
        })
        .start();
    let mut c = RawFtp::connect(srv.addr);
    c.expect("SITE REGISTER frank", 331);
}

#[test]
fn repeated_failures_ban_the_address_for_logins_and_registrations() {
    let srv = registration_server(RegistrationMode::Invite, 4);
    let mut c = RawFtp::connect(srv.addr);
    for _ in 0..3 {
        c.expect("SITE REGISTER gina badtoken", 530);
    }
    // The fourth failure (a login this time) bans the address.
    c.expect("USER alice", 331);
    c.expect("PASS wrong", 421);
    let again = RawFtp::connect(srv.addr);
    assert_eq!(again.greeting.code, 421);
}

fn exec_server() -> TestServer {
    let cmd = |argv: &[&str], args: &[&str], users: &[&str], timeout: u64, cap: u64| ExecCommand {
        argv: argv.iter().map(|s| s.to_string()).collect(),
        args: args.iter().map(|s| s.to_string()).collect(),
        users: users.iter().map(|s| s.to_string()).collect(),
        timeout,
        output_cap: cap,
    };
    TestServer::builder()
        .user(ALICE.0, ALICE.1)
        .user(BOB.0, BOB.1)
        .config(|c| {
            let cmds = &mut c.site_exec.commands;
            cmds.insert(
                "greet".into(),
                cmd(&["echo", "hello"], &[".*"], &["alice"], 5, 65536),
            );
            cmds.insert("word".into(), cmd(&["echo"], &["[a-z]+"], &["*"], 5, 65536));
            cmds.insert("here".into(), cmd(&["pwd"], &[], &["*"], 5, 65536));
            cmds.insert("env".into(), cmd(&["env"], &[], &["*"], 5, 65536));
            cmds.insert("slow".into(), cmd(&["sleep", "30"], &[], &["*"], 1, 65536));
            cmds.insert(
                "lots".into(),
                cmd(&["seq", "1", "100000"], &[], &["*"], 5, 1000),
            );
        })
        .start()
}

#[test]
fn site_exec_runs_listed_commands_without_a_shell() {
    let srv = exec_server();
    let mut c = srv.login(ALICE);
    let r = c.expect("SITE EXEC greet", 200);
    assert_eq!(r.lines, vec!["Output of greet:", " hello", "Exit code 0."]);
    // Shell metacharacters are plain arguments: nothing is expanded or chained.
    let r = c.expect("SITE EXEC greet $(id);ls|cat", 200);
    assert_eq!(r.lines[1], " hello $(id);ls|cat");
    // An empty environment, but for a fixed PATH (and LANG).
    let r = c.expect("SITE EXEC env", 200);
    let vars: Vec<&str> = r.lines[1..r.lines.len() - 1]
        .iter()
        .map(|l| l.trim().split('=').next().unwrap())
        .collect();
    assert!(
        vars.iter().all(|v| *v == "PATH" || *v == "LANG"),
        "{vars:?}"
    );
    let help = c.expect("SITE HELP", 214).text();
    assert!(
        help.contains("EXEC greet") && help.contains("EXEC here"),
        "{help}"
    );
}

#[test]
fn site_exec_refuses_unknown_commands_other_users_and_bad_arguments() {
    let srv = exec_server();
    let mut bob = srv.login(BOB);
    bob.expect("SITE EXEC greet", 550);
    assert!(!bob.expect("SITE HELP", 214).text().contains("greet"));
    bob.expect("SITE EXEC nope", 550);
    bob.expect("SITE EXEC word UPPER", 550);
    bob.expect("SITE EXEC word a;b", 550);
    bob.expect("SITE EXEC word two words", 550);
    bob.expect("SITE EXEC here extra", 550);
    assert_eq!(bob.expect("SITE EXEC word fine", 200).lines[1], " fine");
}

#[test]
fn site_exec_runs_in_the_working_directory_inside_the_jail() {
    let srv = exec_server();
    std::fs::create_dir(srv.home("alice").join("sub")).unwrap();
    let mut c = srv.login(ALICE);
    c.expect("CWD sub", 250);
    let r = c.expect("SITE EXEC here", 200);
    let want = std::fs::canonicalize(srv.home("alice").join("sub")).unwrap();
    assert_eq!(r.lines[1].trim(), want.to_str().unwrap());
}

#[test]
fn site_exec_kills_on_timeout_and_caps_output() {
    let srv = exec_server();
    let mut c = srv.login(ALICE);
    let t = Instant::now();
    let r = c.expect("SITE EXEC slow", 200);
    assert!(r.text().contains("timeout"), "{r:?}");
    assert!(t.elapsed() < Duration::from_secs(10));
    // The sleep is gone (its process group was killed).
    std::thread::sleep(Duration::from_millis(200));
    let still = std::process::Command::new("pgrep")
        .args(["-x", "-f", "sleep 30"])
        .output()
        .unwrap();
    assert!(still.stdout.is_empty(), "sleep 30 still running");
    let r = c.expect("SITE EXEC lots", 200);
    let text = r.text();
    assert!(text.contains("output cut at 1000 bytes"), "{text}");
    assert!(text.len() < 3000, "{}", text.len());
    c.expect("NOOP", 200);
}

/// The `[site_exec]` section of ferry.toml.example, uncommented.
fn example_site_exec() -> ferry_server::ServerConfig {
    let example = include_str!("../../../ferry.toml.example");
    let start = example.find("# [site_exec]").unwrap();
    let section: String = example[start..]
        .lines()
        .take_while(|l| l.starts_with('#'))
        .filter_map(|l| l.strip_prefix("# "))
        .filter(|l| l.starts_with('[') || l.contains(" = "))
        .map(|l| format!("{l}\n"))
        .collect();
    ferry_server::ServerConfig::from_toml_and_env(&section, Vec::new()).unwrap()
}

#[test]
fn site_exec_refuses_options_where_the_pattern_does_not_start_with_a_dash() {
    let example = example_site_exec();
    let ping = example.site_exec.commands.get("ping").unwrap().clone();
    assert_eq!(ping.argv.last().map(String::as_str), Some("--"), "{ping:?}");
    let srv = TestServer::builder()
        .user(ALICE.0, ALICE.1)
        .config(move |c| {
            // The example's patterns and users, with echo for ping (not installed
            // everywhere, and a test must not ping): the output shows the argv it would run.
            let mut cmd = ping.clone();
            cmd.argv[0] = "echo".into();
            c.site_exec.commands.insert("ping".into(), cmd);
            let mut opt = ping;
            opt.argv = vec!["echo".into()];
            opt.args = vec!["-[a-z]".into()];
            c.site_exec.commands.insert("opt".into(), opt);
        })
        .start();
    let mut c = srv.login(ALICE);
    // The flood, the huge packet and the fast interval of issue 19: all match
    // [a-z0-9.-]{1,253}, all are options.
    for flood in ["-f", "-s65000", "-i0.2", "--flood", "-"] {
        let r = c.expect(&format!("SITE EXEC ping {flood}"), 550);
        assert!(r.text().contains("options are not allowed"), "{r:?}");
    }
    // A host name is fine, and lands after "--".
    let r = c.expect("SITE EXEC ping example.org", 200);
    assert_eq!(r.lines[1], " -c 3 -- example.org", "{r:?}");
    // A pattern starting with "-" allows an option on purpose, still matched whole.
    assert_eq!(c.expect("SITE EXEC opt -v", 200).lines[1], " -v");
    c.expect("SITE EXEC opt -vv", 550);
}
