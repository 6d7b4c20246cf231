//! What every whole-file transfer shares: its [`Outcome`], retries with backoff after
//! transient failures (each retry resumes where the last one stopped), and the digest checks
//! before (is the existing prefix the same bytes?) and after (is the whole file?). The
//! transfers themselves are in get.rs and put.rs, their recursive forms in tree.rs.
//!
//! Downloads go to `NAME.part` and become `NAME` only when complete and verified, so a `NAME`
//! on disk is always a whole, checked copy. A mismatch keeps the `.part` for inspection; the
//! next attempt sees that its digest differs and starts over.

use std::fs;
use std::path::{Path, PathBuf};
use std::time::{Duration, UNIX_EPOCH};

use ferry_proto::hash::HashAlgo;
use tokio_util::sync::CancellationToken;

use crate::client::{Client, VerifyMode};
use crate::error::{Error, Result};
use crate::progress::Progress;
use crate::resume::{hash_prefix, Check, Verdict};
use ferry_transfer::Hasher;

/// What one file transfer did.
#[derive(Debug, Clone)]
pub struct Outcome {
    /// The destination, as the user would name it.
    pub name: String,
    /// The size of the file.
    pub size: u64,
    /// Bytes moved by this transfer (less than `size` when resumed, 0 when skipped).
    pub bytes: u64,
    pub resumed_from: u64,
    pub skipped: bool,
    /// The digest both sides agreed on; None when only sizes could be compared.
    pub verified: Option<HashAlgo>,
    /// Skipped without a digest because sizes and modification times agree (the quick
    /// check).
    pub time_matched: bool,
    pub elapsed: Duration,
}

#[derive(Clone, Copy)]
pub(crate) enum Op<'a> {
    /// Remote path, local path, and whether a local path that is not a regular file
    /// (`/dev/null`, a pipe) may be written straight through: only when the user named it,
    /// never for a name that came from the server.
    Get(&'a str, &'a Path, bool),
    Put(&'a Path, &'a str),
}

/// The pause before retry number `attempt` (1, 2, 4, 8, then 8 s).
pub(crate) fn backoff(attempt: u32) -> Duration {
    Duration::from_millis(500u64 << attempt.min(4))
}

/// `NAME.part` beside `NAME`.
pub fn part_path(local: &Path) -> PathBuf {
    let mut s = local.as_os_str().to_owned();
    s.push(".part");
    PathBuf::from(s)
}

/// The size of a local regular file that a download could resume or skip; a symlink is never
/// one (what it points to is not ours to append to).
pub(crate) fn file_size(p: &Path) -> Option<u64> {
    fs::symlink_metadata(p)
        .ok()
        .filter(|m| m.is_file())
        .map(|m| m.len())
}

/// A local file's modification time in Unix seconds.
pub(crate) fn local_mtime(p: &Path) -> Option<i64> {
    let t = fs::metadata(p).ok()?.modified().ok()?;
    let secs = match t.duration_since(UNIX_EPOCH) {
        Ok(d) => d.as_secs() as i64,
        Err(before) => -(before.duration().as_secs() as i64),
    };
    Some(secs)
}

/// The quick check's verdict for two files of the same size that no digest could compare:
/// their modification times must agree (to the second) for them to count as the same.
/// Unknown when either time is.
pub(crate) fn by_time(local: Option<i64>, remote: Option<i64>) -> Verdict {
    match (local, remote) {
        (Some(l), Some(r)) if l != r => Verdict::OtherTime,
        _ => Verdict::Unknown,
    }
}

impl Client {
    /// Runs `op` until it succeeds, fails for good, or the retries are spent; reconnects
    /// between attempts.
    pub(crate) async fn with_retries(
        &mut self,
        op: Op<'_>,
        progress: &dyn Progress,
        cancel: &CancellationToken,
    ) -> Result<Outcome> {
        let mut attempt = 0;
        loop {
            let r = self.ensure_connected(progress).await;
            let r = match (r, op) {
                (Err(e), _) => Err(e),
                (Ok(()), Op::Get(remote, local, direct_ok)) => {
                    self.get_once(remote, local, direct_ok, progress, cancel)
                        .await
                }
                (Ok(()), Op::Put(local, remote)) => {
                    self.put_once(local, remote, progress, cancel).await
                }
            };
            match r {
                Err(e)
                    if e.is_transient()
                        && attempt < self.opts.retries
                        && !cancel.is_cancelled() =>
                {
                    attempt += 1;
                    let wait = backoff(attempt);
                    progress.note(&format!(
                        "{e}; retrying in {:.1}s (attempt {attempt} of {})",
                        wait.as_secs_f64(),
                        self.opts.retries
                    ));
                    self.drop_connection();
                    tokio::select! {
                        _ = cancel.cancelled() => return Err(Error::Aborted),
                        _ = tokio::time::sleep(wait) => {}
                    }
                }
                r => return r,
            }
        }
    }

