//! SYST (RFC 959 §4.1.3): clients use the answer to choose their LIST parser.

use ferry_proto::Reply;

use super::Next;

pub(crate) fn handle() -> Next {
    Reply::new(215, "UNIX Type: L8").into()
}
