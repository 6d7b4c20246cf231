//! The upload journal. Every upload in flight has a row saying where it writes (the target,
//! and the hidden temp file of an atomic upload), what the target was before (its size and
//! whether it existed) and how many bytes it holds reserved in the quota ledger. A clean end
//! deletes the row in the same transaction that settles the ledger, so the row and the ledger
//! never disagree. After a `kill -9` or a power cut the rows left are exactly the uploads
//! that never ended: at start a node finishes or undoes each of its own (by the upload
//! mode's rule), rescans the user's usage and forgets the row, then recomputes reservations
//! from the rows still there, which belong to other nodes sharing the database and are left
//! alone.
//!
//! Every statement is SQL that PostgreSQL also accepts.

use std::time::{SystemTime, UNIX_EPOCH};

use sqlx::{Row, SqliteConnection};

use crate::quota::{to_i64, to_u64};
use crate::write_tx::WriteTx;
use crate::{Result, Store, StoreError};

/// What an upload is about to do, as journaled before it writes its first byte.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct UploadRecord {
    /// The node (server instance) running the upload; only it resolves the row after a crash.
    pub node: String,
    pub user_id: i64,
    /// Host path of the user's home.
    pub home: String,
    /// The target, relative to the home.
    pub target: String,
    /// The hidden temp file the upload writes into, relative to the home; `None` when it
    /// writes the target in place.
    pub temp: Option<String>,
    /// Size the target had when an in-place upload began and keeps (e.g. the offset of a
    /// REST+STOR or the old size under APPE).
    pub base_bytes: u64,
    /// The target did not exist (or the upload created it).
    pub created: bool,
    /// The upload mode, whose rule decides how to resolve a leftover upload.
    pub mode: String,
}

/// A journal row: the record plus what the ledger holds for it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct JournaledUpload {
    pub id: i64,
    pub record: UploadRecord,
    /// Bytes this upload holds reserved in `users.reserved_bytes`.
    pub reserved: u64,
    /// Unix seconds.
    pub started_at: i64,
}

fn now() -> i64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map(|d| d.as_secs() as i64)
        .unwrap_or(0)
}

const INSERT: &str = "INSERT INTO uploads
        (node, user_id, home, target, temp, base_bytes, created, mode, reserved, started_at)
     VALUES (?, ?, ?, ?, ?, ?, ?, ?, 0, ?)
     RETURNING id";

/// [`INSERT`] bound to `rec`, so that both entry points journal alike.
fn insert(
    rec: &UploadRecord,
) -> sqlx::query::QueryScalar<'_, sqlx::Sqlite, i64, sqlx::sqlite::SqliteArguments<'_>> {
    sqlx::query_scalar(INSERT)
        .bind(&rec.node)
        .bind(rec.user_id)
        .bind(&rec.home)
        .bind(&rec.target)
        .bind(rec.temp.as_deref())
        .bind(to_i64(rec.base_bytes))
        .bind(i64::from(rec.created))
        .bind(&rec.mode)
        .bind(now())
}

/// Adds signed deltas to a user's usage (never below zero) and releases `held` reserved bytes.
async fn add_usage(
    conn: &mut SqliteConnection,
    user_id: i64,
    bytes: i64,
    files: i64,
    held: i64,
) -> sqlx::Result<()> {
    sqlx::query(
        "UPDATE users SET
            used_bytes = CASE WHEN used_bytes + ? < 0 THEN 0 ELSE used_bytes + ? END,
            used_files = CASE WHEN used_files + ? < 0 THEN 0 ELSE used_files + ? END,
            reserved_bytes = CASE WHEN reserved_bytes < ? THEN 0 ELSE reserved_bytes - ? END
         WHERE id = ?",
    )
    .bind(bytes)
    .bind(bytes)
    .bind(files)
    .bind(files)
    .bind(held)
    .bind(held)
    .bind(user_id)
    .execute(conn)
    .await?;
    Ok(())
}

async fn delete_row(conn: &mut SqliteConnection, upload_id: i64) -> sqlx::Result<()> {
    sqlx::query("DELETE FROM uploads WHERE id = ?")
        .bind(upload_id)
        .execute(conn)
        .await?;
    Ok(())
}

fn upload_from_row(r: &sqlx::sqlite::SqliteRow) -> Result<JournaledUpload> {
    Ok(JournaledUpload {
        id: r.try_get("id")?,
        record: UploadRecord {
            node: r.try_get("node")?,
            user_id: r.try_get("user_id")?,
            home: r.try_get("home")?,
            target: r.try_get("target")?,
            temp: r.try_get("temp")?,
            base_bytes: to_u64(r.try_get("base_bytes")?),
            created: r.try_get::<i64, _>("created")? != 0,
            mode: r.try_get("mode")?,
        },
        reserved: to_u64(r.try_get("reserved")?),
        started_at: r.try_get("started_at")?,
    })
}

