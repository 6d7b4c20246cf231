#![allow(clippy::unwrap_used)]
//! End-to-end tests of the `ferryd` binary: the `user` admin commands, `serve` with real FTP
//! logins over TCP, graceful shutdown on SIGTERM, and configuration precedence
//! (flag > environment > ferry.toml > default).
//!
//! Every test works in its own temporary directory, picks its ports from the OS, clears any
//! `FERRY_*` variables from the child's environment, bounds every wait, and kills the servers
//! it starts (see [`Server`]'s `Drop`). The helpers are in common/mod.rs.

mod common;

use std::fs::File;
use std::io::{BufRead, BufReader, Write};
use std::net::{SocketAddr, TcpStream};
use std::process::{Child, Command, Stdio};
use std::thread::sleep;
use std::time::{Duration, Instant};

use common::*;

// ---------------------------------------------------------------------------------------------
// 1. user add / list / show

#[test]
fn user_add_then_list_and_show() {
    let env = Env::new();
    let out = env.add_user("alice", "s3cret pass", &[]);
    assert!(out.contains("user alice added"), "{out}");

    let list = env.list();
    let header = list.lines().next().unwrap();
    assert!(header.starts_with("NAME"), "{list}");
    let row = list_row(&list, "alice").unwrap_or_else(|| panic!("alice not listed:\n{list}"));
    assert_eq!(row[1], "yes", "{list}");

    let default_home = env.data().join("homes").join("alice");
    let show = env.show("alice");
    assert_eq!(field(&show, "name"), "alice");
    assert_eq!(field(&show, "enabled"), "yes");
    assert_eq!(field(&show, "home"), default_home.to_str().unwrap());
    assert_eq!(field(&show, "quota"), "unlimited");
    assert_eq!(field(&show, "quota files"), "unlimited");
    assert!(field(&show, "used").starts_with("0 B"), "{show}");
    assert!(default_home.is_dir(), "home {default_home:?} not created");
}

#[test]
fn user_add_with_quota_and_home() {
    let env = Env::new();
    let home = env.root().join("elsewhere").join("bob");
    env.add_user(
        "bob",
        "pw",
        &[
            "--quota",
            "10MiB",
            "--home",
            home.to_str().unwrap(),
            "--quota-files",
            "7",
        ],
    );
    let show = env.show("bob");
    assert_eq!(field(&show, "quota"), "10.0 MiB", "{show}");
    assert_eq!(field(&show, "quota files"), "7", "{show}");
    assert_eq!(field(&show, "home"), home.to_str().unwrap(), "{show}");
    assert!(home.is_dir(), "custom home not created");
    assert!(
        !env.data().join("homes").join("bob").exists(),
        "default home created although --home was given"
    );

    let list = env.list();
    let row = list_row(&list, "bob").unwrap_or_else(|| panic!("bob not listed:\n{list}"));
    assert_eq!(row.last().unwrap(), home.to_str().unwrap(), "{list}");
    assert!(list.contains("10.0 MiB"), "{list}");
}

#[test]
fn user_add_relative_home_is_made_absolute() {
    let env = Env::new();
    // The command runs with the temp dir as its working directory.
    env.add_user("carol", "pw", &["--home", "rel/carol"]);
    let show = env.show("carol");
    let expected = env.root().join("rel").join("carol");
    assert_eq!(field(&show, "home"), expected.to_str().unwrap(), "{show}");
    assert!(expected.is_dir());
}

#[test]
fn default_quota_comes_from_config_file_then_env() {
    let env = Env::new();
    env.write_config("default_quota = \"5MiB\"\n");
    env.add_user("dave", "pw", &[]);
    assert_eq!(field(&env.show("dave"), "quota"), "5.0 MiB");

    let out = env.run_with(
        &["user", "add", "erin", "--password-stdin"],
        Some("pw\n"),
        &[("FERRY_DEFAULT_QUOTA", "2G")],
    );
    assert!(out.status.success(), "{out:?}");
    assert_eq!(field(&env.show("erin"), "quota"), "2.0 GiB");

    // An explicit --quota beats both.
    env.add_user("frank", "pw", &["--quota", "unlimited"]);
    assert_eq!(field(&env.show("frank"), "quota"), "unlimited");
}

#[test]
fn user_add_twice_fails_clearly() {
    let env = Env::new();
    env.add_user("alice", "first", &[]);
    let err = env.fails(
        &["user", "add", "alice", "--password-stdin"],
        Some("second\n"),
    );
    assert!(err.contains("already exists"), "{err}");
    assert!(err.contains("alice"), "{err}");
    // Still exactly one alice.
    let list = env.list();
    assert_eq!(
        list.lines().filter(|l| l.starts_with("alice ")).count(),
        1,
        "{list}"
    );
}

#[test]
fn user_add_refuses_invalid_names() {
    let env = Env::new();
    for bad in ["Alice", "../x", "-x", ".hidden", "a b", ""] {
        // `--` so that names starting with '-' reach ferryd's own validation, not clap's.
        let err = env.fails(
            &["user", "add", "--password-stdin", "--", bad],
            Some("pw\n"),
        );
        assert!(err.contains("invalid user name"), "{bad:?}: {err}");
    }
    // Without `--`, `-x` is refused too (as an unknown flag).
    env.fails(&["user", "add", "-x", "--password-stdin"], Some("pw\n"));

    let list = env.list();
    assert_eq!(list.lines().count(), 1, "only the header expected:\n{list}");
    assert!(!env.data().join("x").exists(), "../x created a directory");
    assert!(!env.data().join("homes").join("Alice").exists());
}

