//! SIZE (RFC 3659 §4): the size of a regular file in bytes (as stored; binary size).

use ferry_proto::Reply;

use super::Next;
use crate::errors::NO_ACCESS;
use crate::session::{blocking, Session};

pub(crate) async fn handle(s: &mut Session, arg: &str) -> Next {
    let (home, path) = match s.target(arg) {
        Ok(t) => t,
        Err(r) => return r.into(),
    };
    match blocking(move || home.metadata(&path)).await {
        Ok(m) if m.is_file() => Reply::new(213, m.len().to_string()).into(),
        Ok(_) => Reply::new(550, "Not a regular file.").into(),
        Err(_) => Reply::new(550, NO_ACCESS).into(),
    }
}
