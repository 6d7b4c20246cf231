//! MDTM (RFC 3659 §3): the modification time of a file, `YYYYMMDDHHMMSS` in UTC.

use ferry_proto::Reply;

use super::Next;
use crate::errors::NO_ACCESS;
use crate::session::{blocking, Session};

pub(crate) async fn handle(s: &mut Session, arg: &str) -> Next {
    let (home, path) = match s.target(arg) {
        Ok(t) => t,
        Err(r) => return r.into(),
    };
    match blocking(move || home.entry(&path)).await {
        Ok(e) => Reply::new(213, ferry_proto::time::format_mdtm(e.mtime)).into(),
        Err(_) => Reply::new(550, NO_ACCESS).into(),
    }
}
