//! AVBL (draft-peterson-streamlined-ftp-command-extensions §4, as SFTPGo implements it): the
//! bytes the user may still store, `213 <bytes>`. Without a quota, the free space of the file
//! system holding the home.

use ferry_proto::Reply;

use super::Next;
use crate::errors::NO_ACCESS;
use crate::session::{blocking, Session};

pub(crate) async fn handle(s: &mut Session, arg: Option<&str>) -> Next {
    let (home, path) = match s.target(arg.unwrap_or(".")) {
        Ok(t) => t,
        Err(r) => return r.into(),
    };
    let Some(user_id) = s.account().map(|a| a.user.id) else {
        return Reply::new(530, "Please login with USER and PASS.").into();
    };
    let h = home.clone();
    if !blocking(move || Ok(h.is_dir(&path))).await.unwrap_or(false) {
        return Reply::new(550, NO_ACCESS).into();
    }
    let quota_left = match s.ctx.ledger.usage(user_id).await {
        Ok(u) => u.and_then(|u| u.available_bytes()),
        Err(e) => return crate::errors::store_error_reply(&e).into(),
    };
    let disk_left = blocking(move || home.free_space()).await.ok();
    match (quota_left, disk_left) {
        (Some(q), Some(d)) => Reply::new(213, q.min(d).to_string()).into(),
        (Some(q), None) => Reply::new(213, q.to_string()).into(),
        (None, Some(d)) => Reply::new(213, d.to_string()).into(),
        (None, None) => Reply::new(550, "Available space unknown.").into(),
    }
}
