//! One upload's life on disk: where its bytes go, and what becomes of them when it ends.
//!
//! A whole-file `STOR` in the `atomic-resume` and `atomic` modes is written to a hidden staging
//! file beside its target ([`ferry_vfs::STAGING_PREFIX`]) and renamed over the target when it
//! completes, so readers see the old file whole until then. Everything else (`REST n` + `STOR`,
//! `APPE`, `RANG`, `STOU`, and every upload in `in-place` mode) writes into the target.
//!
//! How an upload ends decides what stays:
//!
//! | ending | staged | in place |
//! |---|---|---|
//! | complete (`226`) | fsynced, renamed over the target | fsynced |
//! | out of space (`552` quota, `452` disk) | removed: the target is as before | cut back to its starting size (removed if the upload created it) |
//! | interrupted (client gone, `ABOR`, network, shutdown) | `atomic-resume`: becomes the target (resumable; an empty one only if the target was new); `atomic`: removed | `atomic`: cut back; otherwise kept |
//!
//! The quota ledger is told exactly what stayed ([`Conclusion`]), so it equals the disk.

use std::fs::File;
use std::io;
use std::path::PathBuf;

use ferry_vfs::{Home, VirtualPath};

use crate::config::UploadMode;
use crate::digest::Hasher;
use crate::quota::UploadQuota;

/// Where an upload writes.
#[derive(Debug)]
pub(crate) enum Destination {
    /// A staging file that replaces `target` at the end.
    Staged {
        temp: VirtualPath,
        target: VirtualPath,
        /// Size of the file it replaces (`None`: it creates the target).
        replaces: Option<u64>,
    },
    /// The target itself, after its first `kept` bytes.
    InPlace {
        target: VirtualPath,
        kept: u64,
        /// The upload created the file.
        created: bool,
        /// The open discarded the old content (a whole-file STOR in `in-place` mode): giving
        /// the space back cannot restore it, so the fragment is removed.
        truncated: bool,
    },
}

/// How an upload's data stream ended.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Ending {
    Complete,
    /// The quota or the disk is full: give back everything written.
    OutOfSpace,
    /// The client went away, aborted, or the network or server failed.
    Interrupted,
}

impl Ending {
    /// `ENOSPC` and `EDQUOT` (the file system's own quota) are lack of space; other local
    /// errors are interruptions.
    pub(crate) fn of_local_error(e: &io::Error) -> Ending {
        if is_out_of_space(e) {
            Ending::OutOfSpace
        } else {
            Ending::Interrupted
        }
    }
}

const EDQUOT: i32 = 122;

pub(crate) fn is_out_of_space(e: &io::Error) -> bool {
    e.kind() == io::ErrorKind::StorageFull || e.raw_os_error() == Some(EDQUOT)
}

/// The file system's own quota (`EDQUOT`), as opposed to a full disk.
pub(crate) fn is_fs_quota(e: &io::Error) -> bool {
    e.raw_os_error() == Some(EDQUOT)
}

/// What an ended upload left, for the quota ledger.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub(crate) struct Conclusion {
    /// Bytes this upload wrote that are no longer on disk (plus, for a removed in-place
    /// file, the bytes it had kept).
    pub given_back: u64,
    /// Size of an old file that a rename replaced.
    pub replaced: u64,
    /// Change in the number of files beyond what the upload's start counted.
    pub files_delta: i64,
    /// The uploaded file no longer exists (its digest must not be stored).
    pub removed: bool,
}

/// An upload's destination, and the rules that apply when it ends.
pub(crate) struct Placement {
    pub home: Home,
    /// The home's host path: where to look for a staging file whose directory was renamed
    /// while it was written.
    pub home_path: PathBuf,
    pub dest: Destination,
    pub mode: UploadMode,
    /// fsync before the final reply (`fsync_uploads`).
    pub durable: bool,
    concluded: bool,
}

