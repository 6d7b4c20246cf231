//! Crash recovery: at start, the uploads this node's journal still holds were cut off by a
//! crash (`kill -9`, power loss). Each is resolved by its upload mode's rule (upload.rs): a
//! staging file becomes its target in `atomic-resume` (so the client can resume it) and is
//! removed otherwise; an in-place upload in `atomic` mode is cut back to its starting size.
//! Then each affected user's usage is set from what is actually on disk, and reservations are
//! recomputed from the journal rows left, which belong to other nodes sharing the store.

use std::collections::BTreeMap;
use std::io;
use std::path::PathBuf;

use ferry_store::{JournaledUpload, Store};
use ferry_vfs::{Home, VirtualPath};

use crate::quota::rescan_usage;

/// What recovery found, for the startup log.
#[derive(Debug, Default, PartialEq, Eq)]
pub(crate) struct Recovered {
    pub uploads: usize,
    /// Fragments kept under their target's name, for resuming.
    pub kept: usize,
    /// Fragments removed, or in-place uploads cut back.
    pub given_back: usize,
}

pub(crate) async fn recover_uploads(store: &Store, node: &str) -> io::Result<Recovered> {
    let rows = store
        .node_uploads(node)
        .await
        .map_err(|e| io::Error::other(format!("reading the upload journal: {e}")))?;
    let mut found = Recovered {
        uploads: rows.len(),
        ..Recovered::default()
    };
    let mut homes: BTreeMap<i64, PathBuf> = BTreeMap::new();
    for row in rows {
        let id = row.id;
        let home = PathBuf::from(&row.record.home);
        homes.insert(row.record.user_id, home.clone());
        let resolved = tokio::task::spawn_blocking(move || resolve(&row, &home))
            .await
            .map_err(io::Error::other)?;
        match resolved {
            Ok(true) => found.kept += 1,
            Ok(false) => found.given_back += 1,
            Err(e) => tracing::error!(error = %e, "could not resolve an interrupted upload"),
        }
        store
            .forget_upload(id)
            .await
            .map_err(|e| io::Error::other(format!("updating the upload journal: {e}")))?;
    }
    for (user_id, home) in homes {
        if !home.is_dir() {
            continue;
        }
        if let Err(e) = rescan_usage(store, user_id, &home).await {
            tracing::error!(error = %e, user_id, "usage not rescanned; run `ferryd quota rescan`");
        }
    }
    store
        .recompute_reservations()
        .await
        .map_err(|e| io::Error::other(format!("recomputing reservations: {e}")))?;
    Ok(found)
}

/// Applies the mode's rule to one journaled upload. True when its bytes were kept.
fn resolve(row: &JournaledUpload, home_path: &std::path::Path) -> io::Result<bool> {
    let rec = &row.record;
    if !home_path.is_dir() {
        // The home (or its user) is gone: nothing to resolve, and nothing to recreate.
        return Ok(false);
    }
    let home = Home::open(home_path)?;
    let bad = |what: &str| io::Error::new(io::ErrorKind::InvalidData, format!("bad {what}"));
    let target =
        VirtualPath::resolve(&VirtualPath::root(), &rec.target).map_err(|_| bad("target"))?;
    match &rec.temp {
        Some(temp) => {
            // The staging name is reserved, so it is not resolvable: rebuild it from its parts.
            let (dir, name) = temp.rsplit_once('/').unwrap_or(("", temp));
            if name.contains("..") || !name.starts_with(ferry_vfs::STAGING_PREFIX) {
                return Err(bad("staging name"));
            }
            let temp = VirtualPath::resolve(&VirtualPath::root(), dir)
                .map_err(|_| bad("staging directory"))?
                .child(name);
            let size = match home.metadata(&temp) {
                Ok(m) => m.len(),
                Err(e) if e.kind() == io::ErrorKind::NotFound => return Ok(false),
                Err(e) => return Err(e),
            };
            // As when an upload is interrupted live (upload.rs): an empty fragment stands
            // only where no file would lose its content to it.
            let target_exists = home.metadata(&target).is_ok();
            if rec.mode == "atomic-resume" && (size > 0 || !target_exists) {
                home.commit_staged(&temp, &target, true)?;
                Ok(true)
            } else {
                home.discard_staged(&temp)?;
                Ok(false)
            }
        }
        None if rec.mode == "atomic" => {
            if rec.created {
                match home.remove_file(&target) {
                    Err(e) if e.kind() != io::ErrorKind::NotFound => return Err(e),
                    _ => {}
                }
            } else {
                home.truncate(&target, rec.base_bytes)?;
            }
            Ok(false)
        }
        None => Ok(true),
    }
}

/// How long a staging file must have gone unwritten to be taken for an orphan.
const STALE_STAGING: std::time::Duration = std::time::Duration::from_secs(600);

/// A file in the data directory that exists while this node runs: found at start, it says
/// the last run ended without a clean shutdown.
pub(crate) struct RunMarker {
    path: PathBuf,
}

impl RunMarker {
    /// Creates the marker; true in the second place when the previous run did not remove it.
    pub(crate) fn create(data_dir: &std::path::Path, node: &str) -> io::Result<(RunMarker, bool)> {
        let safe: String = node
            .chars()
            .map(|c| {
                if c.is_ascii_alphanumeric() || c == '-' || c == '.' {
                    c
                } else {
                    '_'
                }
            })
            .collect();
        let path = data_dir.join(format!("running.{safe}"));
        let crashed = path.exists();
        std::fs::create_dir_all(data_dir)?;
        std::fs::write(&path, format!("{}\n", std::process::id()))?;
        Ok((RunMarker { path }, crashed))
    }

    /// A clean shutdown.
    pub(crate) fn remove(self) {
        if let Err(e) = std::fs::remove_file(&self.path) {
            tracing::warn!(error = %e, path = %self.path.display(), "could not remove the run marker");
        }
    }
}

/// After a crash: removes staging files that no upload has written to for
/// [`STALE_STAGING`], from every home, in the background. Small uploads of users without
/// limits are not journaled (they finish within one write), so a crash during one can leave
/// its staging file where no journal row points. A live upload writes its file at least every
/// five minutes (the data timeout), on this node or any other sharing the homes, so a file
/// untouched for longer is an orphan.
pub(crate) fn sweep_orphaned_staging(store: Store, config: &crate::config::ServerConfig) {
    let config = config.clone();
    tokio::spawn(async move {
        tokio::time::sleep(STALE_STAGING).await;
        let started = std::time::SystemTime::now() - STALE_STAGING;
        let users = match store.users().await {
            Ok(u) => u,
            Err(e) => {
                tracing::warn!(error = %e, "staging sweep skipped: users unreadable");
                return;
            }
        };
        let homes: Vec<PathBuf> = users.iter().map(|u| config.home_of(u)).collect();
        let swept = tokio::task::spawn_blocking(move || {
            let mut removed = 0;
            for path in homes {
                if !path.is_dir() {
                    continue;
                }
                match Home::open(&path).and_then(|h| h.remove_stale_staging(started)) {
                    Ok(n) => removed += n,
                    Err(e) => {
                        tracing::warn!(error = %e, home = %path.display(), "staging sweep failed")
                    }
                }
            }
            removed
        })
        .await
        .unwrap_or(0);
        if swept > 0 {
            tracing::warn!(removed = swept, "removed staging files left by a crash");
        }
    });
}
