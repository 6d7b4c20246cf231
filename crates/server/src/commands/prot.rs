//! PROT (RFC 4217 §9): `P` protects data connections with TLS, `C` leaves them clear (then
//! transfers are refused when TLS is required). `S` and `E` are not supported with TLS.
//! RFC 4217 wants PBSZ first; like vsftpd we only insist on AUTH, because Python's ftplib
//! sends `PROT C` without a new PBSZ.

use ferry_proto::Reply;

use super::Next;
use crate::session::Session;

pub(crate) fn handle(s: &mut Session, level: &str) -> Next {
    if !s.ctrl.is_tls() {
        return Reply::new(503, "PROT requires AUTH first.").into();
    }
    match level.trim().to_ascii_uppercase().as_str() {
        "P" => {
            s.prot_private = true;
            Reply::new(200, "Protection level set to Private.").into()
        }
        "C" => {
            s.prot_private = false;
            Reply::new(200, "Protection level set to Clear.").into()
        }
        "S" | "E" => Reply::new(536, "Only PROT P and PROT C are supported.").into(),
        _ => Reply::new(504, "Unknown protection level.").into(),
    }
}
