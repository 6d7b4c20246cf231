//! Lexical resolution of user-supplied paths into normalised virtual paths.

use std::fmt;
use std::path::{Path, PathBuf};

/// An absolute, normalised path inside a user's home as the user sees it: starts with `/`,
/// no `.`/`..`/empty components, no trailing slash (except the root itself). By construction
/// it can only name something beneath the home.
#[derive(Clone, PartialEq, Eq, Hash)]
pub struct VirtualPath {
    /// The components joined by `/`, without the leading `/` ("" for the root).
    inner: String,
}

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum PathError {
    #[error("path contains a NUL byte")]
    Nul,
    #[error("path too long")]
    TooLong,
    /// A component names the server's own bookkeeping (an upload's staging file).
    #[error("file name reserved by the server")]
    Reserved,
}

/// The name prefix of the hidden files that uploads are written to before they replace their
/// target. No user path may name one, so they are never listed, read, renamed or removed by
/// a user; see `Home::stage_upload`.
pub const STAGING_PREFIX: &str = ".ferry-upload.";

/// Longest virtual path accepted (Linux PATH_MAX).
const MAX_PATH: usize = 4096;

impl VirtualPath {
    pub fn root() -> VirtualPath {
        VirtualPath {
            inner: String::new(),
        }
    }

    /// THE resolver: interprets `arg` (absolute or relative to `cwd`) and clamps `..` at the
    /// root, so no argument can name anything above the home. `~` alone or as a first
    /// component means the home, as in most FTP servers.
    pub fn resolve(cwd: &VirtualPath, arg: &str) -> Result<VirtualPath, PathError> {
        if arg.contains('\0') {
            return Err(PathError::Nul);
        }
        let (mut parts, rest): (Vec<&str>, &str) = if let Some(rest) = arg.strip_prefix('/') {
            (Vec::new(), rest)
        } else if arg == "~" || arg.starts_with("~/") {
            (Vec::new(), &arg[1..])
        } else {
            (cwd.components().collect(), arg)
        };
        for comp in rest.split('/') {
            match comp {
                "" | "." => {}
                ".." => {
                    parts.pop();
                }
                c if c.starts_with(STAGING_PREFIX) => return Err(PathError::Reserved),
                c => parts.push(c),
            }
        }
        let inner = parts.join("/");
        if inner.len() > MAX_PATH {
            return Err(PathError::TooLong);
        }
        Ok(VirtualPath { inner })
    }

    pub fn is_root(&self) -> bool {
        self.inner.is_empty()
    }

    /// The path as shown to the user (`/`, `/a/b`).
    pub fn display(&self) -> String {
        format!("/{}", self.inner)
    }

    /// The path relative to the home, for capability operations (`.` for the home itself).
    pub fn relative(&self) -> &Path {
        if self.inner.is_empty() {
            Path::new(".")
        } else {
            Path::new(&self.inner)
        }
    }

    pub fn components(&self) -> impl Iterator<Item = &str> {
        self.inner.split('/').filter(|c| !c.is_empty())
    }

    pub fn parent(&self) -> VirtualPath {
        match self.inner.rfind('/') {
            Some(i) => VirtualPath {
                inner: self.inner[..i].to_owned(),
            },
            None => VirtualPath::root(),
        }
    }

    /// The last component, or `None` for the root.
    pub fn file_name(&self) -> Option<&str> {
        if self.inner.is_empty() {
            None
        } else {
            Some(self.inner.rsplit('/').next().unwrap_or(&self.inner))
        }
    }

    /// A child of this directory; `name` must be a single component (no `/`).
    pub fn child(&self, name: &str) -> VirtualPath {
        debug_assert!(!name.contains('/') && name != ".." && name != ".");
        if self.inner.is_empty() {
            VirtualPath {
                inner: name.to_owned(),
            }
        } else {
            VirtualPath {
                inner: format!("{}/{name}", self.inner),
            }
        }
    }

