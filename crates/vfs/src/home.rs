//! A user's home directory as a capability: every operation is relative to it and cannot reach
//! anything outside, whatever symlinks or races the file system holds.

use std::fs::File;
use std::io;
use std::path::Path;
use std::sync::Arc;
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use cap_std::ambient_authority;
use cap_std::fs::{
    Dir, DirBuilderExt, MetadataExt, OpenOptions, OpenOptionsExt, Permissions, PermissionsExt,
};
use ferry_proto::listing::{Entry, EntryKind};

use crate::path::STAGING_PREFIX;
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

/// A file opened for an upload, and what opening it changed.
#[derive(Debug)]
pub struct OpenedUpload {
    pub file: File,
    /// The file did not exist before.
    pub created: bool,
    /// Bytes of the previous content that the open discarded (overwrite, or REST below the end).
    pub freed: u64,
    /// Bytes of the previous content kept before the upload's first byte (0: the upload writes
    /// the whole file).
    pub kept: u64,
}

/// An upload being written to a hidden staging file beside its target, which it replaces
/// with one `rename(2)` when complete: until then readers see the old file whole.
#[derive(Debug)]
pub struct StagedUpload {
    pub file: File,
    /// The staging file (a [`STAGING_PREFIX`] name in the target's directory).
    pub temp: VirtualPath,
    /// The file the upload replaces or creates: the argument, or, when that is a symlink, the
    /// file it leads to inside the home (an upload through a link has always written the
    /// linked file, and still does).
    pub target: VirtualPath,
    /// Size of the regular file the upload will replace; `None` when it creates one.
    pub replaces: Option<u64>,
}

/// The home directory of one user, shared by that user's sessions and transfers.
#[derive(Clone, Debug)]
pub struct Home {
    dir: Arc<Dir>,
    /// Permission bits of files and directories this home creates (before the umask).
    file_mode: u32,
    dir_mode: u32,
}

