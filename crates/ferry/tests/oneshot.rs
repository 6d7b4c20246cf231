//! The one-shot subcommands against a real ferryd: what they do on the server, what they
//! print, and their exit codes.
#![allow(clippy::unwrap_used)]

mod common;

use common::{enc, Env};
use ferry_testkit::{peer_missing, random_bytes, sha256, sha256_file, TestServer, ALICE};

#[test]
fn put_and_get_a_non_ascii_name_round_trip_verified() {
    let srv = TestServer::start();
    let env = Env::new();
    let data = random_bytes(2_000_000, 1);
    let name = "données été.bin";
    std::fs::write(env.path(name), &data).unwrap();
    std::fs::create_dir(srv.home("alice").join("répertoire")).unwrap();
    let base = srv.url(ALICE);

    let r = env
        .run(&["put", name, &format!("{base}{}/", enc("/répertoire"))])
        .ok();
    assert!(r.stdout.contains("SHA-256 verified"), "{r:?}");
    let on_server = srv.home("alice").join("répertoire").join(name);
    assert_eq!(sha256_file(&on_server), sha256(&data));

    let r = env
        .run(&[
            "get",
            &format!("{base}{}", enc(&format!("/répertoire/{name}"))),
            "copy.bin",
        ])
        .ok();
    assert!(r.stdout.contains("SHA-256 verified"), "{r:?}");
    assert_eq!(sha256_file(&env.path("copy.bin")), sha256(&data));
    assert!(!env.path("copy.bin.part").exists());
}

#[test]
fn get_without_local_name_keeps_the_remote_name() {
    let srv = TestServer::start();
    let env = Env::new();
    std::fs::write(srv.home("alice").join("ünï.txt"), b"hello").unwrap();
    env.run(&["get", &format!("{}{}", srv.url(ALICE), enc("/ünï.txt"))])
        .ok();
    assert_eq!(std::fs::read(env.path("ünï.txt")).unwrap(), b"hello");
}

#[test]
fn ls_prints_long_lines_and_json() {
    let srv = TestServer::start();
    let env = Env::new();
    std::fs::write(srv.home("alice").join("ça.txt"), b"12345").unwrap();
    std::fs::create_dir(srv.home("alice").join("sub")).unwrap();
    let url = format!("{}/", srv.url(ALICE));

    let r = env.run(&["ls", &url]).ok();
    // Sorted by name (bytes): "sub" before "ça.txt".
    let lines: Vec<&str> = r.stdout.lines().collect();
    assert_eq!(lines.len(), 2, "{r:?}");
    assert!(
        lines[0].starts_with("drwx") && lines[0].ends_with(" sub/"),
        "{r:?}"
    );
    assert!(lines[1].starts_with("-rw-r--r--"), "{r:?}");
    assert!(
        lines[1].contains(" 5 ") && lines[1].ends_with(" ça.txt"),
        "{r:?}"
    );

    let r = env.run(&["ls", "--json", &url]).ok();
    let v: serde_json::Value = serde_json::from_str(&r.stdout).unwrap();
    let arr = v.as_array().unwrap();
    assert_eq!(arr.len(), 2);
    assert_eq!(arr[1]["name"], "ça.txt");
    assert_eq!(arr[1]["type"], "file");
    assert_eq!(arr[1]["size"], 5);
    assert_eq!(arr[1]["mode"], "644");
    assert!(arr[1]["modified"].as_str().unwrap().ends_with('Z'));
    assert_eq!(arr[0]["name"], "sub");
    assert_eq!(arr[0]["type"], "dir");
}

#[test]
fn mkdir_and_rm_change_the_server() {
    let srv = TestServer::start();
    let env = Env::new();
    let base = srv.url(ALICE);
    env.run(&["mkdir", &format!("{base}/{}", enc("nouveau dossier"))])
        .ok();
    assert!(srv.home("alice").join("nouveau dossier").is_dir());

    std::fs::write(srv.home("alice").join("nouveau dossier/f"), b"x").unwrap();
    let r = env.run(&["rm", &format!("{base}/{}", enc("nouveau dossier"))]);
    assert_ne!(r.code, 0, "rm of a directory without -r must fail: {r:?}");
    assert!(srv.home("alice").join("nouveau dossier/f").exists());

    env.run(&["rm", &format!("{base}/{}", enc("nouveau dossier/f"))])
        .ok();
    assert!(!srv.home("alice").join("nouveau dossier/f").exists());

    std::fs::create_dir_all(srv.home("alice").join("tree/a/b")).unwrap();
    std::fs::write(srv.home("alice").join("tree/a/b/c"), b"x").unwrap();
    env.run(&["rm", "-r", &format!("{base}/tree")]).ok();
    assert!(!srv.home("alice").join("tree").exists());
}

