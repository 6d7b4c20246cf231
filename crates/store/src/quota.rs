//! The quota ledger. Each user row carries `used_bytes` (written and committed),
//! `reserved_bytes` (promised to uploads in flight, not yet written) and the limits. An upload
//! reserves before it writes, in chunks, with one conditional statement
//! (`... WHERE used + reserved + n <= quota`), so concurrent uploads of one user, in one
//! session or many, on one node or several, can never together pass the limit. What an upload
//! does not use is released when it ends, however it ends.
//!
//! Every statement is a single atomic UPDATE in SQL that PostgreSQL also accepts.

use sqlx::Row;

use crate::{Result, Store};

/// A user's usage and limits, as the ledger holds them.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct QuotaUsage {
    pub used_bytes: u64,
    pub reserved_bytes: u64,
    pub quota_bytes: Option<u64>,
    pub used_files: u64,
    pub quota_files: Option<u64>,
}

impl QuotaUsage {
    /// Bytes that may still be reserved; `None` when unlimited.
    pub fn available_bytes(&self) -> Option<u64> {
        self.quota_bytes
            .map(|q| q.saturating_sub(self.used_bytes + self.reserved_bytes))
    }

    /// Files (and directories) that may still be created; `None` when unlimited.
    pub fn available_files(&self) -> Option<u64> {
        self.quota_files.map(|q| q.saturating_sub(self.used_files))
    }
}

pub(crate) fn to_i64(n: u64) -> i64 {
    i64::try_from(n).unwrap_or(i64::MAX)
}

pub(crate) fn to_u64(n: i64) -> u64 {
    u64::try_from(n).unwrap_or(0)
}

impl Store {
    pub async fn quota_usage(&self, user_id: i64) -> Result<Option<QuotaUsage>> {
        let row = sqlx::query("SELECT used_bytes, reserved_bytes, quota_bytes, used_files, quota_files FROM users WHERE id = ?")
            .bind(user_id)
            .fetch_optional(self.pool())
            .await?;
        row.map(|r| -> Result<QuotaUsage> {
            Ok(QuotaUsage {
                used_bytes: to_u64(r.try_get("used_bytes")?),
                reserved_bytes: to_u64(r.try_get("reserved_bytes")?),
                quota_bytes: r.try_get::<Option<i64>, _>("quota_bytes")?.map(to_u64),
                used_files: to_u64(r.try_get("used_files")?),
                quota_files: r.try_get::<Option<i64>, _>("quota_files")?.map(to_u64),
            })
        })
        .transpose()
    }

    /// Starts an upload's accounting: credits `freed` bytes (the part of an existing file the
    /// upload truncated) and, when it `created` a file, counts it, refusing when the file quota
    /// is full. Returns `None` when refused, else whether a byte quota applies.
    pub async fn begin_upload(
        &self,
        user_id: i64,
        freed: u64,
        created: bool,
    ) -> Result<Option<bool>> {
        let files = i64::from(created);
        let row = sqlx::query(
            "UPDATE users SET
                used_bytes = CASE WHEN used_bytes < ? THEN 0 ELSE used_bytes - ? END,
                used_files = used_files + ?
             WHERE id = ? AND (? = 0 OR quota_files IS NULL OR used_files + ? <= quota_files)
             RETURNING quota_bytes",
        )
        .bind(to_i64(freed))
        .bind(to_i64(freed))
        .bind(files)
        .bind(user_id)
        .bind(files)
        .bind(files)
        .fetch_optional(self.pool())
        .await?;
        row.map(|r| Ok(r.try_get::<Option<i64>, _>("quota_bytes")?.is_some()))
            .transpose()
    }

    /// Commits `written` bytes of this upload's earlier reservations as used, and reserves
    /// `want` more if the byte quota allows it. One atomic statement; false when refused (then
    /// nothing changed: call [`Store::settle_upload`] to commit what was written).
    pub async fn reserve(&self, user_id: i64, written: u64, want: u64) -> Result<bool> {
        let res = sqlx::query(
            "UPDATE users SET
                used_bytes = used_bytes + ?,
                reserved_bytes = reserved_bytes - ? + ?
             WHERE id = ? AND (quota_bytes IS NULL OR used_bytes + reserved_bytes + ? <= quota_bytes)",
        )
        .bind(to_i64(written))
        .bind(to_i64(written))
        .bind(to_i64(want))
        .bind(user_id)
        .bind(to_i64(want))
        .execute(self.pool())
        .await?;
        Ok(res.rows_affected() == 1)
    }

    /// Ends an upload's accounting: `written` more bytes become used, and the upload's
    /// reservation of `held` bytes (which includes them) is released.
    pub async fn settle_upload(&self, user_id: i64, written: u64, held: u64) -> Result<()> {
        sqlx::query(
            "UPDATE users SET
                used_bytes = used_bytes + ?,
                reserved_bytes = CASE WHEN reserved_bytes < ? THEN 0 ELSE reserved_bytes - ? END
             WHERE id = ?",
        )
        .bind(to_i64(written))
        .bind(to_i64(held))
        .bind(to_i64(held))
        .bind(user_id)
        .execute(self.pool())
        .await?;
        Ok(())
    }

