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
            if rec.mode == "atomic-resume" && size > 0 {
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
