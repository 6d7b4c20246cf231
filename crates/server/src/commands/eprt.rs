//! EPRT (RFC 2428 §2): PORT for IPv4 and IPv6, with the same bounce protection.

use std::net::SocketAddr;

use ferry_proto::Reply;

use super::Next;
use crate::data::{active_target_allowed, DataPlan};
use crate::session::Session;

pub(crate) fn handle(s: &mut Session, target: SocketAddr) -> Next {
    if s.epsv_all {
        return Reply::new(503, "EPRT not allowed after EPSV ALL.").into();
    }
    s.data = DataPlan::None;
    if !active_target_allowed(target, s.peer.ip()) {
        tracing::warn!(%target, "active data target refused (bounce protection)");
        s.offence(crate::defender::Offence::Bounce);
        return Reply::new(
            500,
            "Illegal EPRT command: only your own address and ports >= 1024.",
        )
        .into();
    }
    s.data = DataPlan::Active(target);
    Reply::new(200, "EPRT command successful.").into()
}
