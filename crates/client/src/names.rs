//! Names that come from the server, checked before they touch the local file system or the
//! terminal. Every server is treated as hostile: a listing that names `..`, `x/..`, `a/b` or
//! `..\x` would otherwise make a recursive download write outside its target (the class of
//! wget CVE-2014-4877 and lftp CVE-2018-10916), and a name holding escape sequences would
//! rewrite the user's terminal when printed.
//!
//! The rule for a local name is deliberately narrow: one path component, never `.` or `..`,
//! no separator of any platform, no NUL and no control character. A name that fails is
//! skipped with a warning and counted as a failed file; nothing is created for it.

use std::fmt::Write as _;
use std::fs::{self, File, OpenOptions};
use std::io;
use std::os::unix::fs::OpenOptionsExt;
use std::path::Path;

/// Why a name the server sent cannot become a local file name.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum UnsafeName {
    Empty,
    Dot,
    DotDot,
    Separator,
    Nul,
    Control,
}

impl UnsafeName {
    /// The error for `name` (a remote path or name, shown escaped).
    pub fn error(self, name: &str) -> crate::Error {
        crate::Error::UnsafeName {
            name: printable(name).into_owned(),
            why: self.reason(),
        }
    }

    pub fn reason(self) -> &'static str {
        match self {
            UnsafeName::Empty => "an empty name",
            UnsafeName::Dot => "the name \".\"",
            UnsafeName::DotDot => "the name \"..\" (it would leave the target directory)",
            UnsafeName::Separator => "a path separator ('/' or '\\') inside one name",
            UnsafeName::Nul => "a NUL byte",
            UnsafeName::Control => "a control character",
        }
    }
}

/// Checks that `name` is a single, ordinary path component that can be created inside a local
/// directory without leaving it.
pub fn check_local_name(name: &str) -> Result<(), UnsafeName> {
    match name {
        "" => return Err(UnsafeName::Empty),
        "." => return Err(UnsafeName::Dot),
        ".." => return Err(UnsafeName::DotDot),
        _ => {}
    }
    for c in name.chars() {
        match c {
            '/' | '\\' => return Err(UnsafeName::Separator),
            '\0' => return Err(UnsafeName::Nul),
            c if c.is_control() => return Err(UnsafeName::Control),
            _ => {}
        }
    }
    Ok(())
}

/// The local file name for the remote path `remote` (its last component), when that is safe
/// to create in the current directory: for names the server chose (an `mget` match).
pub fn local_name_of(remote: &str) -> crate::Result<std::path::PathBuf> {
    let name = remote.rsplit('/').next().unwrap_or(remote);
    check_local_name(name).map_err(|why| why.error(remote))?;
    Ok(std::path::PathBuf::from(name))
}

/// A name as it may be shown on a terminal: control characters (ESC sequences, CR, bells) are
/// written as visible escapes (`\x1b`), everything else as it is.
pub fn printable(name: &str) -> std::borrow::Cow<'_, str> {
    escape_controls(name, |_| false)
}

/// Text for a terminal that may span lines (messages quoting a server's reply): like
/// [`printable`], but line breaks and tabs stay.
pub fn printable_text(text: &str) -> std::borrow::Cow<'_, str> {
    escape_controls(text, |c| c == '\n' || c == '\t')
}

fn escape_controls(text: &str, keep: impl Fn(char) -> bool) -> std::borrow::Cow<'_, str> {
    let escaped = |c: char| c.is_control() && !keep(c);
    if !text.chars().any(escaped) {
        return std::borrow::Cow::Borrowed(text);
    }
    let mut out = String::with_capacity(text.len() + 8);
    for c in text.chars() {
        if escaped(c) {
            let _ = write!(out, "\\x{:02x}", c as u32);
        } else {
            out.push(c);
        }
    }
    std::borrow::Cow::Owned(out)
}

/// Opens `path` for writing without following a symlink in its last component: a link
/// planted where a download lands (`NAME.part -> ~/.bashrc`) makes the open fail (`ELOOP`)
/// instead of truncating what it points to.
pub(crate) fn open_for_write(path: &Path, append: bool) -> io::Result<File> {
    let mut o = OpenOptions::new();
    o.custom_flags(rustix::fs::OFlags::NOFOLLOW.bits() as i32);
    if append {
        o.append(true);
    } else {
        o.write(true).create(true).truncate(true);
    }
    o.open(path)
}

/// Creates the directory `path` (whose parent is already known to be a real directory inside
/// the target), or accepts one that exists, unless what is there is a symlink or not a
/// directory: a recursive download never writes through a local link.
pub(crate) fn make_real_dir(path: &Path) -> io::Result<()> {
    match fs::create_dir(path) {
        Ok(()) => Ok(()),
        Err(e) if e.kind() == io::ErrorKind::AlreadyExists => {
            let m = fs::symlink_metadata(path)?;
            if m.file_type().is_symlink() {
                Err(io::Error::other(
                    "a symbolic link is in the way (not followed)",
                ))
            } else if m.is_dir() {
                Ok(())
            } else {
                Err(io::Error::new(
                    io::ErrorKind::AlreadyExists,
                    "a file of that name is in the way",
                ))
            }
        }
        Err(e) => Err(e),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_single_ordinary_components_pass() {
        for ok in ["a", "a.txt", "..a", "a..", "...", "文件 a", "x y", "-rf"] {
            assert_eq!(check_local_name(ok), Ok(()), "{ok:?}");
        }
        let bad = [
            ("", UnsafeName::Empty),
            (".", UnsafeName::Dot),
            ("..", UnsafeName::DotDot),
            ("x/..", UnsafeName::Separator),
            ("../evil", UnsafeName::Separator),
            ("/etc", UnsafeName::Separator),
            ("..\\evil", UnsafeName::Separator),
            ("a\0b", UnsafeName::Nul),
            ("a\nb", UnsafeName::Control),
            ("a\rb", UnsafeName::Control),
            ("\x1b[2Jx", UnsafeName::Control),
            ("a\u{85}b", UnsafeName::Control),
        ];
        for (name, why) in bad {
            assert_eq!(check_local_name(name), Err(why), "{name:?}");
        }
    }

    #[test]
    fn control_characters_print_as_escapes() {
        assert_eq!(printable("plain"), "plain");
        assert_eq!(printable("\x1b[31mred\x07"), "\\x1b[31mred\\x07");
        assert_eq!(printable_text("a\n\tb\x1bc\r"), "a\n\tb\\x1bc\\x0d");
    }

    #[test]
    fn writes_never_follow_a_planted_link() {
        let dir = tempfile::tempdir().unwrap();
        let victim = dir.path().join("victim");
        fs::write(&victim, b"precious").unwrap();
        let link = dir.path().join("x.part");
        std::os::unix::fs::symlink(&victim, &link).unwrap();
        assert!(open_for_write(&link, false).is_err());
        assert!(open_for_write(&link, true).is_err());
        assert_eq!(fs::read(&victim).unwrap(), b"precious");

        let sub = dir.path().join("sub");
        std::os::unix::fs::symlink(dir.path(), &sub).unwrap();
        assert!(make_real_dir(&sub).is_err());
        let real = dir.path().join("real");
        make_real_dir(&real).unwrap();
        make_real_dir(&real).unwrap();
    }
}
