#![allow(clippy::unwrap_used)]
//! The capability layer refuses what the lexical layer cannot see: symlinks leading out.

use std::os::unix::fs::symlink;

use ferry_vfs::{Home, VirtualPath, WriteMode};

fn vp(s: &str) -> VirtualPath {
    VirtualPath::resolve(&VirtualPath::root(), s).unwrap()
}

struct Fixture {
    _tmp: tempfile::TempDir,
    outside: std::path::PathBuf,
    home: Home,
}

fn fixture() -> Fixture {
    let tmp = tempfile::tempdir().unwrap();
    let outside = tmp.path().join("outside");
    std::fs::create_dir(&outside).unwrap();
    std::fs::write(outside.join("secret"), b"top secret").unwrap();
    let home_path = tmp.path().join("home");
    std::fs::create_dir(&home_path).unwrap();
    std::fs::write(home_path.join("inside.txt"), b"hello").unwrap();
    symlink(&outside, home_path.join("to_outside_abs")).unwrap();
    symlink("../outside", home_path.join("to_outside_rel")).unwrap();
    symlink("/etc/passwd", home_path.join("passwd")).unwrap();
    symlink("inside.txt", home_path.join("to_inside")).unwrap();
    let home = Home::open(&home_path).unwrap();
    Fixture {
        _tmp: tmp,
        outside,
        home,
    }
}

#[test]
fn symlinks_leading_outside_cannot_be_read_listed_or_written_through() {
    let f = fixture();
    assert!(f.home.open_read(&vp("/passwd")).is_err());
    assert!(f.home.open_read(&vp("/to_outside_abs/secret")).is_err());
    assert!(f.home.open_read(&vp("/to_outside_rel/secret")).is_err());
    assert!(f.home.list(&vp("/to_outside_abs")).is_err());
    assert!(f
        .home
        .open_write(&vp("/to_outside_rel/new"), WriteMode::Truncate)
        .is_err());
    assert!(f.home.create_dir(&vp("/to_outside_abs/d")).is_err());
    assert!(f
        .home
        .rename(&vp("/inside.txt"), &vp("/to_outside_rel/stolen"))
        .is_err());
    assert!(f.home.remove_file(&vp("/to_outside_abs/secret")).is_err());
    assert!(f.home.set_mtime(&vp("/passwd"), 0).is_err());
    assert!(!f.outside.join("new").exists());
    assert!(!f.outside.join("stolen").exists());
    assert!(f.outside.join("secret").exists());
}

#[test]
fn symlinks_inside_the_home_work_and_escaping_ones_list_as_links() {
    let f = fixture();
    let mut buf = String::new();
    use std::io::Read;
    f.home
        .open_read(&vp("/to_inside"))
        .unwrap()
        .read_to_string(&mut buf)
        .unwrap();
    assert_eq!(buf, "hello");
    let entries: Vec<_> = f.home.list(&VirtualPath::root()).unwrap().collect();
    let passwd = entries.iter().find(|e| e.name == "passwd").unwrap();
    assert_eq!(passwd.kind, ferry_proto::listing::EntryKind::Symlink);
    assert_eq!(passwd.size, 0);
}

#[test]
fn the_home_itself_cannot_be_removed_or_renamed() {
    let f = fixture();
    assert!(f.home.remove_dir(&VirtualPath::root()).is_err());
    assert!(f.home.rename(&VirtualPath::root(), &vp("/x")).is_err());
    assert!(f
        .home
        .rename(&vp("/inside.txt"), &VirtualPath::root())
        .is_err());
}

#[test]
fn deleting_a_link_removes_the_link_not_its_target() {
    let f = fixture();
    f.home.remove_file(&vp("/to_outside_abs")).unwrap();
    assert!(f.outside.join("secret").exists());
    assert!(f.home.metadata(&vp("/to_outside_abs")).is_err());
}
