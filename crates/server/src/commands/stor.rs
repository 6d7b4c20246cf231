//! STOR (RFC 959 §4.1.3), with REST (RFC 3659 §5): stores the data as the file, replacing it;
//! after `REST n` the first n bytes are kept and the data is written from n (an offset beyond
//! the current size is refused with `554`). APPE and STOU share [`begin_upload`].

use std::io;

use ferry_proto::TransferType;
use ferry_vfs::{VirtualPath, WriteMode};

use super::Next;
use crate::errors::fs_error_reply;
use crate::session::{blocking, Session};
use crate::transfer::TransferKind;

pub(crate) async fn handle(s: &mut Session, arg: &str, offset: Option<u64>) -> io::Result<Next> {
    let mode = match offset {
        Some(n) => WriteMode::At(n),
        None => WriteMode::Truncate,
    };
    let (home, path) = match s.target(arg) {
        Ok(t) => t,
        Err(r) => return Ok(r.into()),
    };
    if let Some(r) = s.missing_data_plan() {
        return Ok(r.into());
    }
    let p = path.clone();
    match blocking(move || home.open_write(&p, mode)).await {
        Ok(file) => {
            begin_upload(
                s,
                file,
                "STOR",
                &path,
                "Ok to send data.".into(),
                "Transfer complete.".into(),
            )
            .await
        }
        Err(e) => Ok(fs_error_reply(&e).into()),
    }
}

/// Starts receiving into an opened file: the shared tail of STOR, APPE and STOU.
pub(crate) async fn begin_upload(
    s: &mut Session,
    file: std::fs::File,
    verb: &'static str,
    path: &VirtualPath,
    opening: String,
    success: String,
) -> io::Result<Next> {
    let ascii = s.transfer_type == TransferType::Ascii;
    s.start_transfer(
        TransferKind::Receive { file, ascii },
        verb,
        path,
        opening,
        success,
    )
    .await
}
