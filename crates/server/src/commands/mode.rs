//! MODE (RFC 959 §3.4): only Stream mode; Block, Compressed and the deflate extension `MODE Z`
//! are known and refused with 504.

use ferry_proto::Reply;

use super::Next;

pub(crate) fn handle(mode: char) -> Next {
    if mode == 'S' {
        Reply::new(200, "Mode set to S.").into()
    } else {
        Reply::new(504, "Only MODE S is supported.").into()
    }
}
