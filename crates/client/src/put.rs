//! Uploads: `put_file`, resumed (REST or APPE) after the server's prefix is checked, room
//! asked for before any byte moves, verified, with the local modification time (MFMT).

use std::fs::{self, File};
use std::path::Path;
use std::time::Instant;

use tokio_util::sync::CancellationToken;

use crate::client::Client;
use crate::error::{Error, Result};
use crate::files::{by_time, local_mtime, Op, Outcome};
use crate::listing::join;
use crate::progress::Progress;
use crate::resume::{check_for, decide, Check, Plan, Verdict};
use ferry_transfer::Hasher;

impl Client {
    /// Uploads `local` to `remote` (a file path, or a directory — ending in `/` or existing —
    /// to put it in).
    pub async fn put_file(
        &mut self,
        local: &Path,
        remote: &str,
        progress: &dyn Progress,
        cancel: &CancellationToken,
    ) -> Result<Outcome> {
        self.require_digest(&local.display().to_string())?;
        let meta =
            fs::metadata(local).map_err(|e| Error::local(format!("{}", local.display()), e))?;
        if meta.is_dir() {
            return Err(Error::Usage(format!(
                "{} is a directory (use -r to upload a tree)",
                local.display()
            )));
        }
        let file_name = local
            .file_name()
            .map(|n| n.to_string_lossy().into_owned())
            .unwrap_or_default();
        let into_dir = remote.is_empty()
            || remote.ends_with('/')
            || (self.size(remote).await?.is_none() && self.is_dir(remote).await?);
        let remote = if into_dir {
            join(remote, &file_name)
        } else {
            remote.to_owned()
        };
        self.with_retries(Op::Put(local, &remote), progress, cancel)
            .await
    }

    pub(crate) async fn put_once(
        &mut self,
        local: &Path,
        remote: &str,
        progress: &dyn Progress,
        cancel: &CancellationToken,
    ) -> Result<Outcome> {
        let started = Instant::now();
        let file =
            File::open(local).map_err(|e| Error::local(format!("{}", local.display()), e))?;
        let want = file
            .metadata()
            .map_err(|e| Error::local(format!("{}", local.display()), e))?
            .len();
        let local_time = local_mtime(local);
        let have = self.size(remote).await?;
        let algo = self.hash_algo();
        let check = check_for(have, want);
        // Here the remote file is the partial one: its bytes against our prefix.
        let (mut verdict, hasher) = self
            .compare_local(remote, local, check, algo, progress)
            .await?;
        let mut remote_time = None;
        if check == Check::Whole && verdict == Verdict::Unknown {
            remote_time = self.modified(remote).await?;
            verdict = by_time(local_time, remote_time);
        }
        let plan = decide(check, verdict, self.opts.verify, remote)?;
        let name = remote.to_owned();
        let (offset, hasher) = match plan {
            Plan::Skip => {
                progress.skip(want);
                let verified = algo.filter(|_| verdict == Verdict::Same);
                return Ok(Outcome {
                    name,
                    size: want,
                    bytes: 0,
                    resumed_from: want,
                    skipped: true,
                    verified,
                    time_matched: verified.is_none() && remote_time.is_some(),
                    elapsed: started.elapsed(),
                });
            }
            Plan::Resume(n) => {
                progress.note(&format!("{name}: resuming at byte {n}"));
                (n, hasher)
            }
            Plan::Fresh => {
                match (have, verdict) {
                    (Some(h), Verdict::Different) => progress.note(&format!(
                        "{name}: the server's copy ({h} bytes) differs from the local file; uploading it again"
                    )),
                    (Some(_), Verdict::OtherTime) => progress.note(&format!(
                        "{name}: same size as the local file but another modification time, and no digest to compare; uploading it again"
                    )),
                    _ => {}
                }
                (0, algo.map(Hasher::new))
            }
        };
        // Ask before sending: a quota refusal now costs nothing. Overwriting frees the old
        // size, so only the growth needs room.
        let needed = want.saturating_sub(if offset > 0 {
            offset
        } else {
            have.unwrap_or(0)
        });
        self.ensure_room(needed).await?;
        let append = offset > 0 && !self.features.rest_stream;
        progress.start(&name, Some(want), offset);
        let sent = self
            .store(remote, offset, append, file, hasher, progress, cancel)
            .await;
        progress.finish();
        let (bytes, hasher) = sent?;
        if offset + bytes != want {
            return Err(Error::local(
                format!("{}", local.display()),
                std::io::Error::other("the file changed size while being uploaded"),
            ));
        }
        if hasher.is_none() {
            // Without digests, at least the size must be right.
            if let Some(got) = self.size(remote).await? {
                if got != want {
                    return Err(Error::Integrity {
                        path: remote.to_owned(),
                        algo: "size".to_owned(),
                        local: want.to_string(),
                        remote: got.to_string(),
                    });
                }
            }
        }
        let verified = self.verify_whole(remote, hasher, progress).await?;
        // The local time goes with the file (MFMT), so that the quick check of a later run
        // finds them equal; a server that cannot keep it costs only that.
        if let Some(t) = local_time {
            let _ = self.set_modified(remote, t).await;
        }
        Ok(Outcome {
            name,
            size: want,
            bytes,
            resumed_from: offset,
            skipped: false,
            verified,
            time_matched: false,
            elapsed: started.elapsed(),
        })
    }

    /// Asks the server whether `needed` more bytes fit (`ALLO`, then `AVBL` when offered), so
    /// that a quota refusal comes before any byte moves: `552` with the server's words.
    pub async fn ensure_room(&mut self, needed: u64) -> Result<()> {
        self.allocate(needed).await?;
        if let Some(avail) = self.available(None).await? {
            if avail < needed {
                return Err(Error::Server {
                    command: "AVBL".to_owned(),
                    code: 552,
                    text: format!(
                        "the server has room for {avail} more bytes, {needed} are needed"
                    ),
                });
            }
        }
        Ok(())
    }
}
