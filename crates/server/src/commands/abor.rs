//! ABOR (RFC 959 §4.1.3) when no transfer runs (the session loop handles ABOR during one:
//! `426` for the transfer, then `226`).

use ferry_proto::Reply;

use super::Next;

pub(crate) fn handle() -> Next {
    Reply::new(225, "No transfer to abort.").into()
}
