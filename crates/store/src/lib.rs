//! Ferry's persistent state: user accounts with argon2id password hashes, their quotas and
//! (in later issues) the quota ledger and stored digests. SQLite is the embedded default;
//! every statement is plain SQL that PostgreSQL also accepts, so the store can move to several
//! nodes without a second code path.
#![forbid(unsafe_code)]

mod bans;
mod digests;
mod import;
mod invites;
mod password;
mod quota;
mod uploads;
mod users;
mod write_tx;

pub use bans::Ban;
pub use digests::FileIdentity;
pub use import::{parse_import, ImportFormat, ImportReport, ImportedUser};
pub use invites::Invite;
pub use password::{hash_password, needs_rehash, scheme_of, PasswordVerifier, Scheme};
pub use quota::QuotaUsage;
pub use uploads::{JournaledUpload, UploadRecord};
pub use users::{validate_username, NewUser, User, UserUpdate};

use std::path::{Path, PathBuf};
use std::str::FromStr;
use std::sync::Arc;
use std::time::Duration;

use sqlx::sqlite::{
    SqliteConnectOptions, SqliteJournalMode, SqlitePool, SqlitePoolOptions, SqliteSynchronous,
};

#[derive(Debug, thiserror::Error)]
pub enum StoreError {
    #[error("database error: {0}")]
    Db(#[from] sqlx::Error),
    #[error("user {0:?} already exists")]
    UserExists(String),
    #[error("no such user: {0:?}")]
    NoSuchUser(String),
    #[error(
        "invalid user name {0:?}: use 1-32 characters of a-z 0-9 . _ -, not starting with . or -"
    )]
    BadUsername(String),
    #[error("password hashing failed: {0}")]
    Hash(String),
    /// The database could not be opened or brought up to date. Carries the file so that the
    /// operator sees which one, however deep in the stack the failure happened.
    #[error("cannot open the database {}: {reason}", path.display())]
    Open { path: PathBuf, reason: String },
    #[error("no such upload in the journal: {0}")]
    NoSuchUpload(i64),
}

// SQLite's primary result codes (the low byte of an extended code) that need telling apart.
const SQLITE_BUSY: i32 = 5;
const SQLITE_READONLY: i32 = 8;
const SQLITE_CORRUPT: i32 = 11;
const SQLITE_FULL: i32 = 13;
const SQLITE_CANTOPEN: i32 = 14;
const SQLITE_NOTADB: i32 = 26;
// Linux errno values; sqlx reports file errors of its own as plain io errors.
const ENOSPC: i32 = 28;
const EDQUOT: i32 = 122;

/// The primary SQLite result code of a database error, if it is one.
fn sqlite_primary_code(e: &sqlx::Error) -> Option<i32> {
    match e {
        sqlx::Error::Database(d) => d
            .code()
            .and_then(|c| c.parse::<i32>().ok())
            .map(|c| c & 0xff),
        _ => None,
    }
}

impl StoreError {
    /// True when the write failed because the disk (or the user's disk quota) is full: the
    /// server then answers 452 and keeps running instead of treating it as a broken store.
    pub fn is_disk_full(&self) -> bool {
        let StoreError::Db(e) = self else {
            return false;
        };
        match e {
            sqlx::Error::Io(io) => {
                io.kind() == std::io::ErrorKind::StorageFull
                    || matches!(io.raw_os_error(), Some(ENOSPC | EDQUOT))
            }
            _ => sqlite_primary_code(e) == Some(SQLITE_FULL),
        }
    }

    fn open(path: &Path, e: StoreError) -> StoreError {
        let reason = match &e {
            StoreError::Db(db) => open_reason(db),
            other => other.to_string(),
        };
        StoreError::Open {
            path: path.to_owned(),
            reason,
        }
    }
}

/// SQLite's own message for a failure at open, plus what it most likely means: "database is
/// locked" alone does not tell an operator that another process is the cause.
fn open_reason(e: &sqlx::Error) -> String {
    let sqlx::Error::Database(d) = e else {
        return e.to_string();
    };
    let hint = match sqlite_primary_code(e) {
        Some(SQLITE_BUSY) => " (another process holds a lock on it)",
        Some(SQLITE_NOTADB) => " (the file is not an SQLite database, or is damaged)",
        Some(SQLITE_CORRUPT) => " (the file is damaged)",
        Some(SQLITE_CANTOPEN) => {
            " (check that its directory exists and that the file is readable and writable)"
        }
        Some(SQLITE_READONLY) => " (the file or its directory is not writable)",
        Some(SQLITE_FULL) => " (the disk is full)",
        _ => "",
    };
    format!("{}{hint}", d.message())
}

