//! The interactive shell driven through a pseudo-terminal: completion, commands, Ctrl-C
//! aborting a transfer without losing the session, history without passwords, Ctrl-D.
#![allow(clippy::unwrap_used)]

mod common;

use std::process::Command;
use std::time::Duration;

use common::{size_of, wait_for, Env, BIN};
use expectrl::{ControlCode, Eof, Expect};
use ferry_testkit::{random_bytes, sha256, sha256_file, TestServer, ALICE};

fn shell(env: &Env, args: &[&str]) -> expectrl::session::OsSession {
    let mut cmd = Command::new(BIN);
    cmd.args(args)
        .current_dir(env.work.path())
        .env("HOME", env.home.path())
        .env("XDG_DATA_HOME", env.home.path().join("data"))
        .env("TERM", "xterm")
        .env_remove("FERRY_PASSWORD");
    let mut p = expectrl::Session::spawn(cmd).unwrap();
    p.set_expect_timeout(Some(Duration::from_secs(20)));
    p
}

#[test]
fn shell_completes_runs_commands_aborts_on_ctrl_c_and_keeps_history() {
    let srv = TestServer::start();
    let env = Env::new();
    let small = random_bytes(70_000, 31);
    std::fs::write(srv.home("alice").join("hello-wörld.txt"), &small).unwrap();
    let big = random_bytes(8 << 20, 32);
    std::fs::write(srv.home("alice").join("big.bin"), &big).unwrap();
    std::fs::create_dir(srv.home("alice").join("docs")).unwrap();

    let url = format!("ftp://alice@{}/", srv.addr);
    let mut p = shell(&env, &["--limit-rate", "1M", &url]);
    // No password anywhere: the no-echo prompt asks.
    p.expect("Password for alice@127.0.0.1").unwrap();
    p.send_line(ALICE.1).unwrap();
    p.expect("Connected to").unwrap();
    p.expect(":/> ").unwrap();

    // Command names complete.
    p.send("pw\t").unwrap();
    p.expect("pwd").unwrap();
    p.send("\r").unwrap();
    p.expect("\r\n/\r\n").unwrap();
    p.expect(":/> ").unwrap();

    // Remote names complete too.
    p.send("get hel\t").unwrap();
    p.expect("hello-wörld.txt").unwrap();
    p.send("\r").unwrap();
    p.expect("SHA-256 verified").unwrap();
    p.expect(":/> ").unwrap();
    assert_eq!(sha256_file(&env.path("hello-wörld.txt")), sha256(&small));

    // Listing, directories.
    p.send_line("ls").unwrap();
    p.expect("docs/").unwrap();
    p.expect(":/> ").unwrap();
    p.send_line("cd docs").unwrap();
    p.expect(":/docs> ").unwrap();
    p.send_line("put hello-wörld.txt").unwrap();
    p.expect("SHA-256 verified").unwrap();
    p.expect(":/docs> ").unwrap();
    assert!(srv.home("alice").join("docs/hello-wörld.txt").is_file());
    p.send_line("cdup").unwrap();
    p.expect(":/> ").unwrap();

    // Ctrl-C during a (rate-limited) download aborts it and returns to the prompt.
    p.send_line("get big.bin").unwrap();
    let part = env.path("big.bin.part");
    wait_for(Duration::from_secs(20), "the download to start", || {
        size_of(&part) > 200_000
    });
    p.send(ControlCode::EndOfText).unwrap();
    p.expect("aborted").unwrap();
    p.expect(":/> ").unwrap();
    assert!(!env.path("big.bin").exists());
    let kept = size_of(&part);
    assert!(
        kept < big.len() as u64,
        "the transfer stopped early ({kept})"
    );
    // The session survived the abort.
    p.send_line("pwd").unwrap();
    p.expect("\r\n/\r\n").unwrap();
    p.expect(":/> ").unwrap();

    // A line with a password must stay out of the history.
    p.send_line(format!("open {}/docs", srv.url(ALICE)))
        .unwrap();
    p.expect(":/docs> ").unwrap();
    p.send_line("bye").unwrap();
    p.expect(Eof).unwrap();

    let history = std::fs::read_to_string(env.home.path().join("data/ferry/history")).unwrap();
    assert!(
        history.contains("pwd") && history.contains("get big.bin"),
        "{history}"
    );
    assert!(
        !history.contains(ALICE.1),
        "a password reached the history: {history}"
    );
}

