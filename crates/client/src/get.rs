//! Downloads: `get_file` to `NAME.part`, resumed after its prefix is checked, renamed once
//! complete and verified, with the server's modification time; `get_stream` to stdout or a
//! pipe.

use std::fs::{self, File, OpenOptions};
use std::path::Path;
use std::time::{Duration, Instant, UNIX_EPOCH};

use tokio_util::sync::CancellationToken;

use crate::client::Client;
use crate::error::{Error, Result};
use crate::files::{by_time, file_size, local_mtime, part_path, Op, Outcome};
use crate::progress::Progress;
use crate::resume::{check_for, decide, Check, Plan, Verdict};
use crate::targets::base_name;
use ferry_transfer::Hasher;

/// Gives a local file the server's modification time (as curl -R and lftp's mirror do).
fn set_local_mtime(p: &Path, unix: i64) -> std::io::Result<()> {
    let t = if unix >= 0 {
        UNIX_EPOCH + Duration::from_secs(unix as u64)
    } else {
        UNIX_EPOCH - Duration::from_secs(unix.unsigned_abs())
    };
    OpenOptions::new().write(true).open(p)?.set_modified(t)
}

/// Copies the local file `from` to the new download file `to` (not following a link there).
fn copy_prefix(from: &Path, to: &Path) -> std::io::Result<()> {
    let mut src = File::open(from)?;
    let mut dst = crate::names::open_for_write(to, false)?;
    std::io::copy(&mut src, &mut dst)?;
    Ok(())
}

impl Client {
    /// Downloads `remote` to `local` (a file, or an existing directory to put it in).
    pub async fn get_file(
        &mut self,
        remote: &str,
        local: &Path,
        progress: &dyn Progress,
        cancel: &CancellationToken,
    ) -> Result<Outcome> {
        self.require_digest(remote)?;
        // `sub/dir/` names a directory, made as needed; any other name must be in a
        // directory that exists (said plainly, not as a failure to open `NAME.part`).
        if local.as_os_str().to_string_lossy().ends_with('/') {
            fs::create_dir_all(local)
                .map_err(|e| Error::local(format!("creating {}", local.display()), e))?;
        }
        let joined = local.is_dir();
        let local = if joined {
            // The name comes from the remote path, which for mget is the server's listing.
            let name = base_name(remote);
            if let Err(why) = crate::names::check_local_name(name) {
                return Err(why.error(remote));
            }
            local.join(name)
        } else {
            local.to_owned()
        };
        if let Some(parent) = local.parent().filter(|p| !p.as_os_str().is_empty()) {
            if !parent.is_dir() {
                return Err(Error::local(
                    format!("{}", local.display()),
                    std::io::Error::new(
                        std::io::ErrorKind::NotFound,
                        format!(
                            "no local directory {} (end the name with / to create it)",
                            parent.display()
                        ),
                    ),
                ));
            }
        }
        self.with_retries(Op::Get(remote, &local, !joined), progress, cancel)
            .await
    }

