//! MODE (RFC 959 §3.4): only Stream mode.

use ferry_proto::Reply;

use super::Next;

pub(crate) fn handle(mode: char) -> Next {
    if mode == 'S' {
        Reply::new(200, "Mode set to S.").into()
    } else {
        Reply::new(504, "Only MODE S is supported.").into()
    }
}