#[test]
fn user_add_refuses_empty_password() {
    let env = Env::new();
    let err = env.fails(&["user", "add", "alice", "--password-stdin"], Some("\n"));
    assert!(err.contains("empty password"), "{err}");
    env.fails(&["user", "add", "alice", "--password-stdin"], None);
    env.fails(&["user", "show", "alice"], None);
}

// ---------------------------------------------------------------------------------------------
// 2. user set / del / passwd

#[test]
fn user_set_changes_are_shown() {
    let env = Env::new();
    env.add_user("alice", "pw", &["--quota", "10MiB"]);

    let out = env.ok(&["user", "set", "alice", "--quota", "1G"], None);
    assert!(out.contains("alice"), "{out}");
    let show = env.show("alice");
    assert_eq!(field(&show, "quota"), "1.0 GiB", "{show}");
    assert_eq!(
        field(&show, "enabled"),
        "yes",
        "set --quota changed enabled"
    );

    env.ok(&["user", "set", "alice", "--disable"], None);
    let show = env.show("alice");
    assert_eq!(field(&show, "enabled"), "no", "{show}");
    assert_eq!(
        field(&show, "quota"),
        "1.0 GiB",
        "set --disable changed quota"
    );
    let list = env.list();
    assert_eq!(list_row(&list, "alice").unwrap()[1], "no", "{list}");

    env.ok(&["user", "set", "alice", "--enable"], None);
    assert_eq!(field(&env.show("alice"), "enabled"), "yes");

    let home = env.root().join("new-home");
    env.ok(
        &["user", "set", "alice", "--home", home.to_str().unwrap()],
        None,
    );
    let show = env.show("alice");
    assert_eq!(field(&show, "home"), home.to_str().unwrap(), "{show}");

    env.ok(&["user", "set", "alice", "--home", "default"], None);
    let default_home = env.data().join("homes").join("alice");
    assert_eq!(
        field(&env.show("alice"), "home"),
        default_home.to_str().unwrap()
    );

    env.ok(&["user", "set", "alice", "--quota", "unlimited"], None);
    assert_eq!(field(&env.show("alice"), "quota"), "unlimited");

    env.ok(&["user", "set", "alice", "--quota-files", "3"], None);
    assert_eq!(field(&env.show("alice"), "quota files"), "3");
    env.ok(
        &["user", "set", "alice", "--quota-files", "unlimited"],
        None,
    );
    assert_eq!(field(&env.show("alice"), "quota files"), "unlimited");
}

#[test]
fn user_set_refuses_bad_input() {
    let env = Env::new();
    env.add_user("alice", "pw", &[]);
    let err = env.fails(&["user", "set", "nobody", "--quota", "1G"], None);
    assert!(err.contains("no such user"), "{err}");
    let err = env.fails(&["user", "set", "alice", "--quota", "12 parsecs"], None);
    assert!(err.contains("parsecs"), "{err}");
    env.fails(&["user", "set", "alice", "--enable", "--disable"], None);
    env.fails(&["user", "set", "alice", "--quota-files", "lots"], None);
    // Nothing changed.
    let show = env.show("alice");
    assert_eq!(field(&show, "quota"), "unlimited");
    assert_eq!(field(&show, "enabled"), "yes");
}

#[test]
fn user_del_removes_the_user() {
    let env = Env::new();
    env.add_user("alice", "pw", &[]);
    env.add_user("bob", "pw", &[]);
    let out = env.ok(&["user", "del", "alice"], None);
    assert!(out.contains("alice deleted"), "{out}");

    let err = env.fails(&["user", "show", "alice"], None);
    assert!(err.contains("no such user"), "{err}");
    let list = env.list();
    assert!(list_row(&list, "alice").is_none(), "{list}");
    assert!(
        list_row(&list, "bob").is_some(),
        "deleting alice removed bob:\n{list}"
    );
    // Files stay on disk, as promised.
    assert!(env.data().join("homes").join("alice").is_dir());

    let err = env.fails(&["user", "del", "alice"], None);
    assert!(err.contains("no such user"), "{err}");
    let err = env.fails(
        &["user", "passwd", "alice", "--password-stdin"],
        Some("x\n"),
    );
    assert!(err.contains("no such user"), "{err}");

    // The name is free again.
    env.add_user("alice", "again", &[]);
    env.show("alice");
}

// ---------------------------------------------------------------------------------------------
// 3. serve: logins, admin changes while running, SIGTERM

