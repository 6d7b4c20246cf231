//! MLSD (RFC 3659 §7): machine-readable facts for each entry of a directory. The argument must
//! be a directory (`501` otherwise, as §7.2.1 says).

use std::io;

use ferry_proto::Reply;

use super::Next;
use crate::errors::NO_ACCESS;
use crate::listing::{ListFormat, ListJob, ListTarget};
use crate::session::{blocking, Session};

pub(crate) async fn handle(s: &mut Session, arg: Option<&str>) -> io::Result<Next> {
    let (home, path) = match s.target(arg.unwrap_or(".")) {
        Ok(t) => t,
        Err(r) => return Ok(r.into()),
    };
    if let Some(r) = s.missing_data_plan() {
        return Ok(r.into());
    }
    let (h, p) = (home.clone(), path.clone());
    match blocking(move || h.metadata(&p)).await {
        Ok(m) if m.is_dir() => {}
        Ok(_) => return Ok(Reply::new(501, "MLSD needs a directory; use MLST for a file.").into()),
        Err(_) => return Ok(Reply::new(550, NO_ACCESS).into()),
    }
    let job = ListJob {
        home,
        target: ListTarget::Dir {
            dir: path.clone(),
            pattern: None,
        },
        format: ListFormat::Facts,
    };
    s.start_transfer(
        crate::transfer::TransferKind::List(job),
        "MLSD",
        &path,
        "Here comes the directory listing.".into(),
        "MLSD complete.".into(),
    )
    .await
}
