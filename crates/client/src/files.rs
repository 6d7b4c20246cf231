//! Whole-file operations as the user thinks of them: get and put with automatic, verified
//! resume (see resume.rs), retried with backoff after transient failures (each retry resumes
//! where the last one stopped), and their recursive forms over directory trees.
//!
//! Downloads go to `NAME.part` and become `NAME` only when complete and verified, so a `NAME`
//! on disk is always a whole, checked copy. A mismatch keeps the `.part` for inspection; the
//! next attempt sees that its digest differs and starts over.

use std::collections::HashMap;
use std::fs::{self, File, OpenOptions};
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant, UNIX_EPOCH};

use ferry_proto::hash::HashAlgo;
use tokio_util::sync::CancellationToken;

use crate::client::{Client, VerifyMode};
use crate::error::{Error, Result};
use crate::listing::{join, EntryType};
use crate::progress::Progress;
use crate::resume::{check_for, decide, hash_prefix, Check, Plan, Verdict};
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

/// What a recursive or multi-file transfer did: the outcomes, and the failures it went past.
#[derive(Debug, Default)]
pub struct BatchOutcome {
    pub outcomes: Vec<Outcome>,
    pub failures: Vec<(String, Error)>,
}

impl BatchOutcome {
    /// The outcomes, or [`Error::Batch`] (of the class of the first failure) when any file
    /// failed.
    pub fn into_result(mut self) -> Result<Vec<Outcome>> {
        if self.failures.is_empty() {
            return Ok(self.outcomes);
        }
        let failed = self.failures.len();
        Err(Error::Batch {
            failed,
            total: failed + self.outcomes.len(),
            first: Box::new(self.failures.swap_remove(0).1),
        })
    }
}

#[derive(Clone, Copy)]
enum Op<'a> {
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
fn file_size(p: &Path) -> Option<u64> {
    fs::symlink_metadata(p)
        .ok()
        .filter(|m| m.is_file())
        .map(|m| m.len())
}

/// A local file's modification time in Unix seconds.
fn local_mtime(p: &Path) -> Option<i64> {
    let t = fs::metadata(p).ok()?.modified().ok()?;
    let secs = match t.duration_since(UNIX_EPOCH) {
        Ok(d) => d.as_secs() as i64,
        Err(before) => -(before.duration().as_secs() as i64),
    };
    Some(secs)
}

/// Gives a local file the server's modification time (as curl -R and lftp's mirror do).
fn set_local_mtime(p: &Path, unix: i64) -> std::io::Result<()> {
    let t = if unix >= 0 {
        UNIX_EPOCH + Duration::from_secs(unix as u64)
    } else {
        UNIX_EPOCH - Duration::from_secs(unix.unsigned_abs())
    };
    OpenOptions::new().write(true).open(p)?.set_modified(t)
}

/// The quick check's verdict for two files of the same size that no digest could compare:
/// their modification times must agree (to the second) for them to count as the same.
/// Unknown when either time is.
fn by_time(local: Option<i64>, remote: Option<i64>) -> Verdict {
    match (local, remote) {
        (Some(l), Some(r)) if l != r => Verdict::OtherTime,
        _ => Verdict::Unknown,
    }
}

/// Copies the local file `from` to the new download file `to` (not following a link there).
fn copy_prefix(from: &Path, to: &Path) -> std::io::Result<()> {
    let mut src = File::open(from)?;
    let mut dst = crate::names::open_for_write(to, false)?;
    std::io::copy(&mut src, &mut dst)?;
    Ok(())
}

fn base_name(path: &str) -> &str {
    path.trim_end_matches('/')
        .rsplit('/')
        .next()
        .unwrap_or(path)
}

