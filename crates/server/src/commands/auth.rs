//! AUTH TLS / AUTH SSL (RFC 2228 §3, RFC 4217 §4) and CCC (RFC 4217 §6).
//!
//! `234`, then the handshake; whatever the client pipelined after AUTH is discarded by the
//! control connection before the handshake (never executed afterwards). CCC is refused: a
//! control connection that was protected stays protected.

use ferry_proto::Reply;

use super::Next;
use crate::session::Session;

pub(crate) fn handle(s: &mut Session, mechanism: &str) -> Next {
    let mechanism = mechanism.trim().to_ascii_uppercase();
    if s.tls_config.is_none() {
        return Reply::new(
            502,
            "AUTH not available: TLS is not enabled on this server.",
        )
        .into();
    }
    if s.ctrl.is_tls() {
        return Reply::new(503, "Already using TLS.").into();
    }
    match mechanism.as_str() {
        "TLS" | "TLS-C" | "SSL" | "TLS-P" => {
            Next::StartTls(Reply::new(234, format!("AUTH {mechanism} successful.")))
        }
        _ => Reply::new(
            504,
            format!("AUTH {mechanism} not supported; use AUTH TLS."),
        )
        .into(),
    }
}

pub(crate) fn ccc(_s: &mut Session) -> Next {
    Reply::new(534, "CCC refused: the control connection stays protected.").into()
}
