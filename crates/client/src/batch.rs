//! Commands over several files or paths (`mget`, `mput`, `rm a b`, `mkdir x y`, and the
//! trees of tree.rs): each failure is reported as it happens ([`Progress::failed`]) and the
//! others still run, as the Unix commands do; an abort (Ctrl-C) ends the batch at once.

use tokio_util::sync::CancellationToken;

use crate::client::Client;
use crate::error::{Error, Result};
use crate::files::Outcome;
use crate::glob::{expand_local, Operand};
use crate::listing::EntryType;
use crate::progress::Progress;

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

    /// Notes the result of the transfer of `name`; only an abort ends the batch.
    pub(crate) fn record(
        &mut self,
        name: String,
        result: Result<Outcome>,
        progress: &dyn Progress,
    ) -> Result<()> {
        match result {
            Ok(o) => self.outcomes.push(o),
            Err(Error::Aborted) => return Err(Error::Aborted),
            Err(e) => self.failed(name, e, progress),
        }
        Ok(())
    }

    /// Notes a file that failed before any transfer could start (a name refused, a local
    /// directory that could not be made).
    pub(crate) fn failed(&mut self, name: String, error: Error, progress: &dyn Progress) {
        progress.failed(&name, &error);
        self.failures.push((name, error));
    }
}

/// What a path command does to each of its operands.
#[derive(Clone, Copy)]
enum PathChange {
    MakeDir { parents: bool },
    RemoveDir,
    Remove { recursive: bool },
}

impl Client {
    /// `mget`: downloads every remote file the operands name (directories are passed over)
    /// into the current local directory, each under its own name, which the server chose
    /// and is therefore checked before it touches the disk.
    pub async fn get_many(
        &mut self,
        operands: &[Operand],
        progress: &dyn Progress,
        cancel: &CancellationToken,
    ) -> Result<BatchOutcome> {
        let mut files = Vec::new();
        for operand in operands {
            for (path, kind) in self.expand(operand, cancel).await? {
                if kind != Some(EntryType::Dir) {
                    files.push(path);
                }
            }
        }
        let mut out = BatchOutcome::default();
        for f in files {
            let got = match crate::names::local_name_of(&f) {
                Ok(local) => self.get_file(&f, &local, progress, cancel).await,
                Err(e) => Err(e),
            };
            out.record(f, got, progress)?;
        }
        Ok(out)
    }

    /// `mput`: uploads every local regular file the operands name into the current remote
    /// directory, under its own name.
    pub async fn put_many(
        &mut self,
        operands: &[Operand],
        progress: &dyn Progress,
        cancel: &CancellationToken,
    ) -> Result<BatchOutcome> {
        let mut files = Vec::new();
        for operand in operands {
            files.extend(expand_local(operand)?);
        }
        if files.len() > 1 {
            let total = files
                .iter()
                .filter_map(|f| std::fs::metadata(f).ok())
                .map(|m| m.len())
                .sum();
            progress.batch(files.len(), total);
        }
        let mut out = BatchOutcome::default();
        for f in files {
            let sent = self.put_file(&f, "", progress, cancel).await;
            out.record(f.display().to_string(), sent, progress)?;
        }
        Ok(out)
    }

    /// `rm`: deletes every remote path the operands name, by [`Client::remove`]'s rule for
    /// a directory. All operands are expanded before anything is deleted.
    pub async fn remove_many(
        &mut self,
        operands: &[Operand],
        recursive: bool,
        progress: &dyn Progress,
        cancel: &CancellationToken,
    ) -> Result<()> {
        let mut targets = Vec::new();
        for operand in operands {
            targets.extend(self.expand(operand, cancel).await?);
        }
        self.change_each(PathChange::Remove { recursive }, &targets, progress, cancel)
            .await
    }

    /// `mkdir`: creates each directory (with `parents`, and any missing parents, as
    /// `mkdir -p`).
    pub async fn make_dirs_many(
        &mut self,
        dirs: &[String],
        parents: bool,
        progress: &dyn Progress,
    ) -> Result<()> {
        let targets: Vec<_> = dirs.iter().map(|d| (d.clone(), None)).collect();
        let cancel = CancellationToken::new();
        self.change_each(PathChange::MakeDir { parents }, &targets, progress, &cancel)
            .await
    }

    /// `rmdir`: removes each (empty) directory.
    pub async fn remove_dirs(&mut self, dirs: &[String], progress: &dyn Progress) -> Result<()> {
        let targets: Vec<_> = dirs.iter().map(|d| (d.clone(), None)).collect();
        let cancel = CancellationToken::new();
        self.change_each(PathChange::RemoveDir, &targets, progress, &cancel)
            .await
    }

    /// Applies `change` to each target (a path and what it was found to be). A single
    /// target's failure is the command's own error, said once by the caller; with several,
    /// each is reported as it happens and the result is [`Error::Batch`].
    async fn change_each(
        &mut self,
        change: PathChange,
        targets: &[(String, Option<EntryType>)],
        progress: &dyn Progress,
        cancel: &CancellationToken,
    ) -> Result<()> {
        if let [(path, kind)] = targets {
            return self.change(change, path, *kind, cancel).await;
        }
        let mut failed = 0;
        let mut first = None;
        for (path, kind) in targets {
            match self.change(change, path, *kind, cancel).await {
                Ok(()) => {}
                Err(Error::Aborted) => return Err(Error::Aborted),
                Err(e) => {
                    progress.failed(path, &e);
                    failed += 1;
                    first.get_or_insert(e);
                }
            }
        }
        match first {
            None => Ok(()),
            Some(first) => Err(Error::Batch {
                failed,
                total: targets.len(),
                first: Box::new(first),
            }),
        }
    }

    async fn change(
        &mut self,
        change: PathChange,
        path: &str,
        kind: Option<EntryType>,
        cancel: &CancellationToken,
    ) -> Result<()> {
        match change {
            PathChange::MakeDir { parents: true } => self.make_dirs(path).await,
            PathChange::MakeDir { parents: false } => self.mkdir(path).await,
            PathChange::RemoveDir => self.rmdir(path).await,
            PathChange::Remove { recursive } => self.remove(path, kind, recursive, cancel).await,
        }
    }
}
