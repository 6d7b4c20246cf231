//! The quota ledger as the server sees it, behind one door, [`Ledger`]: uploads (reserve
//! before writing, in growing chunks so the store is not hit per packet, commit what stayed,
//! release the rest however the upload ends), new entries (MKD), credits (DELE, RMD, RNTO)
//! and the usage clients ask for (ALLO, AVBL, SITE QUOTA). No handler touches the store's
//! usage columns itself.
//!
//! Chunks start at 1 MiB and double up to 8 MiB: a small file costs one reservation, a 1 GiB
//! upload about 130, and a nearly full quota is still filled exactly (the last reservation
//! asks for exactly what is left).

use std::collections::HashMap;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use ferry_store::{QuotaUsage, Store, StoreError, UploadRecord};
use ferry_vfs::Home;

use crate::upload::Conclusion;

const FIRST_CHUNK: u64 = 1 << 20;
const MAX_CHUNK: u64 = 8 << 20;

/// The one door to the quota ledger for sessions (see the module documentation).
pub(crate) struct Ledger {
    store: Store,
    unlimited: Arc<UnlimitedUsage>,
}

impl Ledger {
    pub(crate) fn new(store: Store) -> Ledger {
        Ledger {
            unlimited: UnlimitedUsage::new(store.clone()),
            store,
        }
    }

    /// Starts accounting for an upload. `None` when the file quota does not allow a new file.
    pub(crate) async fn begin_upload(
        &self,
        start: UploadStart,
    ) -> Result<Option<UploadQuota>, StoreError> {
        UploadQuota::begin(&self.store, &self.unlimited, start).await
    }

    /// Counts a new directory, if the file quota allows (MKD).
    pub(crate) async fn add_entry(&self, user_id: i64) -> Result<bool, StoreError> {
        self.store.try_add_file(user_id).await
    }

    /// Credits removed bytes and entries. The file operation has happened already, so a store
    /// failure is logged (a rescan repairs it), not reported.
    pub(crate) async fn release(&self, user_id: i64, bytes: u64, files: u64) {
        // Credits are clamped at zero: write any batched growth first (see UnlimitedUsage).
        self.unlimited.flush(Some(user_id)).await;
        if let Err(e) = self.store.release_usage(user_id, bytes, files).await {
            tracing::error!(error = %e, "quota ledger update failed; run `ferryd quota rescan`");
        }
    }

    /// A user's usage and limits, exact (batched growth written first).
    pub(crate) async fn usage(&self, user_id: i64) -> Result<Option<QuotaUsage>, StoreError> {
        self.unlimited.flush(Some(user_id)).await;
        self.store.quota_usage(user_id).await
    }

    /// Writes every batched change (periodically, and at shutdown).
    pub(crate) async fn flush(&self) {
        self.unlimited.flush(None).await;
    }
}

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
    /// Journal rows of their finished uploads, deleted with the next flush.
    finished: Mutex<Vec<i64>>,
}

impl UnlimitedUsage {
    pub(crate) const FLUSH_EVERY: Duration = Duration::from_millis(250);
    const LIMITS_TTL: Duration = Duration::from_secs(1);

