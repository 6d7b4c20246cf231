//! PORT (RFC 959 §4.1.2): the next data connection goes to the client. Only the control
//! peer's own address and ports >= 1024 are accepted: no FTP bounce (CERT CA-1997-27).

use std::net::SocketAddr;

use ferry_proto::Reply;

use super::Next;
use crate::data::{active_target_allowed, DataPlan};
use crate::session::Session;

pub(crate) fn handle(s: &mut Session, target: SocketAddr) -> Next {
    if s.epsv_all {
        return Reply::new(503, "PORT not allowed after EPSV ALL.").into();
    }
    s.data = DataPlan::None;
    if !active_target_allowed(target, s.peer.ip()) {
        tracing::warn!(%target, "active data target refused (bounce protection)");
        s.offence(crate::defender::Offence::Bounce);
        return Reply::new(
            500,
            "Illegal PORT command: only your own address and ports >= 1024.",
        )
        .into();
    }
    s.data = DataPlan::Active(target);
    Reply::new(200, "PORT command successful. Consider using PASV.").into()
}