pub type Result<T, E = StoreError> = std::result::Result<T, E>;

/// The store: a connection pool plus the password verifier that guards logins.
#[derive(Clone)]
pub struct Store {
    pool: SqlitePool,
    verifier: Arc<PasswordVerifier>,
}

/// Schema migrations, applied in order; the index + 1 is the schema version.
const MIGRATIONS: &[&str] = &[
    "CREATE TABLE users (
        id INTEGER PRIMARY KEY,
        name TEXT NOT NULL UNIQUE,
        password_hash TEXT NOT NULL,
        home TEXT,
        quota_bytes INTEGER,
        quota_files INTEGER,
        used_bytes INTEGER NOT NULL DEFAULT 0,
        used_files INTEGER NOT NULL DEFAULT 0,
        enabled INTEGER NOT NULL DEFAULT 1,
        created_at INTEGER NOT NULL
    )",
    // Bytes reserved by uploads in flight and not yet written (the quota ledger).
    "ALTER TABLE users ADD COLUMN reserved_bytes INTEGER NOT NULL DEFAULT 0",
    // Digests of whole files, keyed by the file's identity on disk (device and inode) and
    // valid only while its size and times are still those recorded.
    "CREATE TABLE digests (
        dev INTEGER NOT NULL,
        ino INTEGER NOT NULL,
        algo TEXT NOT NULL,
        size INTEGER NOT NULL,
        mtime_ns INTEGER NOT NULL,
        ctime_ns INTEGER NOT NULL,
        hex TEXT NOT NULL,
        PRIMARY KEY (dev, ino, algo)
    )",
    // Per-user TLS policy: NULL follows the server's `tls` setting, 1 requires TLS, 0 does not.
    "ALTER TABLE users ADD COLUMN require_tls INTEGER",
    // Registration invites: only a SHA-256 of each token is kept.
    "CREATE TABLE invites (
        id INTEGER PRIMARY KEY,
        token_hash TEXT NOT NULL UNIQUE,
        quota_bytes INTEGER,
        uses_left INTEGER NOT NULL,
        expires_at INTEGER,
        created_at INTEGER NOT NULL,
        revoked INTEGER NOT NULL DEFAULT 0
    )",
    // Banned client addresses (the defender's verdicts; scores stay in memory).
    "CREATE TABLE bans (
        ip TEXT PRIMARY KEY,
        banned_until INTEGER NOT NULL,
        offenses INTEGER NOT NULL,
        reason TEXT NOT NULL,
        created_at INTEGER NOT NULL
    )",
    // The upload journal: one row per upload in flight, so that a node restarting after a
    // crash can finish or undo each one and release what it had reserved (see uploads.rs).
    "CREATE TABLE uploads (
        id INTEGER PRIMARY KEY,
        node TEXT NOT NULL,
        user_id INTEGER NOT NULL,
        home TEXT NOT NULL,
        target TEXT NOT NULL,
        temp TEXT,
        base_bytes INTEGER NOT NULL,
        created INTEGER NOT NULL,
        mode TEXT NOT NULL,
        reserved INTEGER NOT NULL DEFAULT 0,
        started_at INTEGER NOT NULL
    )",
    // A node at start reads only its own rows.
    "CREATE INDEX uploads_node ON uploads (node)",
];

impl Store {
    /// Opens (creating if needed) the SQLite database at `path` and brings its schema up to date.
    ///
    /// Journal mode WAL with `synchronous = FULL`: under WAL, NORMAL fsyncs only at checkpoints,
    /// so an OS crash or power cut may lose the last committed transactions, and with them
    /// ledger changes the server already acted on (an upload it answered 226 for, a journal row
    /// it relies on to clean up after a crash). FULL fsyncs the WAL on every commit, so what
    /// was committed survives power loss.
    ///
    /// Any failure (unreadable, not a database, locked by another process) is
    /// [`StoreError::Open`], naming the file.
    pub async fn open_sqlite(path: &Path) -> Result<Store> {
        Self::try_open_sqlite(path)
            .await
            .map_err(|e| StoreError::open(path, e))
    }

