//! EPSV (RFC 2428 §3): listen for the next data connection on the control connection's
//! address family; `EPSV ALL` forbids every other data setup command from then on.

use ferry_proto::{hostport, Reply};

use super::Next;
use crate::data::{passive_listener, DataPlan};
use crate::session::Session;

pub(crate) async fn handle(s: &mut Session, all: bool, protocol: Option<u8>) -> Next {
    if all {
        s.epsv_all = true;
        return Reply::new(200, "EPSV ALL ok.").into();
    }
    let ours = if s.local.is_ipv4() { 1 } else { 2 };
    if protocol.is_some_and(|p| p != ours) {
        return Reply::new(
            522,
            format!("Network protocol not supported, use ({ours})."),
        )
        .into();
    }
    s.data = DataPlan::None;
    let listener = match passive_listener(s.local.ip(), s.ctx.config.passive_ports).await {
        Ok(l) => l,
        Err(e) => {
            tracing::warn!(error = %e, "cannot open passive listener");
            return Reply::new(425, "Cannot open passive connection.").into();
        }
    };
    let Ok(addr) = listener.local_addr() else {
        return Reply::new(425, "Cannot open passive connection.").into();
    };
    s.data = DataPlan::Passive(listener);
    Reply::new(229, hostport::epsv_reply_text(addr.port())).into()
}