#[test]
fn hash_prints_the_servers_sha256() {
    let srv = TestServer::start();
    let env = Env::new();
    let data = random_bytes(100_000, 3);
    std::fs::write(srv.home("alice").join("h.bin"), &data).unwrap();
    let url = format!("{}/h.bin", srv.url(ALICE));
    let r = env.run(&["hash", &url]).ok();
    assert_eq!(r.stdout, format!("{}  /h.bin\n", sha256(&data)));
    // Not verifying transfers does not stop asking for a digest explicitly.
    let r = env.run(&["--verify", "off", "hash", &url]).ok();
    assert_eq!(r.stdout, format!("{}  /h.bin\n", sha256(&data)));
    let r = env.run(&["hash", &format!("{}/absent", srv.url(ALICE))]);
    assert_eq!(r.code, 4, "{r:?}");
    let r = env.run(&["hash", "--json", &url]).ok();
    let v: serde_json::Value = serde_json::from_str(&r.stdout).unwrap();
    assert_eq!(v["algorithm"], "SHA-256");
    assert_eq!(v["digest"], sha256(&data));
    assert_eq!(v["path"], "/h.bin");
}

#[test]
fn recursive_put_and_get_copy_a_tree() {
    let srv = TestServer::start();
    let env = Env::new();
    let tree = env.path("arbre");
    std::fs::create_dir_all(tree.join("sous/plus bas")).unwrap();
    let files = [
        ("a.txt", random_bytes(10, 1)),
        ("sous/ß.bin", random_bytes(300_000, 2)),
        ("sous/plus bas/z", random_bytes(1, 3)),
        ("vide", Vec::new()),
    ];
    for (p, d) in &files {
        std::fs::write(tree.join(p), d).unwrap();
    }
    let base = srv.url(ALICE);
    let r = env.run(&["put", "-r", "arbre", &format!("{base}/")]).ok();
    assert!(r.stdout.contains("4 files"), "{r:?}");
    for (p, d) in &files {
        assert_eq!(
            sha256_file(&srv.home("alice").join("arbre").join(p)),
            sha256(d),
            "{p}"
        );
    }
    let r = env
        .run(&["get", "-r", &format!("{base}/arbre"), "copie"])
        .ok();
    assert!(r.stdout.contains("4 files"), "{r:?}");
    for (p, d) in &files {
        assert_eq!(sha256_file(&env.path("copie").join(p)), sha256(d), "{p}");
    }
}

#[test]
fn exit_codes_for_login_missing_file_usage_and_network() {
    let srv = TestServer::start();
    let env = Env::new();
    let r = env.run(&["ls", &format!("ftp://alice:wrong@{}/", srv.addr)]);
    assert_eq!(r.code, 3, "{r:?}");
    assert!(!r.stderr.contains("wrong"), "the password leaked: {r:?}");

    let r = env.run(&["get", &format!("{}/nope.bin", srv.url(ALICE))]);
    assert_eq!(r.code, 4, "{r:?}");
    assert!(!env.path("nope.bin").exists() && !env.path("nope.bin.part").exists());
    let r = env.run(&["put", "absent-local-file", &format!("{}/", srv.url(ALICE))]);
    assert_eq!(r.code, 4, "{r:?}");

    let r = env.run(&["get", "http://example.com/x"]);
    assert_eq!(r.code, 2, "{r:?}");
    let r = env.run(&["frobnicate"]);
    assert_eq!(r.code, 2, "{r:?}");

    // A port nobody listens on.
    let port = {
        let l = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        l.local_addr().unwrap().port()
    };
    let r = env.run(&["ls", &format!("ftp://alice:secret@127.0.0.1:{port}/")]);
    assert_eq!(r.code, 7, "{r:?}");
}

