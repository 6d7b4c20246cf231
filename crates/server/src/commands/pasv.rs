//! PASV (RFC 959 §4.1.1): listen for the next data connection; IPv4 only by its grammar, so
//! on an IPv6 control connection the client is told to use EPSV instead.

use std::net::{IpAddr, SocketAddrV4};

use ferry_proto::{hostport, Reply};

use super::Next;
use crate::data::{passive_listener, DataPlan};
use crate::session::Session;

pub(crate) async fn handle(s: &mut Session) -> Next {
    if s.epsv_all {
        return Reply::new(503, "PASV not allowed after EPSV ALL.").into();
    }
    let IpAddr::V4(local_v4) = s.local.ip() else {
        return Reply::new(522, "PASV is IPv4 only; use EPSV on IPv6 connections.").into();
    };
    s.data = DataPlan::None;
    let listener = match passive_listener(s.local.ip(), s.ctx.config.passive_ports).await {
        Ok(l) => l,
        Err(e) => {
            tracing::warn!(error = %e, "cannot open passive listener");
            return Reply::new(425, "Cannot open passive connection.").into();
        }
    };
    let port = match listener.local_addr() {
        Ok(a) => a.port(),
        Err(_) => return Reply::new(425, "Cannot open passive connection.").into(),
    };
    let announced = match s.ctx.config.passive_address {
        Some(IpAddr::V4(ip)) => ip,
        _ => local_v4,
    };
    s.data = DataPlan::Passive(listener);
    Reply::new(
        227,
        hostport::pasv_reply_text(SocketAddrV4::new(announced, port)),
    )
    .into()
}
