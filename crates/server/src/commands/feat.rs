//! FEAT (RFC 2389 §3): every extension this server implements, and nothing more.

use ferry_proto::listing::MLST_FEAT;
use ferry_proto::Reply;

use super::Next;

pub(crate) fn handle() -> Next {
    let features = [
        "AVBL",
        "EPRT",
        "EPSV",
        "HOST",
        "MDTM",
        "MFMT",
        MLST_FEAT,
        "PASV",
        "REST STREAM",
        "SIZE",
        "TVFS",
        "UTF8",
    ];
    let mut lines = vec!["Features:".to_owned()];
    lines.extend(features.iter().map(|f| format!(" {f}")));
    lines.push("End".to_owned());
    Reply::multi(211, lines).into()
}
