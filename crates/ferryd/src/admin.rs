//! The admin commands that work on the store: `user`, `quota rescan`, `invite`.

use std::io::{BufRead, IsTerminal};
use std::path::Path;

use anyhow::{bail, Context, Result};
use ferry_proto::size::{format_size, parse_size};
use ferry_server::ServerConfig;
use ferry_store::{NewUser, Store, UserUpdate};

use crate::cli::{InviteCmd, UserCmd};
use crate::privileges;

pub(crate) fn read_password(from_stdin: bool, confirm: bool) -> Result<String> {
    let pw = if from_stdin || !std::io::stdin().is_terminal() {
        let mut line = String::new();
        std::io::stdin().lock().read_line(&mut line)?;
        line.trim_end_matches(['\r', '\n']).to_owned()
    } else {
        let pw = rpassword::prompt_password("Password: ")?;
        if confirm && rpassword::prompt_password("Repeat password: ")? != pw {
            bail!("passwords do not match");
        }
        pw
    };
    if pw.is_empty() {
        bail!("empty password refused");
    }
    Ok(pw)
}

pub(crate) fn parse_quota(s: &str) -> Result<Option<u64>> {
    parse_size(s).map_err(anyhow::Error::msg)
}

pub(crate) fn absolute(p: &Path) -> Result<String> {
    let abs = std::path::absolute(p)?;
    abs.to_str()
        .map(str::to_owned)
        .context("home path must be valid UTF-8")
}

