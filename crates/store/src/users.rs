//! User accounts: creation, lookup, updates and login.

use std::time::{SystemTime, UNIX_EPOCH};

use sqlx::Row;

use crate::{Result, Store, StoreError};

/// A user account as stored. The password hash never leaves this crate.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct User {
    pub id: i64,
    pub name: String,
    /// Home directory on the host; `None` means `<data-dir>/homes/<name>`.
    pub home: Option<String>,
    /// Quota in bytes; `None` is unlimited.
    pub quota_bytes: Option<u64>,
    pub quota_files: Option<u64>,
    pub used_bytes: u64,
    pub used_files: u64,
    pub enabled: bool,
    pub created_at: i64,
    /// `Some(true)`: TLS required for this user; `Some(false)`: not required even when the
    /// server requires it; `None`: the server's policy.
    pub require_tls: Option<bool>,
}

pub struct NewUser<'a> {
    pub name: &'a str,
    pub password: &'a str,
    pub home: Option<&'a str>,
    pub quota_bytes: Option<u64>,
    pub quota_files: Option<u64>,
}

/// Changes to an account; `None` fields stay as they are.
#[derive(Debug, Default, Clone)]
pub struct UserUpdate {
    pub home: Option<Option<String>>,
    pub quota_bytes: Option<Option<u64>>,
    pub quota_files: Option<Option<u64>>,
    pub enabled: Option<bool>,
    pub require_tls: Option<Option<bool>>,
}

/// 1-32 of `[a-z0-9._-]`, not starting with `.` or `-`: safe as a directory name and in logs.
pub fn validate_username(name: &str) -> Result<()> {
    let ok = (1..=32).contains(&name.len())
        && !name.starts_with(['.', '-'])
        && name
            .bytes()
            .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b"._-".contains(&b));
    if ok {
        Ok(())
    } else {
        Err(StoreError::BadUsername(name.to_owned()))
    }
}

const USER_COLUMNS: &str =
    "id, name, home, quota_bytes, quota_files, used_bytes, used_files, enabled, created_at, require_tls";

fn opt_u64(v: Option<i64>) -> Option<u64> {
    v.and_then(|n| u64::try_from(n).ok())
}

fn opt_i64(v: Option<u64>) -> Option<i64> {
    v.map(|n| i64::try_from(n).unwrap_or(i64::MAX))
}

fn user_from_row(row: &sqlx::sqlite::SqliteRow) -> Result<User> {
    Ok(User {
        id: row.try_get("id")?,
        name: row.try_get("name")?,
        home: row.try_get("home")?,
        quota_bytes: opt_u64(row.try_get("quota_bytes")?),
        quota_files: opt_u64(row.try_get("quota_files")?),
        used_bytes: u64::try_from(row.try_get::<i64, _>("used_bytes")?).unwrap_or(0),
        used_files: u64::try_from(row.try_get::<i64, _>("used_files")?).unwrap_or(0),
        enabled: row.try_get("enabled")?,
        created_at: row.try_get("created_at")?,
        require_tls: row.try_get("require_tls")?,
    })
}

impl Store {
    pub async fn add_user(&self, new: NewUser<'_>) -> Result<User> {
        validate_username(new.name)?;
        if self.user(new.name).await?.is_some() {
            return Err(StoreError::UserExists(new.name.to_owned()));
        }
        let phc = self
            .verifier()
            .hash(new.password)
            .await
            .map_err(StoreError::Hash)?;
        let now = SystemTime::now()
            .duration_since(UNIX_EPOCH)
            .map(|d| d.as_secs() as i64)
            .unwrap_or(0);
        let res = self.write(async |c| sqlx::query(
            "INSERT INTO users (name, password_hash, home, quota_bytes, quota_files, created_at) VALUES (?, ?, ?, ?, ?, ?)",
        )
        .bind(new.name)
        .bind(&phc)
        .bind(new.home)
        .bind(opt_i64(new.quota_bytes))
        .bind(opt_i64(new.quota_files))
        .bind(now)
        .execute(c).await).await;
        match res {
            Ok(_) => {}
            Err(sqlx::Error::Database(e)) if e.is_unique_violation() => {
                return Err(StoreError::UserExists(new.name.to_owned()))
            }
            Err(e) => return Err(e.into()),
        }
        self.user(new.name)
            .await?
            .ok_or_else(|| StoreError::NoSuchUser(new.name.to_owned()))
    }

