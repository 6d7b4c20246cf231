//! The quota ledger. Each user row carries `used_bytes` (written and committed),
//! `reserved_bytes` (promised to uploads in flight, not yet written) and the limits. An upload
//! reserves before it writes, in chunks, with one conditional statement
//! (`... WHERE used + reserved + n <= quota`), so concurrent uploads of one user, in one
//! session or many, on one node or several, can never together pass the limit. What an upload
//! does not use is released when it ends, however it ends. An upload's steps live in
//! uploads.rs, each in one transaction with the upload's journal row; this module holds the
//! ledger's other writes (MKD, DELE, RMD, RNTO, rescans).
//!
//! Every statement is plain SQL that PostgreSQL also accepts.

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

    /// Adds a file or directory to the count, if the file quota allows (MKD).
    pub async fn try_add_file(&self, user_id: i64) -> Result<bool> {
        let res = self.write(async |c| sqlx::query("UPDATE users SET used_files = used_files + 1 WHERE id = ? AND (quota_files IS NULL OR used_files + 1 <= quota_files)")
            .bind(user_id)
            .execute(c).await).await?;
        Ok(res.rows_affected() == 1)
    }

    /// Credits removed bytes and files (DELE, RMD, RNTO over a file), never below zero.
    pub async fn release_usage(&self, user_id: i64, bytes: u64, files: u64) -> Result<()> {
        self.write(async |c| {
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
            .execute(c)
            .await
        })
        .await?;
        Ok(())
    }

    /// Sets usage to what a scan of the home found (`ferryd quota rescan`).
    pub async fn set_usage(&self, user_id: i64, bytes: u64, files: u64) -> Result<()> {
        self.write(async |c| {
            sqlx::query("UPDATE users SET used_bytes = ?, used_files = ? WHERE id = ?")
                .bind(to_i64(bytes))
                .bind(to_i64(files))
                .bind(user_id)
                .execute(c)
                .await
        })
        .await?;
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use crate::{NewUser, Store, UploadRecord};

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
        let rec = |target: &str| UploadRecord {
            node: "n".into(),
            user_id: u.id,
            home: "/h".into(),
            target: target.into(),
            temp: None,
            base_bytes: 0,
            created: true,
            mode: "in-place".into(),
        };
        let (id, limited) = store
            .begin_journaled_upload(u.id, 0, true, &rec("a"))
            .await
            .unwrap()
            .unwrap();
        assert!(limited);
        assert!(store.reserve_for_upload(id, u.id, 0, 60, 0).await.unwrap());
        assert!(!store.reserve_for_upload(id, u.id, 0, 41, 0).await.unwrap());
        // 50 of 60 written, 40 more held.
        assert!(store.reserve_for_upload(id, u.id, 50, 40, 0).await.unwrap());
        let q = store.quota_usage(u.id).await.unwrap().unwrap();
        assert_eq!(
            (q.used_bytes, q.reserved_bytes, q.available_bytes()),
            (50, 50, Some(0))
        );
        // 30 more written, all released.
        store
            .settle_journaled_upload(Some(id), u.id, 30, 0, 50)
            .await
            .unwrap();
        let q = store.quota_usage(u.id).await.unwrap().unwrap();
        assert_eq!((q.used_bytes, q.reserved_bytes, q.used_files), (80, 0, 1));
        assert!(store
            .begin_journaled_upload(u.id, 0, true, &rec("b"))
            .await
            .unwrap()
            .is_some());
        assert!(
            store
                .begin_journaled_upload(u.id, 0, true, &rec("c"))
                .await
                .unwrap()
                .is_none(),
            "file quota full"
        );
        assert!(!store.try_add_file(u.id).await.unwrap());
        store.release_usage(u.id, 1000, 5).await.unwrap();
        let q = store.quota_usage(u.id).await.unwrap().unwrap();
        assert_eq!((q.used_bytes, q.used_files), (0, 0));
    }
}
