//! The client against a lying server (ferry_testkit::hostile): names that would leave the
//! target (`..`, `x/..`, `../evil`, `..\evil`), control characters, endless replies and
//! listings, a `150` followed by nothing, lying SIZE and digests. After each run nothing may
//! exist outside the target, and a good local file is never replaced by bad data.
#![allow(clippy::unwrap_used)]

mod common;

use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use common::Env;
use ferry_testkit::hostile::{Answer, HostileServer};
use ferry_testkit::sha256;

/// Every path under `root`, relative, sorted (symlinks listed, not followed).
fn tree(root: &Path) -> Vec<String> {
    fn walk(root: &Path, dir: &Path, out: &mut Vec<String>) {
        for e in std::fs::read_dir(dir).unwrap() {
            let e = e.unwrap();
            let p = e.path();
            out.push(p.strip_prefix(root).unwrap().display().to_string());
            if e.file_type().unwrap().is_dir() {
                walk(root, &p, out);
            }
        }
    }
    let mut out = Vec::new();
    walk(root, root, &mut out);
    out.sort();
    out
}

/// The work directory holds `a/b/target`; `..` from the target would land in `a/b`.
fn nested_target(env: &Env) -> PathBuf {
    let t = env.path("a/b/target");
    std::fs::create_dir_all(&t).unwrap();
    t
}

const EVIL: &[u8] = b"written by a hostile server\n";

/// A tree whose listings name ways out; each way out, if followed, lists or serves `evil`.
fn lying_mlsd_server() -> HostileServer {
    let root = "type=file;size=5; good.txt\r\n\
                type=dir; sub\r\n\
                type=dir; ..\r\n\
                type=dir; x/..\r\n\
                type=dir; .\r\n\
                type=file;size=28; ../evil-file\r\n\
                type=file;size=28; ..\\evil-backslash\r\n\
                type=file;size=28; evil\x1b[2Jesc\r\n\
                type=file;size=28; evil\rcr\r\n";
    let evil_dir = "type=file;size=28; evil-inside\r\n";
    HostileServer::with_tree(
        &[
            ("d", root),
            ("d/sub", "type=file;size=6; inner.txt\r\n"),
            ("d/..", evil_dir),
            ("d/x/..", evil_dir),
            ("d/.", evil_dir),
        ],
        &[
            ("d/good.txt", b"good\n"),
            ("d/sub/inner.txt", b"inner\n"),
            ("d/../evil-file", EVIL),
            ("d/..\\evil-backslash", EVIL),
            ("d/evil\x1b[2Jesc", EVIL),
            ("d/evil\rcr", EVIL),
            ("d/../evil-inside", EVIL),
            ("d/x/../evil-inside", EVIL),
            ("d/./evil-inside", EVIL),
        ],
        |_, _| None,
    )
}

fn assert_only_the_good_files(env: &Env, run: &common::Run) {
    assert_eq!(
        tree(env.work.path()),
        [
            "a",
            "a/b",
            "a/b/target",
            "a/b/target/good.txt",
            "a/b/target/sub",
            "a/b/target/sub/inner.txt"
        ],
        "{run:?}"
    );
    let t = env.path("a/b/target");
    assert_eq!(std::fs::read(t.join("good.txt")).unwrap(), b"good\n");
    assert_eq!(std::fs::read(t.join("sub/inner.txt")).unwrap(), b"inner\n");
}

#[test]
fn get_r_refuses_names_that_leave_the_target_from_mlsd() {
    let srv = lying_mlsd_server();
    let env = Env::new();
    let target = nested_target(&env);
    let run = env.run(&[
        "get",
        "-r",
        &srv.url("/d"),
        target.to_str().unwrap(),
        "--retries",
        "0",
    ]);
    assert_ne!(run.code, 0, "refused names count as failures: {run:?}");
    assert!(
        run.stderr.contains("refused a name from the server"),
        "{run:?}"
    );
    assert!(
        !run.stderr.contains('\x1b'),
        "escape sequences are never printed: {run:?}"
    );
    assert_only_the_good_files(&env, &run);
    // No listing beyond a refused directory was even asked for.
    let cmds = srv.commands();
    assert!(
        !cmds
            .iter()
            .any(|c| c.contains("MLSD /d/..") || c.contains("MLSD d/..")),
        "{cmds:?}"
    );
}

