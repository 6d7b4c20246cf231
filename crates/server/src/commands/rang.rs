//! RANG (draft-bryan-ftp-range): an inclusive byte range for the next RETR, STOR or HASH only.
//! `RANG 1 0` clears it; it and REST exclude each other.

use ferry_proto::Reply;

use super::Next;
use crate::session::Session;

pub(crate) fn handle(s: &mut Session, start: u64, end: u64) -> Next {
    if (start, end) == (1, 0) {
        s.range = None;
        return Reply::new(350, "Range cleared.").into();
    }
    if start > end {
        return Reply::new(501, "RANG start must not exceed its end.").into();
    }
    s.range = Some((start, end));
    s.rest = None;
    Reply::new(350, format!("Restarting at {start}. Ending at {end}.")).into()
}
