//! MKD / XMKD (RFC 959 §4.1.3): creates a directory; `257 "path"` on success, `550` with
//! "already exists" when the name is taken.

use ferry_proto::reply::quote_path;
use ferry_proto::Reply;

use super::Next;
use crate::errors::{fs_error_reply, store_error_reply};
use crate::session::{blocking, Session};

pub(crate) async fn handle(s: &mut Session, arg: &str) -> Next {
    let (home, path) = match s.target(arg) {
        Ok(t) => t,
        Err(r) => return r.into(),
    };
    let Some(user_id) = s.account().map(|a| a.user.id) else {
        return Reply::new(530, "Please login with USER and PASS.").into();
    };
    // Directories count toward the file quota: take the slot first, give it back on failure.
    match s.ctx.ledger.add_entry(user_id).await {
        Ok(true) => {}
        Ok(false) => {
            return Reply::new(552, "File quota exceeded: no more files may be created.").into()
        }
        Err(e) => return store_error_reply(&e).into(),
    }
    let p = path.clone();
    match blocking(move || home.create_dir(&p)).await {
        Ok(()) => Reply::new(257, format!("{} created.", quote_path(&path.display()))).into(),
        Err(e) => {
            s.release_usage(0, 1).await;
            fs_error_reply(&e).into()
        }
    }
}