pub(crate) async fn user_command(store: &Store, config: &ServerConfig, cmd: UserCmd) -> Result<()> {
    match cmd {
        UserCmd::Add {
            name,
            password_stdin,
            home,
            quota,
            quota_files,
        } => {
            ferry_store::validate_username(&name)?;
            let quota_bytes = match quota {
                Some(q) => parse_quota(&q)?,
                None => config.default_quota,
            };
            let home = home.as_deref().map(absolute).transpose()?;
            let password = read_password(password_stdin, true)?;
            let user = store
                .add_user(NewUser {
                    name: &name,
                    password: &password,
                    home: home.as_deref(),
                    quota_bytes,
                    quota_files,
                })
                .await?;
            let home_dir = config.home_of(&user);
            std::fs::create_dir_all(&home_dir)
                .with_context(|| format!("creating home {}", home_dir.display()))?;
            // Made by root for a server that runs as `run_as`: the server must own it.
            privileges::hand_over(&home_dir, config.run_as.as_deref())?;
            println!(
                "user {name} added (home {}, quota {})",
                home_dir.display(),
                quota_text(user.quota_bytes)
            );
        }
        UserCmd::Import {
            format,
            file,
            dry_run,
        } => {
            let text = std::fs::read_to_string(&file)
                .with_context(|| format!("reading {}", file.display()))?;
            let (users, errors) = ferry_store::parse_import(format, &text);
            for (line, reason) in &errors {
                eprintln!("{}:{line}: skipped: {reason}", file.display());
            }
            let report = store.import_users(&users, dry_run).await?;
            for (line, reason) in &report.skipped {
                eprintln!("{}:{line}: skipped: {reason}", file.display());
            }
            let verb = if dry_run { "would import" } else { "imported" };
            println!(
                "{verb} {} user(s), skipped {} line(s)",
                report.imported.len(),
                errors.len() + report.skipped.len()
            );
            for name in &report.imported {
                println!("  {name}");
            }
        }
        UserCmd::Del { name } => {
            store.delete_user(&name).await?;
            println!("user {name} deleted (home directory left in place)");
        }
        UserCmd::Passwd {
            name,
            password_stdin,
        } => {
            if store.user(&name).await?.is_none() {
                bail!("no such user: {name}");
            }
            let password = read_password(password_stdin, true)?;
            store.set_password(&name, &password).await?;
            println!("password of {name} changed");
        }
        UserCmd::ExpireLegacy {
            older_than,
            dry_run,
        } => {
            let now = std::time::SystemTime::now()
                .duration_since(std::time::UNIX_EPOCH)
                .map(|d| d.as_secs() as i64)
                .unwrap_or(0);
            let before = match older_than.as_deref() {
                Some(d) => now.saturating_sub(parse_duration_secs(d)?),
                None => i64::MAX,
            };
            let schemes: std::collections::HashMap<String, ferry_store::Scheme> =
                store.password_schemes().await?.into_iter().collect();
            let mut expired = 0;
            for u in store.users().await? {
                let legacy = !matches!(schemes.get(&u.name), Some(ferry_store::Scheme::Argon2));
                if !legacy || !u.enabled || u.created_at >= before {
                    continue;
                }
                if !dry_run {
                    store
                        .update_user(
                            &u.name,
                            UserUpdate {
                                enabled: Some(false),
                                ..UserUpdate::default()
                            },
                        )
                        .await?;
                }
                let scheme = schemes.get(&u.name).map(|s| s.name()).unwrap_or("unknown");
                let verb = if dry_run { "would disable" } else { "disabled" };
                println!("{verb} {} (legacy {scheme} hash)", u.name);
                expired += 1;
            }
            println!(
                "{expired} account(s) {} (`ferryd user set NAME --enable` and a new password re-enables one)",
                if dry_run { "would be disabled" } else { "disabled" }
            );
        }
        UserCmd::List => {
            // HASH shows who still has an imported legacy hash (argon2id after their next login).
            let schemes: std::collections::HashMap<String, ferry_store::Scheme> =
                store.password_schemes().await?.into_iter().collect();
            println!(
                "{:<20} {:<8} {:>12} {:>12}  {:<13} HOME",
                "NAME", "ENABLED", "USED", "QUOTA", "HASH"
            );
            for u in store.users().await? {
                let scheme = schemes.get(&u.name).map(|s| s.name()).unwrap_or("unknown");
                println!(
                    "{:<20} {:<8} {:>12} {:>12}  {:<13} {}",
                    u.name,
                    if u.enabled { "yes" } else { "no" },
                    format_size(u.used_bytes),
                    quota_text(u.quota_bytes),
                    scheme,
                    config.home_of(&u).display()
                );
            }
        }
        UserCmd::Show { name } => {
            let Some(u) = store.user(&name).await? else {
                bail!("no such user: {name}")
            };
            println!("name:        {}", u.name);
            println!("enabled:     {}", if u.enabled { "yes" } else { "no" });
            println!("home:        {}", config.home_of(&u).display());
            println!("quota:       {}", quota_text(u.quota_bytes));
            let tls = match u.require_tls {
                Some(true) => "yes",
                Some(false) => "no",
                None => "default (server policy)",
            };
            println!("require tls: {tls}");
            println!(
                "quota files: {}",
                u.quota_files
                    .map(|n| n.to_string())
                    .unwrap_or_else(|| "unlimited".into())
            );
            println!(
                "used:        {} ({} bytes), {} files",
                format_size(u.used_bytes),
                u.used_bytes,
                u.used_files
            );
            if let Some(q) = store.quota_usage(u.id).await? {
                if q.reserved_bytes > 0 {
                    println!(
                        "reserved:    {} bytes by uploads in flight",
                        q.reserved_bytes
                    );
                }
                if let Some(left) = q.available_bytes() {
                    println!("available:   {} ({left} bytes)", format_size(left));
                }
            }
        }
        UserCmd::Set {
            name,
            home,
            quota,
            quota_files,
            enable,
            disable,
            require_tls,
        } => {
            let mut update = UserUpdate::default();
            if let Some(h) = home {
                update.home = Some(if h == "default" {
                    None
                } else {
                    Some(absolute(Path::new(&h))?)
                });
            }
            if let Some(q) = quota {
                update.quota_bytes = Some(parse_quota(&q)?);
            }
            if let Some(q) = quota_files {
                update.quota_files = Some(if q == "unlimited" {
                    None
                } else {
                    Some(q.parse().context("--quota-files takes a number")?)
                });
            }
            if enable {
                update.enabled = Some(true);
            } else if disable {
                update.enabled = Some(false);
            }
            if let Some(r) = require_tls {
                update.require_tls = Some(match r.as_str() {
                    "yes" | "true" => Some(true),
                    "no" | "false" => Some(false),
                    "default" => None,
                    other => bail!("--require-tls takes yes, no or default, not {other:?}"),
                });
            }
            let u = store.update_user(&name, update).await?;
            println!(
                "user {} updated (home {}, quota {}, enabled {})",
                u.name,
                config.home_of(&u).display(),
                quota_text(u.quota_bytes),
                u.enabled
            );
        }
    }
    Ok(())
}