    pub async fn user(&self, name: &str) -> Result<Option<User>> {
        let row = sqlx::query(&format!("SELECT {USER_COLUMNS} FROM users WHERE name = ?"))
            .bind(name)
            .fetch_optional(self.pool())
            .await?;
        row.as_ref().map(user_from_row).transpose()
    }

    pub async fn users(&self) -> Result<Vec<User>> {
        let rows = sqlx::query(&format!("SELECT {USER_COLUMNS} FROM users ORDER BY name"))
            .fetch_all(self.pool())
            .await?;
        rows.iter().map(user_from_row).collect()
    }

    /// Each user's password hash scheme (to show who still has a legacy hash).
    pub async fn password_schemes(&self) -> Result<Vec<(String, crate::Scheme)>> {
        let rows: Vec<(String, String)> =
            sqlx::query_as("SELECT name, password_hash FROM users ORDER BY name")
                .fetch_all(self.pool())
                .await?;
        Ok(rows
            .into_iter()
            .map(|(n, h)| (n, crate::scheme_of(&h)))
            .collect())
    }

    pub async fn delete_user(&self, name: &str) -> Result<()> {
        let res = self
            .write(async |c| {
                sqlx::query("DELETE FROM users WHERE name = ?")
                    .bind(name)
                    .execute(c)
                    .await
            })
            .await?;
        self.verifier().forget(name);
        if res.rows_affected() == 0 {
            return Err(StoreError::NoSuchUser(name.to_owned()));
        }
        Ok(())
    }

    pub async fn set_password(&self, name: &str, password: &str) -> Result<()> {
        let phc = self
            .verifier()
            .hash(password)
            .await
            .map_err(StoreError::Hash)?;
        let res = self
            .write(async |c| {
                sqlx::query("UPDATE users SET password_hash = ? WHERE name = ?")
                    .bind(phc)
                    .bind(name)
                    .execute(c)
                    .await
            })
            .await?;
        self.verifier().forget(name);
        if res.rows_affected() == 0 {
            return Err(StoreError::NoSuchUser(name.to_owned()));
        }
        Ok(())
    }

    pub async fn update_user(&self, name: &str, update: UserUpdate) -> Result<User> {
        let mut tx = crate::write_tx::WriteTx::begin(self).await?;
        let exists: Option<i64> = sqlx::query_scalar("SELECT id FROM users WHERE name = ?")
            .bind(name)
            .fetch_optional(tx.conn())
            .await?;
        let Some(id) = exists else {
            return Err(StoreError::NoSuchUser(name.to_owned()));
        };
        if let Some(home) = &update.home {
            sqlx::query("UPDATE users SET home = ? WHERE id = ?")
                .bind(home)
                .bind(id)
                .execute(tx.conn())
                .await?;
        }
        if let Some(q) = update.quota_bytes {
            sqlx::query("UPDATE users SET quota_bytes = ? WHERE id = ?")
                .bind(opt_i64(q))
                .bind(id)
                .execute(tx.conn())
                .await?;
        }
        if let Some(q) = update.quota_files {
            sqlx::query("UPDATE users SET quota_files = ? WHERE id = ?")
                .bind(opt_i64(q))
                .bind(id)
                .execute(tx.conn())
                .await?;
        }
        if let Some(require) = update.require_tls {
            sqlx::query("UPDATE users SET require_tls = ? WHERE id = ?")
                .bind(require)
                .bind(id)
                .execute(tx.conn())
                .await?;
        }
        if let Some(enabled) = update.enabled {
            sqlx::query("UPDATE users SET enabled = ? WHERE id = ?")
                .bind(enabled)
                .bind(id)
                .execute(tx.conn())
                .await?;
        }
        tx.commit().await?;
        self.verifier().forget(name);
        self.user(name)
            .await?
            .ok_or_else(|| StoreError::NoSuchUser(name.to_owned()))
    }

