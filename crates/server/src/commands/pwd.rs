//! PWD / XPWD (RFC 959 §4.1.3): the working directory, `/` being the home, quoted with inner
//! quotes doubled (RFC 959 Appendix II).

use ferry_proto::reply::quote_path;
use ferry_proto::Reply;

use super::Next;
use crate::session::Session;

pub(crate) fn handle(s: &Session) -> Next {
    Reply::new(
        257,
        format!("{} is the current directory.", quote_path(&s.cwd.display())),
    )
    .into()
}
