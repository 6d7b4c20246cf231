//! Every escape from the home we can think of, over a real control connection. Each must fail
//! with 550 and the same text whether or not the target exists outside.
#![allow(clippy::unwrap_used)]

use std::os::unix::fs::symlink;

use ferry_testkit::{RawFtp, TestServer, ALICE};

const NO_ACCESS: &str = "No such file or directory, or permission denied.";

/// A server whose data dir holds a secret beside the homes, and alice's home holds links out.
fn planted() -> (TestServer, std::path::PathBuf) {
    let srv = TestServer::start();
    let outside = srv.data_dir().join("outside");
    std::fs::create_dir_all(&outside).unwrap();
    std::fs::write(outside.join("secret.txt"), b"TOP SECRET").unwrap();
    let home = srv.home("alice");
    symlink(&outside, home.join("abs_link")).unwrap();
    symlink("../../outside", home.join("rel_link")).unwrap();
    symlink("/etc/passwd", home.join("passwd")).unwrap();
    symlink("../bob", home.join("bobs_home")).unwrap();
    std::fs::write(srv.home("bob").join("bob.txt"), b"bob's").unwrap();
    std::fs::write(home.join("mine.txt"), b"mine").unwrap();
    (srv, outside)
}

fn refused(c: &mut RawFtp, cmd: &str) {
    let r = c.cmd(cmd);
    assert_eq!(r.code, 550, "{cmd} -> {r:?}");
}

#[test]
fn dotdot_and_absolute_paths_stay_in_the_home() {
    let (srv, _) = planted();
    let mut c = srv.login(ALICE);
    for cwd in ["..", "../..", "/..", "/../../..", "../bob", "/../bob"] {
        let r = c.cmd(&format!("CWD {cwd}"));
        // Clamped at the home: ".." from / is / itself; "../bob" is /bob, which does not exist.
        if r.code == 250 {
            assert!(c.expect("PWD", 257).text().starts_with("\"/\""), "{cwd}");
        }
    }
    assert_eq!(c.retr("../../../../mine.txt"), b"mine");
    let (_, r) = c.download("RETR ../bob/bob.txt");
    assert_eq!(r.code, 550);
    let (_, r) = c.download("RETR /etc/passwd");
    assert_eq!(r.code, 550);
    let (_, r) = c.download("RETR ../../outside/secret.txt");
    assert_eq!(r.code, 550);
    c.stor("../../../escape.txt", b"x");
    assert!(
        srv.home("alice").join("escape.txt").exists(),
        "clamped into the home"
    );
    assert!(!srv.data_dir().join("escape.txt").exists());
}

#[test]
fn symlinks_out_of_the_home_cannot_be_followed_by_any_command() {
    let (srv, outside) = planted();
    let mut c = srv.login(ALICE);
    for link in ["abs_link", "rel_link", "bobs_home"] {
        refused(&mut c, &format!("CWD {link}"));
        let (_, r) = c.download(&format!("RETR {link}/secret.txt"));
        assert_eq!(r.code, 550, "{link}");
        let (_, r) = c.download(&format!("LIST {link}"));
        assert_eq!(r.code, 550, "{link}");
        let (_, r) = c.download(&format!("MLSD {link}"));
        assert_eq!(r.code, 550, "{link}");
        refused(&mut c, &format!("SIZE {link}/secret.txt"));
        refused(&mut c, &format!("MDTM {link}/secret.txt"));
        refused(&mut c, &format!("MKD {link}/newdir"));
        refused(&mut c, &format!("DELE {link}/secret.txt"));
        refused(&mut c, &format!("RMD {link}/x"));
        refused(&mut c, &format!("MFMT 20000101000000 {link}/secret.txt"));
        let r = c.upload(&format!("STOR {link}/planted.txt"), b"evil");
        assert_eq!(r.code, 550, "{link}: {r:?}");
        let r = c.upload(&format!("APPE {link}/secret.txt"), b"evil");
        assert_eq!(r.code, 550, "{link}: {r:?}");
    }
    let (_, r) = c.download("RETR passwd");
    assert_eq!(r.code, 550);
    refused(&mut c, "SITE CHMOD 777 passwd");
    assert_eq!(
        std::fs::read(outside.join("secret.txt")).unwrap(),
        b"TOP SECRET"
    );
    assert!(!outside.join("planted.txt").exists());
    assert!(!outside.join("newdir").exists());
    assert_eq!(
        std::fs::read(srv.home("bob").join("bob.txt")).unwrap(),
        b"bob's"
    );
}