    /// Adds a file or directory to the count, if the file quota allows (MKD).
    pub async fn try_add_file(&self, user_id: i64) -> Result<bool> {
        let res = sqlx::query("UPDATE users SET used_files = used_files + 1 WHERE id = ? AND (quota_files IS NULL OR used_files + 1 <= quota_files)")
            .bind(user_id)
            .execute(self.pool())
            .await?;
        Ok(res.rows_affected() == 1)
    }

    /// Credits removed bytes and files (DELE, RMD, RNTO over a file), never below zero.
    pub async fn release_usage(&self, user_id: i64, bytes: u64, files: u64) -> Result<()> {
        sqlx::query(
            "UPDATE users SET
                used_bytes = CASE WHEN used_bytes < ? THEN 0 ELSE used_bytes - ? END,
                used_files = CASE WHEN used_files < ? THEN 0 ELSE used_files - ? END
             WHERE id = ?",
        )
        .bind(to_i64(bytes))
        .bind(to_i64(bytes))
        .bind(to_i64(files))
        .bind(to_i64(files))
        .bind(user_id)
        .execute(self.pool())
        .await?;
        Ok(())
    }

    /// Adds signed byte and file deltas to a user's usage (never below zero): the batched
    /// accounting of users without limits.
    pub async fn add_usage(&self, user_id: i64, bytes: i64, files: i64) -> Result<()> {
        sqlx::query(
            "UPDATE users SET
                used_bytes = CASE WHEN used_bytes + ? < 0 THEN 0 ELSE used_bytes + ? END,
                used_files = CASE WHEN used_files + ? < 0 THEN 0 ELSE used_files + ? END
             WHERE id = ?",
        )
        .bind(bytes)
        .bind(bytes)
        .bind(files)
        .bind(files)
        .bind(user_id)
        .execute(self.pool())
        .await?;
        Ok(())
    }

    /// Sets usage to what a scan of the home found (`ferryd quota rescan`).
    pub async fn set_usage(&self, user_id: i64, bytes: u64, files: u64) -> Result<()> {
        sqlx::query("UPDATE users SET used_bytes = ?, used_files = ? WHERE id = ?")
            .bind(to_i64(bytes))
            .bind(to_i64(files))
            .bind(user_id)
            .execute(self.pool())
            .await?;
        Ok(())
    }

    /// Drops every reservation. Called when a (single-node) server starts: no upload is in
    /// flight then, so any reservation left is from a crash.
    pub async fn clear_reservations(&self) -> Result<()> {
        sqlx::query("UPDATE users SET reserved_bytes = 0 WHERE reserved_bytes <> 0")
            .execute(self.pool())
            .await?;
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use crate::{NewUser, Store};

    #[tokio::test]
    async fn reservations_never_pass_the_limit() {
        let dir = tempfile::tempdir().unwrap();
        let store = Store::open_sqlite(&dir.path().join("q.db")).await.unwrap();
        let u = store
            .add_user(NewUser {
                name: "q",
                password: "pw",
                home: None,
                quota_bytes: Some(100),
                quota_files: Some(2),
            })
            .await
            .unwrap();
        assert_eq!(store.begin_upload(u.id, 0, true).await.unwrap(), Some(true));
        assert!(store.reserve(u.id, 0, 60).await.unwrap());
        assert!(!store.reserve(u.id, 0, 41).await.unwrap());
        assert!(store.reserve(u.id, 50, 40).await.unwrap()); // 50 of 60 written, 40 more held
        let q = store.quota_usage(u.id).await.unwrap().unwrap();
        assert_eq!(
            (q.used_bytes, q.reserved_bytes, q.available_bytes()),
            (50, 50, Some(0))
        );
        store.settle_upload(u.id, 30, 50).await.unwrap(); // 30 more written, all released
        let q = store.quota_usage(u.id).await.unwrap().unwrap();
        assert_eq!((q.used_bytes, q.reserved_bytes, q.used_files), (80, 0, 1));
        assert_eq!(store.begin_upload(u.id, 0, true).await.unwrap(), Some(true));
        assert_eq!(
            store.begin_upload(u.id, 0, true).await.unwrap(),
            None,
            "file quota full"
        );
        assert!(!store.try_add_file(u.id).await.unwrap());
        store.release_usage(u.id, 1000, 5).await.unwrap();
        let q = store.quota_usage(u.id).await.unwrap().unwrap();
        assert_eq!((q.used_bytes, q.used_files), (0, 0));
        assert_eq!(
            store.begin_upload(u.id, 7, false).await.unwrap(),
            Some(true)
        );
    }
}