#[test]
fn serve_logins_follow_admin_changes() {
    let env = Env::new();
    env.add_user("alice", "old-password", &[]);
    env.add_user("bob", "bobs-password", &[]);
    let server = env.serve(&[], &[]);
    assert!(
        server.greeting.starts_with("220 "),
        "greeting {:?}",
        server.greeting
    );

    assert_eq!(server.login_code("alice", "old-password"), 230);
    assert_eq!(server.login_code("alice", "wrong"), 530);
    assert_eq!(server.login_code("nobody", "old-password"), 530);
    assert_eq!(server.login_code("bob", "old-password"), 530);
    assert_eq!(server.login_code("bob", "bobs-password"), 230);

    // A wrong password and then the right one on the same connection.
    let mut ftp = server.connect();
    assert_eq!(ftp.login("alice", "nope"), 530);
    assert_eq!(ftp.login("alice", "old-password"), 230);
    let pwd = ftp.cmd("PWD");
    assert!(pwd.starts_with("257 \"/\""), "{pwd}");
    ftp.quit();

    // Password change while the server runs: the old password was just verified (and so is
    // in the login cache); it must stop working at once.
    let out = env.ok(
        &["user", "passwd", "alice", "--password-stdin"],
        Some("new-password\n"),
    );
    assert!(out.contains("password of alice changed"), "{out}");
    assert_eq!(server.login_code("alice", "old-password"), 530);
    assert_eq!(server.login_code("alice", "new-password"), 230);
    assert_eq!(server.login_code("bob", "bobs-password"), 230);

    // Disabling refuses the (correct, cached) password; enabling allows it again.
    env.ok(&["user", "set", "alice", "--disable"], None);
    assert_eq!(server.login_code("alice", "new-password"), 530);
    env.ok(&["user", "set", "alice", "--enable"], None);
    assert_eq!(server.login_code("alice", "new-password"), 230);

    // A user added while the server runs can log in; a deleted one cannot.
    env.add_user("carol", "carols-password", &[]);
    assert_eq!(server.login_code("carol", "carols-password"), 230);
    env.ok(&["user", "del", "carol"], None);
    assert_eq!(server.login_code("carol", "carols-password"), 530);
}

#[test]
fn serve_login_uses_custom_home() {
    let env = Env::new();
    let home = env.root().join("custom-home");
    env.add_user("alice", "pw", &["--home", home.to_str().unwrap()]);
    std::fs::write(home.join("marker-file.txt"), b"hello").unwrap();
    let server = env.serve(&[], &[]);
    let mut ftp = server.connect();
    assert_eq!(ftp.login("alice", "pw"), 230);
    let r = ftp.cmd("SIZE marker-file.txt");
    assert_eq!(r, "213 5", "SIZE of a file placed in the custom home");
    ftp.quit();

    // Moving the home while the server runs: the next login lands in the new (created) home
    // and no longer sees the old one's files.
    let moved = env.root().join("moved-home");
    env.ok(
        &["user", "set", "alice", "--home", moved.to_str().unwrap()],
        None,
    );
    let mut ftp = server.connect();
    assert_eq!(ftp.login("alice", "pw"), 230);
    assert!(moved.is_dir(), "new home not created at login");
    let r = ftp.cmd("SIZE marker-file.txt");
    assert!(r.starts_with("550"), "old home still visible: {r:?}");
    ftp.quit();
}

#[test]
fn serve_sigterm_sends_421_and_exits_cleanly() {
    let env = Env::new();
    env.add_user("alice", "pw", &[]);
    let mut server = env.serve(&[], &[]);

    let mut logged_in = server.connect();
    assert_eq!(logged_in.login("alice", "pw"), 230);
    let mut fresh = server.connect();

    let started = Instant::now();
    let status = server.terminate();
    let log = server.log();
    let status = status.unwrap_or_else(|| panic!("no exit within {SERVER_WAIT:?}:\n{log}"));
    assert!(status.success(), "exit status {status}:\n{log}");

    for (what, ftp) in [("logged-in", &mut logged_in), ("fresh", &mut fresh)] {
        let r = ftp.reply();
        let r = r.unwrap_or_else(|| panic!("{what} session closed without a 421:\n{log}"));
        assert!(r.starts_with("421"), "{what} session got {r:?}");
        assert_eq!(ftp.reply(), None, "{what} session not closed after 421");
    }
    // Idle sessions end at once; shutdown must not sit out its 5 s grace period.
    assert!(
        started.elapsed() < Duration::from_secs(5),
        "shutdown took {:?}",
        started.elapsed()
    );
    // Nothing listens any more.
    assert!(TcpStream::connect_timeout(&server.addr, Duration::from_secs(1)).is_err());
}

#[test]
fn serve_closes_after_too_many_login_failures() {
    let env = Env::new();
    env.add_user("alice", "pw", &[]);
    let server = env.serve(&["--max-login-failures", "2"], &[]);
    let mut ftp = server.connect();
    assert_eq!(ftp.login("alice", "bad1"), 530);
    let r = ftp.cmd("USER alice");
    assert!(r.starts_with("331"), "{r}");
    let r = ftp.cmd("PASS bad2");
    assert!(r.starts_with("530"), "{r}");
    assert_eq!(ftp.reply(), None, "connection not closed after 2 failures");
}

// ---------------------------------------------------------------------------------------------
// 4. configuration precedence and help

#[test]
fn default_greeting_without_config() {
    let env = Env::new();
    let server = env.serve(&[], &[]);
    assert_eq!(server.greeting, "220 Ferry FTP server ready.");
}

