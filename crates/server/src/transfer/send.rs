//! Bytes out: RETR (plain binary through `sendfile(2)`, small files straight from the
//! transfer task; ASCII and TLS through one buffer) and directory listings.

use std::fs::File;
use std::io::Write;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;

use tokio::net::TcpStream;
use tokio_util::sync::CancellationToken;

use super::{on_blocking_socket, Failure, BUFFER_SIZE};
use crate::data::{DataStream, DataTls};
use crate::listing::ListJob;
use crate::server::ServerContext;

/// A file to send, from `offset` up to `len`.
pub(super) struct Download {
    pub file: File,
    pub offset: u64,
    pub len: u64,
    /// TYPE A: LF on disk becomes CRLF on the wire.
    pub ascii: bool,
}

pub(super) async fn run(
    stream: TcpStream,
    tls: Option<DataTls>,
    ctx: &Arc<ServerContext>,
    cancel: &CancellationToken,
    d: Download,
    progress: &Arc<AtomicU64>,
) -> Result<(), Failure> {
    let Download {
        file,
        mut offset,
        len,
        ascii,
    } = d;
    if tls.is_none() && !ascii {
        // When not all of it fitted, the blocking path below sends the rest.
        if let Some(result) = send_small_file_now(&stream, &file, &mut offset, len, progress) {
            return result;
        }
    }
    let p = Arc::clone(progress);
    let copy = move |ds: Result<&mut DataStream, Failure>| match ds {
        Ok(ds) => (send(ds, &file, offset, len, ascii, &p), ()),
        Err(failure) => (Err(failure), ()),
    };
    on_blocking_socket(stream, tls, Arc::clone(&ctx.metrics), cancel, copy)
        .await
        .0
}

/// LIST, NLST, MLSD: the listing's chunks as they are produced.
pub(super) async fn listing(
    stream: TcpStream,
    tls: Option<DataTls>,
    ctx: &Arc<ServerContext>,
    cancel: &CancellationToken,
    job: ListJob,
    progress: &Arc<AtomicU64>,
) -> Result<(), Failure> {
    let mut chunks = job.spawn();
    let p = Arc::clone(progress);
    let copy = move |ds: Result<&mut DataStream, Failure>| {
        let ds = match ds {
            Ok(ds) => ds,
            Err(failure) => return (Err(failure), ()),
        };
        let mut sent = 0u64;
        while let Some(chunk) = chunks.blocking_recv() {
            if let Err(e) = ds.write_all(chunk.as_bytes()) {
                return (Err(Failure::Data(e)), ());
            }
            sent += chunk.len() as u64;
            p.store(sent, Ordering::Relaxed);
        }
        (Ok(()), ())
    };
    on_blocking_socket(stream, tls, Arc::clone(&ctx.metrics), cancel, copy)
        .await
        .0
}

/// Files up to this size are first offered to the socket straight from the transfer task.
const SEND_NOW_UP_TO: u64 = 256 * 1024;

/// Small downloads are usually one `sendfile(2)` into an empty socket buffer: doing it here
/// spares the hand-off to a blocking thread and back (measured on the bench's 4 KiB files).
/// Returns `None`, with `offset` advanced, when the socket did not take the whole file.
fn send_small_file_now(
    stream: &TcpStream,
    file: &File,
    offset: &mut u64,
    len: u64,
    progress: &AtomicU64,
) -> Option<Result<(), Failure>> {
    if len.saturating_sub(*offset) > SEND_NOW_UP_TO {
        return None;
    }
    let start = *offset;
    let sent = ferry_transfer::sendfile::send_file(stream, file, offset, len, |n| {
        progress.store(n, Ordering::Relaxed)
    });
    match sent {
        Ok(()) => {}
        Err(e) if e.kind() == std::io::ErrorKind::WouldBlock => {
            progress.store(*offset - start, Ordering::Relaxed);
            return None;
        }
        Err(e) => return Some(Err(Failure::Data(e))),
    }
    // Half-close so the client sees the end of the file; the socket closes when dropped.
    if let Err(e) = rustix::net::shutdown(stream, rustix::net::Shutdown::Write) {
        tracing::debug!(error = %e, "data connection closed before the end of a small file");
    }
    Some(Ok(()))
}

/// RETR: plain binary through `sendfile(2)`; ASCII (LF becomes CRLF, RFC 959 §3.1.1.1) and
/// TLS through one buffer.
fn send(
    ds: &mut DataStream,
    file: &File,
    offset: u64,
    len: u64,
    ascii: bool,
    progress: &AtomicU64,
) -> Result<(), Failure> {
    if let (DataStream::Plain(sock), false) = (&*ds, ascii) {
        let mut offset = offset;
        ferry_transfer::sendfile::send_file(sock, file, &mut offset, len, |n| {
            progress.store(n, Ordering::Relaxed)
        })
        .map_err(Failure::Data)?;
        return Ok(());
    }
    use std::os::unix::fs::FileExt;
    let mut raw = vec![0u8; BUFFER_SIZE];
    let mut wire = if ascii {
        Vec::with_capacity(BUFFER_SIZE * 2)
    } else {
        Vec::new()
    };
    let mut pos = offset;
    let mut sent = 0u64;
    while pos < len {
        let want = usize::try_from(len - pos)
            .unwrap_or(raw.len())
            .min(raw.len());
        let n = file
            .read_at(&mut raw[..want], pos)
            .map_err(Failure::Local)?;
        if n == 0 {
            break; // the file shrank: send what exists
        }
        pos += n as u64;
        let out: &[u8] = if ascii {
            wire.clear();
            ferry_transfer::ascii::lf_to_crlf(&raw[..n], &mut wire);
            &wire
        } else {
            &raw[..n]
        };
        ds.write_all(out).map_err(Failure::Data)?;
        sent += out.len() as u64;
        progress.store(sent, Ordering::Relaxed);
    }
    Ok(())
}
