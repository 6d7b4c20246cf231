//! PBSZ (RFC 4217 §8): always 0 for TLS; must follow AUTH and precede PROT.

use ferry_proto::Reply;

use super::Next;
use crate::session::Session;

pub(crate) fn handle(s: &mut Session, size: &str) -> Next {
    if !s.ctrl.is_tls() {
        return Reply::new(503, "PBSZ requires AUTH first.").into();
    }
    if size.trim().parse::<u64>().is_err() {
        return Reply::new(501, "PBSZ takes a number (0 for TLS).").into();
    }
    s.pbsz_set = true;
    Reply::new(200, "PBSZ=0").into()
}