#[test]
fn get_r_refuses_names_that_leave_the_target_from_list() {
    // No MLST in FEAT: the client falls back to LIST lines.
    let list = "-rw-r--r-- 1 u g 5 Jan  1  2020 good.txt\r\n\
                drwxr-xr-x 1 u g 0 Jan  1  2020 sub\r\n\
                drwxr-xr-x 1 u g 0 Jan  1  2020 a/../..\r\n\
                -rw-r--r-- 1 u g 28 Jan  1  2020 ../evil-file\r\n\
                -rw-r--r-- 1 u g 28 Jan  1  2020 ..\\evil-backslash\r\n\
                -rw-r--r-- 1 u g 28 Jan  1  2020 evil\x07bell\r\n";
    let srv = HostileServer::with_tree(
        &[
            ("d", list),
            ("d/sub", "-rw-r--r-- 1 u g 6 Jan  1  2020 inner.txt\r\n"),
            (
                "d/a/../..",
                "-rw-r--r-- 1 u g 28 Jan  1  2020 evil-inside\r\n",
            ),
        ],
        &[
            ("d/good.txt", b"good\n"),
            ("d/sub/inner.txt", b"inner\n"),
            ("d/../evil-file", EVIL),
            ("d/..\\evil-backslash", EVIL),
            ("d/evil\x07bell", EVIL),
            ("d/a/../../evil-inside", EVIL),
        ],
        |verb, _| {
            (verb == "FEAT").then(|| Answer::Raw(b"211-Features:\r\n SIZE\r\n211 End\r\n".to_vec()))
        },
    );
    let env = Env::new();
    let target = nested_target(&env);
    let run = env.run(&["get", "-r", &srv.url("/d"), target.to_str().unwrap()]);
    assert_ne!(run.code, 0, "{run:?}");
    assert_only_the_good_files(&env, &run);
}

#[test]
fn get_r_never_writes_through_a_local_symlink() {
    let srv = lying_mlsd_server();
    let env = Env::new();
    let target = nested_target(&env);
    // Links already in the target: a directory link leading out, and a file link (and its
    // `.part`) pointing at a file outside that must stay as it is.
    let outside = env.path("a/outside");
    std::fs::create_dir_all(&outside).unwrap();
    let precious = env.path("a/precious");
    std::fs::write(&precious, b"precious").unwrap();
    std::os::unix::fs::symlink(&outside, target.join("sub")).unwrap();
    std::os::unix::fs::symlink(&precious, target.join("good.txt.part")).unwrap();
    let run = env.run(&["get", "-r", &srv.url("/d"), target.to_str().unwrap()]);
    assert_ne!(run.code, 0, "{run:?}");
    assert_eq!(std::fs::read(&precious).unwrap(), b"precious", "{run:?}");
    assert!(tree(&outside).is_empty(), "{run:?}");
    assert!(!target.join("sub/inner.txt").exists());

    // A link under the final name is replaced by the download, never written through.
    let env = Env::new();
    let target = nested_target(&env);
    let precious = env.path("a/precious");
    std::fs::write(&precious, b"precious").unwrap();
    std::os::unix::fs::symlink(&precious, target.join("good.txt")).unwrap();
    let _ = env.run(&["get", "-r", &srv.url("/d"), target.to_str().unwrap()]);
    assert_eq!(std::fs::read(&precious).unwrap(), b"precious");
    let good = target.join("good.txt");
    assert!(!std::fs::symlink_metadata(&good).unwrap().is_symlink());
    assert_eq!(std::fs::read(good).unwrap(), b"good\n");
}

