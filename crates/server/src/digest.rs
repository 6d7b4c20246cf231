//! File digests for HASH and the X* commands: computed while an upload streams through (no
//! second read), stored with the file's identity, served from the store while the file is
//! unchanged, otherwise computed on demand on a bounded pool with a size limit, so HASH cannot
//! be used to exhaust the CPU.

use std::fs::File;
use std::io;
use std::os::unix::fs::{FileExt, MetadataExt};
use std::sync::atomic::Ordering;

use ferry_proto::hash::HashAlgo;
use ferry_store::FileIdentity;
use ferry_vfs::{Home, VirtualPath};

use crate::errors::NO_ACCESS;
use crate::server::ServerContext;
use crate::session::{blocking, offload};
use ferry_proto::Reply;

pub(crate) use ferry_transfer::Hasher;

pub(crate) fn identity(m: &std::fs::Metadata) -> FileIdentity {
    FileIdentity {
        dev: m.dev(),
        ino: m.ino(),
        size: m.size(),
        mtime_ns: m
            .mtime()
            .saturating_mul(1_000_000_000)
            .saturating_add(m.mtime_nsec()),
        ctime_ns: m
            .ctime()
            .saturating_mul(1_000_000_000)
            .saturating_add(m.ctime_nsec()),
    }
}

/// Hashes bytes `start..end` of a file (blocking).
fn hash_range(file: &File, algo: HashAlgo, start: u64, end: u64) -> io::Result<String> {
    let mut h = Hasher::new(algo);
    let mut buf = vec![0u8; crate::transfer::BUFFER_SIZE];
    let mut pos = start;
    while pos < end {
        let want = usize::try_from(end - pos)
            .unwrap_or(buf.len())
            .min(buf.len());
        let n = file.read_at(&mut buf[..want], pos)?;
        if n == 0 {
            return Err(io::Error::new(
                io::ErrorKind::UnexpectedEof,
                "file shrank while hashing",
            ));
        }
        h.update(&buf[..n]);
        pos += n as u64;
    }
    Ok(h.finish_hex())
}

/// A digest answer: the algorithm's hex over `start..end` (end exclusive).
pub(crate) struct DigestAnswer {
    pub hex: String,
    pub start: u64,
    pub end: u64,
}

/// The digest of `path` (or of `start..end` within it), from the store when the whole file is
/// asked for and unchanged since it was recorded, else computed now. Refusals come back as
/// the reply to send.
pub(crate) async fn digest_of(
    ctx: &ServerContext,
    home: Home,
    path: VirtualPath,
    algo: HashAlgo,
    range: Option<(u64, u64)>,
) -> Result<DigestAnswer, Reply> {
    let (file, meta) = blocking(move || {
        let f = home.open_read(&path)?;
        let m = f.metadata()?;
        Ok((f, m))
    })
    .await
    .map_err(|e| crate::errors::fs_error_reply(&e))?;
    let size = meta.len();
    let (start, end) = range.unwrap_or((0, size));
    if start > end || end > size {
        return Err(Reply::new(
            501,
            format!("Invalid range {start}-{end} for a file of {size} bytes."),
        ));
    }
    let whole = start == 0 && end == size;
    let id = identity(&meta);
    if whole {
        match ctx.store.stored_digest(&id, algo.name()).await {
            Ok(Some(hex)) => {
                ctx.metrics
                    .digests_from_store
                    .fetch_add(1, Ordering::Relaxed);
                tracing::debug!(algo = algo.name(), size, "digest served from the store");
                return Ok(DigestAnswer { hex, start, end });
            }
            Ok(None) => {}
            Err(e) => tracing::warn!(error = %e, "digest store unavailable; computing"),
        }
    }
    if end - start > ctx.config.hash_max_size {
        return Err(Reply::new(
            556,
            format!(
                "File too large to hash here (limit {} bytes).",
                ctx.config.hash_max_size
            ),
        ));
    }
    let Ok(_permit) = ctx.hash_permits.acquire().await else {
        return Err(Reply::new(450, "Hashing unavailable, try again."));
    };
    let computed = offload(move || {
        let hex = hash_range(&file, algo, start, end)?;
        // Only a file unchanged during the computation may have its digest recorded.
        let after = identity(&file.metadata()?);
        Ok((hex, after))
    })
    .await;
    let (hex, after) = computed.map_err(|e| {
        tracing::warn!(error = %e, "hashing failed");
        Reply::new(550, NO_ACCESS)
    })?;
    ctx.metrics.digests_computed.fetch_add(1, Ordering::Relaxed);
    if whole && after == id {
        if let Err(e) = ctx.store.save_digest(&id, algo.name(), &hex).await {
            tracing::warn!(error = %e, "could not store digest");
        }
    }
    Ok(DigestAnswer { hex, start, end })
}

/// Uploads smaller than this are not worth a database write: hashing them on demand costs
/// less than a millisecond, and the first HASH stores the result anyway.
pub(crate) const STORE_UPLOAD_DIGESTS_FROM: u64 = 1 << 20;

/// Records the digest an upload computed, so HASH can answer without reading the file.
pub(crate) async fn store_upload_digest(ctx: &ServerContext, hex: String, id: FileIdentity) {
    if id.size < STORE_UPLOAD_DIGESTS_FROM {
        return;
    }
    match ctx
        .store
        .save_digest(&id, HashAlgo::Sha256.name(), &hex)
        .await
    {
        Ok(()) => {
            ctx.metrics
                .digests_stored_on_upload
                .fetch_add(1, Ordering::Relaxed);
        }
        Err(e) => tracing::warn!(error = %e, "could not store the upload's digest"),
    }
}
