//! HOST (RFC 7151): names the virtual host before login; this server has one.

use ferry_proto::Reply;

use super::Next;
use crate::session::Session;

pub(crate) fn handle(s: &mut Session, _host: &str) -> Next {
    if s.is_logged_in() {
        return Reply::new(503, "HOST must be sent before USER.").into();
    }
    Reply::new(220, "Host accepted.").into()
}