#[test]
fn mget_and_ls_in_the_shell_refuse_hostile_names() {
    let list = "-rw-r--r-- 1 u g 28 Jan  1  2020 ../evil-file\r\n\
                -rw-r--r-- 1 u g 28 Jan  1  2020 ..\\evil-backslash\r\n\
                -rw-r--r-- 1 u g 5 Jan  1  2020 good.txt\r\n\
                -rw-r--r-- 1 u g 28 Jan  1  2020 evil\x1b]0;pwned\x07\r\n\
                -rw-r--r-- 1 u g 28 Jan  1  2020 sub/..\r\n";
    let srv = HostileServer::with_tree(
        &[("", list)],
        &[
            ("good.txt", b"good\n"),
            ("../evil-file", EVIL),
            ("evil-file", EVIL),
            ("..\\evil-backslash", EVIL),
            ("evil\x1b]0;pwned\x07", EVIL),
        ],
        |verb, _| {
            (verb == "FEAT").then(|| Answer::Raw(b"211-Features:\r\n SIZE\r\n211 End\r\n".to_vec()))
        },
    );
    let env = Env::new();
    let target = nested_target(&env);
    let script = format!("lcd {}\nmget *\nls\n", target.display());
    let run = env.run_script(&[&srv.url("/")], &script);
    assert!(
        !run.stdout.contains('\x1b') && !run.stderr.contains('\x1b'),
        "{run:?}"
    );
    assert!(
        !run.stdout.contains('\x07') && !run.stderr.contains('\x07'),
        "{run:?}"
    );
    let mut expected = vec!["a", "a/b", "a/b/target", "a/b/target/good.txt"];
    // `../evil-file` is taken by its last component, as NLST names are: it lands inside.
    if target.join("evil-file").exists() {
        expected.push("a/b/target/evil-file");
    }
    expected.sort();
    assert_eq!(tree(env.work.path()), expected, "{run:?}");
    assert_eq!(std::fs::read(target.join("good.txt")).unwrap(), b"good\n");
}

#[test]
fn ls_prints_control_characters_escaped() {
    let srv = HostileServer::with_tree(
        &[(
            "",
            "type=file;size=1; \x1b[2Jclear\r\ntype=file;size=1; plain\r\n",
        )],
        &[],
        |_, _| None,
    );
    let env = Env::new();
    let run = env.run(&["ls", &srv.url("/")]).ok();
    assert!(!run.stdout.contains('\x1b'), "{run:?}");
    assert!(run.stdout.contains("\\x1b[2Jclear"), "{run:?}");
    assert!(run.stdout.contains("plain"), "{run:?}");
}

#[test]
fn a_hostile_pwd_is_refused() {
    let srv = HostileServer::start(|verb, _| {
        (verb == "PWD").then(|| Answer::reply(257, "\"/\x1b[2J\" is current"))
    });
    let env = Env::new();
    let run = env.run_script(&[&srv.url("/")], "pwd\n");
    assert!(
        !run.stdout.contains('\x1b') && !run.stderr.contains('\x1b'),
        "{run:?}"
    );
    assert!(run.stderr.contains("control characters"), "{run:?}");
}

#[test]
fn endless_replies_are_cut_off() {
    // One line that never ends.
    let srv =
        HostileServer::start(|verb, _| (verb == "FEAT").then(|| Answer::Raw(vec![b'2'; 2 << 20])));
    let env = Env::new();
    let run = env.run(&["ls", &srv.url("/")]);
    assert_ne!(run.code, 0, "{run:?}");
    assert!(run.stderr.contains("too long"), "{run:?}");

    // A multi-line reply that never ends (short lines).
    let srv = HostileServer::start(|verb, _| {
        (verb == "FEAT").then(|| {
            let mut body = b"211-Features:\r\n".to_vec();
            for _ in 0..400_000 {
                body.extend_from_slice(b" MORE FEATURES\r\n");
            }
            Answer::Raw(body)
        })
    });
    let run = env.run(&["ls", &srv.url("/")]);
    assert_ne!(run.code, 0, "{run:?}");
    assert!(run.stderr.contains("reply longer than"), "{run:?}");
}