impl Placement {
    pub(crate) fn new(
        home: Home,
        home_path: PathBuf,
        dest: Destination,
        mode: UploadMode,
        durable: bool,
    ) -> Self {
        Placement {
            home,
            home_path,
            dest,
            mode,
            durable,
            concluded: false,
        }
    }

    /// Whether the upload started by counting a new file (its target did not exist).
    pub(crate) fn counted_file(&self) -> bool {
        match &self.dest {
            Destination::Staged { replaces, .. } => replaces.is_none(),
            Destination::InPlace { created, .. } => *created,
        }
    }

    pub(crate) fn is_staged(&self) -> bool {
        matches!(self.dest, Destination::Staged { .. })
    }

    /// Bytes of an old file an overwrite still holds until its rename: the quota lets the
    /// new version grow by that much more, so a user with a full quota can replace a file.
    pub(crate) fn allowance(&self) -> u64 {
        match &self.dest {
            Destination::Staged { replaces, .. } => replaces.unwrap_or(0),
            Destination::InPlace { .. } => 0,
        }
    }

    /// Where the upload's first byte goes in the file.
    pub(crate) fn start_offset(&self) -> u64 {
        match &self.dest {
            Destination::Staged { .. } => 0,
            Destination::InPlace { kept, .. } => *kept,
        }
    }

    /// Starts writing `len` bytes at `offset` back to the disk without waiting, so that the
    /// fsync at the end (`fsync_uploads`) finds little left to do and the disk works while
    /// the network does. (`POSIX_FADV_DONTNEED` starts write-back of dirty pages; pages still
    /// being written stay cached.)
    pub(crate) fn write_behind(&self, file: &File, offset: u64, len: u64) {
        if !self.durable {
            return;
        }
        if let Some(len) = std::num::NonZeroU64::new(len) {
            let _ = rustix::fs::fadvise(file, offset, Some(len), rustix::fs::Advice::DontNeed);
        }
    }

    /// Makes a completed upload's data durable before it takes its name.
    pub(crate) fn sync(&self, file: &File) -> io::Result<()> {
        if self.durable {
            file.sync_data()?;
        }
        Ok(())
    }

