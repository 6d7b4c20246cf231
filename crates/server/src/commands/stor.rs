//! STOR (RFC 959 §4.1.3), with REST (RFC 3659 §5) or RANG (draft-bryan-ftp-range): stores the
//! data as the file, replacing it; after `REST n` the first n bytes are kept and the data is
//! written from n (an offset beyond the current size is refused with `554`); after
//! `RANG a b` the data is written from a, at most b - a + 1 bytes. APPE and STOU share
//! [`begin_upload`].

use std::io;

use ferry_proto::hash::HashAlgo;
use ferry_proto::{Reply, TransferType};
use ferry_vfs::{OpenedUpload, VirtualPath, WriteMode};

use super::Next;
use crate::digest::Hasher;
use crate::errors::fs_error_reply;
use crate::quota::UploadQuota;
use crate::session::{blocking, Session};
use crate::transfer::{TransferKind, Upload};

pub(crate) async fn handle(
    s: &mut Session,
    arg: &str,
    offset: Option<u64>,
    range: Option<(u64, u64)>,
) -> io::Result<Next> {
    let (mode, limit) = match (range, offset) {
        // The span is computed checked: RANG 0 18446744073709551615 once wrapped it to 0, and
        // STOR answered 226 after storing nothing. (The parser bounds positions by off_t, and
        // RANG orders them; neither is relied on here.)
        (Some((start, end)), _) => match end.checked_sub(start).and_then(|n| n.checked_add(1)) {
            Some(span) => (WriteMode::At(start), Some(span)),
            None => {
                return Ok(Reply::new(501, "Invalid RANG: the range holds no bytes.").into());
            }
        },
        (None, Some(n)) => (WriteMode::At(n), None),
        (None, None) => (WriteMode::Truncate, None),
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
        Ok(opened) => {
            begin_upload(
                s,
                opened,
                limit,
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
///
/// Before any byte moves: the quota ledger learns what the open changed (a new file beyond the
/// file quota is removed again and refused); stored digests of a file being rewritten are
/// dropped; and an upload that writes the whole file gets a SHA-256 computed as it streams.
pub(crate) async fn begin_upload(
    s: &mut Session,
    opened: OpenedUpload,
    limit: Option<u64>,
    verb: &'static str,
    path: &VirtualPath,
    opening: String,
    success: String,
) -> io::Result<Next> {
    let (Some(user_id), Some(home)) = (
        s.account().map(|a| a.user.id),
        s.account().map(|a| a.home.clone()),
    ) else {
        return Ok(Reply::new(530, "Please login with USER and PASS.").into());
    };
    let quota = match UploadQuota::begin(
        &s.ctx.store,
        &s.ctx.unlimited_usage,
        user_id,
        opened.freed,
        opened.created,
    )
    .await
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
    if !opened.created {
        if let Ok(m) = opened.file.metadata() {
            let id = crate::digest::identity(&m);
            if let Err(e) = s.ctx.store.forget_digests(id.dev, id.ino).await {
                tracing::warn!(error = %e, "could not drop stale digests");
            }
        }
    }
    let digest = (s.ctx.config.hash_uploads && opened.kept == 0 && limit.is_none())
        .then(|| Hasher::new(HashAlgo::Sha256));
    let ascii = s.transfer_type == TransferType::Ascii;
    let upload = Upload {
        file: opened.file,
        ascii,
        quota,
        limit,
        digest,
    };
    s.start_transfer(
        TransferKind::Receive(Box::new(upload)),
        verb,
        path,
        opening,
        success,
    )
    .await
}
