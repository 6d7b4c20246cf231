//! FEAT (RFC 2389 §3): every extension this server implements, and nothing more. The HASH
//! line stars the algorithm this session has selected.

use ferry_proto::hash::HashAlgo;
use ferry_proto::listing::MLST_FEAT;
use ferry_proto::Reply;

use super::Next;
use crate::session::Session;

pub(crate) fn handle(s: &Session) -> Next {
    let hash = HashAlgo::feat_line(s.hash_algo);
    let features = [
        "AVBL",
        "EPRT",
        "EPSV",
        &hash,
        "HOST",
        "MDTM",
        "MFMT",
        MLST_FEAT,
        "PASV",
        "RANG STREAM",
        "REST STREAM",
        "SIZE",
        "TVFS",
        "UTF8",
        "XCRC",
        "XMD5",
        "XSHA1",
        "XSHA256",
        "XSHA512",
    ];
    let mut lines = vec!["Features:".to_owned()];
    if s.tls_config.is_some() {
        lines.extend(["AUTH TLS", "PBSZ", "PROT"].iter().map(|f| format!(" {f}")));
    }
    lines.extend(features.iter().map(|f| format!(" {f}")));
    lines.push("End".to_owned());
    Reply::multi(211, lines).into()
}
