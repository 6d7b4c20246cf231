//! An upload's side of the quota ledger (ferry-store, quota.rs): reserve before writing, in
//! growing chunks so the store is not hit per packet, commit what was written, release the
//! rest when the upload ends, however it ends.
//!
//! Chunks start at 1 MiB and double up to 8 MiB: a small file costs one reservation, a 1 GiB
//! upload about 130, and a nearly full quota is still filled exactly (the last reservation
//! asks for exactly what is left).

use std::collections::HashMap;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use ferry_store::{Store, StoreError};
use ferry_vfs::Home;

const FIRST_CHUNK: u64 = 1 << 20;
const MAX_CHUNK: u64 = 8 << 20;

/// Accounting for users without any limit, where exactness costs nothing: their uploads skip
/// the reservation round trips, and their usage changes are summed in memory and written every
/// [`UnlimitedUsage::FLUSH_EVERY`] (and at shutdown). Which users are unlimited is re-read at
/// most every [`UnlimitedUsage::LIMITS_TTL`], so a quota set on a live user applies within
/// that time; the pending sum is written before such a user's first reservation.
///
/// Measured on the bench's 4 KiB uploads: ~850 -> ~1250 files/s, the two database writes per
/// upload being most of the per-file cost.
pub(crate) struct UnlimitedUsage {
    store: Store,
    limits: Mutex<HashMap<i64, (bool, Instant)>>,
    pending: Mutex<HashMap<i64, (i64, i64)>>,
}

impl UnlimitedUsage {
    pub(crate) const FLUSH_EVERY: Duration = Duration::from_millis(250);
    const LIMITS_TTL: Duration = Duration::from_secs(1);

    pub(crate) fn new(store: Store) -> Arc<UnlimitedUsage> {
        Arc::new(UnlimitedUsage {
            store,
            limits: Mutex::new(HashMap::new()),
            pending: Mutex::new(HashMap::new()),
        })
    }

    /// Whether the user has neither a byte nor a file quota (as of at most a second ago).
    async fn is_unlimited(&self, user_id: i64) -> Result<bool, StoreError> {
        let now = Instant::now();
        if let Some((unlimited, at)) = self
            .limits
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .get(&user_id)
        {
            if now.duration_since(*at) < Self::LIMITS_TTL {
                return Ok(*unlimited);
            }
        }
        let unlimited = match self.store.quota_usage(user_id).await? {
            Some(u) => u.quota_bytes.is_none() && u.quota_files.is_none(),
            None => false,
        };
        let mut limits = self.limits.lock().unwrap_or_else(|p| p.into_inner());
        if limits.len() > 100_000 {
            limits.clear();
        }
        limits.insert(user_id, (unlimited, now));
        Ok(unlimited)
    }

    fn add(&self, user_id: i64, bytes: i64, files: i64) {
        let mut pending = self.pending.lock().unwrap_or_else(|p| p.into_inner());
        let e = pending.entry(user_id).or_insert((0, 0));
        e.0 += bytes;
        e.1 += files;
    }

    /// Writes the pending sums (of one user, or of all).
    pub(crate) async fn flush(&self, only: Option<i64>) {
        let batch: Vec<(i64, (i64, i64))> = {
            let mut pending = self.pending.lock().unwrap_or_else(|p| p.into_inner());
            match only {
                Some(id) => pending
                    .remove(&id)
                    .map(|d| vec![(id, d)])
                    .unwrap_or_default(),
                None => pending.drain().collect(),
            }
        };
        for (user_id, (bytes, files)) in batch {
            if let Err(e) = self.store.add_usage(user_id, bytes, files).await {
                tracing::error!(error = %e, user_id, "usage not recorded; run `ferryd quota rescan`");
            }
        }
    }
}

/// The ledger entry of one running upload.
pub(crate) struct UploadQuota {
    store: Store,
    /// Set for users without limits: usage goes to this accumulator at the end, nothing is
    /// reserved (see [`UnlimitedUsage`]).
    unlimited: Option<Arc<UnlimitedUsage>>,
    freed: u64,
    created: bool,
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
        unlimited_usage: &Arc<UnlimitedUsage>,
        user_id: i64,
        freed: u64,
        created: bool,
    ) -> Result<Option<UploadQuota>, StoreError> {
        let unlimited = unlimited_usage.is_unlimited(user_id).await?;
        let limited = if unlimited {
            false
        } else {
            // Exact from here on: first write what was summed while the user had no limits.
            unlimited_usage.flush(Some(user_id)).await;
            let Some(limited) = store.begin_upload(user_id, freed, created).await? else {
                return Ok(None);
            };
            limited
        };
        Ok(Some(UploadQuota {
            store: store.clone(),
            unlimited: unlimited.then(|| Arc::clone(unlimited_usage)),
            freed,
            created,
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
        if let Some(acc) = self.unlimited.take() {
            acc.add(
                self.user_id,
                self.written as i64 - self.freed as i64,
                i64::from(self.created),
            );
            return;
        }
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
        if let Some(acc) = self.unlimited.take() {
            acc.add(
                self.user_id,
                self.written as i64 - self.freed as i64,
                i64::from(self.created),
            );
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
