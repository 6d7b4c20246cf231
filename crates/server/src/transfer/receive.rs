//! Bytes in: STOR, APPE and STOU. A small upload is usually read whole on the transfer task
//! ([`read_ahead`]); a larger one goes on on a blocking thread, each write first allowed by
//! the quota ledger, hashed as it streams. However it ends, [`conclude`] applies the upload
//! mode's rule (upload.rs) and the ledger is told what stayed.

use std::io::{self, Read, Write};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;
use std::time::Duration;

use tokio::net::TcpStream;
use tokio_util::sync::CancellationToken;

use super::{on_blocking_socket, Failure, BUFFER_SIZE, DATA_IO_TIMEOUT};
use crate::data::{DataStream, DataTls};
use crate::server::ServerContext;
use crate::session::in_place;
use crate::upload::{Conclusion, Ending, Upload};
use ferry_transfer::fill::{fill, Fill};
use ferry_transfer::pipe::HashPipe;

pub(super) async fn run(
    stream: TcpStream,
    tls: Option<DataTls>,
    ctx: &Arc<ServerContext>,
    cancel: &CancellationToken,
    mut upload: Box<Upload>,
    progress: &Arc<AtomicU64>,
) -> Result<(), Failure> {
    let rt = tokio::runtime::Handle::current();
    let early = if tls.is_none() {
        match read_ahead(&stream, cancel).await {
            Ok(early) => early,
            Err(failure) => {
                drop(stream);
                return abandon_upload(upload, failure).await;
            }
        }
    } else {
        Early::default()
    };
    if !early.ended {
        upload.quota.journal().await;
    }
    let abort = cancel.clone();
    let p = Arc::clone(progress);
    let store = move |src: Result<&mut dyn Read, Failure>| {
        let mut upload = *upload;
        let result = match src {
            // ABOR shuts the socket down, which reads as a clean end of the data: an upload
            // cut that way is interrupted, not complete.
            Ok(src) => match receive(src, &mut upload, &rt, &p) {
                Ok(()) if cut_off(&abort, &upload, &rt) => Err(Failure::Aborted),
                other => other,
            },
            Err(failure) => Err(failure),
        };
        conclude(upload, result)
    };
    let (result, rest) = if early.ended {
        // The whole upload is in hand: only the disk is left, no socket to wait on.
        drop(stream);
        let bytes = early.bytes;
        match in_place(move || store(Ok(&mut &bytes[..]))).await {
            Some((result, quota, end, digest)) => (result, Some((quota, end, digest))),
            None => (
                Err(Failure::Local(io::Error::other("upload writer panicked"))),
                None,
            ),
        }
    } else {
        let copy = move |ds: Result<&mut DataStream, Failure>| {
            let (result, quota, end, digest) = match ds {
                Ok(ds) => store(Ok(&mut (&early.bytes[..]).chain(ds))),
                Err(failure) => store(Err(failure)),
            };
            (result, (quota, end, digest))
        };
        on_blocking_socket(stream, tls, Arc::clone(&ctx.metrics), cancel, copy).await
    };
    if let Some((quota, end, digest)) = rest {
        quota.settle(end).await;
        if let Some((hex, id)) = digest {
            crate::digest::store_upload_digest(ctx, hex, id).await;
        }
    }
    result
}

/// Concludes an upload that ends before its copy loop runs.
pub(super) async fn abandon_upload(upload: Box<Upload>, failure: Failure) -> Result<(), Failure> {
    match in_place(move || conclude(*upload, Err(failure))).await {
        Some((result, quota, end, _)) => {
            quota.settle(end).await;
            result
        }
        None => Err(Failure::Local(io::Error::other("upload panicked"))),
    }
}

/// How long an `atomic` upload's end of data waits for its control connection to close too.
const ATOMIC_EOF_GRACE: Duration = Duration::from_millis(20);