#[test]
fn greeting_from_config_file() {
    let env = Env::new();
    env.write_config("greeting = \"from file\"\n");
    let server = env.serve(&[], &[]);
    assert!(
        server.greeting.starts_with("220") && server.greeting.contains("from file"),
        "{:?}",
        server.greeting
    );
    // Every new connection gets it, not just the first.
    assert!(server.connect().greeting.contains("from file"));
}

#[test]
fn greeting_env_overrides_config_file() {
    let env = Env::new();
    env.write_config("greeting = \"from file\"\n");
    let server = env.serve(&[], &[("FERRY_GREETING", "from env")]);
    assert!(
        server.greeting.contains("from env") && !server.greeting.contains("from file"),
        "{:?}",
        server.greeting
    );
}

#[test]
fn greeting_flag_overrides_env_and_config_file() {
    let env = Env::new();
    env.write_config("greeting = \"from file\"\n");
    let server = env.serve(
        &["--greeting", "from flag"],
        &[("FERRY_GREETING", "from env")],
    );
    assert!(
        server.greeting.contains("from flag")
            && !server.greeting.contains("from env")
            && !server.greeting.contains("from file"),
        "{:?}",
        server.greeting
    );
}

#[test]
fn config_flag_selects_another_file() {
    let env = Env::new();
    env.write_config("greeting = \"from data dir\"\n");
    let other = env.root().join("other.toml");
    std::fs::write(&other, "greeting = \"from other file\"\n").unwrap();
    let server = env.serve(&["--config", other.to_str().unwrap()], &[]);
    assert!(
        server.greeting.contains("from other file"),
        "{:?}",
        server.greeting
    );
    drop(server);

    let missing = env.root().join("missing.toml");
    let err = env.serve_fails(&["--config", missing.to_str().unwrap()]);
    assert!(err.contains("missing.toml"), "{err}");
}

#[test]
fn unknown_config_key_stops_serve() {
    let env = Env::new();
    env.write_config("greeting = \"hi\"\nno_such_setting = 42\n");
    let err = env.serve_fails(&[]);
    assert!(err.contains("no_such_setting"), "{err}");
    assert!(
        err.contains("ferry.toml"),
        "error should name the file: {err}"
    );
}

#[test]
fn bad_config_value_stops_serve() {
    let env = Env::new();
    env.write_config("passive_ports = \"100-10\"\n");
    let err = env.serve_fails(&[]);
    assert!(err.contains("100-10"), "{err}");
}

#[test]
fn serve_help_documents_passive_ports() {
    let env = Env::new();
    let help = env.ok(&["serve", "--help"], None);
    assert!(help.contains("--passive-ports"), "{help}");
    assert!(help.contains("FERRY_PASSIVE_PORTS"), "{help}");
    assert!(help.contains("--greeting"), "{help}");
}

#[test]
fn config_example_lists_the_keys() {
    let env = Env::new();
    let example = env.ok(&["config-example"], None);
    for key in [
        "passive_ports",
        "passive_address",
        "listen",
        "greeting",
        "idle_timeout",
        "auth_failure_delay_ms",
        "max_login_failures",
        "default_quota",
    ] {
        assert!(
            example.contains(&format!("# {key} = ")),
            "config-example lacks {key}:\n{example}"
        );
    }
}

#[test]
fn quota_rescan_counts_files_on_disk_and_show_prints_usage() {
    let env = Env::new();
    env.add_user("alice", "pw", &["--quota", "1MiB"]);
    env.add_user("bob", "pw", &[]);
    let home = env.data().join("homes").join("alice");
    std::fs::create_dir(home.join("sub")).unwrap();
    std::fs::write(home.join("sub").join("a.bin"), vec![7u8; 3000]).unwrap();
    std::fs::write(home.join("b.bin"), vec![1u8; 500]).unwrap();
    let out = env.ok(&["quota", "rescan", "alice"], None);
    assert!(
        out.contains("alice") && out.contains("3500 bytes") && out.contains("3 files"),
        "{out}"
    );
    let show = env.show("alice");
    assert!(
        field(&show, "used").starts_with("3.4 KiB (3500 bytes), 3 files"),
        "{show}"
    );
    assert!(
        field(&show, "available").ends_with(&format!("({} bytes)", (1 << 20) - 3500)),
        "{show}"
    );
    // Every user when no name is given; an unknown name is an error.
    let out = env.ok(&["quota", "rescan"], None);
    assert!(out.contains("alice") && out.contains("bob"), "{out}");
    env.fails(&["quota", "rescan", "nobody"], None);
}

/// Holds a TLS control session open and reports certificate fingerprints: prints the first
/// connection's, then on each stdin line checks the old session still answers NOOP and prints
/// a new connection's fingerprint.
const TLS_PROBE: &str = r#"
import hashlib, socket, ssl, sys
port = int(sys.argv[1])
ctx = ssl.create_default_context(); ctx.check_hostname = False; ctx.verify_mode = ssl.CERT_NONE
def tls_connect():
    s = socket.create_connection(("127.0.0.1", port), timeout=10)
    f = s.makefile("rb"); f.readline()
    s.sendall(b"AUTH TLS\r\n"); assert f.readline().startswith(b"234")
    t = ctx.wrap_socket(s)
    fp = ":".join("%02X" % b for b in hashlib.sha256(t.getpeercert(binary_form=True)).digest())
    return t, fp
