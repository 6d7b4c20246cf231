//! Bringing existing users along: pure-ftpd's `pureftpd.passwd`, Apache `htpasswd` files, and
//! the original specification's `user:md5hex` list. Legacy hashes are kept as they are and
//! verified at login by well-kept crates (crypt3_rs), then replaced by argon2id on the first
//! successful login. Everything is imported in one transaction: an interrupted import leaves
//! nothing half-written.

use std::time::{SystemTime, UNIX_EPOCH};

use crate::{scheme_of, validate_username, Result, Scheme, Store};

/// One account read from an import file.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ImportedUser {
    /// 1-based line number in the file.
    pub line: usize,
    pub name: String,
    pub password_hash: String,
    pub home: Option<String>,
    pub quota_bytes: Option<u64>,
    pub quota_files: Option<u64>,
}

#[derive(Debug, Default, Clone, PartialEq, Eq)]
pub struct ImportReport {
    pub imported: Vec<String>,
    /// (line, reason) of each line not imported.
    pub skipped: Vec<(usize, String)>,
}

/// The formats `ferryd user import` reads.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ImportFormat {
    PureFtpd,
    Htpasswd,
    Md5,
}

impl std::str::FromStr for ImportFormat {
    type Err = String;
    fn from_str(s: &str) -> std::result::Result<Self, String> {
        match s {
            "pure-ftpd" | "pureftpd" => Ok(ImportFormat::PureFtpd),
            "htpasswd" => Ok(ImportFormat::Htpasswd),
            "md5" => Ok(ImportFormat::Md5),
            _ => Err(format!(
                "unknown import format {s:?}: use pure-ftpd, htpasswd or md5"
            )),
        }
    }
}

fn checked_hash(hash: &str) -> std::result::Result<String, String> {
    match scheme_of(hash) {
        Scheme::Unknown => Err(
            "unsupported password hash (expected $1$, $apr1$, $5$, $6$, $2y$ or $argon2id$)".into(),
        ),
        _ => Ok(hash.to_owned()),
    }
}

/// Parses an import file. Malformed lines are reported with their number and reason.
pub fn parse_import(format: ImportFormat, text: &str) -> (Vec<ImportedUser>, Vec<(usize, String)>) {
    let mut users = Vec::new();
    let mut errors = Vec::new();
    for (i, raw) in text.lines().enumerate() {
        let line = i + 1;
        let l = raw.trim();
        if l.is_empty() || l.starts_with('#') {
            continue;
        }
        let parsed = match format {
            ImportFormat::PureFtpd => parse_pure_ftpd(l),
            ImportFormat::Htpasswd => {
                parse_pair(l).and_then(|(n, h)| Ok((n, checked_hash(h)?, None, None, None)))
            }
            ImportFormat::Md5 => parse_pair(l).and_then(|(n, h)| {
                if h.len() == 32 && h.bytes().all(|b| b.is_ascii_hexdigit()) {
                    Ok((
                        n,
                        format!("md5:{}", h.to_ascii_lowercase()),
                        None,
                        None,
                        None,
                    ))
                } else {
                    Err("expected 32 hexadecimal digits of MD5".into())
                }
            }),
        };
        match parsed.and_then(|u| {
            validate_username(&u.0)
                .map(|()| u)
                .map_err(|e| e.to_string())
        }) {
            Ok((name, password_hash, home, quota_bytes, quota_files)) => users.push(ImportedUser {
                line,
                name,
                password_hash,
                home,
                quota_bytes,
                quota_files,
            }),
            Err(reason) => errors.push((line, reason)),
        }
    }
    (users, errors)
}

type Parsed = (String, String, Option<String>, Option<u64>, Option<u64>);

fn parse_pair(l: &str) -> std::result::Result<(String, &str), String> {
    let (name, hash) = l.split_once(':').ok_or("expected user:hash")?;
    Ok((name.to_owned(), hash.trim()))
}