    pub(crate) fn size_only_note(&mut self, progress: &dyn Progress) {
        if !self.said_size_only && self.opts.verify != VerifyMode::Off {
            self.said_size_only = true;
            progress.note("the server offers no digest (HASH, XSHA256, XSHA1, XMD5): resuming by size only, and taking files of equal size as the same only when their modification times agree");
        }
    }

    /// `--verify required` on a server without any digest fails before anything moves,
    /// not after a whole transfer that cannot be checked.
    pub(crate) fn require_digest(&self, name: &str) -> Result<()> {
        if self.opts.verify == VerifyMode::Required && self.digest.is_none() {
            return Err(Error::VerifyUnavailable(name.to_owned()));
        }
        Ok(())
    }

    pub(crate) fn hash_algo(&self) -> Option<HashAlgo> {
        self.digest.map(|d| d.algo())
    }

    /// Compares a local file with the remote one as `check` asks; returns the verdict and,
    /// for a prefix, the hasher that has seen the local bytes (to go on over the rest).
    pub(crate) async fn compare_local(
        &mut self,
        remote: &str,
        local: &Path,
        check: Check,
        algo: Option<HashAlgo>,
        progress: &dyn Progress,
    ) -> Result<(Verdict, Option<Hasher>)> {
        let n = match check {
            Check::None => return Ok((Verdict::Unknown, None)),
            Check::Prefix(n) => n,
            Check::Whole => file_size(local).unwrap_or(0),
        };
        let Some(algo) = algo else {
            self.size_only_note(progress);
            return Ok((Verdict::Unknown, None));
        };
        let range = match check {
            Check::Prefix(n) => Some((0, n)),
            _ => None,
        };
        let theirs = self.remote_digest(remote, range).await?;
        let mine = hash_prefix(local, n, algo).await?;
        let verdict = match theirs {
            Some((_, hex)) if hex == mine.peek_hex() => Verdict::Same,
            Some(_) => Verdict::Different,
            None => {
                self.size_only_note(progress);
                Verdict::Unknown
            }
        };
        Ok((verdict, Some(mine)))
    }

    /// After a transfer: the server's digest of the whole file against ours.
    pub(crate) async fn verify_whole(
        &mut self,
        remote: &str,
        hasher: Option<Hasher>,
        progress: &dyn Progress,
    ) -> Result<Option<HashAlgo>> {
        let Some(h) = hasher else {
            if self.opts.verify == VerifyMode::Required {
                return Err(Error::VerifyUnavailable(remote.to_owned()));
            }
            if self.opts.verify == VerifyMode::Auto {
                self.size_only_note(progress);
            }
            return Ok(None);
        };
        let algo = h.algo();
        match self.remote_digest(remote, None).await? {
            Some((_, theirs)) => {
                let mine = h.finish_hex();
                if mine == theirs {
                    Ok(Some(algo))
                } else {
                    Err(Error::Integrity {
                        path: remote.to_owned(),
                        algo: algo.name().to_owned(),
                        local: mine,
                        remote: theirs,
                    })
                }
            }
            None if self.opts.verify == VerifyMode::Required => {
                Err(Error::VerifyUnavailable(remote.to_owned()))
            }
            None => {
                progress.note(&format!(
                    "{remote}: the server did not give a digest; not verified"
                ));
                Ok(None)
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn part_names_and_backoff() {
        assert_eq!(
            part_path(Path::new("/x/fé.bin")),
            PathBuf::from("/x/fé.bin.part")
        );
        assert!(backoff(1) < backoff(2));
        assert_eq!(backoff(10), backoff(4));
    }
}