/// Why the jail refused an operation on something that does exist inside the home. Carried
/// inside `io::Error` so callers can map each to its own reply (`Refusal::of`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
pub enum Refusal {
    #[error("not a regular file")]
    NotARegularFile,
    #[error("not a directory")]
    NotADirectory,
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
        Ok(Home {
            dir: Arc::new(dir),
            file_mode: 0o644,
            dir_mode: 0o755,
        })
    }

    /// The permission bits new files and directories get (before the process umask).
    pub fn with_modes(mut self, file_mode: u32, dir_mode: u32) -> Home {
        self.file_mode = file_mode & 0o777;
        self.dir_mode = dir_mode & 0o777;
        self
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

    /// Opens a file for an upload in the given mode, telling the quota ledger what changed:
    /// whether the file was created, and how many existing bytes the open discarded.
    pub fn open_write(&self, p: &VirtualPath, mode: WriteMode) -> io::Result<OpenedUpload> {
        if p.is_root() {
            return Err(not_allowed_on_root());
        }
        // Creating exclusively first tells us, without a race, whether the file is new.
        let mut create = OpenOptions::new();
        create.write(true).create_new(true).mode(self.file_mode);
        if mode == WriteMode::Append {
            create.append(true);
        }
        let (file, created) = match self.dir.open_with(p.relative(), &create) {
            Ok(f) => (f.into_std(), true),
            Err(e) if e.kind() == io::ErrorKind::AlreadyExists && mode != WriteMode::CreateNew => {
                let mut existing = OpenOptions::new();
                existing.write(true);
                if mode == WriteMode::Append {
                    existing.append(true);
                }
                (
                    self.dir.open_with(p.relative(), &existing)?.into_std(),
                    false,
                )
            }
            Err(e) => return Err(e),
        };
        let meta = file.metadata()?;
        if !meta.is_file() {
            return Err(Refusal::NotARegularFile.err(io::ErrorKind::InvalidInput));
        }
        let len = meta.len();
        let keep = match mode {
            WriteMode::Truncate => 0,
            WriteMode::At(offset) if offset > len => {
                // A file this open created must not outlive the refusal: the quota ledger
                // never hears of it, so REST + STOR could make files past the file quota.
                if created {
                    let _ = self.dir.remove_file(p.relative());
                }
                return Err(Refusal::RestartBeyondEnd.err(io::ErrorKind::InvalidInput));
            }
            WriteMode::At(offset) => offset,
            WriteMode::Append | WriteMode::CreateNew => len,
        };
        if keep < len {
            // Resume means "the first n bytes, then the stream": drop whatever followed.
            file.set_len(keep)?;
        }
        if let WriteMode::At(offset) = mode {
            use std::io::Seek;
            (&file).seek(io::SeekFrom::Start(offset))?;
        }
        Ok(OpenedUpload {
            file,
            created,
            freed: len - keep,
            kept: keep,
        })
    }

    /// Opens a new staging file for a whole-file upload (STOR) of `p`. The staging file gets
    /// the permission bits of the file it will replace, so replacing keeps them.
    pub fn stage_upload(&self, p: &VirtualPath) -> io::Result<StagedUpload> {
        if p.is_root() {
            return Err(not_allowed_on_root());
        }
        let target = match self.dir.symlink_metadata(p.relative()) {
            Ok(m) if m.file_type().is_symlink() => {
                // cap-std resolves beneath the home: a link leading out fails here.
                let real = self.dir.canonicalize(p.relative())?;
                let real = real.to_str().ok_or_else(|| {
                    io::Error::new(io::ErrorKind::InvalidInput, "link target is not UTF-8")
                })?;
                VirtualPath::resolve(&VirtualPath::root(), real)
                    .map_err(|e| io::Error::new(io::ErrorKind::InvalidInput, e))?
            }
            _ => p.clone(),
        };
        let existing = match self.dir.metadata(target.relative()) {
            Ok(m) if m.is_dir() => {
                return Err(Refusal::IsADirectory.err(io::ErrorKind::InvalidInput))
            }
            Ok(m) if !m.is_file() => {
                return Err(Refusal::NotARegularFile.err(io::ErrorKind::InvalidInput))
            }
            Ok(m) => Some(m),
            Err(e) if e.kind() == io::ErrorKind::NotFound => None,
            Err(e) => return Err(e),
        };
        let parent = target.parent();
        let mut create = OpenOptions::new();
        create.write(true).create_new(true).mode(self.file_mode);
        for _ in 0..8 {
            let temp = parent.child(&staging_name());
            let file = match self.dir.open_with(temp.relative(), &create) {
                Ok(f) => f,
                Err(e) if e.kind() == io::ErrorKind::AlreadyExists => continue,
                Err(e) => return Err(e),
            };
            if let Some(m) = &existing {
                if let Err(e) = file.set_permissions(Permissions::from_mode(m.mode() & 0o7777)) {
                    let _ = self.dir.remove_file(temp.relative());
                    return Err(e);
                }
            }
            return Ok(StagedUpload {
                file: file.into_std(),
                temp,
                target,
                replaces: existing.map(|m| m.len()),
            });
        }
        Err(io::Error::new(
            io::ErrorKind::AlreadyExists,
            "could not find a free staging name",
        ))
    }

    /// Puts a staging file in its target's place (the upload completed, or an interrupted one
    /// is kept for resuming). Returns the size of the regular file it replaced. With
    /// `durable`, the directory is fsynced so the new name survives a power cut.
    pub fn commit_staged(
        &self,
        temp: &VirtualPath,
        target: &VirtualPath,
        durable: bool,
    ) -> io::Result<Option<u64>> {
        let replaced = match self.dir.symlink_metadata(target.relative()) {
            Ok(m) if m.is_dir() => {
                return Err(Refusal::IsADirectory.err(io::ErrorKind::InvalidInput))
            }
            Ok(m) if m.is_file() => Some(m.len()),
            _ => None,
        };
        self.dir
            .rename(temp.relative(), &self.dir, target.relative())?;
        if durable {
            self.sync_dir(&target.parent())?;
        }
        Ok(replaced)
    }

    /// Removes a staging file that will not become its target.
    pub fn discard_staged(&self, temp: &VirtualPath) -> io::Result<()> {
        match self.dir.remove_file(temp.relative()) {
            Err(e) if e.kind() != io::ErrorKind::NotFound => Err(e),
            _ => Ok(()),
        }
    }

    /// Makes a directory's entries (a rename or a removal in it) durable.
    pub fn sync_dir(&self, p: &VirtualPath) -> io::Result<()> {
        // A readable descriptor: cap-std's directory handles are O_PATH, which fsync refuses.
        self.dir.open(p.relative())?.into_std().sync_all()
    }

    /// Cuts a file back to `len` bytes (an in-place upload that failed for lack of space
    /// gives back what it wrote).
    pub fn truncate(&self, p: &VirtualPath, len: u64) -> io::Result<()> {
        let mut opts = OpenOptions::new();
        opts.write(true);
        self.dir.open_with(p.relative(), &opts)?.set_len(len)
    }

    pub fn create_dir(&self, p: &VirtualPath) -> io::Result<()> {
        if p.is_root() {
            return Err(io::Error::new(io::ErrorKind::AlreadyExists, "exists"));
        }
        let mut builder = cap_std::fs::DirBuilder::new();
        builder.mode(self.dir_mode);
        self.dir.create_dir_with(p.relative(), &builder)
    }

    pub fn remove_dir(&self, p: &VirtualPath) -> io::Result<()> {
        if p.is_root() {
            return Err(not_allowed_on_root());
        }
        self.dir.remove_dir(p.relative())
    }

    /// Removes a file (or a symlink itself, never its target). Returns the bytes it held.
    pub fn remove_file(&self, p: &VirtualPath) -> io::Result<u64> {
        if p.is_root() {
            return Err(not_allowed_on_root());
        }
        let m = self.dir.symlink_metadata(p.relative())?;
        if m.is_dir() {
            return Err(Refusal::IsADirectory.err(io::ErrorKind::InvalidInput));
        }
        self.dir.remove_file(p.relative())?;
        Ok(if m.is_file() { m.len() } else { 0 })
    }

    /// Renames within the home. Returns the size of a regular file the rename replaced.
    pub fn rename(&self, from: &VirtualPath, to: &VirtualPath) -> io::Result<Option<u64>> {
        if from.is_root() || to.is_root() {
            return Err(not_allowed_on_root());
        }
        if to.starts_with(from) && to != from {
            return Err(Refusal::IntoItself.err(io::ErrorKind::InvalidInput));
        }
        let replaced = match self.dir.symlink_metadata(to.relative()) {
            Ok(m) if m.is_file() && from != to => Some(m.len()),
            _ => None,
        };
        self.dir.rename(from.relative(), &self.dir, to.relative())?;
        Ok(replaced)
    }

    /// The host path of a directory inside the home, for a process's working directory
    /// (SITE EXEC). Resolved through the capability, so a symlink leading out fails here;
    /// `root` is the home's host path.
    pub fn canonical_host_path(
        &self,
        root: &Path,
        p: &VirtualPath,
    ) -> io::Result<std::path::PathBuf> {
        let inside = self.dir.canonicalize(p.relative())?;
        if !self.dir.metadata(&inside)?.is_dir() {
            return Err(Refusal::NotADirectory.err(io::ErrorKind::InvalidInput));
        }
        Ok(root.join(inside))
    }

    /// Bytes available to unprivileged users on the home's file system.
    pub fn free_space(&self) -> io::Result<u64> {
        let st = rustix::fs::fstatvfs(&*self.dir)?;
        Ok(st.f_bavail.saturating_mul(st.f_frsize))
    }

    /// Walks the whole home without following symlinks: (bytes in regular files, number of
    /// entries: files, directories and links). What the quota ledger should say.
    pub fn scan_usage(&self) -> io::Result<(u64, u64)> {
        let mut bytes = 0u64;
        let mut entries = 0u64;
        let mut stack = vec![self.dir.try_clone()?];
        while let Some(dir) = stack.pop() {
            for e in dir.entries()? {
                let e = e?;
                let ft = e.file_type()?;
                // A staging file's bytes are on the disk (and charged while its upload runs),
                // but the file is the future of its target, which the ledger already counts.
                if !e.file_name().to_string_lossy().starts_with(STAGING_PREFIX) {
                    entries += 1;
                }
                if ft.is_dir() {
                    stack.push(e.open_dir()?);
                } else if ft.is_file() {
                    bytes += e.metadata()?.len();
                }
            }
        }
        Ok((bytes, entries))
    }

    /// Removes staging files last written before `older_than` (left by a crash before their
    /// upload was journaled), walking the home without following symlinks. Returns how many.
    pub fn remove_stale_staging(&self, older_than: SystemTime) -> io::Result<usize> {
        let mut removed = 0;
        let mut stack = vec![self.dir.try_clone()?];
        while let Some(dir) = stack.pop() {
            for e in dir.entries()? {
                let e = e?;
                let ft = e.file_type()?;
                if ft.is_dir() {
                    stack.push(e.open_dir()?);
                } else if ft.is_file()
                    && e.file_name().to_string_lossy().starts_with(STAGING_PREFIX)
                    && e.metadata()?.modified()?.into_std() < older_than
                {
                    dir.remove_file(e.file_name())?;
                    removed += 1;
                }
            }
        }
        Ok(removed)
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
            if name.starts_with(STAGING_PREFIX) {
                return None;
            }
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
    ) -> io::Result<(VirtualPath, OpenedUpload)> {
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
                Ok(opened) => return Ok((p, opened)),
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

fn staging_name() -> String {
    let mut random = [0u8; 8];
    if rustix::rand::getrandom(&mut random, rustix::rand::GetRandomFlags::empty()).is_err() {
        // Uniqueness comes from create_new; randomness only makes collisions unlikely.
        let nanos = SystemTime::now()
            .duration_since(UNIX_EPOCH)
            .map(|d| d.as_nanos() as u64)
            .unwrap_or(0);
        random = nanos.to_le_bytes();
    }
    format!("{STAGING_PREFIX}{:016x}", u64::from_le_bytes(random))
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

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn stale_staging_files_are_removed_and_fresh_ones_kept() {
        let dir = tempfile::tempdir().unwrap();
        let home = Home::open(dir.path()).unwrap();
        std::fs::create_dir(dir.path().join("sub")).unwrap();
        let old = dir.path().join("sub/.ferry-upload.00000000000000aa");
        std::fs::write(&old, b"orphan").unwrap();
        let hour_ago = SystemTime::now() - Duration::from_secs(3600);
        File::options()
            .write(true)
            .open(&old)
            .unwrap()
            .set_modified(hour_ago)
            .unwrap();
        let fresh = dir.path().join(".ferry-upload.00000000000000bb");
        std::fs::write(&fresh, b"live").unwrap();
        let user_file = dir.path().join("sub/keep.txt");
        std::fs::write(&user_file, b"mine").unwrap();
        File::options()
            .write(true)
            .open(&user_file)
            .unwrap()
            .set_modified(hour_ago)
            .unwrap();
        let cutoff = SystemTime::now() - Duration::from_secs(600);
        assert_eq!(home.remove_stale_staging(cutoff).unwrap(), 1);
        assert!(!old.exists());
        assert!(fresh.exists() && user_file.exists());
    }
}
