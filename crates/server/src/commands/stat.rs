//! STAT (RFC 959 §4.1.3). Without an argument: the session's status (during a transfer the
//! session loop answers with its progress instead). With a path: its listing over the control
//! connection, capped so a huge directory cannot grow the reply without bound.

use ferry_proto::Reply;

use super::Next;
use crate::listing::ListFormat;
use crate::session::Session;

/// The most entries a `STAT path` reply carries.
const MAX_STAT_ENTRIES: usize = 10_000;

pub(crate) async fn handle(s: &mut Session, arg: Option<&str>) -> Next {
    match arg {
        None => status(s),
        Some(a) => {
            if !s.is_logged_in() {
                return Reply::new(530, "Please login with USER and PASS.").into();
            }
            listing(s, a).await
        }
    }
}

fn status(s: &Session) -> Next {
    let mut lines = vec![
        "Ferry FTP server status:".to_owned(),
        format!(" Connected to {}", s.peer),
    ];
    match s.account() {
        Some(a) => lines.push(format!(" Logged in as {}", a.user.name)),
        None => lines.push(" Not logged in".to_owned()),
    }
    lines.push(format!(
        " TYPE: {}, MODE: Stream, STRU: File",
        s.mode_name()
    ));
    lines.push(format!(" Working directory: {}", s.cwd.display()));
    lines.push("End of status".to_owned());
    Reply::multi(211, lines).into()
}

async fn listing(s: &Session, arg: &str) -> Next {
    let (job, path) = match super::list::resolve_listing(s, Some(arg), ListFormat::Long).await {
        Ok(x) => x,
        Err(r) => return r.into(),
    };
    let mut rx = job.spawn();
    let mut lines = vec![format!("Status of {}:", path.display())];
    'chunks: while let Some(chunk) = rx.recv().await {
        for line in chunk.split("\r\n").filter(|l| !l.is_empty()) {
            if lines.len() > MAX_STAT_ENTRIES {
                lines.push(format!(
                    " (listing truncated at {MAX_STAT_ENTRIES} entries; use LIST)"
                ));
                break 'chunks;
            }
            lines.push(format!(" {line}"));
        }
    }
    lines.push("End of status".to_owned());
    Reply::multi(213, lines).into()
}
