//! A user's home directory as a capability: every operation is relative to it and cannot reach
//! anything outside, whatever symlinks or races the file system holds.

use std::fs::File;
use std::io;
use std::path::Path;
use std::sync::Arc;
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use cap_std::ambient_authority;
use cap_std::fs::{Dir, MetadataExt, OpenOptions, Permissions, PermissionsExt};
use ferry_proto::listing::{Entry, EntryKind};

use crate::VirtualPath;

/// How an upload opens its target.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum WriteMode {
    /// STOR: create or truncate.
    Truncate,
    /// APPE: create or append at the end.
    Append,
    /// REST n + STOR: keep the first n bytes, write from n (n must not exceed the size).
    At(u64),
    /// STOU: the name must not exist yet.
    CreateNew,
}

/// The home directory of one user, shared by that user's sessions and transfers.
#[derive(Clone, Debug)]
pub struct Home {
    dir: Arc<Dir>,
}

/// Why the jail refused an operation on something that does exist inside the home. Carried
/// inside `io::Error` so callers can map each to its own reply (`Refusal::of`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
pub enum Refusal {
    #[error("not a regular file")]
    NotARegularFile,
    #[error("is a directory")]
    IsADirectory,
    #[error("restart offset beyond end of file")]
    RestartBeyondEnd,
    #[error("cannot move a directory into itself")]
    IntoItself,
    #[error("operation not permitted on the home directory itself")]
    HomeItself,
}

impl Refusal {
    fn err(self, kind: io::ErrorKind) -> io::Error {
        io::Error::new(kind, self)
    }

    /// The refusal inside an error returned by [`Home`], if it is one.
    pub fn of(e: &io::Error) -> Option<Refusal> {
        e.get_ref()
            .and_then(|inner| inner.downcast_ref::<Refusal>())
            .copied()
    }
}

fn not_allowed_on_root() -> io::Error {
    Refusal::HomeItself.err(io::ErrorKind::PermissionDenied)
}

impl Home {
    /// Opens (creating if needed) the directory at `path` on the host as a home.
    pub fn open(path: &Path) -> io::Result<Home> {
        std::fs::create_dir_all(path)?;
        let dir = Dir::open_ambient_dir(path, ambient_authority())?;
        Ok(Home { dir: Arc::new(dir) })
    }

    /// Follows symlinks, but only within the home.
    pub fn metadata(&self, p: &VirtualPath) -> io::Result<cap_std::fs::Metadata> {
        self.dir.metadata(p.relative())
    }

    pub fn is_dir(&self, p: &VirtualPath) -> bool {
        self.metadata(p).map(|m| m.is_dir()).unwrap_or(false)
    }

    /// The listing facts of one path (MLST, LIST of a file, STAT of a file).
    pub fn entry(&self, p: &VirtualPath) -> io::Result<Entry> {
        let m = self.metadata(p)?;
        Ok(entry::from_metadata(
            p.file_name().unwrap_or("/").to_owned(),
            &m,
            false,
        ))
    }

    /// Opens a regular file for reading. Directories are refused (RETR of a directory is 550).
    pub fn open_read(&self, p: &VirtualPath) -> io::Result<File> {
        let f = self.dir.open(p.relative())?;
        let m = f.metadata()?;
        if !m.is_file() {
            return Err(Refusal::NotARegularFile.err(io::ErrorKind::InvalidInput));
        }
        Ok(f.into_std())
    }

    /// Opens a file for an upload in the given mode.
    pub fn open_write(&self, p: &VirtualPath, mode: WriteMode) -> io::Result<File> {
        if p.is_root() {
            return Err(not_allowed_on_root());
        }
        let mut o = OpenOptions::new();
        o.write(true);
        match mode {
            WriteMode::Truncate => o.create(true).truncate(true),
            WriteMode::Append => o.create(true).append(true),
            WriteMode::At(_) => o.create(true),
            WriteMode::CreateNew => o.create_new(true),
        };
        let f = self.dir.open_with(p.relative(), &o)?.into_std();
        if !f.metadata()?.is_file() {
            return Err(Refusal::NotARegularFile.err(io::ErrorKind::InvalidInput));
        }
        if let WriteMode::At(offset) = mode {
            let len = f.metadata()?.len();
            if offset > len {
                return Err(Refusal::RestartBeyondEnd.err(io::ErrorKind::InvalidInput));
            }
            // Resume means "the first n bytes, then the stream": drop whatever followed.
            f.set_len(offset)?;
            use std::io::Seek;
            (&f).seek(io::SeekFrom::Start(offset))?;
        }
        Ok(f)
    }

    pub fn create_dir(&self, p: &VirtualPath) -> io::Result<()> {
        if p.is_root() {
            return Err(io::Error::new(io::ErrorKind::AlreadyExists, "exists"));
        }
        self.dir.create_dir(p.relative())
    }