#[test]
fn a_password_from_netrc_or_the_environment_is_used_and_none_is_a_login_error() {
    let srv = TestServer::start();
    let env = Env::new();
    std::fs::write(srv.home("alice").join("f"), b"x").unwrap();
    let url = format!("ftp://alice@{}/f", srv.addr);

    let r = env.run(&["hash", &url]);
    assert_eq!(r.code, 3, "no password and no terminal: {r:?}");

    let mut c = env.command(&["hash", &url]);
    c.env("FERRY_PASSWORD", "secret");
    env.run_cmd(c).ok();

    std::fs::write(
        env.home.path().join(".netrc"),
        "machine 127.0.0.1 login alice password secret\n",
    )
    .unwrap();
    env.run(&["hash", &url]).ok();
    // The netrc login is used when the URL names no user.
    env.run(&["hash", &format!("ftp://{}/f", srv.addr)]).ok();
}

#[test]
fn upload_over_quota_is_refused_before_any_byte_moves() {
    let srv = TestServer::builder()
        .user_with_quota("carol", "pw", 10_000)
        .start();
    let env = Env::new();
    std::fs::write(env.path("big.bin"), random_bytes(50_000, 9)).unwrap();
    let r = env.run(&["put", "big.bin", &format!("ftp://carol:pw@{}/", srv.addr)]);
    assert_eq!(r.code, 5, "{r:?}");
    assert!(
        r.stderr.contains("552") && r.stderr.contains("Exceeded storage allocation"),
        "the server's message is shown: {r:?}"
    );
    assert!(
        !srv.home("carol").join("big.bin").exists(),
        "ALLO refused it before STOR created the file"
    );
    // What fits still goes.
    std::fs::write(env.path("small.bin"), random_bytes(5_000, 9)).unwrap();
    env.run(&["put", "small.bin", &format!("ftp://carol:pw@{}/", srv.addr)])
        .ok();
}

#[test]
fn active_mode_and_ipv6_transfer() {
    let srv = TestServer::start();
    let env = Env::new();
    let data = random_bytes(500_000, 4);
    std::fs::write(srv.home("alice").join("a.bin"), &data).unwrap();
    env.run(&["--active", "get", &format!("{}/a.bin", srv.url(ALICE))])
        .ok();
    assert_eq!(sha256_file(&env.path("a.bin")), sha256(&data));

    if std::net::TcpListener::bind("[::1]:0").is_err() {
        peer_missing::<()>("the IPv6 part needs ::1, which this machine lacks");
        return;
    }
    let v6 = TestServer::builder()
        .user(ALICE.0, ALICE.1)
        .listen("[::1]:0".parse().unwrap())
        .start();
    std::fs::write(v6.home("alice").join("b.bin"), &data).unwrap();
    let url = format!("ftp://alice:secret@[::1]:{}/b.bin", v6.port());
    env.run(&["get", &url]).ok();
    assert_eq!(sha256_file(&env.path("b.bin")), sha256(&data));
    env.run(&[
        "--active",
        "put",
        "b.bin",
        &format!("ftp://alice:secret@[::1]:{}/c.bin", v6.port()),
    ])
    .ok();
    assert_eq!(sha256_file(&v6.home("alice").join("c.bin")), sha256(&data));
}

#[test]
fn quiet_output_is_one_summary_line() {
    let srv = TestServer::start();
    let env = Env::new();
    std::fs::write(srv.home("alice").join("q.bin"), random_bytes(1000, 5)).unwrap();
    let r = env
        .run(&["-q", "get", &format!("{}/q.bin", srv.url(ALICE))])
        .ok();
    assert_eq!(r.stdout.lines().count(), 1, "{r:?}");
    assert!(r.stderr.is_empty(), "{r:?}");
}

/// `ferry ls URL | head -1`: the reader leaves after one line; ferry must stop quietly
/// (no "failed printing to stdout" panic, exit 0), as `ls` does.
#[test]
fn ls_into_a_pipe_closed_early_ends_quietly() {
    use std::io::{BufRead, BufReader};
    use std::process::Stdio;

    let srv = TestServer::start();
    let env = Env::new();
    let dir = srv.home("alice").join("many");
    std::fs::create_dir(&dir).unwrap();
    for i in 0..3000 {
        std::fs::write(
            dir.join(format!("file-with-a-longish-name-{i:05}.txt")),
            b"x",
        )
        .unwrap();
    }
    let url = format!("{}/many/", srv.url(ALICE));
    for args in [
        vec!["--tls", "off", "ls", url.as_str()],
        vec!["--tls", "off", "ls", "--json", url.as_str()],
    ] {
        let mut cmd = env.command(&args);
        cmd.stdout(Stdio::piped());
        let mut child = cmd.spawn().unwrap();
        let mut first = String::new();
        BufReader::new(child.stdout.take().unwrap())
            .read_line(&mut first)
            .unwrap();
        assert!(!first.is_empty());
        // The reader is gone now (dropped above), with most of the listing unread.
        let r = common::wait_output(child, std::time::Duration::from_secs(60));
        assert_eq!(r.code, 0, "{args:?}: {r:?}");
        assert!(r.stderr.is_empty(), "{args:?}: nothing to say: {r:?}");
    }
}

