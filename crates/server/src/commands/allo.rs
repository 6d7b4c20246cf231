//! ALLO (RFC 959 §4.1.3): a size announced before an upload. Answered from the user's
//! remaining quota, so a client learns before any byte moves that the file will not fit
//! (`552`). A hint only: nothing is reserved (a client cannot hold quota by announcing).

use ferry_proto::size::format_size;
use ferry_proto::Reply;

use super::Next;
use crate::session::Session;

pub(crate) async fn handle(s: &mut Session, size: u64) -> Next {
    let Some(user_id) = s.account().map(|a| a.user.id) else {
        return Reply::new(530, "Please login with USER and PASS.").into();
    };
    match s.ctx.ledger.usage(user_id).await {
        Ok(Some(u)) => match u.available_bytes() {
            Some(left) if size > left => Reply::new(
                552,
                format!("Exceeded storage allocation: {size} bytes requested, {left} bytes ({}) left in your quota.", format_size(left)),
            )
            .into(),
            Some(left) => Reply::new(200, format!("ALLO ok: {size} bytes fit ({left} bytes left in your quota).")).into(),
            None => Reply::new(200, "ALLO ok: no quota applies.").into(),
        },
        Ok(None) => Reply::new(530, "Account no longer exists.").into(),
        Err(e) => crate::errors::store_error_reply(&e).into(),
    }
}
