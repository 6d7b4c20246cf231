//! Write transactions that never leave the database locked.
//!
//! SQLite can keep a failed transaction open, and with it the database's write lock: a
//! `COMMIT` refused with `SQLITE_FULL` leaves the transaction pending, and an error inside it
//! may roll it back behind sqlx's back so that sqlx's own `ROLLBACK` fails and the connection
//! goes back to the pool believing it is still inside a transaction. Measured on a full
//! tmpfs: the pool then held the lock for good, refusing every later write of the server,
//! the admin CLI and other nodes. A [`WriteTx`] runs `BEGIN`/`COMMIT`/`ROLLBACK` itself and
//! closes its connection instead of returning it to the pool whenever it did not end cleanly
//! (closing a SQLite connection rolls back whatever it still holds).

use sqlx::pool::PoolConnection;
use sqlx::{Sqlite, SqliteConnection};

use crate::{Result, Store};

pub(crate) struct WriteTx {
    conn: Option<PoolConnection<Sqlite>>,
}

impl WriteTx {
    pub(crate) async fn begin(store: &Store) -> Result<WriteTx> {
        let mut conn = store.pool().acquire().await?;
        if let Err(e) = sqlx::query("BEGIN").execute(&mut *conn).await {
            discard(conn);
            return Err(e.into());
        }
        Ok(WriteTx { conn: Some(conn) })
    }

    /// The connection, for the transaction's statements.
    pub(crate) fn conn(&mut self) -> &mut SqliteConnection {
        match self.conn.as_mut() {
            Some(c) => c,
            // Only commit/rollback take the connection, and they consume the WriteTx.
            None => unreachable!("WriteTx used after it ended"),
        }
    }

    pub(crate) async fn commit(mut self) -> Result<()> {
        self.end("COMMIT").await
    }

    /// Ends a transaction that decided to change nothing.
    pub(crate) async fn rollback(mut self) -> Result<()> {
        self.end("ROLLBACK").await
    }

    async fn end(&mut self, sql: &str) -> Result<()> {
        let Some(mut conn) = self.conn.take() else {
            return Ok(());
        };
        match sqlx::query(sql).execute(&mut *conn).await {
            Ok(_) => Ok(()),
            Err(e) => {
                discard(conn);
                Err(e.into())
            }
        }
    }
}

impl Drop for WriteTx {
    /// A transaction abandoned by an error (`?`) takes its connection with it.
    fn drop(&mut self) {
        if let Some(conn) = self.conn.take() {
            discard(conn);
        }
    }
}

/// Closes a connection whose transaction state is unknown, rather than pooling it.
fn discard(conn: PoolConnection<Sqlite>) {
    drop(conn.detach());
}

impl Store {
    /// Runs one write statement outside a transaction, on a connection that is closed rather
    /// than pooled if the statement fails: a failed write can leave SQLite's implicit
    /// transaction (and the write lock) held until its statement is reset, which sqlx does
    /// only when that cached statement is next used on that connection.
    pub(crate) async fn write<T>(
        &self,
        statement: impl AsyncFnOnce(&mut SqliteConnection) -> sqlx::Result<T>,
    ) -> sqlx::Result<T> {
        let mut conn = self.pool().acquire().await?;
        match statement(&mut conn).await {
            Ok(v) => Ok(v),
            Err(e) => {
                discard(conn);
                Err(e)
            }
        }
    }
}
