//! SITE (RFC 959 §4.1.3): server-specific commands. `SITE HELP` and `SITE CHMOD` (permission
//! bits only) for now; QUOTA, EXEC and REGISTER arrive with their issues.

use ferry_proto::Reply;

use super::Next;
use crate::errors::fs_error_reply;
use crate::session::{blocking, Session};

pub(crate) async fn handle(s: &mut Session, arg: &str) -> Next {
    let (sub, rest) = arg.trim_start().split_once(' ').unwrap_or((arg.trim(), ""));
    match sub.to_ascii_uppercase().as_str() {
        "HELP" => Reply::multi(
            214,
            vec![
                "SITE commands:".into(),
                " CHMOD <octal mode> <path>".into(),
                " HELP".into(),
                "End".into(),
            ],
        )
        .into(),
        "CHMOD" => chmod(s, rest).await,
        other => Reply::new(504, format!("Unknown SITE command {other}.")).into(),
    }
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
