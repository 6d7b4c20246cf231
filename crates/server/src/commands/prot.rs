//! PROT (RFC 4217 §9): only meaningful after AUTH.

use ferry_proto::Reply;

use super::Next;

pub(crate) fn handle() -> Next {
    Reply::new(503, "PROT requires AUTH first.").into()
}
