//! XSHA256, XSHA512, XSHA1, XMD5, XCRC: the legacy digest commands (as ProFTPD's mod_digest
//! and others implement them): `X... path [start end]`, `end` exclusive, answered
//! `250 <hex>`. Same digest machinery as HASH.

use ferry_proto::hash::HashAlgo;
use ferry_proto::Reply;

use super::Next;
use crate::digest::digest_of;
use crate::session::Session;

pub(crate) async fn handle(
    s: &mut Session,
    algo: HashAlgo,
    arg: &str,
    range: Option<(u64, u64)>,
) -> Next {
    let (home, path) = match s.target(arg) {
        Ok(t) => t,
        Err(r) => return r.into(),
    };
    match digest_of(&s.ctx, home, path, algo, range).await {
        Ok(d) => Reply::new(250, d.hex).into(),
        Err(r) => r.into(),
    }
}
