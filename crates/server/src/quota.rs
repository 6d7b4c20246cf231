//! An upload's side of the quota ledger (ferry-store, quota.rs): reserve before writing, in
//! growing chunks so the store is not hit per packet, commit what was written, release the
//! rest when the upload ends, however it ends.
//!
//! Chunks start at 1 MiB and double up to 8 MiB: a small file costs one reservation, a 1 GiB
//! upload about 130, and a nearly full quota is still filled exactly (the last reservation
//! asks for exactly what is left).

use ferry_store::{Store, StoreError};
use ferry_vfs::Home;

const FIRST_CHUNK: u64 = 1 << 20;
const MAX_CHUNK: u64 = 8 << 20;

/// The ledger entry of one running upload.
pub(crate) struct UploadQuota {
    store: Store,
    user_id: i64,
    /// A byte quota applied when the upload began (unlimited uploads only settle at the end).
    limited: bool,
    /// Reserved in the store for this upload and not yet committed as used.
    held: u64,
    /// Written since the last commit (a part of `held`).
    uncommitted: u64,
    /// Written in total (what an unlimited upload commits at the end).
    written: u64,
    next_chunk: u64,
    settled: bool,
}

impl UploadQuota {
    /// Starts accounting for an upload that created a file (`created`) or discarded `freed`
    /// bytes of an existing one. `None` when the file quota does not allow a new file.
    pub(crate) async fn begin(
        store: &Store,
        user_id: i64,
        freed: u64,
        created: bool,
    ) -> Result<Option<UploadQuota>, StoreError> {
        let Some(limited) = store.begin_upload(user_id, freed, created).await? else {
            return Ok(None);
        };
        Ok(Some(UploadQuota {
            store: store.clone(),
            user_id,
            limited,
            held: 0,
            uncommitted: 0,
            written: 0,
            next_chunk: FIRST_CHUNK,
            settled: false,
        }))
    }

    /// How many of the next `n` bytes may be written: `n`, or less once the quota is reached.
    pub(crate) async fn allow(&mut self, n: u64) -> Result<u64, StoreError> {
        if !self.limited {
            return Ok(n);
        }
        let free = self.held - self.uncommitted;
        if free >= n {
            return Ok(n);
        }
        let missing = n - free;
        for want in [missing.max(self.next_chunk), missing] {
            if self
                .store
                .reserve(self.user_id, self.uncommitted, want)
                .await?
            {
                self.committed_and_reserved(want);
                self.next_chunk = (self.next_chunk * 2).min(MAX_CHUNK);
                return Ok(n);
            }
        }
        // Not even `missing` fits: take exactly what is left, if anything.
        let left = match self.store.quota_usage(self.user_id).await? {
            Some(u) => u.available_bytes().unwrap_or(missing),
            None => 0,
        };
        if left > 0
            && self
                .store
                .reserve(self.user_id, self.uncommitted, left)
                .await?
        {
            self.committed_and_reserved(left);
            return Ok(free + left.min(missing));
        }
        Ok(free)
    }

    fn committed_and_reserved(&mut self, want: u64) {
        self.held = self.held - self.uncommitted + want;
        self.uncommitted = 0;
    }

    /// Records bytes that reached the file.
    pub(crate) fn wrote(&mut self, n: u64) {
        self.uncommitted += n;
        self.written += n;
    }

    /// Bytes this upload has written so far.
    pub(crate) fn written(&self) -> u64 {
        self.written
    }

    /// Commits what was written and releases the rest of the reservation.
    pub(crate) async fn settle(mut self) {
        self.settled = true;
        let (written, held) = self.final_amounts();
        if let Err(e) = self.store.settle_upload(self.user_id, written, held).await {
            tracing::error!(error = %e, user_id = self.user_id, "quota ledger not settled; run `ferryd quota rescan`");
        }
    }

    fn final_amounts(&self) -> (u64, u64) {
        if self.limited {
            (self.uncommitted, self.held)
        } else {
            (self.written, 0)
        }
    }
}

impl Drop for UploadQuota {
    /// A transfer that ended abnormally (a panic, a setup failure) still releases its
    /// reservation, in the background.
    fn drop(&mut self) {
        if self.settled {
            return;
        }
        let (written, held) = self.final_amounts();
        let (store, user_id) = (self.store.clone(), self.user_id);
        if let Ok(rt) = tokio::runtime::Handle::try_current() {
            rt.spawn(async move {
                let _ = store.settle_upload(user_id, written, held).await;
            });
        }
    }
}

/// Recomputes a user's usage from their home on disk (after a crash or changes made behind
/// the server's back) and stores it. Returns (bytes, entries).
pub async fn rescan_usage(
    store: &Store,
    user_id: i64,
    home: &std::path::Path,
) -> std::io::Result<(u64, u64)> {
    let home = Home::open(home)?;
    let (bytes, entries) = tokio::task::spawn_blocking(move || home.scan_usage())
        .await
        .map_err(std::io::Error::other)??;
    store
        .set_usage(user_id, bytes, entries)
        .await
        .map_err(std::io::Error::other)?;
    Ok((bytes, entries))
}