    async fn try_open_sqlite(path: &Path) -> Result<Store> {
        let opts = SqliteConnectOptions::from_str("sqlite:")?
            .filename(path)
            .create_if_missing(true)
            .journal_mode(SqliteJournalMode::Wal)
            .synchronous(SqliteSynchronous::Full)
            // The admin CLI may write while the server runs: wait for the lock instead of
            // failing, but not forever, so that a lock held for good is reported at start.
            .busy_timeout(Duration::from_secs(10));
        let pool = SqlitePoolOptions::new()
            .max_connections(4)
            // A burst (a storm of logins) opens all four, each with its own page cache; they
            // are closed again once idle, so memory returns to what a quiet server needs.
            .idle_timeout(Duration::from_secs(5))
            .connect_with(opts)
            .await?;
        let store = Store {
            pool,
            verifier: Arc::new(PasswordVerifier::new()),
        };
        if let Err(e) = store.migrate().await {
            store.close().await;
            return Err(e);
        }
        Ok(store)
    }

    async fn migrate(&self) -> Result<()> {
        sqlx::query("CREATE TABLE IF NOT EXISTS schema_version (version INTEGER NOT NULL)")
            .execute(&self.pool)
            .await?;
        let mut tx = self.pool.begin().await?;
        // Take the write lock before reading the version (a no-op UPDATE does, in SQLite and
        // PostgreSQL alike): two processes opening a fresh database at once then migrate one
        // after the other instead of both applying the same migration, and a database that
        // another process keeps locked is reported here, at open, naming the file.
        sqlx::query("UPDATE schema_version SET version = version WHERE version < 0")
            .execute(&mut *tx)
            .await?;
        let current: Option<i64> = sqlx::query_scalar("SELECT MAX(version) FROM schema_version")
            .fetch_one(&mut *tx)
            .await?;
        let current = usize::try_from(current.unwrap_or(0)).unwrap_or(0);
        for (i, sql) in MIGRATIONS.iter().enumerate().skip(current) {
            sqlx::query(sql).execute(&mut *tx).await?;
            sqlx::query("INSERT INTO schema_version (version) VALUES (?)")
                .bind(i as i64 + 1)
                .execute(&mut *tx)
                .await?;
        }
        tx.commit().await?;
        Ok(())
    }

    pub fn pool(&self) -> &SqlitePool {
        &self.pool
    }

    pub fn verifier(&self) -> &PasswordVerifier {
        &self.verifier
    }

    pub async fn close(&self) {
        self.pool.close().await;
    }
}

#[cfg(test)]
mod tests {
    use super::{Store, StoreError};

    #[tokio::test]
    async fn a_file_that_is_not_a_database_is_an_error_naming_it() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("ferry.db");
        std::fs::write(&path, [0x5a_u8; 4096]).unwrap();
        let Err(e) = Store::open_sqlite(&path).await else {
            panic!("a garbage file opened as a database");
        };
        assert!(
            matches!(&e, StoreError::Open { path: p, .. } if *p == path),
            "{e:?}"
        );
        let msg = e.to_string();
        assert!(msg.contains(&path.display().to_string()), "{msg}");
        assert!(msg.contains("not a database"), "{msg}");
    }

    #[tokio::test]
    async fn disk_full_is_told_apart() {
        let dir = tempfile::tempdir().unwrap();
        let store = Store::open_sqlite(&dir.path().join("full.db"))
            .await
            .unwrap();
        // A database capped at its current size is what a full disk looks like to SQLite.
        let mut conn = store.pool().acquire().await.unwrap();
        let pages: i64 = sqlx::query_scalar("PRAGMA page_count")
            .fetch_one(&mut *conn)
            .await
            .unwrap();
        sqlx::query(&format!("PRAGMA max_page_count = {pages}"))
            .execute(&mut *conn)
            .await
            .unwrap();
        let err = sqlx::query(
            "INSERT INTO digests (dev, ino, algo, size, mtime_ns, ctime_ns, hex)
             VALUES (1, 1, 'sha256', 0, 0, 0, ?)",
        )
        .bind("f".repeat(1 << 20))
        .execute(&mut *conn)
        .await
        .unwrap_err();
        let err = StoreError::from(err);
        assert!(err.is_disk_full(), "{err:?}");

        let io = |code| StoreError::Db(sqlx::Error::Io(std::io::Error::from_raw_os_error(code)));
        assert!(io(28).is_disk_full(), "ENOSPC");
        assert!(io(122).is_disk_full(), "EDQUOT");
        assert!(!io(13).is_disk_full(), "EACCES");
        assert!(!StoreError::UserExists("x".into()).is_disk_full());
    }
}