#[test]
fn rename_cannot_move_files_out_of_or_into_the_home() {
    let (srv, outside) = planted();
    let mut c = srv.login(ALICE);
    c.expect("RNFR mine.txt", 350);
    refused(&mut c, "RNTO abs_link/stolen.txt");
    c.expect("RNFR mine.txt", 350);
    refused(&mut c, "RNTO bobs_home/given.txt");
    refused(&mut c, "RNFR abs_link/secret.txt");
    refused(&mut c, "RNFR rel_link/secret.txt");
    // ".." in RNTO is clamped into the home.
    c.expect("RNFR mine.txt", 350);
    c.expect("RNTO ../../moved.txt", 250);
    assert!(srv.home("alice").join("moved.txt").exists());
    assert!(!outside.join("stolen.txt").exists());
    assert!(!srv.home("bob").join("given.txt").exists());
    assert!(outside.join("secret.txt").exists());
}

#[test]
fn refusals_do_not_reveal_what_exists_outside() {
    let (srv, _) = planted();
    let mut c = srv.login(ALICE);
    let exists = c.cmd("SIZE abs_link/secret.txt");
    let missing = c.cmd("SIZE abs_link/no-such-file");
    let plain_missing = c.cmd("SIZE no-such-file");
    assert_eq!(exists, missing);
    assert_eq!(exists, plain_missing);
    assert_eq!(exists.text(), NO_ACCESS);
    let a = c.cmd("CWD bobs_home");
    let b = c.cmd("CWD no_such_dir");
    assert_eq!(a, b);
}

#[test]
fn escaping_links_are_listed_but_show_nothing_of_their_target() {
    let (srv, _) = planted();
    let mut c = srv.login(ALICE);
    let (data, r) = c.download("LIST");
    assert_eq!(r.code, 226);
    let text = String::from_utf8(data).unwrap();
    let passwd = text.lines().find(|l| l.ends_with(" passwd")).unwrap();
    assert!(passwd.starts_with('l'), "{passwd}");
    assert!(!text.contains("/etc/passwd"), "link target leaked: {text}");
    assert!(!text.contains("outside"), "link target leaked: {text}");
}

#[test]
fn deleting_a_link_removes_only_the_link() {
    let (srv, outside) = planted();
    let mut c = srv.login(ALICE);
    c.expect("DELE abs_link", 250);
    assert!(outside.join("secret.txt").exists());
    assert!(std::fs::symlink_metadata(srv.home("alice").join("abs_link")).is_err());
}

#[test]
fn a_symlink_swapped_in_after_cwd_is_still_refused() {
    // The race: alice's working directory is replaced by a link out between commands.
    let (srv, outside) = planted();
    let home = srv.home("alice");
    std::fs::create_dir(home.join("work")).unwrap();
    let mut c = srv.login(ALICE);
    c.expect("CWD work", 250);
    std::fs::remove_dir(home.join("work")).unwrap();
    symlink(&outside, home.join("work")).unwrap();
    let (_, r) = c.download("RETR secret.txt");
    assert_eq!(r.code, 550);
    let r = c.upload("STOR dropped.txt", b"x");
    assert_eq!(r.code, 550);
    assert!(!outside.join("dropped.txt").exists());
}

#[test]
fn users_are_jailed_in_their_own_homes() {
    let srv = TestServer::start();
    let mut a = srv.login(ALICE);
    let mut b = srv.login(ferry_testkit::BOB);
    a.stor("alice-only.txt", b"a");
    let (_, r) = b.download("RETR alice-only.txt");
    assert_eq!(r.code, 550);
    let (_, r) = b.download("RETR ../alice/alice-only.txt");
    assert_eq!(r.code, 550);
    assert!(b.nlst("").is_empty());
}
