//! STOR (RFC 959 §4.1.3), with REST (RFC 3659 §5): stores the data as the file, replacing it;
//! after `REST n` the first n bytes are kept and the data is written from n (an offset beyond
//! the current size is refused with `554`). APPE and STOU share [`begin_upload`].

use std::io;

use ferry_proto::{Reply, TransferType};
use ferry_vfs::{OpenedUpload, VirtualPath, WriteMode};

use super::Next;
use crate::errors::fs_error_reply;
use crate::quota::UploadQuota;
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

/// Starts receiving into an opened file: the shared tail of STOR, APPE and STOU. The quota
/// ledger learns what the open changed (a new file, bytes discarded by an overwrite) before
/// any byte is written; a new file beyond the file quota is removed again and refused.
pub(crate) async fn begin_upload(
    s: &mut Session,
    opened: OpenedUpload,
    verb: &'static str,
    path: &VirtualPath,
    opening: String,
    success: String,
) -> io::Result<Next> {
    let (Some(account), Some(home)) = (s.account(), s.account().map(|a| a.home.clone())) else {
        return Ok(Reply::new(530, "Please login with USER and PASS.").into());
    };
    let user_id = account.user.id;
    let quota = match UploadQuota::begin(&s.ctx.store, user_id, opened.freed, opened.created).await
    {
        Ok(Some(q)) => q,
        Ok(None) => {
            let p = path.clone();
            let _ = blocking(move || home.remove_file(&p)).await;
            return Ok(
                Reply::new(552, "File quota exceeded: no more files may be created.").into(),
            );
        }
        Err(e) => {
            tracing::error!(error = %e, "quota ledger unavailable");
            return Ok(
                Reply::new(451, "Local error in processing: quota ledger unavailable.").into(),
            );
        }
    };
    let ascii = s.transfer_type == TransferType::Ascii;
    s.start_transfer(
        TransferKind::Receive {
            file: opened.file,
            ascii,
            quota,
        },
        verb,
        path,
        opening,
        success,
    )
    .await
}