old, fp = tls_connect()
print(fp, flush=True)
for _ in sys.stdin:
    old.sendall(b"NOOP\r\n")
    assert old.recv(100).startswith(b"200"), "old session broken"
    new, fp = tls_connect()
    print(fp, flush=True)
    new.close()
"#;

#[test]
fn tls_show_prints_the_fingerprint_and_sighup_reloads_without_dropping_sessions() {
    use std::io::BufRead;
    let env = Env::new();
    env.add_user("alice", "pw", &[]);
    let shown = env.ok(&["tls", "show"], None);
    let fingerprint = |text: &str| field(text, "sha256").to_owned();
    let first = fingerprint(&shown);
    assert_eq!(first.len(), 95, "{shown}");
    assert!(env.data().join("tls").join("cert.pem").exists());
    // With a certificate present, TLS defaults to optional.
    let mut server = env.serve(&[], &[]);
    assert!(server.log().contains(&first), "{}", server.log());
    let mut probe = Command::new("python3")
        .arg("-c")
        .arg(TLS_PROBE)
        .arg(server.addr.port().to_string())
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .spawn()
        .unwrap();
    let mut lines = BufReader::new(probe.stdout.take().unwrap()).lines();
    assert_eq!(lines.next().unwrap().unwrap(), first);
    // Replace the certificate files, then SIGHUP.
    std::fs::remove_file(env.data().join("tls").join("cert.pem")).unwrap();
    std::fs::remove_file(env.data().join("tls").join("key.pem")).unwrap();
    let second = fingerprint(&env.ok(&["tls", "show"], None));
    assert_ne!(first, second);
    let pid = server.child.id().to_string();
    assert!(Command::new("kill")
        .args(["-HUP", &pid])
        .status()
        .unwrap()
        .success());
    let deadline = Instant::now() + SERVER_WAIT;
    while !server.log().contains("TLS certificate reloaded") {
        assert!(
            Instant::now() < deadline,
            "no reload logged:\n{}",
            server.log()
        );
        sleep(Duration::from_millis(50));
    }
    let mut stdin = probe.stdin.take().unwrap();
    writeln!(stdin, "next").unwrap();
    assert_eq!(
        lines.next().unwrap().unwrap(),
        second,
        "a new session sees the new certificate"
    );
    drop(stdin);
    assert!(
        probe.wait().unwrap().success(),
        "the old session kept working"
    );
    assert!(server.terminate().unwrap().success());
}

#[test]
fn serve_refuses_a_broken_certificate_naming_the_file() {
    let env = Env::new();
    let cert = env.root().join("broken.pem");
    std::fs::write(&cert, "not a certificate").unwrap();
    let out = env.run(
        &[
            "serve",
            "--listen",
            "127.0.0.1:0",
            "--tls",
            "optional",
            "--tls-cert",
            cert.to_str().unwrap(),
            "--tls-key",
            cert.to_str().unwrap(),
        ],
        None,
    );
    assert!(!out.status.success());
    assert!(out.stderr.contains("broken.pem"), "{out:?}");
}

fn openssl_passwd(flag: &str, password: &str) -> String {
    let out = Command::new("openssl")
        .args(["passwd", flag, "-salt", "ferrysalt", password])
        .output()
        .unwrap();
    assert!(out.status.success(), "openssl passwd {flag}");
    String::from_utf8(out.stdout).unwrap().trim().to_owned()
}

