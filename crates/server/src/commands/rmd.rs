//! RMD / XRMD (RFC 959 §4.1.3): removes an empty directory.

use ferry_proto::Reply;

use super::Next;
use crate::errors::fs_error_reply;
use crate::session::{blocking, Session};

pub(crate) async fn handle(s: &mut Session, arg: &str) -> Next {
    let (home, path) = match s.target(arg) {
        Ok(t) => t,
        Err(r) => return r.into(),
    };
    if s.cwd.starts_with(&path) && !path.is_root() {
        // Removing the working directory (or an ancestor) would strand the session.
        return Reply::new(
            550,
            "Cannot remove the current directory or one of its parents.",
        )
        .into();
    }
    match blocking(move || home.remove_dir(&path)).await {
        Ok(()) => {
            s.release_usage(0, 1).await;
            Reply::new(250, "Directory removed.").into()
        }
        Err(e) => fs_error_reply(&e).into(),
    }
}