impl Client {
    /// Runs `op` until it succeeds, fails for good, or the retries are spent; reconnects
    /// between attempts.
    async fn with_retries(
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

    fn size_only_note(&mut self, progress: &dyn Progress) {
        if !self.said_size_only && self.opts.verify != VerifyMode::Off {
            self.said_size_only = true;
            progress.note("the server offers no digest (HASH, XSHA256, XSHA1, XMD5): resuming by size only, and taking files of equal size as the same only when their modification times agree");
        }
    }

    /// `--verify required` on a server without any digest fails before anything moves,
    /// not after a whole transfer that cannot be checked.
    fn require_digest(&self, name: &str) -> Result<()> {
        if self.opts.verify == VerifyMode::Required && self.digest.is_none() {
            return Err(Error::VerifyUnavailable(name.to_owned()));
        }
        Ok(())
    }

    fn hash_algo(&self) -> Option<HashAlgo> {
        self.digest.map(|d| d.algo())
    }

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

    async fn get_once(
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

    /// Compares a local file with the remote one as `check` asks; returns the verdict and,
    /// for a prefix, the hasher that has seen the local bytes (to go on over the rest).
    async fn compare_local(
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
    async fn verify_whole(
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

    async fn put_once(
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

    /// Downloads a remote directory tree into `local` (created as needed).
    pub async fn get_tree(
        &mut self,
        remote: &str,
        local: &Path,
        progress: &dyn Progress,
        cancel: &CancellationToken,
    ) -> Result<BatchOutcome> {
        self.require_digest(remote)?;
        let mut out = BatchOutcome::default();
        let fail = |out: &mut BatchOutcome, what: String, e: Error| {
            progress.failed(&what, &e);
            out.failures.push((what, e));
        };
        // The target itself is the user's choice, made with its parents as `mkdir -p` would;
        // everything below it is named by the server and made one checked level at a time.
        fs::create_dir_all(local)
            .map_err(|e| Error::local(format!("creating {}", local.display()), e))?;
        let mut files = Vec::new();
        let mut dirs = vec![(remote.to_owned(), local.to_owned())];
        let mut i = 0;
        while i < dirs.len() {
            let (rdir, ldir) = dirs[i].clone();
            if i > 0 {
                if let Err(e) = crate::names::make_real_dir(&ldir) {
                    // Nothing below a directory that could not be made safely is fetched.
                    let e = Error::local(format!("creating {}", ldir.display()), e);
                    fail(&mut out, rdir.clone(), e);
                    i += 1;
                    continue;
                }
            }
            i += 1;
            let entries = self.list(&rdir, cancel).await?;
            for e in entries {
                let r = join(&rdir, &e.name);
                if let Err(why) = crate::names::check_local_name(&e.name) {
                    let shown = crate::names::printable(&r).into_owned();
                    fail(&mut out, shown, why.error(&r));
                    continue;
                }
                let l = ldir.join(&e.name);
                match e.kind {
                    EntryType::Dir => dirs.push((r, l)),
                    EntryType::File => files.push((r, l, e.size.unwrap_or(0))),
                    _ => progress.note(&format!(
                        "{}: not a regular file, skipped",
                        crate::names::printable(&r)
                    )),
                }
            }
        }
        progress.batch(files.len(), files.iter().map(|f| f.2).sum());
        for (r, l, _) in files {
            if cancel.is_cancelled() {
                return Err(Error::Aborted);
            }
            let got = self
                .with_retries(Op::Get(&r, &l, false), progress, cancel)
                .await;
            match got {
                Ok(o) => out.outcomes.push(o),
                Err(Error::Aborted) => return Err(Error::Aborted),
                Err(e) => {
                    progress.failed(&r, &e);
                    out.failures.push((r, e));
                }
            }
        }
        Ok(out)
    }

    /// Uploads a local directory tree into `remote` (created as needed).
    pub async fn put_tree(
        &mut self,
        local: &Path,
        remote: &str,
        progress: &dyn Progress,
        cancel: &CancellationToken,
    ) -> Result<BatchOutcome> {
        self.require_digest(&local.display().to_string())?;
        let mut files = Vec::new();
        let mut dirs = vec![(local.to_owned(), remote.to_owned())];
        let mut i = 0;
        while i < dirs.len() {
            let (ldir, rdir) = dirs[i].clone();
            i += 1;
            let mut entries: Vec<_> = fs::read_dir(&ldir)
                .map_err(|e| Error::local(format!("{}", ldir.display()), e))?
                .filter_map(|e| e.ok())
                .collect();
            entries.sort_by_key(|e| e.file_name());
            for e in entries {
                let name = e.file_name().to_string_lossy().into_owned();
                let (l, r) = (e.path(), join(&rdir, &name));
                // Follows symlinks, as cp -r of a named tree would upload what they point to.
                match fs::metadata(&l) {
                    Ok(m) if m.is_dir() => dirs.push((l, r)),
                    Ok(m) if m.is_file() => files.push((l, r, m.len())),
                    _ => progress.note(&format!("{}: not a regular file, skipped", l.display())),
                }
            }
        }
        // The whole tree must fit before anything is sent or created: a quota refusal after
        // half the files would leave a half-copied tree. Files already on the server (a
        // resumed or repeated upload) need only their growth.
        let mut on_server: HashMap<String, u64> = HashMap::new();
        for (_, rdir) in &dirs {
            let entries = match self.list(rdir, cancel).await {
                Ok(entries) => entries,
                // A directory that does not exist yet holds nothing.
                Err(e) if e.code().is_some() => continue,
                Err(e) => return Err(e),
            };
            for e in entries.into_iter().filter(|e| e.kind == EntryType::File) {
                on_server.insert(join(rdir, &e.name), e.size.unwrap_or(0));
            }
        }
        let needed: u64 = files
            .iter()
            .map(|(_, r, size)| size.saturating_sub(on_server.get(r).copied().unwrap_or(0)))
            .sum();
        self.ensure_room(needed).await?;
        for (_, r) in &dirs {
            self.ensure_dir(r).await?;
        }
        progress.batch(files.len(), files.iter().map(|f| f.2).sum());
        let mut out = BatchOutcome::default();
        for (l, r, _) in files {
            if cancel.is_cancelled() {
                return Err(Error::Aborted);
            }
            // `r` is the exact target: no "into a directory of that name" guess per file.
            match self.with_retries(Op::Put(&l, &r), progress, cancel).await {
                Ok(o) => out.outcomes.push(o),
                Err(Error::Aborted) => return Err(Error::Aborted),
                Err(e) => {
                    let name = l.display().to_string();
                    progress.failed(&name, &e);
                    out.failures.push((name, e));
                }
            }
        }
        Ok(out)
    }

    /// Creates a remote directory unless it already exists.
    pub async fn ensure_dir(&mut self, dir: &str) -> Result<()> {
        match self.mkdir(dir).await {
            Ok(()) => Ok(()),
            Err(e) if e.code() == Some(550) || e.code() == Some(553) || e.code() == Some(521) => {
                if self.is_dir(dir).await? {
                    Ok(())
                } else {
                    Err(e)
                }
            }
            Err(e) => Err(e),
        }
    }

    /// Creates a remote directory and any missing parents (`mkdir -p`); directories that
    /// already exist are fine.
    pub async fn make_dirs(&mut self, path: &str) -> Result<()> {
        let mut prefix = if path.starts_with('/') {
            "/".to_owned()
        } else {
            String::new()
        };
        for part in path.split('/').filter(|p| !p.is_empty()) {
            prefix = join(&prefix, part);
            self.ensure_dir(&prefix).await?;
        }
        Ok(())
    }

    /// Deletes a remote directory and everything in it.
    pub async fn remove_tree(&mut self, dir: &str, cancel: &CancellationToken) -> Result<()> {
        let entries = self.list(dir, cancel).await?;
        for e in entries {
            let p = join(dir, &e.name);
            if e.kind == EntryType::Dir {
                Box::pin(self.remove_tree(&p, cancel)).await?;
            } else {
                self.delete(&p).await?;
            }
        }
        self.rmdir(dir).await
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
        assert_eq!(base_name("/a/b/"), "b");
        assert_eq!(base_name("c"), "c");
        assert!(backoff(1) < backoff(2));
        assert_eq!(backoff(10), backoff(4));
    }
}
