//! ALLO (RFC 959 §4.1.3): a size hint before an upload. Quota enforcement (its own issue) will
//! answer from the user's remaining quota; until then no allocation is needed.

use ferry_proto::Reply;

use super::Next;

pub(crate) fn handle(_size: u64) -> Next {
    Reply::new(202, "No storage allocation necessary.").into()
}
