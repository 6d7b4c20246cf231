//! QUIT (RFC 959 §4.1.1): closes the control connection (a running transfer is stopped by
//! the session loop first).

use ferry_proto::Reply;

use super::Next;

pub(crate) fn handle() -> Next {
    Next::Close(Reply::new(221, "Goodbye."))
}
