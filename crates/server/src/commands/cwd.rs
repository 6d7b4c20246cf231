//! CWD / XCWD (RFC 959 §4.1.1): changes the working directory to a directory inside the jail.

use ferry_proto::Reply;

use super::Next;
use crate::errors::NO_ACCESS;
use crate::session::{blocking, Session};

pub(crate) async fn handle(s: &mut Session, arg: &str) -> Next {
    let (home, path) = match s.target(arg) {
        Ok(t) => t,
        Err(r) => return r.into(),
    };
    let p = path.clone();
    match blocking(move || Ok(home.is_dir(&p))).await {
        Ok(true) => {
            s.cwd = path;
            Reply::new(250, "Directory successfully changed.").into()
        }
        _ => Reply::new(550, NO_ACCESS).into(),
    }
}
