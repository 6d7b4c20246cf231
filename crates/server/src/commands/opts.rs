//! OPTS (RFC 2389 §4): `OPTS UTF8 ON` (RFC 2640; paths are always UTF-8 here),
//! `OPTS MLST facts` (RFC 3659 §7.9; all facts are always sent) and `OPTS HASH [algo]`
//! (draft-bryan-ftpext-hash: query or choose the HASH algorithm).

use ferry_proto::hash::HashAlgo;
use ferry_proto::Reply;

use super::Next;
use crate::session::Session;

pub(crate) fn handle(s: &mut Session, arg: &str) -> Next {
    let mut words = arg.split_whitespace();
    let name = words.next().unwrap_or("").to_ascii_uppercase();
    match name.as_str() {
        "UTF8" | "UTF-8" => Reply::new(200, "Always in UTF8 mode.").into(),
        "MLST" => Reply::new(200, "MLST OPTS type;size;modify;perm;unique;UNIX.mode;").into(),
        "HASH" => match words.next() {
            None => Reply::new(200, s.hash_algo.name()).into(),
            Some(a) => match HashAlgo::parse(a) {
                Some(algo) => {
                    s.hash_algo = algo;
                    Reply::new(200, algo.name()).into()
                }
                None => Reply::new(501, format!("{a}: unsupported algorithm.")).into(),
            },
        },
        _ => Reply::new(501, format!("Option {name} not understood.")).into(),
    }
}