    pub(crate) fn new(store: Store) -> Arc<UnlimitedUsage> {
        Arc::new(UnlimitedUsage {
            store,
            limits: Mutex::new(HashMap::new()),
            pending: Mutex::new(HashMap::new()),
            finished: Mutex::new(Vec::new()),
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

    /// A journaled upload of an unlimited user ended: its row goes with the next flush.
    fn finished(&self, upload_id: i64) {
        self.finished
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .push(upload_id);
    }

    /// Writes the pending sums (of one user, or of all) and deletes the journal rows of
    /// finished uploads, in one transaction. What the store refuses (its disk is full) stays
    /// pending for the next flush.
    pub(crate) async fn flush(&self, only: Option<i64>) {
        let batch: Vec<(i64, i64, i64)> = {
            let mut pending = self.pending.lock().unwrap_or_else(|p| p.into_inner());
            match only {
                Some(id) => pending
                    .remove(&id)
                    .map(|(b, f)| vec![(id, b, f)])
                    .unwrap_or_default(),
                None => pending.drain().map(|(id, (b, f))| (id, b, f)).collect(),
            }
        };
        let finished: Vec<i64> =
            std::mem::take(&mut *self.finished.lock().unwrap_or_else(|p| p.into_inner()));
        if batch.is_empty() && finished.is_empty() {
            return;
        }
        if let Err(e) = self.store.flush_unlimited(&batch, &finished).await {
            tracing::error!(error = %e, "usage not recorded yet; retrying");
            for (user_id, bytes, files) in batch {
                self.add(user_id, bytes, files);
            }
            self.finished
                .lock()
                .unwrap_or_else(|p| p.into_inner())
                .extend(finished);
        }
    }
}

/// The ledger entry of one running upload, and its row in the store's upload journal (what
/// crash recovery resolves at the next start; see `recovery.rs`).
pub(crate) struct UploadQuota {
    store: Store,
    /// Set for users without limits: usage goes to this accumulator at the end, nothing is
    /// reserved (see [`UnlimitedUsage`]).
    unlimited: Option<Arc<UnlimitedUsage>>,
    freed: u64,
    /// The start counted a new file.
    counted_file: bool,
    /// The upload writes a staging file (dropped unconcluded, it is removed).
    staged: bool,
    user_id: i64,
    /// A byte quota applied when the upload began (unlimited uploads only settle at the end).
    limited: bool,
    /// See [`crate::upload::Placement::allowance`].
    allowance: u64,
    /// The journal row; `None` until written (an unlimited user's upload is journaled only
    /// once it outlives its first read, see [`UploadQuota::journal`]).
    upload_id: Option<i64>,
    record: UploadRecord,
    /// Reserved in the store for this upload and not yet committed as used.
    held: u64,
    /// Written since the last commit (a part of `held`).
    uncommitted: u64,
    /// Written in total (what an unlimited upload commits at the end).
    written: u64,
    next_chunk: u64,
    settled: bool,
}

/// What an upload changes in the ledger when it starts.
pub(crate) struct UploadStart {
    pub user_id: i64,
    /// Bytes of an existing file the open discarded.
    pub freed: u64,
    /// The upload's target did not exist: it counts as a new file.
    pub counted_file: bool,
    pub staged: bool,
    pub allowance: u64,
    pub record: UploadRecord,
}

impl UploadQuota {
    /// Starts accounting for an upload. `None` when the file quota does not allow a new file.
    async fn begin(
        store: &Store,
        unlimited_usage: &Arc<UnlimitedUsage>,
        start: UploadStart,
    ) -> Result<Option<UploadQuota>, StoreError> {
        let unlimited = unlimited_usage.is_unlimited(start.user_id).await?;
        let (limited, upload_id) = if unlimited {
            (false, None)
        } else {
            // Exact from here on: first write what was summed while the user had no limits.
            unlimited_usage.flush(Some(start.user_id)).await;
            let Some((id, limited)) = store
                .begin_journaled_upload(
                    start.user_id,
                    start.freed,
                    start.counted_file,
                    &start.record,
                )
                .await?
            else {
                return Ok(None);
            };
            (limited, Some(id))
        };
        Ok(Some(UploadQuota {
            store: store.clone(),
            unlimited: unlimited.then(|| Arc::clone(unlimited_usage)),
            freed: start.freed,
            counted_file: start.counted_file,
            staged: start.staged,
            user_id: start.user_id,
            limited,
            allowance: start.allowance,
            upload_id,
            record: start.record,
            held: 0,
            uncommitted: 0,
            written: 0,
            next_chunk: FIRST_CHUNK,
            settled: false,
        }))
    }

    /// Journals an unlimited user's upload that did not arrive whole at once, so a crash
    /// while it runs is resolved at the next start. (Small uploads finish within one write
    /// and are never journaled: that saves two database commits per file.)
    pub(crate) async fn journal(&mut self) {
        if self.upload_id.is_some() {
            return;
        }
        match self.store.journal_upload(&self.record).await {
            Ok(id) => self.upload_id = Some(id),
            Err(e) => tracing::warn!(error = %e, "upload not journaled"),
        }
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
            if self.reserve(want).await? {
                self.next_chunk = (self.next_chunk * 2).min(MAX_CHUNK);
                return Ok(n);
            }
        }
        // Not even `missing` fits: take exactly what is left, if anything.
        let left = match self.store.quota_usage(self.user_id).await? {
            Some(u) => u
                .available_bytes()
                .map(|a| a.saturating_add(self.allowance))
                .unwrap_or(missing),
            None => 0,
        };
        if left > 0 && self.reserve(left).await? {
            return Ok(free + left.min(missing));
        }
        Ok(free)
    }

    async fn reserve(&mut self, want: u64) -> Result<bool, StoreError> {
        let Some(id) = self.upload_id else {
            return Ok(false);
        };
        let ok = self
            .store
            .reserve_for_upload(id, self.user_id, self.uncommitted, want, self.allowance)
            .await?;
        if ok {
            self.held = self.held - self.uncommitted + want;
            self.uncommitted = 0;
        }
        Ok(ok)
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

    /// Commits what stayed on disk, releases the rest of the reservation and closes the
    /// journal row. A store that cannot take the write (its disk is full too) is retried in
    /// the background: the row stays until then, so a crash meanwhile is still resolved.
    pub(crate) async fn settle(mut self, end: Conclusion) {
        self.settled = true;
        let (bytes, files, held) = self.deltas(end);
        if let Some(acc) = self.unlimited.take() {
            acc.add(self.user_id, bytes, files);
            if let Some(id) = self.upload_id {
                acc.finished(id);
            }
            return;
        }
        let (store, user_id, id) = (self.store.clone(), self.user_id, self.upload_id);
        if let Err(e) = store
            .settle_journaled_upload(id, user_id, bytes, files, held)
            .await
        {
            tracing::error!(error = %e, user_id, "quota ledger not settled yet; retrying");
            tokio::spawn(async move {
                for _ in 0..SETTLE_RETRIES {
                    tokio::time::sleep(Duration::from_secs(1)).await;
                    if store
                        .settle_journaled_upload(id, user_id, bytes, files, held)
                        .await
                        .is_ok()
                    {
                        return;
                    }
                }
                tracing::error!(
                    user_id,
                    "quota ledger not settled; run `ferryd quota rescan`"
                );
            });
        }
    }

    /// (bytes to add to usage, files to add, reservation to release).
    fn deltas(&self, end: Conclusion) -> (i64, i64, u64) {
        let pending = if self.limited {
            self.uncommitted
        } else {
            self.written
        };
        let mut bytes = to_i64(pending) - to_i64(end.given_back) - to_i64(end.replaced);
        if self.unlimited.is_some() {
            // Unlimited uploads credit what their open discarded only now.
            bytes -= to_i64(self.freed);
        }
        let files = end.files_delta + i64::from(self.unlimited.is_some() && self.counted_file);
        (bytes, files, if self.limited { self.held } else { 0 })
    }

    /// The conclusion a dropped upload's placement applies (see `Placement`'s drop).
    fn dropped(&self) -> Conclusion {
        if self.staged {
            Conclusion {
                given_back: self.written,
                files_delta: -i64::from(self.counted_file),
                removed: true,
                ..Conclusion::default()
            }
        } else {
            Conclusion::default()
        }
    }
}

/// Background retries of a settlement the store refused (about ten minutes).
const SETTLE_RETRIES: u32 = 600;

fn to_i64(n: u64) -> i64 {
    i64::try_from(n).unwrap_or(i64::MAX)
}

impl Drop for UploadQuota {
    /// A transfer that ended abnormally (a panic, a setup failure) still releases its
    /// reservation, in the background.
    fn drop(&mut self) {
        if self.settled {
            return;
        }
        let (bytes, files, held) = self.deltas(self.dropped());
        if let Some(acc) = self.unlimited.take() {
            acc.add(self.user_id, bytes, files);
            if let Some(id) = self.upload_id {
                acc.finished(id);
            }
            return;
        }
        let (store, user_id, id) = (self.store.clone(), self.user_id, self.upload_id);
        if let Ok(rt) = tokio::runtime::Handle::try_current() {
            rt.spawn(async move {
                let _ = store
                    .settle_journaled_upload(id, user_id, bytes, files, held)
                    .await;
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
