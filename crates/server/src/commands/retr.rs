//! RETR (RFC 959 §4.1.3), with REST (RFC 3659 §5) or RANG (draft-bryan-ftp-range): sends the
//! file from the restart offset to its end, or the inclusive range. An offset beyond the end
//! is refused with `554`. Binary transfers use sendfile.

use std::io;

use ferry_proto::{Reply, TransferType};

use super::Next;
use crate::errors::fs_error_reply;
use crate::session::{blocking, Session};
use crate::transfer::TransferKind;

pub(crate) async fn handle(
    s: &mut Session,
    arg: &str,
    offset: u64,
    range: Option<(u64, u64)>,
) -> io::Result<Next> {
    let (home, path) = match s.target(arg) {
        Ok(t) => t,
        Err(r) => return Ok(r.into()),
    };
    if let Some(r) = s.missing_data_plan() {
        return Ok(r.into());
    }
    let p = path.clone();
    let opened = blocking(move || {
        let f = home.open_read(&p)?;
        let len = f.metadata()?.len();
        Ok((f, len))
    })
    .await;
    let (file, size) = match opened {
        Ok(x) => x,
        Err(e) => return Ok(fs_error_reply(&e).into()),
    };
    let (offset, len) = match range {
        Some((start, end)) => (start, end.saturating_add(1).min(size)),
        None => (offset, size),
    };
    if offset > size {
        return Ok(Reply::new(
            554,
            format!("Restart offset {offset} is beyond the end of the file ({size} bytes)."),
        )
        .into());
    }
    let ascii = s.transfer_type == TransferType::Ascii;
    let opening = format!(
        "Opening {} mode data connection for {} ({} bytes).",
        s.mode_name(),
        path.display(),
        len.saturating_sub(offset)
    );
    s.start_transfer(
        TransferKind::Send {
            file,
            offset,
            len,
            ascii,
        },
        "RETR",
        &path,
        opening,
        "Transfer complete.".into(),
    )
    .await
}
