//! RNFR (RFC 959 §4.1.3): names the file or directory to rename; must be followed by RNTO.

use ferry_proto::Reply;

use super::Next;
use crate::errors::NO_ACCESS;
use crate::session::{blocking, Session};

pub(crate) async fn handle(s: &mut Session, arg: &str) -> Next {
    s.rename_from = None;
    let (home, path) = match s.target(arg) {
        Ok(t) => t,
        Err(r) => return r.into(),
    };
    if path.is_root() {
        return Reply::new(550, NO_ACCESS).into();
    }
    let p = path.clone();
    match blocking(move || home.metadata(&p)).await {
        Ok(_) => {
            s.rename_from = Some(path);
            Reply::new(350, "Ready for RNTO.").into()
        }
        Err(_) => Reply::new(550, NO_ACCESS).into(),
    }
}
