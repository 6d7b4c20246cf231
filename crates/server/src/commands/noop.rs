//! NOOP (RFC 959 §4.1.3): answered at once, also during a transfer.

use ferry_proto::Reply;

use super::Next;

pub(crate) fn handle() -> Next {
    Reply::new(200, "NOOP ok.").into()
}