/// A server at its per-address connection cap greets with `421 Too many connections`:
/// ferry waits and tries again (--retries, with backoff) instead of giving up at once.
#[test]
fn a_busy_server_421_at_connect_is_retried() {
    let srv = TestServer::builder()
        .user(ALICE.0, ALICE.1)
        .config(|c| c.max_connections_per_ip = 1)
        .start();
    let env = Env::new();
    std::fs::write(srv.home("alice").join("f.txt"), b"hello").unwrap();
    let holder = srv.login(ALICE);
    let freed = std::thread::spawn(move || {
        std::thread::sleep(std::time::Duration::from_millis(1500));
        drop(holder);
    });
    let r = env
        .run(&["--tls", "off", "ls", &format!("{}/", srv.url(ALICE))])
        .ok();
    freed.join().unwrap();
    assert!(
        r.stderr.contains("421") && r.stderr.contains("retrying"),
        "{r:?}"
    );
    assert!(r.stdout.contains("f.txt"), "{r:?}");

    // Without retries the 421 is a network error (exit 7), said once.
    let _holder = srv.login(ALICE);
    let r = env.run(&["--retries", "0", "ls", &format!("{}/", srv.url(ALICE))]);
    assert_eq!(r.code, 7, "{r:?}");
    assert!(r.stderr.contains("Too many connections"), "{r:?}");
}

/// `put -r` asks for room for the whole tree first: over quota, nothing is created or sent,
/// and the server's refusal is the error (exit 5).
#[test]
fn recursive_put_over_quota_is_refused_before_anything_is_sent() {
    let srv = TestServer::builder()
        .user_with_quota("carol", "pw", 10_000)
        .start();
    let env = Env::new();
    let tree = env.path("tree");
    std::fs::create_dir_all(tree.join("sub")).unwrap();
    for (name, seed) in [("a", 1), ("b", 2), ("sub/c", 3)] {
        std::fs::write(tree.join(name), random_bytes(4_000, seed)).unwrap();
    }
    let r = env.run(&[
        "put",
        "-r",
        "tree",
        &format!("ftp://carol:pw@{}/", srv.addr),
    ]);
    assert_eq!(r.code, 5, "{r:?}");
    assert!(
        r.stderr.contains("552") && r.stderr.contains("Exceeded storage allocation"),
        "{r:?}"
    );
    assert!(
        !srv.home("carol").join("tree").exists(),
        "nothing may be created before the room is known: {r:?}"
    );
}

/// One file of a tree fails (the file-count quota): the summary counts it apart from the
/// verified ones, and its error is printed once.
#[test]
fn recursive_put_with_a_failing_file_summarises_it_once() {
    // The directory and two files fit in a quota of 3 entries; the third file does not.
    let srv = TestServer::builder()
        .user_with_limits("dan", "pw", None, Some(3))
        .start();
    let env = Env::new();
    let tree = env.path("t");
    std::fs::create_dir(&tree).unwrap();
    for (name, seed) in [("a", 1), ("b", 2), ("c", 3)] {
        std::fs::write(tree.join(name), random_bytes(1_000, seed)).unwrap();
    }
    let r = env.run(&[
        "--tls",
        "off",
        "put",
        "-r",
        "t",
        &format!("ftp://dan:pw@{}/", srv.addr),
    ]);
    assert_eq!(r.code, 5, "{r:?}");
    let summary = r.stdout.trim();
    assert!(summary.starts_with("3 files, "), "{r:?}");
    assert!(
        summary.ends_with("2 verified by digest, 1 FAILED") && !summary.contains("all verified"),
        "{r:?}"
    );
    assert_eq!(
        r.stderr.matches("552").count(),
        1,
        "the failure is said once: {r:?}"
    );
}