#[test]
fn ctrl_d_leaves_the_shell() {
    let env = Env::new();
    let mut p = shell(&env, &[]);
    p.expect("ferry> ").unwrap();
    p.send_line("help").unwrap();
    p.expect("mget").unwrap();
    p.expect("ferry> ").unwrap();
    p.send_line("ls").unwrap();
    p.expect("not connected").unwrap();
    p.expect("ferry> ").unwrap();
    p.send(ControlCode::EndOfTransmission).unwrap();
    p.expect(Eof).unwrap();
}

/// The server closes an idle session (`421 Idle timeout`): the next command reconnects with
/// the remembered login, back in the same directory, and runs, instead of failing first.
#[test]
fn a_session_closed_for_idleness_reconnects_on_the_next_command() {
    let srv = TestServer::builder()
        .user(ALICE.0, ALICE.1)
        .config(|c| c.idle_timeout = 1)
        .start();
    let env = Env::new();
    std::fs::create_dir(srv.home("alice").join("docs")).unwrap();
    std::fs::write(srv.home("alice").join("docs/inside.txt"), b"x").unwrap();
    let mut p = shell(&env, &["--tls", "off", &format!("{}/docs", srv.url(ALICE))]);
    p.expect(":/docs> ").unwrap();
    std::thread::sleep(Duration::from_millis(2500));
    p.send_line("ls").unwrap();
    p.expect("Idle timeout").unwrap();
    p.expect("inside.txt").unwrap();
    p.expect(":/docs> ").unwrap();
    std::thread::sleep(Duration::from_millis(2500));
    p.send_line("pwd").unwrap();
    let out = p.expect(":/docs> ").unwrap();
    let text = String::from_utf8_lossy(out.before()).into_owned();
    assert!(
        text.contains("reconnecting") && text.contains("/docs\r\n"),
        "{text}"
    );
    assert!(!text.contains("error"), "{text}");
    p.send_line("bye").unwrap();
    p.expect(Eof).unwrap();
}

/// Remote completion inserts names the way the shell reads them back (a space escaped),
/// lists the directory a word names (`cd tree/<Tab>`, `get /tree/o<Tab>`), and `help`
/// completes command names.
#[test]
fn tab_completes_remote_paths_in_any_directory_escaped_as_the_shell_reads_them() {
    let srv = TestServer::start();
    let env = Env::new();
    let home = srv.home("alice");
    std::fs::write(home.join("my file.txt"), b"spaced").unwrap();
    std::fs::create_dir_all(home.join("tree/sub dir")).unwrap();
    std::fs::write(home.join("tree/other.txt"), b"other").unwrap();
    let mut p = shell(&env, &["--tls", "off", &srv.url(ALICE)]);
    p.expect(":/> ").unwrap();

    p.send("get my\t").unwrap();
    p.expect("my\\ file.txt").unwrap();
    p.send("\r").unwrap();
    p.expect("SHA-256 verified").unwrap();
    p.expect(":/> ").unwrap();
    assert_eq!(std::fs::read(env.path("my file.txt")).unwrap(), b"spaced");

    p.send("cd tree/su\t").unwrap();
    p.expect("tree/sub\\ dir/").unwrap();
    p.send("\r").unwrap();
    p.expect(":/tree/sub dir> ").unwrap();

    p.send("get /tree/o\t").unwrap();
    p.expect("/tree/other.txt").unwrap();
    p.send("\r").unwrap();
    p.expect("SHA-256 verified").unwrap();
    p.expect(":/tree/sub dir> ").unwrap();
    assert_eq!(std::fs::read(env.path("other.txt")).unwrap(), b"other");

    p.send("help rmd\t").unwrap();
    p.expect("rmdir").unwrap();
    p.send("\r").unwrap();
    p.expect("remove empty remote directories").unwrap();
    p.send_line("bye").unwrap();
    p.expect(Eof).unwrap();
}