/// Whether an upload whose data ended cleanly was in fact cut off. FTP's stream mode has no
/// end-of-file marker but the close of the data connection, which a client that dies sends
/// too; the session cancels the transfer when the control connection closes. In `atomic`
/// mode, where a cut-off upload must not replace the target, the end of data waits briefly
/// for that, so a client killed mid-upload is not taken for one that finished.
fn cut_off(abort: &CancellationToken, upload: &Upload, rt: &tokio::runtime::Handle) -> bool {
    if abort.is_cancelled() {
        return true;
    }
    if upload.place.mode != crate::config::UploadMode::Atomic {
        return false;
    }
    rt.block_on(tokio::time::timeout(ATOMIC_EOF_GRACE, abort.cancelled()))
        .is_ok()
}

/// Ends an upload on a blocking thread: fsyncs a complete one, applies the upload mode's rule
/// to what is on disk (upload.rs), and hands back the quota entry with what stayed, and the
/// digest of a file that stayed whole.
#[allow(clippy::type_complexity)]
fn conclude(
    mut upload: Upload,
    mut result: Result<(), Failure>,
) -> (
    Result<(), Failure>,
    crate::quota::UploadQuota,
    Conclusion,
    Option<(String, ferry_store::FileIdentity)>,
) {
    if result.is_ok() {
        if let Err(e) = upload.place.sync(&upload.file) {
            result = Err(Failure::Local(e));
        }
    }
    let ending = match &result {
        Ok(()) => Ending::Complete,
        Err(Failure::Quota) => Ending::OutOfSpace,
        Err(Failure::Local(e)) => Ending::of_local_error(e),
        Err(_) => Ending::Interrupted,
    };
    let written = upload.quota.written();
    let (end, failed) = upload.place.conclude(&upload.file, ending, written);
    if let Some(e) = failed {
        tracing::warn!(error = %e, "completed upload could not take its name");
        result = Err(Failure::Local(e));
    }
    // The digest covers exactly what reached the disk, whatever ended the upload; taken after
    // the rename, which changes the file's ctime.
    let digest = upload.digest.take().filter(|_| !end.removed).and_then(|h| {
        let meta = upload.file.metadata().ok()?;
        (meta.len() == written).then(|| (h.finish_hex(), crate::digest::identity(&meta)))
    });
    (result, upload.quota, end, digest)
}

/// What an upload's client sent before the transfer looked, read without a thread.
#[derive(Default)]
struct Early {
    bytes: Vec<u8>,
    /// The client also closed its side: `bytes` is the whole upload.
    ended: bool,
}

/// Uploads up to this size can complete in [`read_ahead`].
const READ_AHEAD: usize = 64 * 1024;

/// Reads what the client sends, on the transfer task, until the client closes or
/// [`READ_AHEAD`] bytes have come. A small file usually arrives whole, FIN included, and then
/// needs no blocking thread and no hand-off back; a larger one goes on in [`receive`] after
/// the bytes read here. (On the bench's 4 KiB files, the blocking thread's wake-ups were the
/// largest cost left.)
async fn read_ahead(stream: &TcpStream, cancel: &CancellationToken) -> Result<Early, Failure> {
    let mut bytes = vec![0u8; READ_AHEAD];
    let mut filled = 0;
    while filled < bytes.len() {
        let ready = tokio::select! {
            // What came before ABOR (or the client's going) is written like any other data;
            // the cancellation then makes the upload an interrupted one.
            _ = cancel.cancelled() => {
                bytes.truncate(filled);
                return Ok(Early { bytes, ended: true });
            }
            r = tokio::time::timeout(DATA_IO_TIMEOUT, stream.readable()) => r,
        };
        match ready {
            Ok(Ok(())) => {}
            Ok(Err(e)) => return Err(Failure::Data(e)),
            Err(_) => return Err(Failure::Data(io::ErrorKind::TimedOut.into())),
        }
        loop {
            match stream.try_read(&mut bytes[filled..]) {
                Ok(0) => {
                    bytes.truncate(filled);
                    return Ok(Early { bytes, ended: true });
                }
                Ok(n) => {
                    filled += n;
                    if filled == bytes.len() {
                        break;
                    }
                }
                Err(e) if e.kind() == io::ErrorKind::WouldBlock => break,
                Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
                Err(e) => return Err(Failure::Data(e)),
            }
        }
    }
    Ok(Early {
        bytes,
        ended: false,
    })
}