impl Store {
    /// Journals an upload of a user without limits, whose ledger is batched (see
    /// [`Store::flush_unlimited`]). Returns the row's id.
    pub async fn journal_upload(&self, rec: &UploadRecord) -> Result<i64> {
        Ok(self.write(async |c| insert(rec).fetch_one(c).await).await?)
    }

    /// Starts the accounting of a limited user's upload and journals it, in one transaction:
    /// credits `freed` bytes (the part of an existing file the upload truncated) and, when
    /// `count_file`, counts a new file, refusing when the file quota is full. Returns `None`
    /// when refused (nothing is changed or journaled), else the row's id and whether a byte
    /// quota applies.
    pub async fn begin_journaled_upload(
        &self,
        user_id: i64,
        freed: u64,
        count_file: bool,
        rec: &UploadRecord,
    ) -> Result<Option<(i64, bool)>> {
        let files = i64::from(count_file);
        let mut tx = WriteTx::begin(self).await?;
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
        .fetch_optional(tx.conn())
        .await?;
        let Some(row) = row else {
            tx.rollback().await?;
            return Ok(None);
        };
        let byte_quota = row.try_get::<Option<i64>, _>("quota_bytes")?.is_some();
        let id = insert(rec).fetch_one(tx.conn()).await?;
        tx.commit().await?;
        Ok(Some((id, byte_quota)))
    }

    /// Commits `written` bytes of the upload's earlier reservations as used and reserves
    /// `want` more, if `used + reserved + want <= quota + allowance`, and records the upload's
    /// new reservation in its journal row; one transaction. `allowance` is the size of the old
    /// file an atomic overwrite will replace: it is still counted as used until the rename,
    /// yet the new file may take its place. False when refused (nothing changed).
    pub async fn reserve_for_upload(
        &self,
        upload_id: i64,
        user_id: i64,
        written: u64,
        want: u64,
        allowance: u64,
    ) -> Result<bool> {
        let (written, want) = (to_i64(written), to_i64(want));
        let mut tx = WriteTx::begin(self).await?;
        let res = sqlx::query(
            "UPDATE users SET
                used_bytes = used_bytes + ?,
                reserved_bytes = reserved_bytes - ? + ?
             WHERE id = ?
               AND (quota_bytes IS NULL OR used_bytes + reserved_bytes + ? <= quota_bytes + ?)",
        )
        .bind(written)
        .bind(written)
        .bind(want)
        .bind(user_id)
        .bind(want)
        .bind(to_i64(allowance))
        .execute(tx.conn())
        .await?;
        if res.rows_affected() != 1 {
            tx.rollback().await?;
            return Ok(false);
        }
        let res = sqlx::query(
            "UPDATE uploads SET reserved = reserved - ? + ? WHERE id = ? AND user_id = ?",
        )
        .bind(written)
        .bind(want)
        .bind(upload_id)
        .bind(user_id)
        .execute(tx.conn())
        .await?;
        if res.rows_affected() != 1 {
            // A reservation without its row would outlive a crash unseen: refuse the lot.
            return Err(StoreError::NoSuchUpload(upload_id));
        }
        tx.commit().await?;
        Ok(true)
    }

    /// Ends an upload, in one transaction: adds the signed `bytes_delta` and `files_delta` to
    /// the user's usage (never below zero), releases the `held` bytes it had reserved and,
    /// when `upload_id` is given, deletes its journal row.
    pub async fn settle_journaled_upload(
        &self,
        upload_id: Option<i64>,
        user_id: i64,
        bytes_delta: i64,
        files_delta: i64,
        held: u64,
    ) -> Result<()> {
        let mut tx = WriteTx::begin(self).await?;
        add_usage(tx.conn(), user_id, bytes_delta, files_delta, to_i64(held)).await?;
        if let Some(id) = upload_id {
            delete_row(tx.conn(), id).await?;
        }
        tx.commit().await?;
        Ok(())
    }

    /// The batched flush of users without limits, in one transaction: adds each
    /// `(user_id, bytes, files)` delta (never below zero) and deletes the journal rows of the
    /// uploads those deltas account for, so that a crash leaves either both or neither.
    pub async fn flush_unlimited(
        &self,
        deltas: &[(i64, i64, i64)],
        finished_uploads: &[i64],
    ) -> Result<()> {
        let mut tx = WriteTx::begin(self).await?;
        for &(user_id, bytes, files) in deltas {
            if bytes != 0 || files != 0 {
                add_usage(tx.conn(), user_id, bytes, files, 0).await?;
            }
        }
        for &id in finished_uploads {
            delete_row(tx.conn(), id).await?;
        }
        tx.commit().await?;
        Ok(())
    }