    /// Whether `self` is `other` or lies beneath it.
    pub fn starts_with(&self, other: &VirtualPath) -> bool {
        other.inner.is_empty()
            || self.inner == other.inner
            || (self.inner.starts_with(&other.inner)
                && self.inner.as_bytes().get(other.inner.len()) == Some(&b'/'))
    }

    pub fn to_path_buf(&self) -> PathBuf {
        self.relative().to_path_buf()
    }
}

impl fmt::Display for VirtualPath {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "/{}", self.inner)
    }
}

impl fmt::Debug for VirtualPath {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "VirtualPath(/{})", self.inner)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn r(cwd: &str, arg: &str) -> String {
        let cwd = VirtualPath::resolve(&VirtualPath::root(), cwd).unwrap();
        VirtualPath::resolve(&cwd, arg).unwrap().display()
    }

    #[test]
    fn dotdot_clamps_at_root() {
        assert_eq!(r("/", ".."), "/");
        assert_eq!(r("/", "../../etc/passwd"), "/etc/passwd");
        assert_eq!(r("/a/b", "../../../../x"), "/x");
        assert_eq!(r("/a/b", ".."), "/a");
        assert_eq!(r("/a", "/../b/./c//d/"), "/b/c/d");
        assert_eq!(r("/a", "~/x"), "/x");
        assert_eq!(r("/a", "~"), "/");
        assert_eq!(r("/a", "x ~"), "/a/x ~");
        assert_eq!(r("/a", "..."), "/a/...");
    }

    #[test]
    fn relative_form_for_capabilities() {
        assert_eq!(VirtualPath::root().relative(), Path::new("."));
        assert_eq!(
            VirtualPath::resolve(&VirtualPath::root(), "/a/b")
                .unwrap()
                .relative(),
            Path::new("a/b")
        );
        assert!(VirtualPath::resolve(&VirtualPath::root(), "a\0b").is_err());
    }

    #[test]
    fn staging_files_are_unreachable() {
        let root = VirtualPath::root();
        for arg in [
            ".ferry-upload.0123",
            "/a/.ferry-upload.x/../b",
            "a/.ferry-upload.",
        ] {
            assert_eq!(
                VirtualPath::resolve(&root, arg),
                Err(PathError::Reserved),
                "{arg}"
            );
        }
        assert!(VirtualPath::resolve(&root, ".ferry-uploadx").is_ok());
        assert!(VirtualPath::resolve(&root, "x.ferry-upload.1").is_ok());
    }

    #[test]
    fn parent_child_name() {
        let p = VirtualPath::resolve(&VirtualPath::root(), "/a/b").unwrap();
        assert_eq!(p.parent().display(), "/a");
        assert_eq!(p.parent().parent().display(), "/");
        assert_eq!(p.file_name(), Some("b"));
        assert_eq!(p.parent().child("c").display(), "/a/c");
        assert!(p.starts_with(&p.parent()));
        assert!(!VirtualPath::resolve(&VirtualPath::root(), "/ab")
            .unwrap()
            .starts_with(&p.parent()));
    }

    proptest::proptest! {
        /// Whatever the input, the result is normalised and never climbs out of the root.
        #[test]
        fn resolution_never_escapes(cwd in "(/[a-z.]{0,3}){0,4}", arg in "[a-z./~]{0,30}") {
            let cwd = VirtualPath::resolve(&VirtualPath::root(), &cwd).unwrap();
            let p = VirtualPath::resolve(&cwd, &arg).unwrap();
            let rel = p.relative();
            proptest::prop_assert!(!rel.is_absolute());
            for c in rel.components() {
                proptest::prop_assert!(matches!(c, std::path::Component::Normal(_) | std::path::Component::CurDir));
            }
            proptest::prop_assert!(!p.display().contains("//"));
            // Idempotent: resolving the result again changes nothing.
            proptest::prop_assert_eq!(VirtualPath::resolve(&cwd, &p.display()).unwrap(), p.clone());
        }
    }
}