    /// Applies the ending's rule (see the module's table). A completion whose rename fails
    /// is an error: the upload is then given back, and the error says why.
    pub(crate) fn conclude(
        &mut self,
        file: &File,
        ending: Ending,
        written: u64,
    ) -> (Conclusion, Option<io::Error>) {
        self.concluded = true;
        let counted = i64::from(self.counted_file());
        match &self.dest {
            Destination::Staged {
                temp,
                target,
                replaces,
            } => {
                let keep = match ending {
                    Ending::Complete => true,
                    // Even an empty fragment of a new file stands, as the file a classic
                    // server would have left (clients resume from its size); but nothing
                    // replaces an old file's content with nothing.
                    Ending::Interrupted => {
                        self.mode == UploadMode::AtomicResume && (written > 0 || replaces.is_none())
                    }
                    Ending::OutOfSpace => false,
                };
                let mut failure = None;
                if keep {
                    let durable = self.durable && ending == Ending::Complete;
                    match self.home.commit_staged(temp, target, durable) {
                        Ok(replaced) => {
                            // One file now stands where the ledger counts the new one (from
                            // the start) and the file it replaced (if another session did not
                            // remove it meanwhile).
                            return (
                                Conclusion {
                                    replaced: replaced.unwrap_or(0),
                                    files_delta: 1 - counted - i64::from(replaced.is_some()),
                                    ..Conclusion::default()
                                },
                                None,
                            );
                        }
                        Err(e) => failure = Some(e),
                    }
                }
                // The staging file may no longer be where it was made: another session can
                // rename its directory meanwhile. Found through its descriptor, it goes too,
                // so no hidden bytes outlive the upload uncounted.
                let at = self.locate_staging(file).unwrap_or_else(|| temp.clone());
                if let Err(e) = self.home.discard_staged(&at) {
                    tracing::error!(error = %e, temp = %at, "could not remove an upload's staging file");
                }
                (
                    Conclusion {
                        given_back: written,
                        files_delta: -counted,
                        removed: true,
                        ..Conclusion::default()
                    },
                    failure,
                )
            }
            Destination::InPlace {
                target,
                kept,
                created,
                truncated,
            } => {
                let give_back = match ending {
                    Ending::Complete => false,
                    Ending::OutOfSpace => true,
                    Ending::Interrupted => self.mode == UploadMode::Atomic,
                };
                if !give_back {
                    if ending == Ending::Complete && self.durable && *created {
                        match self.home.sync_dir(&target.parent()) {
                            // Renamed away meanwhile: the file is whole, wherever it now is.
                            Err(e) if e.kind() == io::ErrorKind::NotFound => {}
                            Err(e) => return (Conclusion::default(), Some(e)),
                            Ok(()) => {}
                        }
                    }
                    return (Conclusion::default(), None);
                }
                if *created || *truncated {
                    // Never leave a fragment under the real name: it looks like a finished file.
                    let _ = self.home.truncate(target, 0);
                    if let Err(e) = self.home.remove_file(target) {
                        tracing::error!(error = %e, path = %target, "could not remove a failed upload");
                    }
                    return (
                        Conclusion {
                            given_back: written + kept,
                            files_delta: -1,
                            removed: true,
                            ..Conclusion::default()
                        },
                        None,
                    );
                }
                if let Err(e) = self.home.truncate(target, *kept) {
                    tracing::error!(error = %e, path = %target, "could not cut a failed upload back");
                    return (Conclusion::default(), None);
                }
                (
                    Conclusion {
                        given_back: written,
                        ..Conclusion::default()
                    },
                    None,
                )
            }
        }
    }
}

impl Placement {
    /// Where the open staging file is now, when its directory was renamed (Linux's
    /// `/proc/self/fd` names the file behind a descriptor); `None` when it is where it was
    /// made, or cannot be found inside the home.
    fn locate_staging(&self, file: &File) -> Option<VirtualPath> {
        use std::os::fd::AsRawFd;
        let Destination::Staged { temp, .. } = &self.dest else {
            return None;
        };
        if self.home.metadata(temp).is_ok() {
            return None;
        }
        let now = std::fs::read_link(format!("/proc/self/fd/{}", file.as_raw_fd())).ok()?;
        let root = std::fs::canonicalize(&self.home_path).ok()?;
        let inside = now.strip_prefix(&root).ok()?.to_str()?;
        let (dir, name) = inside.rsplit_once('/').unwrap_or(("", inside));
        if !name.starts_with(ferry_vfs::STAGING_PREFIX) {
            return None;
        }
        let dir = VirtualPath::resolve(&VirtualPath::root(), dir).ok()?;
        Some(dir.child(name))
    }
}

impl Drop for Placement {
    /// An upload dropped before it concluded (it never reached its data connection, or its
    /// writer panicked): a staging file is removed, an in-place file kept. The quota entry's
    /// own drop accounts for it the same way.
    fn drop(&mut self) {
        if self.concluded {
            return;
        }
        if let Destination::Staged { temp, .. } = &self.dest {
            let _ = self.home.discard_staged(temp);
        }
    }
}

/// An upload in progress: where its bytes go and what accounts for them.
pub(crate) struct Upload {
    pub file: File,
    /// TYPE A: CRLF on the wire becomes LF on disk.
    pub ascii: bool,
    pub quota: UploadQuota,
    /// At most this many bytes are written (STOR after RANG); the rest is discarded.
    pub limit: Option<u64>,
    /// A digest of the whole file, computed as it streams (None when the upload keeps a prefix).
    pub digest: Option<Hasher>,
    pub place: Placement,
}
