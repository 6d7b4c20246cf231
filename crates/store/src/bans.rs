//! Banned client addresses, kept so that a ban outlives a restart and so that the admin CLI
//! (`ferryd ban list | add | del`) and the running server see one list. The server's
//! defender decides bans and keeps the live scores in memory; this table holds only the
//! verdicts: until when, for what, and how many times the address was banned before (repeat
//! offenders are banned for longer).

use std::net::IpAddr;
use std::time::{SystemTime, UNIX_EPOCH};

use sqlx::Row;

use crate::{Result, Store};

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Ban {
    pub ip: IpAddr,
    /// Unix seconds.
    pub banned_until: i64,
    /// How many times this address has been banned (this ban included).
    pub offenses: u32,
    pub reason: String,
    pub created_at: i64,
}

fn now() -> i64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map(|d| d.as_secs() as i64)
        .unwrap_or(0)
}

fn ban_from_row(r: &sqlx::sqlite::SqliteRow) -> Result<Option<Ban>> {
    let ip: String = r.try_get("ip")?;
    // A row someone wrote by hand with a bad address is ignored, not fatal.
    let Ok(ip) = ip.parse::<IpAddr>() else {
        return Ok(None);
    };
    Ok(Some(Ban {
        ip,
        banned_until: r.try_get("banned_until")?,
        offenses: u32::try_from(r.try_get::<i64, _>("offenses")?).unwrap_or(u32::MAX),
        reason: r.try_get("reason")?,
        created_at: r.try_get("created_at")?,
    }))
}

impl Store {
    /// Bans still in force, soonest-ending first.
    pub async fn active_bans(&self) -> Result<Vec<Ban>> {
        let rows = sqlx::query(
            "SELECT ip, banned_until, offenses, reason, created_at FROM bans
             WHERE banned_until > ? ORDER BY banned_until, ip",
        )
        .bind(now())
        .fetch_all(self.pool())
        .await?;
        let mut out = Vec::with_capacity(rows.len());
        for r in &rows {
            out.extend(ban_from_row(r)?);
        }
        Ok(out)
    }

    /// How many times `ip` was banned before (0 when never, or when its record was deleted).
    pub async fn ban_offenses(&self, ip: IpAddr) -> Result<u32> {
        let n: Option<i64> = sqlx::query_scalar("SELECT offenses FROM bans WHERE ip = ?")
            .bind(ip.to_string())
            .fetch_optional(self.pool())
            .await?;
        Ok(n.and_then(|n| u32::try_from(n).ok()).unwrap_or(0))
    }

    /// Records a ban of `ip` until `banned_until` (Unix seconds), replacing any earlier one.
    pub async fn put_ban(
        &self,
        ip: IpAddr,
        banned_until: i64,
        offenses: u32,
        reason: &str,
    ) -> Result<()> {
        self.write(async |c| {
            sqlx::query(
                "INSERT INTO bans (ip, banned_until, offenses, reason, created_at)
             VALUES (?, ?, ?, ?, ?)
             ON CONFLICT (ip) DO UPDATE SET banned_until = excluded.banned_until,
                 offenses = excluded.offenses, reason = excluded.reason,
                 created_at = excluded.created_at",
            )
            .bind(ip.to_string())
            .bind(banned_until)
            .bind(i64::from(offenses))
            .bind(reason)
            .bind(now())
            .execute(c)
            .await
        })
        .await?;
        Ok(())
    }

    /// Lifts the ban of `ip` and forgets its history; false when it had none.
    pub async fn delete_ban(&self, ip: IpAddr) -> Result<bool> {
        let r = self
            .write(async |c| {
                sqlx::query("DELETE FROM bans WHERE ip = ?")
                    .bind(ip.to_string())
                    .execute(c)
                    .await
            })
            .await?;
        Ok(r.rows_affected() > 0)
    }

    /// Forgets bans that ended more than `keep_secs` ago (their history no longer escalates).
    pub async fn prune_bans(&self, keep_secs: i64) -> Result<u64> {
        let r = self
            .write(async |c| {
                sqlx::query("DELETE FROM bans WHERE banned_until < ?")
                    .bind(now().saturating_sub(keep_secs))
                    .execute(c)
                    .await
            })
            .await?;
        Ok(r.rows_affected())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn bans_round_trip_and_expire() {
        let dir = tempfile::tempdir().unwrap();
        let store = Store::open_sqlite(&dir.path().join("t.db")).await.unwrap();
        let ip: IpAddr = "192.0.2.7".parse().unwrap();
        let v6: IpAddr = "2001:db8::1".parse().unwrap();
        store
            .put_ban(ip, now() + 60, 1, "failed logins")
            .await
            .unwrap();
        store.put_ban(v6, now() - 1, 3, "old").await.unwrap();
        let bans = store.active_bans().await.unwrap();
        assert_eq!(bans.len(), 1);
        assert_eq!((bans[0].ip, bans[0].offenses), (ip, 1));
        assert_eq!(
            store.ban_offenses(v6).await.unwrap(),
            3,
            "history outlives the ban"
        );
        store.put_ban(ip, now() + 120, 2, "again").await.unwrap();
        assert_eq!(store.active_bans().await.unwrap()[0].reason, "again");
        assert!(store.delete_ban(ip).await.unwrap());
        assert!(!store.delete_ban(ip).await.unwrap());
        assert!(store.active_bans().await.unwrap().is_empty());
        assert_eq!(store.prune_bans(0).await.unwrap(), 1);
    }
}
