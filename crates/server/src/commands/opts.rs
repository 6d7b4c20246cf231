//! OPTS (RFC 2389 §4): `OPTS UTF8 ON` (RFC 2640; paths are always UTF-8 here) and
//! `OPTS MLST facts` (RFC 3659 §7.9; all facts are always sent).

use ferry_proto::Reply;

use super::Next;

pub(crate) fn handle(arg: &str) -> Next {
    let mut words = arg.split_whitespace();
    let name = words.next().unwrap_or("").to_ascii_uppercase();
    match name.as_str() {
        "UTF8" | "UTF-8" => Reply::new(200, "Always in UTF8 mode.").into(),
        "MLST" => Reply::new(200, "MLST OPTS type;size;modify;perm;unique;UNIX.mode;").into(),
        _ => Reply::new(501, format!("Option {name} not understood.")).into(),
    }
}