#[test]
fn import_legacy_users_who_log_in_and_get_argon2id() {
    let env = Env::new();
    let home = env.root().join("ftp").join("joe");
    // pure-ftpd: crypt MD5, SHA-256 and SHA-512 from openssl, bcrypt from the OpenBSD test
    // vectors ("U*U"), home with pure-ftpd's chroot marker, quota fields; one malformed line.
    let pure = format!(
        "joe:{}:1000:1000::{}/./::::::5:2097152::::::\nsue:{}:1000:1000::/srv/sue/./::::::::::::::\nmax:{}:1000:1000::/srv/max/./::::::::::::::\nbea:$2a$05$CCCCCCCCCCCCCCCCCCCCC.E5YPO9kmyuRGyh0XouQYb4YMJKvyOeW:1:1::/srv/bea/./::::::::::::::\nbroken line\n",
        openssl_passwd("-1", "joe-pass"),
        home.display(),
        openssl_passwd("-5", "sue-pass"),
        openssl_passwd("-6", "max-pass"),
    );
    let file = env.root().join("pureftpd.passwd");
    std::fs::write(&file, pure).unwrap();
    // A dry run reports and changes nothing.
    let dry = env.run(
        &[
            "user",
            "import",
            "pure-ftpd",
            file.to_str().unwrap(),
            "--dry-run",
        ],
        None,
    );
    assert!(dry.status.success(), "{dry:?}");
    assert!(dry.stdout.contains("would import 4 user(s)"), "{dry:?}");
    assert!(dry.stderr.contains(":5: skipped"), "{dry:?}");
    assert!(list_row(&env.list(), "joe").is_none());
    let out = env.run(
        &["user", "import", "pure-ftpd", file.to_str().unwrap()],
        None,
    );
    assert!(
        out.status.success() && out.stdout.contains("imported 4 user(s)"),
        "{out:?}"
    );
    let show = env.show("joe");
    assert_eq!(field(&show, "home"), home.to_str().unwrap());
    assert_eq!(field(&show, "quota"), "2.0 MiB");
    assert_eq!(field(&show, "quota files"), "5");
    // htpasswd (bcrypt and Apache MD5; an unsupported {SHA} line is refused with a reason) and
    // the md5 list.
    let ht = env.root().join("htpasswd");
    let apr1 = openssl_passwd("-apr1", "web-pass");
    std::fs::write(&ht, format!("kim:$2a$05$CCCCCCCCCCCCCCCCCCCCC.E5YPO9kmyuRGyh0XouQYb4YMJKvyOeW\nold:{{SHA}}W6ph5Mm5Pz8GgiULbPgzG37mj9g=\nweb:{apr1}\n")).unwrap();
    let out = env.run(&["user", "import", "htpasswd", ht.to_str().unwrap()], None);
    assert!(
        out.status.success() && out.stdout.contains("imported 2 user(s)"),
        "{out:?}"
    );
    assert!(
        out.stderr.contains(":2: skipped") && out.stderr.contains("unsupported"),
        "{out:?}"
    );
    let md5 = env.root().join("users.md5");
    std::fs::write(&md5, "amy:5f4dcc3b5aa765d61d8327deb882cf99\n").unwrap();
    assert!(env
        .run(&["user", "import", "md5", md5.to_str().unwrap()], None)
        .status
        .success());
    let list = env.list();
    for (user, scheme) in [
        ("joe", "md5-crypt"),
        ("sue", "sha256-crypt"),
        ("max", "sha512-crypt"),
        ("bea", "bcrypt"),
        ("kim", "bcrypt"),
        ("web", "apr1-md5"),
        ("amy", "md5"),
    ] {
        assert!(
            list_row(&list, user).unwrap().contains(&scheme.to_owned()),
            "{user}: {list}"
        );
    }
    // They log in with their old passwords, and their hashes become argon2id.
    let server = env.serve(&[], &[]);
    for (user, pw) in [
        ("joe", "joe-pass"),
        ("sue", "sue-pass"),
        ("max", "max-pass"),
        ("bea", "U*U"),
        ("kim", "U*U"),
        ("web", "web-pass"),
        ("amy", "password"),
    ] {
        assert_eq!(server.login_code(user, "wrong"), 530, "{user}");
        assert_eq!(server.login_code(user, pw), 230, "{user}");
        assert_eq!(server.login_code(user, pw), 230, "{user} after rehash");
    }
    let list = env.list();
    for user in ["joe", "sue", "max", "bea", "kim", "web", "amy"] {
        assert!(
            list_row(&list, user)
                .unwrap()
                .contains(&"argon2id".to_owned()),
            "{user}: {list}"
        );
    }
}

// ---------------------------------------------------------------------------------------------
// The defender's bans: decided by the server, kept in the store, edited with `ferryd ban`.

/// The first line a connection from `source` gets (`220 ...` or `421 ...`).
fn greeting_from(addr: SocketAddr, source: &str) -> String {
    let s = ferry_testkit::connect_from(addr, source.parse().unwrap()).unwrap();
    s.set_read_timeout(Some(REPLY_WAIT)).unwrap();
    let mut line = String::new();
    let _ = BufReader::new(s).read_line(&mut line);
    line
}

/// Waits (at most 10 s: the server reads the store every 2 s) until `source` is greeted
/// with `code`.
fn wait_greeting(addr: SocketAddr, source: &str, code: &str) {
    let deadline = Instant::now() + Duration::from_secs(10);
    loop {
        let g = greeting_from(addr, source);
        if g.starts_with(code) {
            return;
        }
        assert!(
            Instant::now() < deadline,
            "{source} still greeted with {g:?}"
        );
        std::thread::sleep(Duration::from_millis(100));
    }
}

#[test]
fn bans_survive_a_restart_and_ferryd_ban_edits_them_live() {
    let env = Env::new();
    env.add_user("alice", "pw", &[]);
    let envs = [("FERRY_BAN_AFTER_FAILURES", "3")];
    let server = env.serve(&[], &envs);
    // Guesses at three accounts from 127.0.0.7 ban it.
    for user in ["u1", "u2", "u3"] {
        let s = ferry_testkit::connect_from(server.addr, "127.0.0.7".parse().unwrap()).unwrap();
        let mut ftp = ferry_testkit::RawFtp::over_stream(s);
        ftp.cmd(&format!("USER {user}"));
        ftp.cmd("PASS guess");
    }
    wait_greeting(server.addr, "127.0.0.7", "421");
    assert!(greeting_from(server.addr, "127.0.0.1").starts_with("220"));
    // Written to the store: listed, and still banned after a restart.
    let mut listed = String::new();
    for _ in 0..50 {
        listed = env.ok(&["ban", "list"], None);
        if listed.contains("127.0.0.7") {
            break;
        }
        std::thread::sleep(Duration::from_millis(100));
    }
    assert!(
        listed.contains("127.0.0.7") && listed.contains("failed logins"),
        "{listed}"
    );
    drop(server);
    let server = env.serve(&[], &envs);
    assert!(greeting_from(server.addr, "127.0.0.7").starts_with("421"));
    // Lifted by the CLI while the server runs.
    env.ok(&["ban", "del", "127.0.0.7"], None);
    wait_greeting(server.addr, "127.0.0.7", "220");
    env.fails(&["ban", "del", "127.0.0.7"], None);
    // Added by the CLI: applies within seconds, shows its reason and end.
    env.ok(
        &[
            "ban",
            "add",
            "127.0.0.8",
            "--for",
            "2h",
            "--reason",
            "port scans",
        ],
        None,
    );
    wait_greeting(server.addr, "127.0.0.8", "421");
    let listed = env.ok(&["ban", "list"], None);
    assert!(
        listed.contains("127.0.0.8") && listed.contains("port scans"),
        "{listed}"
    );
    assert!(
        listed.contains("1h59m") || listed.contains("2h0m"),
        "{listed}"
    );
    env.fails(&["ban", "add", "not-an-address"], None);
}