    pub fn remove_dir(&self, p: &VirtualPath) -> io::Result<()> {
        if p.is_root() {
            return Err(not_allowed_on_root());
        }
        self.dir.remove_dir(p.relative())
    }

    /// Removes a file (or a symlink itself, never its target).
    pub fn remove_file(&self, p: &VirtualPath) -> io::Result<()> {
        if p.is_root() {
            return Err(not_allowed_on_root());
        }
        let m = self.dir.symlink_metadata(p.relative())?;
        if m.is_dir() {
            return Err(Refusal::IsADirectory.err(io::ErrorKind::InvalidInput));
        }
        self.dir.remove_file(p.relative())
    }

    pub fn rename(&self, from: &VirtualPath, to: &VirtualPath) -> io::Result<()> {
        if from.is_root() || to.is_root() {
            return Err(not_allowed_on_root());
        }
        if to.starts_with(from) && to != from {
            return Err(Refusal::IntoItself.err(io::ErrorKind::InvalidInput));
        }
        self.dir.rename(from.relative(), &self.dir, to.relative())
    }

    /// Sets the modification time (MFMT).
    pub fn set_mtime(&self, p: &VirtualPath, unix: i64) -> io::Result<()> {
        let t = if unix >= 0 {
            UNIX_EPOCH + Duration::from_secs(unix.unsigned_abs())
        } else {
            UNIX_EPOCH - Duration::from_secs(unix.unsigned_abs())
        };
        let f: File = if self.metadata(p)?.is_dir() {
            self.dir.open_dir(p.relative())?.into_std_file()
        } else {
            self.dir.open(p.relative())?.into_std()
        };
        f.set_modified(t)
    }

    /// SITE CHMOD: permission bits only (no set-id or sticky bits through FTP).
    pub fn set_mode(&self, p: &VirtualPath, mode: u32) -> io::Result<()> {
        self.dir
            .set_permissions(p.relative(), Permissions::from_mode(mode & 0o777))
    }

    /// Streams the entries of a directory (no `.`/`..`), each with its facts. Symlinks that
    /// resolve inside the home are shown as what they point to; others as bare links.
    pub fn list(&self, p: &VirtualPath) -> io::Result<impl Iterator<Item = Entry>> {
        let dir = self.dir.open_dir(p.relative())?;
        let entries = dir.entries()?;
        Ok(entries.filter_map(move |e| {
            let e = e.ok()?;
            let name = e.file_name().to_string_lossy().into_owned();
            let ft = e.file_type().ok()?;
            if ft.is_symlink() {
                return Some(match dir.metadata(&name) {
                    Ok(m) => entry::from_metadata(name, &m, false),
                    Err(_) => match dir.symlink_metadata(&name) {
                        Ok(m) => entry::from_metadata(name, &m, true),
                        Err(_) => return None,
                    },
                });
            }
            let m = e.metadata().ok()?;
            Some(entry::from_metadata(name, &m, false))
        }))
    }

    /// Creates a file with a name no other file has, in `dir`, for STOU.
    pub fn create_unique(
        &self,
        dir: &VirtualPath,
        prefix: &str,
    ) -> io::Result<(VirtualPath, File)> {
        // Uniqueness comes from create_new; the clock only makes a collision unlikely.
        let seed = SystemTime::now()
            .duration_since(UNIX_EPOCH)
            .map(|d| d.subsec_nanos())
            .unwrap_or(0);
        for attempt in 0u32..100 {
            let name = format!(
                "{prefix}{:08x}",
                seed.wrapping_add(attempt.wrapping_mul(0x9E37_79B9))
            );
            let p = dir.child(&name);
            match self.open_write(&p, WriteMode::CreateNew) {
                Ok(f) => return Ok((p, f)),
                Err(e) if e.kind() == io::ErrorKind::AlreadyExists => continue,
                Err(e) => return Err(e),
            }
        }
        Err(io::Error::new(
            io::ErrorKind::AlreadyExists,
            "could not find a unique name",
        ))
    }
}

mod entry {
    use super::*;

    pub(super) fn from_metadata(
        name: String,
        m: &cap_std::fs::Metadata,
        dangling_link: bool,
    ) -> Entry {
        let kind = if dangling_link {
            EntryKind::Symlink
        } else if m.is_dir() {
            EntryKind::Dir
        } else {
            EntryKind::File
        };
        Entry {
            name,
            kind,
            size: if kind == EntryKind::File { m.size() } else { 0 },
            mtime: m.mtime(),
            mode: m.mode() & 0o7777,
            nlink: m.nlink(),
            unique: (m.dev(), m.ino()),
        }
    }
}
