//! NLST (RFC 959 §4.1.3): names only, one per line, for scripts and `mget`.

use std::io;

use super::Next;
use crate::listing::ListFormat;
use crate::session::Session;

pub(crate) async fn handle(s: &mut Session, arg: Option<&str>) -> io::Result<Next> {
    super::list::start(s, arg, ListFormat::Names, "NLST").await
}
