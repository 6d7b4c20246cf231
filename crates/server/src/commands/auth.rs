//! AUTH and CCC (RFC 2228, RFC 4217): TLS arrives with its own issue; until then the
//! mechanism is refused so clients continue in plain FTP.

use ferry_proto::Reply;

use super::Next;

pub(crate) fn handle(_mechanism: &str) -> Next {
    Reply::new(
        502,
        "AUTH not available: TLS is not configured on this server.",
    )
    .into()
}

pub(crate) fn ccc() -> Next {
    Reply::new(
        533,
        "CCC not available: the control connection is not protected.",
    )
    .into()
}
