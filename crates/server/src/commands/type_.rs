//! TYPE (RFC 959 §3.1.1): ASCII (line endings converted) or Image (bytes as stored).

use ferry_proto::{Reply, TransferType};

use super::Next;
use crate::session::Session;

pub(crate) fn handle(s: &mut Session, t: TransferType) -> Next {
    s.transfer_type = t;
    match t {
        TransferType::Ascii => Reply::new(200, "Switching to ASCII mode.").into(),
        TransferType::Image => Reply::new(200, "Switching to Binary mode.").into(),
    }
}
