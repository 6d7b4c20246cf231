//! RNTO (RFC 959 §4.1.3): completes a rename started by RNFR. Both names are inside the jail,
//! so nothing can be moved out of (or into) the home. A file it replaces is credited to the
//! user's quota.

use ferry_proto::Reply;

use super::Next;
use crate::errors::fs_error_reply;
use crate::session::{blocking, Session};

pub(crate) async fn handle(s: &mut Session, arg: &str) -> Next {
    let Some(from) = s.rename_from.take() else {
        return Reply::new(503, "RNFR required first.").into();
    };
    let (home, to) = match s.target(arg) {
        Ok(t) => t,
        Err(r) => return r.into(),
    };
    match blocking(move || home.rename(&from, &to)).await {
        Ok(replaced) => {
            if let Some(bytes) = replaced {
                s.release_usage(bytes, 1).await;
            }
            Reply::new(250, "Rename successful.").into()
        }
        Err(e) => fs_error_reply(&e).into(),
    }
}
