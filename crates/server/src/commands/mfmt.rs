//! MFMT (draft-somers-ftp-mfxx §3): sets a file's modification time; replies with the time set.

use ferry_proto::Reply;

use super::Next;
use crate::errors::fs_error_reply;
use crate::session::{blocking, Session};

pub(crate) async fn handle(s: &mut Session, mtime: i64, arg: &str) -> Next {
    let (home, path) = match s.target(arg) {
        Ok(t) => t,
        Err(r) => return r.into(),
    };
    let p = path.clone();
    match blocking(move || home.set_mtime(&p, mtime)).await {
        Ok(()) => Reply::new(
            213,
            format!(
                "Modify={}; {}",
                ferry_proto::time::format_mdtm(mtime),
                path.display()
            ),
        )
        .into(),
        Err(e) => fs_error_reply(&e).into(),
    }
}
