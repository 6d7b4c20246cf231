//! STRU (RFC 959 §3.1.2): only File structure.

use ferry_proto::Reply;

use super::Next;

pub(crate) fn handle(structure: char) -> Next {
    if structure == 'F' {
        Reply::new(200, "Structure set to F.").into()
    } else {
        Reply::new(504, "Only STRU F is supported.").into()
    }
}