#[test]
fn an_endless_listing_is_cut_off() {
    let srv = HostileServer::start(|verb, _| {
        (verb == "MLSD").then(|| Answer::Endless {
            chunk: b"type=file;size=1; again\r\n".repeat(4096),
            total: 300 << 20,
        })
    });
    let env = Env::new();
    let run = env.run(&["ls", &srv.url("/")]);
    assert_ne!(run.code, 0, "{run:?}");
    assert!(run.stderr.contains("listing larger than"), "{run:?}");
}

#[test]
fn a_150_followed_by_nothing_times_out() {
    let srv = HostileServer::start(|verb, arg| match verb {
        "SIZE" if arg.ends_with("f.bin") => Some(Answer::reply(213, "10")),
        "RETR" | "MLSD" => Some(Answer::Stall),
        _ => None,
    });
    let env = Env::new();
    let target = nested_target(&env);
    for args in [
        vec!["--timeout", "2", "--retries", "0", "get"],
        vec!["--timeout", "2", "--retries", "0", "ls"],
    ] {
        let started = Instant::now();
        let mut args = args;
        let url = srv.url("/f.bin");
        args.push(&url);
        let t = format!("{}/", target.display());
        if args.contains(&"get") {
            args.push(&t);
        }
        let run = env.run(&args);
        assert_ne!(run.code, 0, "{run:?}");
        assert!(
            started.elapsed() < Duration::from_secs(60),
            "the data timeout bounds the wait: {run:?}"
        );
        assert!(run.stderr.contains("timed out"), "{run:?}");
    }
    assert!(!target.join("f.bin").exists());
}

#[test]
fn lying_size_or_digest_never_spoils_a_good_local_file() {
    let good = b"good content".to_vec();
    let good_hex = sha256(&good);
    // SIZE says the file grew; the prefix digest is true (the server copies ours), the bytes
    // that follow are junk and the whole-file digest does not match them.
    let srv = HostileServer::start(move |verb, arg| match verb {
        "FEAT" => Some(Answer::Raw(
            b"211-Features:\r\n MLST type*;size*;\r\n SIZE\r\n XSHA256\r\n211 End\r\n".to_vec(),
        )),
        "SIZE" => Some(Answer::reply(213, "24")),
        "XSHA256" if arg.ends_with(" 0 12") => Some(Answer::reply(250, &good_hex)),
        "XSHA256" => Some(Answer::reply(250, &"0".repeat(64))),
        "RETR" => Some(Answer::Data(b"JUNKJUNKJUNK".to_vec())),
        _ => None,
    });
    let env = Env::new();
    let local = env.path("f.bin");
    std::fs::write(&local, &good).unwrap();
    let run = env.run(&["--retries", "0", "get", &srv.url("/f.bin"), "f.bin"]);
    assert_eq!(run.code, 6, "an integrity failure: {run:?}");
    assert_eq!(std::fs::read(&local).unwrap(), good, "{run:?}");

    // No digest at all, and more bytes than SIZE announced: refused, the file untouched.
    let srv = HostileServer::start(|verb, _| match verb {
        "SIZE" => Some(Answer::reply(213, "8")),
        "RETR" => Some(Answer::Data(vec![b'x'; 30])),
        _ => None,
    });
    let run = env.run(&["--retries", "0", "get", &srv.url("/f.bin"), "f.bin"]);
    assert_ne!(run.code, 0, "{run:?}");
    assert_eq!(std::fs::read(&local).unwrap(), good, "{run:?}");
}
