//! SITE (RFC 959 §4.1.3): server-specific commands: `SITE HELP` (what this user may run),
//! `SITE CHMOD` (permission bits only), `SITE QUOTA` (usage and limits, human-readable and
//! exact), `SITE REGISTER` (site_register.rs) and `SITE EXEC` (site_exec.rs).

use ferry_proto::size::format_size;
use ferry_proto::Reply;

use super::Next;
use crate::errors::fs_error_reply;
use crate::session::{blocking, Session};

pub(crate) async fn handle(s: &mut Session, arg: &str) -> Next {
    let (sub, rest) = arg.trim_start().split_once(' ').unwrap_or((arg.trim(), ""));
    match sub.to_ascii_uppercase().as_str() {
        "HELP" => help(s),
        "CHMOD" => chmod(s, rest).await,
        "QUOTA" => quota(s).await,
        "REGISTER" => super::site_register::start(s, rest).await,
        "EXEC" => super::site_exec::handle(s, rest).await,
        other => Reply::new(504, format!("Unknown SITE command {other}.")).into(),
    }
}

fn help(s: &Session) -> Next {
    let mut lines = vec![
        "SITE commands:".to_owned(),
        " CHMOD <octal mode> <path>".into(),
        " QUOTA".into(),
        " HELP".into(),
    ];
    if s.ctx.config.registration != crate::config::RegistrationMode::Off {
        lines.push(" REGISTER <user> [invitation token]".into());
    }
    for name in super::site_exec::visible_commands(s) {
        lines.push(format!(" EXEC {name}"));
    }
    lines.push("End".into());
    Reply::multi(214, lines).into()
}

async fn chmod(s: &mut Session, arg: &str) -> Next {
    let Some((mode, path)) = arg.trim_start().split_once(' ') else {
        return Reply::new(501, "Usage: SITE CHMOD <octal mode> <path>").into();
    };
    let Ok(mode) = u32::from_str_radix(mode, 8) else {
        return Reply::new(501, "Mode must be octal, e.g. 644.").into();
    };
    if mode > 0o777 {
        return Reply::new(501, "Only permission bits (at most 777) may be set.").into();
    }
    let (home, path) = match s.target(path) {
        Ok(t) => t,
        Err(r) => return r.into(),
    };
    match blocking(move || home.set_mode(&path, mode)).await {
        Ok(()) => Reply::new(200, "SITE CHMOD command ok.").into(),
        Err(e) => fs_error_reply(&e).into(),
    }
}

async fn quota(s: &mut Session) -> Next {
    let Some(account) = s.account() else {
        return Reply::new(530, "Please login with USER and PASS.").into();
    };
    let name = account.user.name.clone();
    let usage = match s.ctx.ledger.usage(account.user.id).await {
        Ok(Some(u)) => u,
        Ok(None) => return Reply::new(530, "Account no longer exists.").into(),
        Err(e) => return crate::errors::store_error_reply(&e).into(),
    };
    let in_use = usage.used_bytes.saturating_add(usage.reserved_bytes);
    let bytes = match usage.quota_bytes {
        Some(q) => format!(
            " Bytes: {} of {} used, {} available (exact: used={in_use} limit={q} available={})",
            format_size(in_use),
            format_size(q),
            format_size(q.saturating_sub(in_use)),
            q.saturating_sub(in_use)
        ),
        None => format!(
            " Bytes: {} used, no limit (exact: used={in_use} limit=none)",
            format_size(in_use)
        ),
    };
    let files = match usage.quota_files {
        Some(q) => format!(
            " Files: {} of {q} used, {} available",
            usage.used_files,
            q.saturating_sub(usage.used_files)
        ),
        None => format!(" Files: {} used, no limit", usage.used_files),
    };
    Reply::multi(
        200,
        vec![format!("Quota for {name}:"), bytes, files, "End".into()],
    )
    .into()
}
