//! ACCT (RFC 959 §4.1.1): accounts are not used; the command is superfluous.

use ferry_proto::Reply;

use super::Next;

pub(crate) fn handle() -> Next {
    Reply::new(202, "ACCT not needed.").into()
}
