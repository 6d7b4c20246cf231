//! STOR (RFC 959 §4.1.3), with REST (RFC 3659 §5) or RANG (draft-bryan-ftp-range): stores the
//! data as the file, replacing it; after `REST n` the first n bytes are kept and the data is
//! written from n (an offset beyond the current size is refused with `554`); after
//! `RANG a b` the data is written from a, at most b - a + 1 bytes. A whole-file STOR is
//! staged and renamed over its target when complete, unless `upload_mode = "in-place"` (see
//! upload.rs). APPE and STOU share [`begin_upload`].

use std::io;

use ferry_proto::hash::HashAlgo;
use ferry_proto::{Reply, TransferType};
use ferry_store::UploadRecord;
use ferry_vfs::{OpenedUpload, VirtualPath, WriteMode};

use super::Next;
use crate::config::UploadMode;
use crate::digest::Hasher;
use crate::errors::{fs_error_reply, store_error_reply};
use crate::quota::UploadStart;
use crate::session::{blocking, Session};
use crate::transfer::TransferKind;
use crate::upload::{Destination, Ending, Placement, Upload};

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
    let whole_file = matches!(mode, WriteMode::Truncate | WriteMode::At(0)) && limit.is_none();
    let staged = whole_file && s.ctx.config.upload_mode != UploadMode::InPlace;
    let p = path.clone();
    let opened = if staged {
        blocking(move || home.stage_upload(&p)).await.map(|st| {
            let dest = Destination::Staged {
                temp: st.temp,
                target: st.target,
                replaces: st.replaces,
            };
            OpenedForUpload::new(st.file, dest, 0)
        })
    } else {
        let mode = if whole_file {
            WriteMode::Truncate
        } else {
            mode
        };
        blocking(move || home.open_write(&p, mode))
            .await
            .map(|o| OpenedForUpload::in_place(o, path.clone(), mode == WriteMode::Truncate))
    };
    match opened {
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

/// A file opened for an upload, where it is, and what opening it changed.
pub(crate) struct OpenedForUpload {
    file: std::fs::File,
    dest: Destination,
    /// Bytes of an existing file the open discarded.
    freed: u64,
}

impl OpenedForUpload {
    fn new(file: std::fs::File, dest: Destination, freed: u64) -> Self {
        OpenedForUpload { file, dest, freed }
    }

    /// An upload written into its target (`truncated`: a whole-file STOR in `in-place` mode).
    pub(crate) fn in_place(o: OpenedUpload, target: VirtualPath, truncated: bool) -> Self {
        let dest = Destination::InPlace {
            target,
            kept: o.kept,
            created: o.created,
            truncated: truncated && !o.created,
        };
        OpenedForUpload::new(o.file, dest, o.freed)
    }
}

/// Starts receiving into an opened file: the shared tail of STOR, APPE and STOU.
///
/// Before any byte moves: the quota ledger learns what the open changed and journals the
/// upload (a new file beyond the file quota is removed again and refused); stored digests of
/// a file rewritten in place are dropped; and an upload that writes the whole file gets a
/// SHA-256 computed as it streams.
pub(crate) async fn begin_upload(
    s: &mut Session,
    opened: OpenedForUpload,
    limit: Option<u64>,
    verb: &'static str,
    path: &VirtualPath,
    opening: String,
    success: String,
) -> io::Result<Next> {
    let Some(account) = s.account() else {
        return Ok(Reply::new(530, "Please login with USER and PASS.").into());
    };
    let (user_id, home) = (account.user.id, account.home.clone());
    let home_path = s.ctx.config.home_of(&account.user);
    let config = &s.ctx.config;
    let place = Placement::new(
        home,
        home_path.clone(),
        opened.dest,
        config.upload_mode,
        config.fsync_uploads,
    );
    let (target, temp, kept) = match &place.dest {
        Destination::Staged { temp, target, .. } => (target, Some(temp), 0),
        Destination::InPlace { target, kept, .. } => (target, None, *kept),
    };
    let record = UploadRecord {
        node: s.ctx.node_id.clone(),
        user_id,
        home: home_path.to_string_lossy().into_owned(),
        target: target.relative().to_string_lossy().into_owned(),
        temp: temp.map(|t| t.relative().to_string_lossy().into_owned()),
        base_bytes: kept,
        created: place.counted_file(),
        mode: config.upload_mode.name().to_owned(),
    };
    let start = UploadStart {
        user_id,
        freed: opened.freed,
        counted_file: place.counted_file(),
        staged: place.is_staged(),
        allowance: place.allowance(),
        record,
    };
    let quota = match s.ctx.ledger.begin_upload(start).await {
        Ok(Some(q)) => q,
        Ok(None) => {
            give_back_unstarted(place, opened.file).await;
            return Ok(
                Reply::new(552, "File quota exceeded: no more files may be created.").into(),
            );
        }
        Err(e) => {
            give_back_unstarted(place, opened.file).await;
            return Ok(store_error_reply(&e).into());
        }
    };
    // A file rewritten in place changes under its stored digests. (A staged upload is a new
    // inode; the one it replaces goes away.)
    if let Destination::InPlace { created: false, .. } = place.dest {
        if let Ok(m) = opened.file.metadata() {
            let id = crate::digest::identity(&m);
            if let Err(e) = s.ctx.store.forget_digests(id.dev, id.ino).await {
                tracing::warn!(error = %e, "could not drop stale digests");
            }
        }
    }
    let whole = match &place.dest {
        Destination::Staged { .. } => true,
        Destination::InPlace { kept, .. } => *kept == 0,
    };
    let digest = (s.ctx.config.hash_uploads && whole && limit.is_none())
        .then(|| Hasher::new(HashAlgo::Sha256));
    let ascii = s.transfer_type == TransferType::Ascii;
    let upload = Upload {
        file: opened.file,
        ascii,
        quota,
        limit,
        digest,
        place,
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

/// Undoes the open of an upload the ledger refused: nothing was written, nothing may stay.
async fn give_back_unstarted(mut place: Placement, file: std::fs::File) {
    let _ = blocking(move || {
        place.conclude(&file, Ending::OutOfSpace, 0);
        Ok(())
    })
    .await;
}