    pub(crate) async fn get_once(
        &mut self,
        remote: &str,
        local: &Path,
        direct_ok: bool,
        progress: &dyn Progress,
        cancel: &CancellationToken,
    ) -> Result<Outcome> {
        let started = Instant::now();
        let name = local.display().to_string();
        let size = self.size_to_get(remote).await?;
        let algo = self.hash_algo();
        // Something that is not a regular file (/dev/null, a pipe) is written straight through.
        let direct = direct_ok && local.exists() && !local.is_file();
        let part = if direct {
            local.to_owned()
        } else {
            part_path(local)
        };
        let candidate = if direct {
            None
        } else if let Some(s) = file_size(&part) {
            Some((part.clone(), s))
        } else {
            file_size(local).map(|s| (local.to_owned(), s))
        };

        // The server's time: kept on the downloaded file, and the second half of the quick
        // check when no digest can compare.
        let remote_time = match direct {
            true => None,
            false => self.modified(remote).await?,
        };
        let (plan, verdict, mut hasher) = match (size, &candidate) {
            (Some(want), Some((path, have))) => {
                let check = check_for(Some(*have), want);
                let (mut verdict, hasher) = self
                    .compare_local(remote, path, check, algo, progress)
                    .await?;
                if check == Check::Whole && verdict == Verdict::Unknown {
                    verdict = by_time(local_mtime(path), remote_time);
                }
                (
                    decide(check, verdict, self.opts.verify, remote)?,
                    verdict,
                    hasher,
                )
            }
            _ => (Plan::Fresh, Verdict::Unknown, None),
        };
        if plan == Plan::Fresh {
            hasher = algo.map(Hasher::new);
            if let Some((p, have)) = &candidate {
                if verdict == Verdict::OtherTime {
                    progress.note(&format!(
                        "{}: same size as the server's file but another modification time, and no digest to compare; downloading it again",
                        p.display()
                    ));
                } else if *have > 0
                    && (verdict == Verdict::Different || size.is_some_and(|s| *have > s))
                {
                    progress.note(&format!(
                        "{}: the local copy ({have} bytes) differs from the server's file; downloading it again",
                        p.display()
                    ));
                }
            }
        }
        let size_known = size.unwrap_or(0);
        match plan {
            Plan::Skip => {
                if let Some((p, _)) = &candidate {
                    if *p != local {
                        fs::rename(p, local)
                            .map_err(|e| Error::local(format!("renaming {}", p.display()), e))?;
                    }
                }
                self.keep_remote_time(local, remote_time, progress);
                progress.skip(size_known);
                let verified = algo.filter(|_| verdict == Verdict::Same);
                return Ok(Outcome {
                    name,
                    size: size_known,
                    bytes: 0,
                    resumed_from: size_known,
                    skipped: true,
                    verified,
                    time_matched: verified.is_none() && remote_time.is_some(),
                    elapsed: started.elapsed(),
                });
            }
            Plan::Resume(n) => {
                if let Some((p, _)) = &candidate {
                    if *p != part {
                        // The prefix is a finished local file: it is copied, never moved or
                        // appended to, so a server whose SIZE or HASH lied can make this
                        // download fail but cannot spoil the good copy.
                        copy_prefix(p, &part)
                            .map_err(|e| Error::local(format!("copying {}", p.display()), e))?;
                    }
                }
                progress.note(&format!("{name}: resuming at byte {n}"));
            }
            Plan::Fresh => {}
        }
        let offset = match plan {
            Plan::Resume(n) => n,
            _ => 0,
        };
        let file = if direct {
            OpenOptions::new().write(true).open(&part)
        } else {
            crate::names::open_for_write(&part, offset > 0)
        }
        .map_err(|e| Error::local(format!("opening {}", part.display()), e))?;

        progress.start(&name, size, offset);
        let got = self
            .retrieve(remote, offset, file, hasher, progress, cancel)
            .await;
        progress.finish();
        let got = got?;
        let total = offset + got.bytes;
        if let Some(want) = size {
            if total < want {
                // A short transfer the server called complete: resume it on the next try.
                return Err(Error::Network(std::io::Error::new(
                    std::io::ErrorKind::UnexpectedEof,
                    format!("{remote}: received {total} of {want} bytes"),
                )));
            }
            if total > want {
                // More than SIZE announced: the server lied in one of the two, and the
                // bytes cannot be trusted (the `.part` stays, the local file is untouched).
                return Err(Error::Integrity {
                    path: remote.to_owned(),
                    algo: "size".to_owned(),
                    local: total.to_string(),
                    remote: want.to_string(),
                });
            }
        }
        drop(got.file);
        let verified = self.verify_whole(remote, got.hasher, progress).await?;
        if !direct {
            fs::rename(&part, local)
                .map_err(|e| Error::local(format!("renaming {}", part.display()), e))?;
            self.keep_remote_time(local, remote_time, progress);
        }
        Ok(Outcome {
            name,
            size: total,
            bytes: got.bytes,
            resumed_from: offset,
            skipped: false,
            verified,
            time_matched: false,
            elapsed: started.elapsed(),
        })
    }

    /// Gives a downloaded (or found identical) file the server's modification time; a
    /// failure only costs the quick check a later transfer, so it is a note.
    fn keep_remote_time(&self, local: &Path, remote_time: Option<i64>, progress: &dyn Progress) {
        let Some(t) = remote_time else { return };
        if local_mtime(local) == Some(t) {
            return;
        }
        if let Err(e) = set_local_mtime(local, t) {
            progress.note(&format!(
                "{}: could not set its modification time: {e}",
                local.display()
            ));
        }
    }

    /// The size of a file about to be downloaded (None when the server has no SIZE: it can
    /// still be fetched, without resume); a directory or a missing file is refused here,
    /// before anything is opened locally.
    async fn size_to_get(&mut self, remote: &str) -> Result<Option<u64>> {
        match self.size(remote).await {
            Ok(Some(s)) => Ok(Some(s)),
            Ok(None) => {
                if self.is_dir(remote).await.unwrap_or(false) {
                    return Err(Error::Usage(format!(
                        "{remote} is a directory (use -r to download a tree)"
                    )));
                }
                Err(Error::Server {
                    command: format!("RETR {remote}"),
                    code: 550,
                    text: "No such file or no permission.".to_owned(),
                })
            }
            Err(e) if matches!(e.code(), Some(500 | 502)) => Ok(None),
            Err(e) => Err(e),
        }
    }

    /// Downloads `remote` into `out` as it arrives (stdout, a pipe): no `.part` and no
    /// resume, but checked as usual, by size and then by digest. The bytes are out before
    /// the digest can be compared, so a mismatch is an error after the fact (exit 6 in the
    /// binary). `name` labels the progress.
    pub async fn get_stream(
        &mut self,
        remote: &str,
        out: File,
        name: &str,
        progress: &dyn Progress,
        cancel: &CancellationToken,
    ) -> Result<Outcome> {
        self.require_digest(remote)?;
        self.ensure_connected(progress).await?;
        let started = Instant::now();
        let size = self.size_to_get(remote).await?;
        let hasher = self.hash_algo().map(Hasher::new);
        progress.start(name, size, 0);
        let got = self
            .retrieve(remote, 0, out, hasher, progress, cancel)
            .await;
        progress.finish();
        let got = got?;
        if let Some(want) = size {
            if got.bytes < want {
                return Err(Error::Network(std::io::Error::new(
                    std::io::ErrorKind::UnexpectedEof,
                    format!("{remote}: received {} of {want} bytes", got.bytes),
                )));
            }
        }
        drop(got.file);
        let verified = self.verify_whole(remote, got.hasher, progress).await?;
        Ok(Outcome {
            name: name.to_owned(),
            size: got.bytes,
            bytes: got.bytes,
            resumed_from: 0,
            skipped: false,
            verified,
            time_matched: false,
            elapsed: started.elapsed(),
        })
    }
}
