//! Recursive transfers: a remote directory tree downloaded, a local one uploaded (room for
//! all of it asked for first).

use std::collections::HashMap;
use std::fs;
use std::path::Path;

use tokio_util::sync::CancellationToken;

use crate::batch::BatchOutcome;
use crate::client::Client;
use crate::error::{Error, Result};
use crate::files::Op;
use crate::listing::{join, EntryType};
use crate::progress::Progress;
use crate::targets::tree_target;

impl Client {
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
                    out.failed(rdir.clone(), e, progress);
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
                    out.failed(shown, why.error(&r), progress);
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
            out.record(r, got, progress)?;
        }
        Ok(out)
    }

    /// Uploads a local directory tree to `remote` (created as needed): `remote` is the tree's
    /// own directory, unless it is empty or ends in `/` (see [`tree_target`]).
    pub async fn put_tree(
        &mut self,
        local: &Path,
        remote: &str,
        progress: &dyn Progress,
        cancel: &CancellationToken,
    ) -> Result<BatchOutcome> {
        self.require_digest(&local.display().to_string())?;
        let remote = tree_target(local, remote);
        let remote = remote.as_str();
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
            let sent = self.with_retries(Op::Put(&l, &r), progress, cancel).await;
            out.record(l.display().to_string(), sent, progress)?;
        }
        Ok(out)
    }
}
