//! HASH (draft-bryan-ftpext-hash-02): the digest of a file in the algorithm chosen with
//! `OPTS HASH` (SHA-256 by default), `213 <ALGO> <start>-<end> <hex> <path>` with `end`
//! exclusive. After `RANG start end`, the digest of that inclusive range. Whole-file digests
//! come from the digest store when the file is unchanged (see digest.rs).

use ferry_proto::hash::hash_reply_text;
use ferry_proto::Reply;

use super::Next;
use crate::digest::digest_of;
use crate::session::Session;

pub(crate) async fn handle(s: &mut Session, arg: &str, range: Option<(u64, u64)>) -> Next {
    let (home, path) = match s.target(arg) {
        Ok(t) => t,
        Err(r) => return r.into(),
    };
    let algo = s.hash_algo;
    let exclusive = range.map(|(start, end)| (start, end.saturating_add(1)));
    match digest_of(&s.ctx, home, path, algo, exclusive).await {
        Ok(d) => Reply::new(213, hash_reply_text(algo, d.start, d.end, &d.hex, arg)).into(),
        Err(r) => r.into(),
    }
}
