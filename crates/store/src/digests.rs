//! Stored digests: a file's hash, computed once (while it was uploaded, or on the first HASH)
//! and served again for as long as the file is unchanged. A digest is keyed by the file's
//! device and inode (so a rename keeps it) and guarded by its size and times (so any change,
//! through Ferry or behind its back, makes it stale). Ferry also drops a file's digests when it
//! opens the file for writing, which covers changes faster than the file system's clock.

use sqlx::Row;

use crate::{Result, Store};

/// What identifies a file's content without reading it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct FileIdentity {
    pub dev: u64,
    pub ino: u64,
    pub size: u64,
    pub mtime_ns: i64,
    pub ctime_ns: i64,
}

fn i(n: u64) -> i64 {
    // Device and inode numbers are stored bit-for-bit; sizes never reach 2^63.
    n as i64
}

impl Store {
    /// The stored digest of this exact file content, if any.
    pub async fn stored_digest(&self, id: &FileIdentity, algo: &str) -> Result<Option<String>> {
        let row = sqlx::query(
            "SELECT hex FROM digests WHERE dev = ? AND ino = ? AND algo = ? AND size = ? AND mtime_ns = ? AND ctime_ns = ?",
        )
        .bind(i(id.dev))
        .bind(i(id.ino))
        .bind(algo)
        .bind(i(id.size))
        .bind(id.mtime_ns)
        .bind(id.ctime_ns)
        .fetch_optional(self.pool())
        .await?;
        row.map(|r| r.try_get("hex").map_err(Into::into))
            .transpose()
    }

    pub async fn save_digest(&self, id: &FileIdentity, algo: &str, hex: &str) -> Result<()> {
        self.write(async |c| sqlx::query(
            "INSERT INTO digests (dev, ino, algo, size, mtime_ns, ctime_ns, hex) VALUES (?, ?, ?, ?, ?, ?, ?)
             ON CONFLICT (dev, ino, algo) DO UPDATE SET size = excluded.size, mtime_ns = excluded.mtime_ns,
                ctime_ns = excluded.ctime_ns, hex = excluded.hex",
        )
        .bind(i(id.dev))
        .bind(i(id.ino))
        .bind(algo)
        .bind(i(id.size))
        .bind(id.mtime_ns)
        .bind(id.ctime_ns)
        .bind(hex)
        .execute(c).await).await?;
        Ok(())
    }

    /// Forgets every digest of a file (it is about to change, or is gone).
    pub async fn forget_digests(&self, dev: u64, ino: u64) -> Result<()> {
        self.write(async |c| {
            sqlx::query("DELETE FROM digests WHERE dev = ? AND ino = ?")
                .bind(i(dev))
                .bind(i(ino))
                .execute(c)
                .await
        })
        .await?;
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn digests_are_served_only_for_the_same_identity() {
        let dir = tempfile::tempdir().unwrap();
        let store = Store::open_sqlite(&dir.path().join("d.db")).await.unwrap();
        let id = FileIdentity {
            dev: u64::MAX,
            ino: 7,
            size: 10,
            mtime_ns: 1,
            ctime_ns: 2,
        };
        store.save_digest(&id, "SHA-256", "aa").await.unwrap();
        assert_eq!(
            store
                .stored_digest(&id, "SHA-256")
                .await
                .unwrap()
                .as_deref(),
            Some("aa")
        );
        assert_eq!(store.stored_digest(&id, "MD5").await.unwrap(), None);
        let changed = FileIdentity { ctime_ns: 3, ..id };
        assert_eq!(
            store.stored_digest(&changed, "SHA-256").await.unwrap(),
            None
        );
        store.save_digest(&changed, "SHA-256", "bb").await.unwrap();
        assert_eq!(
            store
                .stored_digest(&changed, "SHA-256")
                .await
                .unwrap()
                .as_deref(),
            Some("bb")
        );
        store.forget_digests(id.dev, id.ino).await.unwrap();
        assert_eq!(
            store.stored_digest(&changed, "SHA-256").await.unwrap(),
            None
        );
    }
}