/// Every operand and option of the shell's commands counts: `mkdir -p` makes parents,
/// `mkdir`/`rmdir` take several directories, `--` ends the options of `rm`, `lls -l DIR`
/// lists DIR, and an unknown option is a usage error rather than a remote name.
#[test]
fn shell_commands_take_every_operand_and_their_options() {
    let srv = TestServer::start();
    let env = Env::new();
    let home = srv.home("alice");
    std::fs::write(home.join("-dash.txt"), b"x").unwrap();
    std::fs::create_dir(env.path("localdir")).unwrap();
    std::fs::write(env.path("localdir/inside.bin"), b"12345").unwrap();
    let script =
        "mkdir -p a/b/c\nmkdir x y z\nrmdir x y\nrm -- -dash.txt\nlls -l localdir\nls -z\n";
    let r = env.run_script(&["--tls", "off", &srv.url(ALICE)], script);
    assert!(home.join("a/b/c").is_dir(), "{r:?}");
    assert!(!home.join("-p").exists(), "{r:?}");
    assert!(home.join("z").is_dir(), "every operand of mkdir: {r:?}");
    assert!(
        !home.join("x").exists() && !home.join("y").exists(),
        "every operand of rmdir: {r:?}"
    );
    assert!(!home.join("-dash.txt").exists(), "{r:?}");
    let listed = r
        .stdout
        .lines()
        .find(|l| l.ends_with(" inside.bin"))
        .unwrap_or_else(|| panic!("lls -l lists the directory: {r:?}"));
    assert!(listed.starts_with("-rw") && listed.contains(" 5 "), "{r:?}");
    assert!(r.stderr.contains("ls: unknown option -z"), "{r:?}");
}

/// Wildcards in rm/mget: a name that exists exactly is taken literally first (as lftp
/// does), a quoted or backslash-escaped wildcard is literal, and an unquoted one expands.
#[test]
fn wildcards_in_rm_and_mget_respect_exact_names_and_quoting() {
    let srv = TestServer::start();
    let env = Env::new();
    let home = srv.home("alice");
    for name in [
        "x[1].txt", "x1.txt", "*.log", "a.log", "b.log", "k[2].bin", "k2.bin",
    ] {
        std::fs::write(home.join(name), name.as_bytes()).unwrap();
    }
    // `x[1].txt` exists: only it goes (not x1.txt, which the pattern also matches).
    // `"*.log"` quoted: only the file named *.log. `k\[2\].bin` escaped: only k[2].bin.
    let script = "rm x[1].txt\nrm \"*.log\"\nmget k\\[2\\].bin\nmget *.log\n";
    let r = env.run_script(&["--tls", "off", &srv.url(ALICE)], script);
    assert!(!home.join("x[1].txt").exists(), "{r:?}");
    assert!(home.join("x1.txt").exists(), "{r:?}");
    assert!(!home.join("*.log").exists(), "{r:?}");
    assert!(
        home.join("a.log").exists() && home.join("b.log").exists(),
        "{r:?}"
    );
    assert!(env.path("k[2].bin").exists(), "{r:?}");
    assert!(!env.path("k2.bin").exists(), "{r:?}");
    // Unquoted, the pattern expands.
    assert!(
        env.path("a.log").exists() && env.path("b.log").exists(),
        "{r:?}"
    );
}

/// `cat` prints a remote file.
#[test]
fn cat_prints_a_remote_file() {
    let srv = TestServer::start();
    let env = Env::new();
    std::fs::write(
        srv.home("alice").join("note.txt"),
        b"first line\nsecond line\n",
    )
    .unwrap();
    let r = env.run_script(&["--tls", "off", &srv.url(ALICE)], "cat note.txt\n");
    assert!(r.stdout.contains("first line\nsecond line\n"), "{r:?}");
    assert!(!env.path("note.txt").exists() && !env.path("note.txt.part").exists());
}

