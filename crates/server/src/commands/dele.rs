//! DELE (RFC 959 §4.1.3): deletes a file (a symlink itself, never its target) and credits
//! its bytes to the user's quota.

use ferry_proto::Reply;

use super::Next;
use crate::errors::fs_error_reply;
use crate::session::{blocking, Session};

pub(crate) async fn handle(s: &mut Session, arg: &str) -> Next {
    let (home, path) = match s.target(arg) {
        Ok(t) => t,
        Err(r) => return r.into(),
    };
    match blocking(move || home.remove_file(&path)).await {
        Ok(bytes) => {
            s.release_usage(bytes, 1).await;
            Reply::new(250, "File deleted.").into()
        }
        Err(e) => fs_error_reply(&e).into(),
    }
}