/// STOR/APPE/STOU: the data is read straight into one large buffer that is written to the
/// file (CRLF → LF first in ASCII mode), each write first allowed by the quota ledger.
fn receive(
    sock: &mut dyn Read,
    up: &mut Upload,
    rt: &tokio::runtime::Handle,
    progress: &AtomicU64,
) -> Result<(), Failure> {
    let mut pipe: Option<HashPipe> = None;
    let result = receive_loop(sock, up, &mut pipe, rt, progress);
    if let Some(p) = pipe {
        up.digest = p.finish();
    }
    result
}

/// A durable upload hands what it wrote to the disk in steps of this size (see
/// `Placement::write_behind`).
const WRITE_BEHIND_EVERY: u64 = 8 << 20;

/// Uploads hash inline up to this size; larger ones hand their buffers to a hashing thread,
/// so the digest costs a second core instead of halving a single-threaded transfer.
const HASH_INLINE_UP_TO: u64 = 4 << 20;

/// Buffers circulating between the copy and the hashing thread, the one being filled included.
const HASH_PIPE_BUFFERS: usize = 4;

fn receive_loop(
    sock: &mut dyn Read,
    up: &mut Upload,
    pipe: &mut Option<HashPipe>,
    rt: &tokio::runtime::Handle,
    progress: &AtomicU64,
) -> Result<(), Failure> {
    let mut buf = vec![0u8; BUFFER_SIZE];
    let mut received = 0u64;
    let file_start = up.place.start_offset();
    let mut written_behind = 0u64;
    let mut room = up.limit.unwrap_or(u64::MAX);
    let mut pending_cr = false;
    loop {
        let start = usize::from(pending_cr);
        if pending_cr {
            buf[0] = b'\r';
        }
        let filled = fill(sock, &mut buf[start..], Fill::Whole, |_| {});
        let (n, read_error) = (filled.len, filled.error);
        if n == 0 {
            if let Some(e) = read_error {
                return Err(Failure::Data(e));
            }
        }
        received += n as u64;
        progress.store(received, Ordering::Relaxed);
        let eof = n == 0;
        let mut len = start + n;
        if up.ascii {
            (len, pending_cr) = ferry_transfer::ascii::crlf_to_lf(&mut buf[..len], eof);
        }
        len = len.min(usize::try_from(room).unwrap_or(usize::MAX));
        let allowed = rt.block_on(up.quota.allow(len as u64)).map_err(|e| {
            // The ledger's disk is full: the upload fails for lack of space (452, given back).
            let kind = if e.is_disk_full() {
                io::ErrorKind::StorageFull
            } else {
                io::ErrorKind::Other
            };
            Failure::Local(io::Error::new(kind, e))
        })?;
        let fits = usize::try_from(allowed).unwrap_or(len).min(len);
        up.file.write_all(&buf[..fits]).map_err(Failure::Local)?;
        up.quota.wrote(fits as u64);
        let written = up.quota.written();
        if written - written_behind >= WRITE_BEHIND_EVERY {
            up.place.write_behind(
                &up.file,
                file_start + written_behind,
                written - written_behind,
            );
            written_behind = written;
        }
        room -= fits as u64;
        if let Some(p) = pipe.as_mut() {
            buf = p.exchange(buf, fits);
        } else if let Some(h) = up.digest.as_mut() {
            h.update(&buf[..fits]);
            if up.quota.written() >= HASH_INLINE_UP_TO && !eof {
                *pipe = up
                    .digest
                    .take()
                    .map(|h| HashPipe::start(h, HASH_PIPE_BUFFERS, BUFFER_SIZE));
            }
        }
        if fits < len {
            return Err(Failure::Quota);
        }
        if let Some(e) = read_error {
            // What arrived before the error is written; the upload is cut there.
            return Err(Failure::Data(e));
        }
        if eof {
            return Ok(());
        }
    }
}
