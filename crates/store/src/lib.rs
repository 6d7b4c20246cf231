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
mod users;

pub use bans::Ban;
pub use digests::FileIdentity;
pub use import::{parse_import, ImportFormat, ImportReport, ImportedUser};
pub use invites::Invite;
pub use password::{hash_password, needs_rehash, scheme_of, PasswordVerifier, Scheme};
pub use quota::QuotaUsage;
pub use users::{validate_username, NewUser, User, UserUpdate};

use std::path::Path;
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
];

impl Store {
    /// Opens (creating if needed) the SQLite database at `path` and brings its schema up to date.
    pub async fn open_sqlite(path: &Path) -> Result<Store> {
        let opts = SqliteConnectOptions::from_str("sqlite:")?
            .filename(path)
            .create_if_missing(true)
            .journal_mode(SqliteJournalMode::Wal)
            .synchronous(SqliteSynchronous::Normal)
            // The admin CLI may write while the server runs: wait for the lock instead of failing.
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
        store.migrate().await?;
        Ok(store)
    }

    async fn migrate(&self) -> Result<()> {
        sqlx::query("CREATE TABLE IF NOT EXISTS schema_version (version INTEGER NOT NULL)")
            .execute(&self.pool)
            .await?;
        let mut tx = self.pool.begin().await?;
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