#[test]
fn open_registration_with_unlimited_default_quota_refuses_to_start_unless_allowed() {
    let env = Env::new();
    env.write_config("registration = \"open\"\n");
    let err = env.serve_fails(&[]);
    assert!(
        err.contains("default_quota") && err.contains("registration_allow_unlimited"),
        "{err}"
    );
    // A quota (here from the environment) makes it safe.
    let mut srv = env.serve(&[], &[("FERRY_DEFAULT_QUOTA", "100MiB")]);
    srv.terminate();
    // So does saying unlimited is meant.
    env.write_config("registration = \"open\"\nregistration_allow_unlimited = true\n");
    let mut srv = env.serve(&[], &[]);
    srv.terminate();
    // Invitations give their own quota: no refusal.
    env.write_config("registration = \"invite\"\n");
    let mut srv = env.serve(&[], &[]);
    srv.terminate();
}

#[test]
fn startup_log_says_the_effective_tls_mode_and_why() {
    let env = Env::new();
    let mut srv = env.serve(&[], &[]);
    srv.terminate();
    let log = srv.log();
    assert!(log.contains("tls=\"off\""), "{log}");
    assert!(log.contains("no certificate"), "{log}");
    // One run with --tls optional generates a certificate...
    let mut srv = env.serve(&["--tls", "optional"], &[]);
    srv.terminate();
    assert!(srv.log().contains("tls=\"optional\""), "{}", srv.log());
    assert!(srv.log().contains("configured"), "{}", srv.log());
    // ...which turns TLS on for every later run: the log says so, and how to undo it.
    let mut srv = env.serve(&[], &[]);
    srv.terminate();
    let log = srv.log();
    assert!(log.contains("tls=\"optional\""), "{log}");
    assert!(
        log.contains("earlier run") && log.contains("tls = 'off'"),
        "{log}"
    );
}

#[test]
fn config_typos_are_an_error_in_the_file_and_a_warning_in_the_environment() {
    let env = Env::new();
    env.write_config("idle_timout = 5\n");
    let err = env.serve_fails(&[]);
    assert!(
        err.contains("unknown key `idle_timout`") && err.contains("`idle_timeout`"),
        "{err}"
    );
    env.write_config("idle_timeout = 5\n");
    let mut srv = env.serve(&[], &[("FERRY_MAX_CONECTIONS", "5")]);
    srv.terminate();
    let log = srv.log();
    assert!(
        log.contains("FERRY_MAX_CONECTIONS") && log.contains("did you mean FERRY_MAX_CONNECTIONS"),
        "{log}"
    );
}

/// A process the test started, killed when dropped (also when an assertion fails first).
struct KillOnDrop(Child);