/// A tree's files go to their exact paths: a remote directory where a local file has the
/// same name is a failure for that file, not a place to nest it in.
#[test]
fn recursive_put_never_nests_a_file_into_a_same_named_directory() {
    let srv = TestServer::start();
    let env = Env::new();
    let tree = env.path("t");
    std::fs::create_dir(&tree).unwrap();
    std::fs::write(tree.join("clash"), b"a file here").unwrap();
    std::fs::write(tree.join("fine"), b"fine").unwrap();
    std::fs::create_dir_all(srv.home("alice").join("t/clash")).unwrap();
    let r = env.run(&[
        "--tls",
        "off",
        "put",
        "-r",
        "t",
        &format!("{}/", srv.url(ALICE)),
    ]);
    assert_ne!(r.code, 0, "{r:?}");
    assert!(!srv.home("alice").join("t/clash/clash").exists(), "{r:?}");
    assert_eq!(
        std::fs::read(srv.home("alice").join("t/fine")).unwrap(),
        b"fine"
    );
}

/// `get -r` of the home itself (`/`, or no path at all) downloads the whole home.
#[test]
fn recursive_get_of_the_home_root_downloads_everything() {
    let srv = TestServer::start();
    let env = Env::new();
    let home = srv.home("alice");
    std::fs::create_dir_all(home.join("d/e")).unwrap();
    std::fs::write(home.join("top.txt"), b"top").unwrap();
    std::fs::write(home.join("d/e/deep.txt"), b"deep").unwrap();
    let base = format!("ftp://alice:secret@{}", srv.addr);
    let r = env.run(&["get", "-r", &format!("{base}/"), "copy"]).ok();
    assert!(r.stdout.contains("2 files"), "{r:?}");
    assert_eq!(std::fs::read(env.path("copy/top.txt")).unwrap(), b"top");
    assert_eq!(
        std::fs::read(env.path("copy/d/e/deep.txt")).unwrap(),
        b"deep"
    );
    // No path and no LOCAL: a directory named after the host.
    env.run(&["get", "-r", &base]).ok();
    assert_eq!(
        std::fs::read(env.path("127.0.0.1/d/e/deep.txt")).unwrap(),
        b"deep"
    );
}

