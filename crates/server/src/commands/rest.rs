//! REST (RFC 3659 §5, STREAM mode): the offset for the next RETR or STOR only. The dispatcher
//! clears it at the next transfer command, whether that succeeds or not.

use ferry_proto::Reply;

use super::Next;
use crate::session::Session;

pub(crate) fn handle(s: &mut Session, offset: u64) -> Next {
    s.rest = Some(offset);
    s.range = None; // REST and RANG exclude each other (draft-bryan-ftp-range §3.2)
    Reply::new(350, format!("Restarting at {offset}. Send STOR or RETR.")).into()
}