    /// Checks a login. Unknown users, disabled users and wrong passwords all return `None` after
    /// the same argon2id work, so neither the answer nor its timing tells which it was.
    pub async fn authenticate(&self, name: &str, password: &str) -> Result<Option<User>> {
        let row = sqlx::query(&format!(
            "SELECT {USER_COLUMNS}, password_hash FROM users WHERE name = ?"
        ))
        .bind(name)
        .fetch_optional(self.pool())
        .await?;
        let (user, phc) = match &row {
            Some(r) => (
                Some(user_from_row(r)?),
                Some(r.try_get::<String, _>("password_hash")?),
            ),
            None => (None, None),
        };
        let ok = self.verifier().verify(name, password, phc.as_deref()).await;
        let user = user.filter(|u| ok && u.enabled);
        if let (Some(u), Some(old)) = (&user, &phc) {
            if crate::needs_rehash(old) {
                // An imported legacy hash: replace it with argon2id now that we know the password.
                match self.verifier().hash(password).await {
                    Ok(new) => {
                        self.write(async |c| {
                            sqlx::query(
                            "UPDATE users SET password_hash = ? WHERE id = ? AND password_hash = ?",
                        )
                        .bind(new)
                        .bind(u.id)
                        .bind(old)
                        .execute(c).await
                        })
                        .await?;
                        tracing::info!(user = u.name, "legacy password hash replaced by argon2id");
                    }
                    Err(e) => tracing::warn!(error = %e, "could not rehash a legacy password"),
                }
            }
        }
        Ok(user)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn usernames_are_restricted() {
        for ok in ["alice", "a", "bob.smith", "x_1-2", "0day"] {
            assert!(validate_username(ok).is_ok(), "{ok}");
        }
        for bad in [
            "",
            ".hidden",
            "-x",
            "Alice",
            "a/b",
            "..",
            "a b",
            "名字",
            &"x".repeat(33),
        ] {
            assert!(validate_username(bad).is_err(), "{bad}");
        }
    }

    #[tokio::test]
    async fn users_round_trip_and_authenticate() {
        let dir = tempfile::tempdir().unwrap();
        let store = Store::open_sqlite(&dir.path().join("ferry.db"))
            .await
            .unwrap();
        let u = store
            .add_user(NewUser {
                name: "alice",
                password: "pw",
                home: None,
                quota_bytes: Some(10 << 20),
                quota_files: None,
            })
            .await
            .unwrap();
        assert_eq!(u.quota_bytes, Some(10 << 20));
        assert!(matches!(
            store
                .add_user(NewUser {
                    name: "alice",
                    password: "x",
                    home: None,
                    quota_bytes: None,
                    quota_files: None
                })
                .await,
            Err(StoreError::UserExists(_))
        ));
        assert!(store.authenticate("alice", "pw").await.unwrap().is_some());
        assert!(store.authenticate("alice", "PW").await.unwrap().is_none());
        assert!(store.authenticate("bob", "pw").await.unwrap().is_none());
        store.set_password("alice", "new").await.unwrap();
        assert!(store.authenticate("alice", "pw").await.unwrap().is_none());
        assert!(store.authenticate("alice", "new").await.unwrap().is_some());
        store
            .update_user(
                "alice",
                UserUpdate {
                    enabled: Some(false),
                    ..Default::default()
                },
            )
            .await
            .unwrap();
        assert!(store.authenticate("alice", "new").await.unwrap().is_none());
        let u = store
            .update_user(
                "alice",
                UserUpdate {
                    home: Some(Some("/srv/a".into())),
                    quota_bytes: Some(None),
                    ..Default::default()
                },
            )
            .await
            .unwrap();
        assert_eq!(u.home.as_deref(), Some("/srv/a"));
        assert_eq!(u.quota_bytes, None);
        assert_eq!(store.users().await.unwrap().len(), 1);
        store.delete_user("alice").await.unwrap();
        assert!(store.delete_user("alice").await.is_err());
        // Reopening keeps the schema (migrations are idempotent).
        drop(store);
        Store::open_sqlite(&dir.path().join("ferry.db"))
            .await
            .unwrap();
    }
}