/// LOCAL in a directory that does not exist is an error naming it (or, ending in /, a
/// directory to create); `-` is stdout, checked as usual and without any `.part`.
#[test]
fn get_into_missing_directories_and_to_stdout() {
    use std::io::Read;
    use std::process::Stdio;

    let srv = TestServer::start();
    let env = Env::new();
    let data = random_bytes(3_000_000, 61);
    std::fs::write(srv.home("alice").join("f.bin"), &data).unwrap();
    let url = format!("{}/f.bin", srv.url(ALICE));

    let r = env.run(&["get", &url, "sub/dir/f.bin"]);
    assert_eq!(r.code, 4, "{r:?}");
    assert!(r.stderr.contains("no local directory sub/dir"), "{r:?}");
    assert!(!r.stderr.contains(".part"), "{r:?}");

    env.run(&["get", &url, "made/here/"]).ok();
    assert_eq!(sha256_file(&env.path("made/here/f.bin")), sha256(&data));

    // Read while it runs (env.run would wait for the end with the pipe full).
    let mut c = env.command(&["get", &url, "-"]);
    let child = c.spawn().unwrap();
    let out = child.wait_with_output().unwrap();
    assert!(out.status.success());
    assert_eq!(sha256(&out.stdout), sha256(&data), "the bytes on stdout");
    assert!(
        String::from_utf8_lossy(&out.stderr).contains("SHA-256 verified"),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(
        std::fs::read_dir(env.work.path()).unwrap().all(|e| !e
            .unwrap()
            .file_name()
            .to_string_lossy()
            .ends_with(".part")),
        "no .part for stdout"
    );

    // `ferry get URL - | head -c 100`: the reader leaves early; a quiet end.
    let mut c = env.command(&["get", &url, "-"]);
    c.stdout(Stdio::piped());
    let mut child = c.spawn().unwrap();
    let mut first = [0u8; 100];
    child.stdout.take().unwrap().read_exact(&mut first).unwrap();
    let r = common::wait_output(child, std::time::Duration::from_secs(60));
    assert_eq!(r.code, 0, "{r:?}");
    assert!(
        !r.stderr.contains("error") && !r.stderr.contains("panicked"),
        "{r:?}"
    );
}

/// Messages that say what happened: a refused connection names host:port, a server that
/// never greets is a connection timeout, a missing --ca-file is named plainly, ftps:// to an
/// explicit-TLS (plain) port is explained, and hash on a directory says it is one.
#[test]
fn error_messages_name_what_went_wrong() {
    let srv = TestServer::start();
    let env = Env::new();
    let closed = {
        let l = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        l.local_addr().unwrap().port()
    };
    let r = env.run(&["ls", &format!("ftp://u:p@127.0.0.1:{closed}/")]);
    assert_eq!(r.code, 7, "{r:?}");
    assert!(
        r.stderr.contains(&format!("127.0.0.1:{closed}")) && r.stderr.contains("refused"),
        "{r:?}"
    );

    let silent = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let port = silent.local_addr().unwrap().port();
    let r = env.run(&[
        "--timeout",
        "1",
        "ls",
        &format!("ftp://u:p@127.0.0.1:{port}/"),
    ]);
    assert_eq!(r.code, 7, "{r:?}");
    assert!(r.stderr.contains("waiting for the greeting"), "{r:?}");
    drop(silent);

    let r = env.run(&[
        "--ca-file",
        "/nonexistent/ca.pem",
        "ls",
        &format!("ftps://u:p@{}/", srv.addr),
    ]);
    assert!(
        r.stderr
            .contains("cannot read --ca-file /nonexistent/ca.pem: No such file or directory"),
        "{r:?}"
    );

    let r = env.run(&["ls", &format!("ftps://alice:secret@{}/", srv.addr)]);
    assert_eq!(r.code, 7, "{r:?}");
    assert!(
        r.stderr.contains("did not start TLS") && r.stderr.contains("ftp://"),
        "{r:?}"
    );

    std::fs::create_dir(srv.home("alice").join("adir")).unwrap();
    let r = env.run(&["hash", &format!("{}/adir", srv.url(ALICE))]);
    assert!(r.stderr.contains("/adir is a directory"), "{r:?}");
}

/// Empty files on both sides are identical like any others: not sent again.
#[test]
fn empty_files_are_skipped_when_both_sides_are_empty() {
    let srv = TestServer::start();
    let env = Env::new();
    std::fs::write(env.path("empty"), b"").unwrap();
    let url = format!("{}/", srv.url(ALICE));
    let r = env.run(&["put", "empty", &url]).ok();
    assert!(!r.stdout.contains("skipped"), "{r:?}");
    let r = env.run(&["put", "empty", &url]).ok();
    assert!(r.stdout.contains("skipped"), "{r:?}");
    let r = env.run(&["get", &format!("{}/empty", srv.url(ALICE))]).ok();
    assert!(r.stdout.contains("skipped"), "{r:?}");
}

/// Ctrl-C (SIGINT) stops a one-shot get or put the same way: ABOR, a message saying so,
/// exit 130, and what arrived kept for the next run.
#[test]
fn ctrl_c_interrupts_one_shot_get_and_put_alike() {
    let srv = TestServer::start();
    let env = Env::new();
    let data = random_bytes(4_000_000, 71);
    std::fs::write(srv.home("alice").join("big.bin"), &data).unwrap();
    std::fs::write(env.path("up.bin"), &data).unwrap();
    let get = vec![
        "--limit-rate".to_owned(),
        "1M".to_owned(),
        "get".to_owned(),
        format!("{}/big.bin", srv.url(ALICE)),
    ];
    let put = vec![
        "--limit-rate".to_owned(),
        "1M".to_owned(),
        "put".to_owned(),
        "up.bin".to_owned(),
        format!("{}/up.bin", srv.url(ALICE)),
    ];
    for args in [get, put] {
        let args: Vec<&str> = args.iter().map(String::as_str).collect();
        let child = env.command(&args).spawn().unwrap();
        std::thread::sleep(std::time::Duration::from_millis(1200));
        let killed = std::process::Command::new("kill")
            .args(["-INT", &child.id().to_string()])
            .status()
            .unwrap();
        assert!(killed.success());
        let r = common::wait_output(child, std::time::Duration::from_secs(30));
        assert_eq!(r.code, 130, "{args:?}: {r:?}");
        assert!(r.stderr.contains("interrupted after"), "{args:?}: {r:?}");
        assert!(
            r.stderr.contains("run it again to resume"),
            "{args:?}: {r:?}"
        );
    }
    assert!(common::size_of(&env.path("big.bin.part")) > 0);
    assert!(!env.path("big.bin").exists());
}
