//! CDUP / XCUP (RFC 959 §4.1.1): CWD to the parent; at the home it stays at `/`.

use super::Next;
use crate::session::Session;

pub(crate) async fn handle(s: &mut Session) -> Next {
    super::cwd::handle(s, "..").await
}