    /// This node's journal rows, oldest first: the uploads in flight when it last stopped.
    pub async fn node_uploads(&self, node: &str) -> Result<Vec<JournaledUpload>> {
        let rows = sqlx::query(
            "SELECT id, node, user_id, home, target, temp, base_bytes, created, mode, reserved,
                    started_at
             FROM uploads WHERE node = ? ORDER BY id",
        )
        .bind(node)
        .fetch_all(self.pool())
        .await?;
        rows.iter().map(upload_from_row).collect()
    }

    /// Deletes a journal row once its upload has been resolved.
    pub async fn forget_upload(&self, upload_id: i64) -> Result<()> {
        Ok(self.write(async |c| delete_row(c, upload_id).await).await?)
    }

    /// Sets every user's `reserved_bytes` to what the journal rows left hold (other nodes'
    /// uploads, once this node has resolved its own), 0 for a user with none. One statement,
    /// so a concurrent reservation on another node is either counted or not yet made.
    pub async fn recompute_reservations(&self) -> Result<()> {
        self.write(async |c| {
            sqlx::query(
                "UPDATE users SET reserved_bytes =
                COALESCE((SELECT SUM(reserved) FROM uploads WHERE uploads.user_id = users.id), 0)
             WHERE reserved_bytes <>
                COALESCE((SELECT SUM(reserved) FROM uploads WHERE uploads.user_id = users.id), 0)",
            )
            .execute(c)
            .await
        })
        .await?;
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use crate::{NewUser, QuotaUsage, Store, UploadRecord};

    async fn store_with_user(
        quota_bytes: Option<u64>,
        quota_files: Option<u64>,
    ) -> (tempfile::TempDir, Store, i64) {
        let dir = tempfile::tempdir().unwrap();
        let store = Store::open_sqlite(&dir.path().join("u.db")).await.unwrap();
        let u = store
            .add_user(NewUser {
                name: "u",
                password: "pw",
                home: None,
                quota_bytes,
                quota_files,
            })
            .await
            .unwrap();
        (dir, store, u.id)
    }

    fn record(node: &str, user_id: i64, target: &str) -> UploadRecord {
        UploadRecord {
            node: node.into(),
            user_id,
            home: "/srv/ferry/u".into(),
            target: target.into(),
            temp: Some(format!(".{target}.ferry-part")),
            base_bytes: 0,
            created: true,
            mode: "atomic".into(),
        }
    }

    async fn usage(store: &Store, user_id: i64) -> QuotaUsage {
        store.quota_usage(user_id).await.unwrap().unwrap()
    }

    #[tokio::test]
    async fn begin_reserve_settle_keep_the_row_and_the_ledger_consistent() {
        let (_dir, store, u) = store_with_user(Some(100), Some(5)).await;
        let rec = record("a", u, "f.bin");
        let (id, byte_quota) = store
            .begin_journaled_upload(u, 0, true, &rec)
            .await
            .unwrap()
            .unwrap();
        assert!(byte_quota);
        assert!(store.reserve_for_upload(id, u, 0, 60, 0).await.unwrap());
        assert!(!store.reserve_for_upload(id, u, 0, 41, 0).await.unwrap());
        assert!(store.reserve_for_upload(id, u, 50, 40, 0).await.unwrap());
        let rows = store.node_uploads("a").await.unwrap();
        assert_eq!(rows.len(), 1);
        assert_eq!((rows[0].id, &rows[0].record), (id, &rec));
        assert_eq!(rows[0].reserved, 50);
        assert!(rows[0].started_at > 0);
        let q = usage(&store, u).await;
        assert_eq!((q.used_bytes, q.reserved_bytes, q.used_files), (50, 50, 1));
        // 30 more written; everything held released; the row goes with it.
        store
            .settle_journaled_upload(Some(id), u, 30, 0, 50)
            .await
            .unwrap();
        let q = usage(&store, u).await;
        assert_eq!((q.used_bytes, q.reserved_bytes, q.used_files), (80, 0, 1));
        assert!(store.node_uploads("a").await.unwrap().is_empty());
        // A row that is gone cannot hold a reservation.
        assert!(store.reserve_for_upload(id, u, 0, 1, 0).await.is_err());
        assert_eq!(usage(&store, u).await.reserved_bytes, 0);
        // Negative deltas never take usage below zero.
        store
            .settle_journaled_upload(None, u, -1000, -9, 7)
            .await
            .unwrap();
        let q = usage(&store, u).await;
        assert_eq!((q.used_bytes, q.reserved_bytes, q.used_files), (0, 0, 0));
    }

    #[tokio::test]
    async fn a_refused_begin_journals_nothing() {
        let (_dir, store, u) = store_with_user(None, Some(1)).await;
        let (id, byte_quota) = store
            .begin_journaled_upload(u, 0, true, &record("a", u, "one"))
            .await
            .unwrap()
            .unwrap();
        assert!(!byte_quota);
        assert_eq!(
            store
                .begin_journaled_upload(u, 5, true, &record("a", u, "two"))
                .await
                .unwrap(),
            None,
            "file quota full"
        );
        let rows = store.node_uploads("a").await.unwrap();
        assert_eq!(rows.iter().map(|r| r.id).collect::<Vec<_>>(), vec![id]);
        assert_eq!(usage(&store, u).await.used_files, 1);
        // An overwrite counts no new file, so it is not refused.
        assert!(store
            .begin_journaled_upload(u, 0, false, &record("a", u, "one"))
            .await
            .unwrap()
            .is_some());
    }

    #[tokio::test]
    async fn an_atomic_overwrite_may_reserve_the_size_of_the_file_it_replaces() {
        let (_dir, store, u) = store_with_user(Some(100), None).await;
        store.set_usage(u, 60, 1).await.unwrap(); // the old 60-byte file
        let mut rec = record("a", u, "old.bin");
        rec.created = false;
        let (id, _) = store
            .begin_journaled_upload(u, 0, false, &rec)
            .await
            .unwrap()
            .unwrap();
        assert!(!store.reserve_for_upload(id, u, 0, 60, 0).await.unwrap());
        assert!(store.reserve_for_upload(id, u, 0, 60, 60).await.unwrap());
        // 60 used + 60 reserved: only 40 more fit in quota + allowance.
        assert!(!store.reserve_for_upload(id, u, 0, 41, 60).await.unwrap());
        assert!(store.reserve_for_upload(id, u, 0, 40, 60).await.unwrap());
        let q = usage(&store, u).await;
        assert_eq!((q.used_bytes, q.reserved_bytes), (60, 100));
        assert_eq!(store.node_uploads("a").await.unwrap()[0].reserved, 100);
    }

    #[tokio::test]
    async fn reservations_are_recomputed_from_the_rows_other_nodes_left() {
        let (_dir, store, u) = store_with_user(Some(1000), None).await;
        let (mine, _) = store
            .begin_journaled_upload(u, 0, true, &record("a", u, "mine"))
            .await
            .unwrap()
            .unwrap();
        let (theirs, _) = store
            .begin_journaled_upload(u, 0, true, &record("b", u, "theirs"))
            .await
            .unwrap()
            .unwrap();
        assert!(store.reserve_for_upload(mine, u, 0, 300, 0).await.unwrap());
        assert!(store
            .reserve_for_upload(theirs, u, 0, 200, 0)
            .await
            .unwrap());
        assert_eq!(usage(&store, u).await.reserved_bytes, 500);
        // Node a restarts after a crash: it resolves its own rows and leaves b's alone.
        for row in store.node_uploads("a").await.unwrap() {
            store.forget_upload(row.id).await.unwrap();
        }
        store.recompute_reservations().await.unwrap();
        assert_eq!(usage(&store, u).await.reserved_bytes, 200);
        let left = store.node_uploads("b").await.unwrap();
        assert_eq!(left.iter().map(|r| r.id).collect::<Vec<_>>(), vec![theirs]);
        store.forget_upload(theirs).await.unwrap();
        store.recompute_reservations().await.unwrap();
        assert_eq!(usage(&store, u).await.reserved_bytes, 0);
    }

    #[tokio::test]
    async fn flush_unlimited_adds_the_deltas_and_forgets_the_uploads() {
        let (_dir, store, u) = store_with_user(None, None).await;
        let v = store
            .add_user(NewUser {
                name: "v",
                password: "pw",
                home: None,
                quota_bytes: None,
                quota_files: None,
            })
            .await
            .unwrap()
            .id;
        let one = store.journal_upload(&record("a", u, "1")).await.unwrap();
        let two = store.journal_upload(&record("a", v, "2")).await.unwrap();
        let three = store.journal_upload(&record("a", u, "3")).await.unwrap();
        store.set_usage(v, 10, 2).await.unwrap();
        store
            .flush_unlimited(&[(u, 500, 2), (v, -50, -1)], &[one, two])
            .await
            .unwrap();
        let q = usage(&store, u).await;
        assert_eq!((q.used_bytes, q.used_files), (500, 2));
        let q = usage(&store, v).await;
        assert_eq!((q.used_bytes, q.used_files), (0, 1));
        let left = store.node_uploads("a").await.unwrap();
        assert_eq!(left.iter().map(|r| r.id).collect::<Vec<_>>(), vec![three]);
    }
}
