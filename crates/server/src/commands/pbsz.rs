//! PBSZ (RFC 4217 §8): only meaningful after AUTH.

use ferry_proto::Reply;

use super::Next;

pub(crate) fn handle() -> Next {
    Reply::new(503, "PBSZ requires AUTH first.").into()
}