impl Drop for KillOnDrop {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

#[test]
fn a_garbage_database_is_an_error_naming_the_file() {
    let env = Env::new();
    let db = env.data().join("ferry.db");
    let garbage: Vec<u8> = b"not SQLite, just bytes "
        .iter()
        .copied()
        .cycle()
        .take(4096)
        .collect();
    std::fs::write(&db, garbage).unwrap();
    let db = db.display().to_string();
    for err in [env.fails(&["user", "list"], None), env.serve_fails(&[])] {
        assert!(
            err.contains(&format!("cannot open the database {db}"))
                && err.contains("not a database"),
            "{err}"
        );
        assert!(
            !err.contains("panicked") && !err.contains("acktrace"),
            "{err}"
        );
    }
}

#[test]
fn a_database_locked_by_another_process_stops_serve_naming_the_file() {
    if !ferry_testkit::require("python3") {
        return;
    }
    let env = Env::new();
    env.list(); // creates the database
    let db = env.data().join("ferry.db");
    // Holds the write lock until killed; says so once it has it.
    let script = "import sqlite3, sys, time\n\
                  c = sqlite3.connect(sys.argv[1], isolation_level=None)\n\
                  c.execute('BEGIN EXCLUSIVE')\n\
                  print('locked', flush=True)\n\
                  time.sleep(600)\n";
    let mut locker = KillOnDrop(
        Command::new("python3")
            .args(["-c", script])
            .arg(&db)
            .stdin(Stdio::null())
            .stdout(Stdio::piped())
            .spawn()
            .unwrap(),
    );
    let mut line = String::new();
    BufReader::new(locker.0.stdout.take().unwrap())
        .read_line(&mut line)
        .unwrap();
    assert_eq!(
        line.trim(),
        "locked",
        "python3 could not lock {}",
        db.display()
    );

    let (out_path, err_path) = env.output_files();
    let started = Instant::now();
    let mut serve = KillOnDrop(
        env.command(&["serve", "--listen", "127.0.0.1:0"], &[])
            .stdin(Stdio::null())
            .stdout(File::create(&out_path).unwrap())
            .stderr(File::create(&err_path).unwrap())
            .spawn()
            .unwrap(),
    );
    let status = wait_timeout(&mut serve.0, Duration::from_secs(30));
    let err = std::fs::read_to_string(&err_path).unwrap();
    let Some(status) = status else {
        panic!("ferryd serve did not stop within 30 s on a locked database:\n{err}");
    };
    assert!(!status.success(), "{err}");
    assert!(
        err.contains(&format!("cannot open the database {}", db.display()))
            && err.contains("locked")
            && err.contains("another process"),
        "{err}"
    );
    assert!(
        !err.contains("panicked") && !err.contains("acktrace"),
        "{err}"
    );
    eprintln!("refused after {:?}", started.elapsed());
}

#[test]
fn expire_legacy_disables_only_accounts_still_on_an_imported_hash() {
    let env = Env::new();
    // md5 format: the original specification's unsalted MD5 of the password.
    let file = env.root().join("md5.txt");
    std::fs::write(
        &file,
        "old:5d41402abc4b2a76b9719d911017c592\nback:5d41402abc4b2a76b9719d911017c592\n",
    )
    .unwrap(); // both passwords are "hello"
    env.ok(&["user", "import", "md5", file.to_str().unwrap()], None);
    env.add_user("fresh", "pw", &[]);
    let srv = env.serve(&[], &[]);
    // `back` logs in once: their hash becomes argon2id.
    assert_eq!(srv.login_code("back", "hello"), 230);
    // Imported just now: nothing is older than 90 days.
    let out = env.ok(&["user", "expire-legacy", "--older-than", "90d"], None);
    assert!(out.contains("0 account(s) disabled"), "{out}");
    let dry = env.ok(&["user", "expire-legacy", "--dry-run"], None);
    assert!(dry.contains("would disable old (legacy md5"), "{dry}");
    assert!(!dry.contains("back") && !dry.contains("fresh"), "{dry}");
    // (Not by logging in as `old`: that would migrate the hash.)
    let row = list_row(&env.list(), "old").unwrap();
    assert_eq!(
        (row[1].as_str(), row[5].as_str()),
        ("yes", "md5"),
        "a dry run changes nothing"
    );
    let out = env.ok(&["user", "expire-legacy"], None);
    assert!(
        out.contains("disabled old") && out.contains("1 account(s) disabled"),
        "{out}"
    );
    assert_eq!(srv.login_code("old", "hello"), 530);
    assert_eq!(srv.login_code("back", "hello"), 230);
    assert_eq!(srv.login_code("fresh", "pw"), 230);
    assert_eq!(list_row(&env.list(), "old").unwrap()[1], "no");
}

#[test]
fn config_check_reports_errors_warnings_and_the_effective_tls_mode() {
    let env = Env::new();
    let out = env.ok(&["config", "check"], None);
    assert!(
        out.contains("tls: off") && out.contains("configuration ok"),
        "{out}"
    );
    // A setting typo in the environment is a warning; in the file, an error.
    let out = env.run_with(
        &["config", "check"],
        None,
        &[("FERRY_UPLOAD_MOD", "atomic")],
    );
    assert!(out.status.success(), "{out:?}");
    assert!(out.stdout.contains("FERRY_UPLOAD_MODE"), "{out:?}");
    env.write_config("upload_mod = \"atomic\"\n");
    let out = env.run(&["config", "check"], None);
    assert!(
        !out.status.success() && out.stderr.contains("upload_mode"),
        "{out:?}"
    );
    // An unsafe combination is refused with what to change.
    env.write_config("registration = \"open\"\n");
    let out = env.run(&["config", "check"], None);
    assert!(
        !out.status.success() && out.stderr.contains("default_quota"),
        "{out:?}"
    );
    // A certificate left by one run turns TLS on for the next: check says so.
    env.write_config("");
    env.ok(&["tls", "show"], None);
    let out = env.ok(&["config", "check"], None);
    assert!(out.contains("tls: optional"), "{out}");
    assert!(
        out.contains("certificate: ") && out.contains("sha256"),
        "{out}"
    );
}

#[test]
fn sighup_without_tls_is_logged_and_the_server_goes_on() {
    let env = Env::new();
    env.add_user("alice", "pw", &[]);
    let mut srv = env.serve(&[], &[]);
    let pid = srv.child.id().to_string();
    assert!(Command::new("kill")
        .args(["-HUP", &pid])
        .status()
        .unwrap()
        .success());
    let deadline = Instant::now() + Duration::from_secs(10);
    while !srv.log().contains("nothing to reload") {
        assert!(
            Instant::now() < deadline,
            "no SIGHUP log line:\n{}",
            srv.log()
        );
        sleep(Duration::from_millis(50));
    }
    assert!(
        srv.child.try_wait().unwrap().is_none(),
        "SIGHUP ended the server"
    );
    assert_eq!(srv.login_code("alice", "pw"), 230);
}
