//! MKD / XMKD (RFC 959 §4.1.3): creates a directory; `257 "path"` on success, `550` with
//! "already exists" when the name is taken.

use ferry_proto::reply::quote_path;
use ferry_proto::Reply;

use super::Next;
use crate::errors::fs_error_reply;
use crate::session::{blocking, Session};

pub(crate) async fn handle(s: &mut Session, arg: &str) -> Next {
    let (home, path) = match s.target(arg) {
        Ok(t) => t,
        Err(r) => return r.into(),
    };
    let p = path.clone();
    match blocking(move || home.create_dir(&p)).await {
        Ok(()) => Reply::new(257, format!("{} created.", quote_path(&path.display()))).into(),
        Err(e) => fs_error_reply(&e).into(),
    }
}