/// `user:hash:uid:gid:gecos:home:ul_bw:dl_bw:ul_ratio:dl_ratio:max_clients:quota_files:quota_size:...`
/// (pure-pw's format; the home may end in `/./`, its chroot marker; quota_size is in bytes).
fn parse_pure_ftpd(l: &str) -> std::result::Result<Parsed, String> {
    let f: Vec<&str> = l.split(':').collect();
    if f.len() < 6 {
        return Err(format!(
            "expected at least 6 ':'-separated fields, found {}",
            f.len()
        ));
    }
    let hash = checked_hash(f[1])?;
    let home = f[5].trim_end_matches("./").trim_end_matches('/');
    let home = (!home.is_empty()).then(|| home.to_owned());
    let number = |i: usize| -> std::result::Result<Option<u64>, String> {
        match f.get(i).map(|s| s.trim()).filter(|s| !s.is_empty()) {
            None => Ok(None),
            Some(v) => v
                .parse()
                .map(Some)
                .map_err(|_| format!("field {} is not a number: {v:?}", i + 1)),
        }
    };
    Ok((f[0].to_owned(), hash, home, number(12)?, number(11)?))
}

impl Store {
    /// Imports users in one transaction; names that already exist are skipped (reported).
    /// With `dry_run`, reports what would happen and changes nothing.
    pub async fn import_users(
        &self,
        users: &[ImportedUser],
        dry_run: bool,
    ) -> Result<ImportReport> {
        let now = SystemTime::now()
            .duration_since(UNIX_EPOCH)
            .map(|d| d.as_secs() as i64)
            .unwrap_or(0);
        let mut report = ImportReport::default();
        let mut tx = crate::write_tx::WriteTx::begin(self).await?;
        for u in users {
            let exists: Option<i64> = sqlx::query_scalar("SELECT id FROM users WHERE name = ?")
                .bind(&u.name)
                .fetch_optional(tx.conn())
                .await?;
            if exists.is_some() || report.imported.contains(&u.name) {
                report
                    .skipped
                    .push((u.line, format!("user {} already exists", u.name)));
                continue;
            }
            sqlx::query("INSERT INTO users (name, password_hash, home, quota_bytes, quota_files, created_at) VALUES (?, ?, ?, ?, ?, ?)")
                .bind(&u.name)
                .bind(&u.password_hash)
                .bind(&u.home)
                .bind(u.quota_bytes.map(|q| i64::try_from(q).unwrap_or(i64::MAX)))
                .bind(u.quota_files.map(|q| i64::try_from(q).unwrap_or(i64::MAX)))
                .bind(now)
                .execute(tx.conn())
                .await?;
            report.imported.push(u.name.clone());
        }
        if dry_run {
            tx.rollback().await?;
        } else {
            tx.commit().await?;
        }
        Ok(report)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn pure_ftpd_lines_parse_with_home_and_quota() {
        let text = "joe:$6$salt$hash:1000:1000::/home/ftp/joe/./::::::7:10485760::::::\n# comment\nbad line\nann:{SHA}x:1:1::/h::::::::::::\nBob:$1$s$h:1:1::/h/b/./::::::::::::";
        let (users, errors) = parse_import(ImportFormat::PureFtpd, text);
        assert_eq!(users.len(), 1);
        assert_eq!(users[0].name, "joe");
        assert_eq!(users[0].home.as_deref(), Some("/home/ftp/joe"));
        assert_eq!(
            (users[0].quota_bytes, users[0].quota_files),
            (Some(10_485_760), Some(7))
        );
        let lines: Vec<usize> = errors.iter().map(|e| e.0).collect();
        assert_eq!(lines, vec![3, 4, 5]);
        assert!(errors[1].1.contains("unsupported password hash"));
    }

    #[test]
    fn md5_and_htpasswd_lines_parse() {
        let (u, e) = parse_import(
            ImportFormat::Md5,
            "amy:5F4DCC3B5AA765D61D8327DEB882CF99\nzed:nothex",
        );
        assert_eq!(u[0].password_hash, "md5:5f4dcc3b5aa765d61d8327deb882cf99");
        assert_eq!(e[0].0, 2);
        let (u, e) = parse_import(
            ImportFormat::Htpasswd,
            "kim:$2y$05$abcdefghijklmnopqrstuu5Vkla4uQ7nQX5ToDUlgKYl1qELyDS.\nno-colon",
        );
        assert_eq!(u.len(), 1);
        assert_eq!(e.len(), 1);
    }
}
