//! Registration invites: random tokens (128 bits), stored only as a SHA-256, each usable a
//! limited number of times until it expires or is revoked.

use std::time::{SystemTime, UNIX_EPOCH};

use rand_core::{OsRng, RngCore};
use sha2::{Digest, Sha256};
use sqlx::Row;

use crate::{Result, Store};

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Invite {
    pub id: i64,
    pub quota_bytes: Option<u64>,
    pub uses_left: u64,
    /// Unix seconds; `None` never expires.
    pub expires_at: Option<i64>,
    pub created_at: i64,
    pub revoked: bool,
}

impl Invite {
    pub fn usable(&self, now: i64) -> bool {
        !self.revoked && self.uses_left > 0 && self.expires_at.is_none_or(|t| t > now)
    }
}

fn now() -> i64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map(|d| d.as_secs() as i64)
        .unwrap_or(0)
}

fn token_hash(token: &str) -> String {
    Sha256::digest(token.trim().as_bytes())
        .iter()
        .map(|b| format!("{b:02x}"))
        .collect()
}

fn invite_from_row(r: &sqlx::sqlite::SqliteRow) -> Result<Invite> {
    Ok(Invite {
        id: r.try_get("id")?,
        quota_bytes: r
            .try_get::<Option<i64>, _>("quota_bytes")?
            .and_then(|q| u64::try_from(q).ok()),
        uses_left: u64::try_from(r.try_get::<i64, _>("uses_left")?).unwrap_or(0),
        expires_at: r.try_get("expires_at")?,
        created_at: r.try_get("created_at")?,
        revoked: r.try_get("revoked")?,
    })
}

const INVITE_COLUMNS: &str = "id, quota_bytes, uses_left, expires_at, created_at, revoked";

impl Store {
    /// Creates an invite; returns it and its token (shown once, never stored).
    pub async fn create_invite(
        &self,
        quota_bytes: Option<u64>,
        uses: u64,
        expires_at: Option<i64>,
    ) -> Result<(Invite, String)> {
        let mut raw = [0u8; 16];
        OsRng.fill_bytes(&mut raw);
        let token: String = raw.iter().map(|b| format!("{b:02x}")).collect();
        let id = self.write(async |c| sqlx::query("INSERT INTO invites (token_hash, quota_bytes, uses_left, expires_at, created_at) VALUES (?, ?, ?, ?, ?)")
            .bind(token_hash(&token))
            .bind(quota_bytes.map(|q| i64::try_from(q).unwrap_or(i64::MAX)))
            .bind(i64::try_from(uses).unwrap_or(i64::MAX))
            .bind(expires_at)
            .bind(now())
            .execute(c).await).await?
            .last_insert_rowid();
        let invite = self
            .invites()
            .await?
            .into_iter()
            .find(|i| i.id == id)
            .ok_or(sqlx::Error::RowNotFound)?;
        Ok((invite, token))
    }

    pub async fn invites(&self) -> Result<Vec<Invite>> {
        let rows = sqlx::query(&format!("SELECT {INVITE_COLUMNS} FROM invites ORDER BY id"))
            .fetch_all(self.pool())
            .await?;
        rows.iter().map(invite_from_row).collect()
    }

    /// False when no such invite exists.
    pub async fn revoke_invite(&self, id: i64) -> Result<bool> {
        let res = self
            .write(async |c| {
                sqlx::query("UPDATE invites SET revoked = 1 WHERE id = ?")
                    .bind(id)
                    .execute(c)
                    .await
            })
            .await?;
        Ok(res.rows_affected() == 1)
    }

    /// The usable invite this token names, without using it.
    pub async fn find_invite(&self, token: &str) -> Result<Option<Invite>> {
        let row = sqlx::query(&format!(
            "SELECT {INVITE_COLUMNS} FROM invites WHERE token_hash = ?"
        ))
        .bind(token_hash(token))
        .fetch_optional(self.pool())
        .await?;
        Ok(row
            .as_ref()
            .map(invite_from_row)
            .transpose()?
            .filter(|i| i.usable(now())))
    }

    /// Uses the invite once, atomically (two registrations racing for its last use cannot both
    /// get it). Returns the invite as it was, or `None` when it is no longer usable.
    pub async fn redeem_invite(&self, token: &str) -> Result<Option<Invite>> {
        let Some(invite) = self.find_invite(token).await? else {
            return Ok(None);
        };
        let res = self.write(async |c| sqlx::query(
            "UPDATE invites SET uses_left = uses_left - 1
             WHERE id = ? AND uses_left > 0 AND revoked = 0 AND (expires_at IS NULL OR expires_at > ?)",
        )
        .bind(invite.id)
        .bind(now())
        .execute(c).await).await?;
        Ok((res.rows_affected() == 1).then_some(invite))
    }

    /// Gives a use back (the registration it was spent on failed).
    pub async fn return_invite_use(&self, id: i64) -> Result<()> {
        self.write(async |c| {
            sqlx::query("UPDATE invites SET uses_left = uses_left + 1 WHERE id = ?")
                .bind(id)
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
    async fn invites_are_used_up_expire_and_revoke() {
        let dir = tempfile::tempdir().unwrap();
        let store = Store::open_sqlite(&dir.path().join("i.db")).await.unwrap();
        let (inv, token) = store.create_invite(Some(1000), 2, None).await.unwrap();
        assert_eq!(token.len(), 32);
        assert!(store.find_invite(&token).await.unwrap().is_some());
        assert!(store.find_invite("nope").await.unwrap().is_none());
        assert_eq!(
            store
                .redeem_invite(&token)
                .await
                .unwrap()
                .unwrap()
                .quota_bytes,
            Some(1000)
        );
        assert!(store.redeem_invite(&token).await.unwrap().is_some());
        assert!(
            store.redeem_invite(&token).await.unwrap().is_none(),
            "used up"
        );
        store.return_invite_use(inv.id).await.unwrap();
        assert!(store.find_invite(&token).await.unwrap().is_some());
        assert!(store.revoke_invite(inv.id).await.unwrap());
        assert!(
            store.find_invite(&token).await.unwrap().is_none(),
            "revoked"
        );
        let (_, old) = store.create_invite(None, 1, Some(now() - 1)).await.unwrap();
        assert!(
            store.redeem_invite(&old).await.unwrap().is_none(),
            "expired"
        );
        // Only hashes are stored.
        let stored: Vec<String> = sqlx::query_scalar("SELECT token_hash FROM invites")
            .fetch_all(store.pool())
            .await
            .unwrap();
        assert!(!stored.contains(&token));
    }
}
