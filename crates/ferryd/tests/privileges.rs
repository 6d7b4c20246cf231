#![allow(clippy::unwrap_used)]
//! Who `ferryd serve` runs as: started as root with `run_as`, it serves as that user (its
//! process, and the files it creates, belong to it), with the configured umask and file and
//! directory modes; as root without `run_as` it warns; `run_as` naming root is refused.
//! Real processes over real sockets; needs root (CI runs as root) and curl.

mod common;

use std::os::unix::fs::{MetadataExt, PermissionsExt};
use std::process::Command;

use common::Env;

const NOBODY: u32 = 65534;

/// The real, effective, saved and file-system uids of a process.
fn uids(pid: u32) -> Vec<u32> {
    let status = std::fs::read_to_string(format!("/proc/{pid}/status")).unwrap();
    let line = status.lines().find(|l| l.starts_with("Uid:")).unwrap();
    line.split_whitespace()
        .skip(1)
        .map(|u| u.parse().unwrap())
        .collect()
}

fn am_root() -> bool {
    uids(std::process::id())[1] == 0
}

/// An environment whose directory `nobody` can reach (temp dirs are 0700).
fn env_for_nobody() -> Option<Env> {
    if !am_root() {
        return ferry_testkit::peer_missing("root (to start ferryd as root and drop to nobody)");
    }
    let env = Env::new();
    std::fs::set_permissions(env.root(), std::fs::Permissions::from_mode(0o755)).unwrap();
    Some(env)
}

fn curl(args: &[&str]) {
    assert!(ferry_testkit::require("curl"));
    let out = Command::new("curl").arg("-sS").args(args).output().unwrap();
    assert!(
        out.status.success(),
        "curl {args:?}: {}",
        String::from_utf8_lossy(&out.stderr)
    );
}

#[test]
fn run_as_drops_root_and_uploads_get_the_configured_modes() {
    let Some(env) = env_for_nobody() else {
        return;
    };
    let as_nobody = [("FERRY_RUN_AS", "nobody")];
    env.run_with(
        &["user", "add", "carol", "--password-stdin"],
        Some("pw\n"),
        &as_nobody,
    );
    let local = env.root().join("up.txt");
    std::fs::write(&local, b"hello").unwrap();
    for (modes, file_mode, dir_mode) in [
        (vec![], 0o644, 0o755),
        (
            vec![("FERRY_FILE_MODE", "600"), ("FERRY_DIR_MODE", "0o750")],
            0o600,
            0o750,
        ),
    ] {
        let mut envs = as_nobody.to_vec();
        envs.extend(modes);
        let srv = env.serve(&[], &envs);
        assert_eq!(uids(srv.child.id()), vec![NOBODY; 4], "{}", srv.log());
        assert!(srv.log().contains("dropped root"), "{}", srv.log());
        let url = format!("ftp://carol:pw@{}/", srv.addr);
        let name = format!("f{file_mode:o}");
        curl(&["-T", local.to_str().unwrap(), &format!("{url}{name}")]);
        curl(&["-Q", &format!("MKD d{dir_mode:o}"), &url, "-o", "/dev/null"]);
        let home = env.data().join("homes/carol");
        let f = std::fs::metadata(home.join(&name)).unwrap();
        assert_eq!(
            (f.uid(), f.mode() & 0o777),
            (NOBODY, file_mode),
            "file {name}"
        );
        let d = std::fs::metadata(home.join(format!("d{dir_mode:o}"))).unwrap();
        assert_eq!((d.uid(), d.mode() & 0o777), (NOBODY, dir_mode), "directory");
        drop(srv);
    }
}

#[test]
fn root_without_run_as_warns_and_run_as_root_is_refused() {
    let Some(env) = env_for_nobody() else {
        return;
    };
    let srv = env.serve(&[], &[]);
    assert!(srv.log().contains("running as root"), "{}", srv.log());
    drop(srv);
    let mut cmd = env.command(
        &["serve", "--listen", "127.0.0.1:0"],
        &[("FERRY_RUN_AS", "root")],
    );
    let out = cmd.output().unwrap();
    assert!(!out.status.success());
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(err.contains("is root"), "{err}");
    let out = env
        .command(
            &["serve", "--listen", "127.0.0.1:0"],
            &[("FERRY_FILE_MODE", "4755")],
        )
        .output()
        .unwrap();
    assert!(!out.status.success(), "a set-uid file mode must be refused");
}