pub(crate) async fn rescan(store: &Store, config: &ServerConfig, only: Option<&str>) -> Result<()> {
    let users = match only {
        Some(name) => vec![store
            .user(name)
            .await?
            .with_context(|| format!("no such user: {name}"))?],
        None => store.users().await?,
    };
    for u in users {
        let home = config.home_of(&u);
        let (bytes, files) = ferry_server::rescan_usage(store, u.id, &home)
            .await
            .with_context(|| format!("scanning {}", home.display()))?;
        println!(
            "{}: {} ({bytes} bytes) in {files} files and directories (was {} bytes, {} files)",
            u.name,
            format_size(bytes),
            u.used_bytes,
            u.used_files
        );
    }
    Ok(())
}

pub(crate) fn unix_now() -> i64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.as_secs() as i64)
        .unwrap_or(0)
}

pub(crate) fn parse_duration_secs(s: &str) -> Result<i64> {
    let s = s.trim();
    let (num, unit) = s.split_at(s.find(|c: char| !c.is_ascii_digit()).unwrap_or(s.len()));
    let n: i64 = num
        .parse()
        .with_context(|| format!("not a duration: {s:?} (use 7d, 12h, 30m or 45s)"))?;
    let mult = match unit {
        "d" => 86_400,
        "h" => 3600,
        "m" => 60,
        "s" | "" => 1,
        _ => bail!("unknown duration unit in {s:?} (use d, h, m or s)"),
    };
    Ok(n.saturating_mul(mult))
}

pub(crate) async fn invite_command(store: &Store, cmd: InviteCmd) -> Result<()> {
    let now = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.as_secs() as i64)
        .unwrap_or(0);
    match cmd {
        InviteCmd::Create {
            quota,
            expires,
            uses,
        } => {
            let quota = quota.as_deref().map(parse_quota).transpose()?.flatten();
            let expires_at = now + parse_duration_secs(&expires)?;
            let (invite, token) = store
                .create_invite(quota, uses.max(1), Some(expires_at))
                .await?;
            println!("{token}");
            eprintln!(
                "invitation {} created: {} use(s), expires in {expires}, quota {}. Register with: SITE REGISTER <name> {token}",
                invite.id,
                invite.uses_left,
                quota.map(format_size).unwrap_or_else(|| "default".into())
            );
        }
        InviteCmd::List => {
            println!(
                "{:>4} {:>5} {:>12} {:>12}  STATE",
                "ID", "USES", "QUOTA", "EXPIRES IN"
            );
            for i in store.invites().await? {
                let state = if i.revoked {
                    "revoked"
                } else if i.uses_left == 0 {
                    "used up"
                } else if i.expires_at.is_some_and(|t| t <= now) {
                    "expired"
                } else {
                    "usable"
                };
                let left = i
                    .expires_at
                    .map(|t| format!("{}h", (t - now).max(0) / 3600))
                    .unwrap_or_else(|| "never".into());
                println!(
                    "{:>4} {:>5} {:>12} {:>12}  {state}",
                    i.id,
                    i.uses_left,
                    i.quota_bytes
                        .map(format_size)
                        .unwrap_or_else(|| "default".into()),
                    left
                );
            }
        }
        InviteCmd::Revoke { id } => {
            if !store.revoke_invite(id).await? {
                bail!("no invitation {id}");
            }
            println!("invitation {id} revoked");
        }
    }
    Ok(())
}

pub(crate) fn quota_text(q: Option<u64>) -> String {
    q.map(format_size).unwrap_or_else(|| "unlimited".into())
}