/// Commands read from a pipe: the shell's exit status is that of the last failing command's
/// class; `open` takes a bare host:port, and a failed one keeps the current session.
#[test]
fn scripted_shell_reports_failures_in_its_status_and_keeps_the_session_on_a_failed_open() {
    let srv = TestServer::start();
    let env = Env::new();
    let closed_port = {
        let l = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        l.local_addr().unwrap().port()
    };
    let script = format!("cd nowhere\nopen alice:secret@127.0.0.1:{closed_port}\npwd\n!true\n");
    let r = env.run_script(&["--tls", "off", &srv.url(ALICE)], &script);
    assert_eq!(r.code, 7, "the last failure was the network one: {r:?}");
    assert!(
        r.stdout.lines().any(|l| l == "/"),
        "the session survived: {r:?}"
    );

    let r = env.run_script(&["--tls", "off", &srv.url(ALICE)], "ls -z\npwd\n");
    assert_eq!(r.code, 2, "{r:?}");
    let r = env.run_script(&["--tls", "off", &srv.url(ALICE)], "pwd\n");
    assert_eq!(r.code, 0, "{r:?}");

    let script = format!("open alice:secret@{}\npwd\n", srv.addr);
    let r = env.run_script(&["--tls", "off"], &script).ok();
    assert!(r.stdout.contains("Connected to"), "{r:?}");
}

/// Ctrl-C during an `open` that hangs (a server that never greets) gives up at once and
/// keeps the session that was open.
#[test]
fn ctrl_c_aborts_a_slow_open_and_keeps_the_session() {
    let srv = TestServer::start();
    let env = Env::new();
    // Accepted by the kernel (backlog), never greeted.
    let silent = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let port = silent.local_addr().unwrap().port();
    let mut p = shell(&env, &["--tls", "off", "--timeout", "60", &srv.url(ALICE)]);
    p.expect(":/> ").unwrap();
    p.send_line(format!("open ftp://alice:secret@127.0.0.1:{port}/"))
        .unwrap();
    std::thread::sleep(Duration::from_millis(800));
    let asked = std::time::Instant::now();
    p.send(ControlCode::EndOfText).unwrap();
    p.expect("aborted").unwrap();
    p.expect(":/> ").unwrap();
    assert!(asked.elapsed() < Duration::from_secs(10));
    p.send_line("pwd").unwrap();
    p.expect("\r\n/\r\n").unwrap();
    p.send_line("bye").unwrap();
    p.expect(Eof).unwrap();
    drop(silent);
}

/// The shell names and removes as the one-shot commands do: `put -r DIR dest/` makes
/// `dest/DIR`, `get -r /` lands in a directory named after the host, `rm -r` of a file
/// deletes it, and `rm` of a directory says to use `-r`.
#[test]
fn shell_and_one_shot_commands_share_their_naming_and_removal_rules() {
    let srv = TestServer::start();
    let env = Env::new();
    let home = srv.home("alice");
    std::fs::create_dir(env.path("tree")).unwrap();
    std::fs::write(env.path("tree/f"), b"f").unwrap();
    let script = "mkdir dest\nput -r tree dest/\nget -r /\nrm -r dest/tree/f\nrm dest\n";
    let r = env.run_script(&["--tls", "off", &srv.url(ALICE)], script);
    assert_eq!(
        std::fs::read(env.path("127.0.0.1/dest/tree/f")).unwrap(),
        b"f",
        "{r:?}"
    );
    assert!(home.join("dest/tree").is_dir(), "{r:?}");
    assert!(!home.join("dest/tree/f").exists(), "{r:?}");
    assert!(
        r.stderr
            .contains("dest is a directory (use rm -r to delete a tree)"),
        "{r:?}"
    );
    assert_eq!(r.code, 2, "{r:?}");

    std::fs::write(home.join("dest/g"), b"g").unwrap();
    env.run(&["rm", "-r", &format!("{}/dest/g", srv.url(ALICE))])
        .ok();
    assert!(!home.join("dest/g").exists());
}
