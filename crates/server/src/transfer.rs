//! Transfers run as child tasks of the session, so the control loop keeps answering ABOR,
//! STAT, NOOP and QUIT while bytes move. Each task opens its data connection, runs one copy
//! loop, closes the connection and reports the final reply; cancelling its token aborts it.
//!
//! Copy loops: RETR of a binary file is `sendfile(2)` (no user-space copy); STOR reads the
//! socket into large reusable buffers handed to a blocking writer thread, so network reads and
//! disk writes overlap and no runtime thread ever waits on the disk; listings are produced on a
//! blocking thread in bounded chunks, never as one string.

use std::fs::File;
use std::io::{self, Read, Write};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use ferry_proto::Reply;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;
use tokio::sync::mpsc;
use tokio::task::JoinHandle;
use tokio_util::sync::CancellationToken;

use crate::data::DataConnector;
use crate::listing::ListJob;

/// Upload and ASCII buffers: large enough that a 1 GiB transfer costs few thousand syscalls.
pub(crate) const BUFFER_SIZE: usize = 256 * 1024;
/// Buffers in flight between the socket reader and the disk writer.
const UPLOAD_BUFFERS: usize = 3;

pub(crate) enum TransferKind {
    Send {
        file: File,
        offset: u64,
        len: u64,
        ascii: bool,
    },
    Receive {
        file: File,
        ascii: bool,
    },
    List(ListJob),
}

/// The outcome the session turns into its final reply and log line.
#[derive(Debug)]
pub(crate) struct TransferReport {
    pub reply: Reply,
    pub bytes: u64,
    pub result: &'static str,
}

/// A transfer the session is waiting on.
pub(crate) struct RunningTransfer {
    pub handle: JoinHandle<TransferReport>,
    pub cancel: CancellationToken,
    pub progress: Arc<AtomicU64>,
    pub started: Instant,
    pub verb: &'static str,
    pub path: String,
}

impl RunningTransfer {
    pub(crate) fn spawn(
        connector: DataConnector,
        kind: TransferKind,
        verb: &'static str,
        path: String,
        // The text of the final 226 (STOU names the file it created).
        success_text: String,
    ) -> RunningTransfer {
        let cancel = CancellationToken::new();
        let progress = Arc::new(AtomicU64::new(0));
        let (c, p) = (cancel.clone(), Arc::clone(&progress));
        let handle = tokio::spawn(async move { run(connector, kind, c, p, success_text).await });
        RunningTransfer {
            handle,
            cancel,
            progress,
            started: Instant::now(),
            verb,
            path,
        }
    }

    pub(crate) fn elapsed(&self) -> Duration {
        self.started.elapsed()
    }
}

enum Failure {
    Aborted,
    Data(io::Error),
    Local(io::Error),
}

async fn run(
    connector: DataConnector,
    kind: TransferKind,
    cancel: CancellationToken,
    progress: Arc<AtomicU64>,
    success_text: String,
) -> TransferReport {
    let stream = tokio::select! {
        _ = cancel.cancelled() => return report(Err(Failure::Aborted), &progress, &success_text),
        s = connector.connect() => s,
    };
    let mut stream = match stream {
        Ok(s) => s,
        Err(e) => {
            tracing::debug!(error = %e, "data connection failed");
            return TransferReport {
                reply: Reply::new(425, "Can't open data connection."),
                bytes: 0,
                result: "no-data-connection",
            };
        }
    };
    let result = match kind {
        TransferKind::Send {
            file,
            offset,
            len,
            ascii: false,
        } => {
            tokio::select! {
                _ = cancel.cancelled() => Err(Failure::Aborted),
                r = ferry_vfs::sendfile::send_file(&stream, &file, offset, len, |n| progress.store(n, Ordering::Relaxed)) => r.map(|_| ()).map_err(Failure::Data),
            }
        }
        TransferKind::Send {
            file,
            offset,
            ascii: true,
            ..
        } => send_ascii(&mut stream, file, offset, &cancel, &progress).await,
        TransferKind::Receive { file, ascii } => {
            receive(&mut stream, file, ascii, &cancel, &progress).await
        }
        TransferKind::List(job) => send_listing(&mut stream, job, &cancel, &progress).await,
    };
    let result = match result {
        Ok(()) => stream.shutdown().await.map_err(Failure::Data),
        Err(e) => Err(e),
    };
    drop(stream);
    report(result, &progress, &success_text)
}

fn report(result: Result<(), Failure>, progress: &AtomicU64, success_text: &str) -> TransferReport {
    let bytes = progress.load(Ordering::Relaxed);
    match result {
        Ok(()) => TransferReport {
            reply: Reply::new(226, success_text),
            bytes,
            result: "ok",
        },
        Err(Failure::Aborted) => TransferReport {
            reply: Reply::new(426, "Transfer aborted."),
            bytes,
            result: "aborted",
        },
        Err(Failure::Data(e)) => TransferReport {
            reply: Reply::new(
                426,
                format!("Data connection closed; transfer aborted ({}).", e.kind()),
            ),
            bytes,
            result: "data-error",
        },
        Err(Failure::Local(e)) => {
            let reply = if e.kind() == io::ErrorKind::StorageFull {
                Reply::new(452, "Insufficient storage space on the server's disk.")
            } else {
                Reply::new(451, "Local error in processing; transfer aborted.")
            };
            tracing::warn!(error = %e, "transfer failed on the server side");
            TransferReport {
                reply,
                bytes,
                result: "local-error",
            }
        }
    }
}

/// RETR in ASCII mode: LF becomes CRLF on the wire (RFC 959 §3.1.1.1).
async fn send_ascii(
    stream: &mut TcpStream,
    file: File,
    offset: u64,
    cancel: &CancellationToken,
    progress: &AtomicU64,
) -> Result<(), Failure> {
    let (tx, mut rx) = mpsc::channel::<io::Result<Vec<u8>>>(2);
    let reader = tokio::task::spawn_blocking(move || {
        let mut file = file;
        if let Err(e) = io::Seek::seek(&mut file, io::SeekFrom::Start(offset)) {
            let _ = tx.blocking_send(Err(e));
            return;
        }
        let mut raw = vec![0u8; BUFFER_SIZE / 2];
        loop {
            let n = match file.read(&mut raw) {
                Ok(0) => return,
                Ok(n) => n,
                Err(e) => {
                    let _ = tx.blocking_send(Err(e));
                    return;
                }
            };
            let mut out = Vec::with_capacity(n * 2);
            for &b in &raw[..n] {
                if b == b'\n' {
                    out.push(b'\r');
                }
                out.push(b);
            }
            if tx.blocking_send(Ok(out)).is_err() {
                return;
            }
        }
    });
    let mut sent = 0u64;
    let result = loop {
        let chunk = tokio::select! {
            _ = cancel.cancelled() => break Err(Failure::Aborted),
            c = rx.recv() => c,
        };
        let chunk = match chunk {
            None => break Ok(()),
            Some(Err(e)) => break Err(Failure::Local(e)),
            Some(Ok(c)) => c,
        };
        tokio::select! {
            _ = cancel.cancelled() => break Err(Failure::Aborted),
            r = stream.write_all(&chunk) => if let Err(e) = r { break Err(Failure::Data(e)) },
        }
        sent += chunk.len() as u64;
        progress.store(sent, Ordering::Relaxed);
    };
    drop(rx);
    let _ = reader.await;
    result
}

/// STOR/APPE/STOU: socket → buffers → blocking writer thread.
async fn receive(
    stream: &mut TcpStream,
    file: File,
    ascii: bool,
    cancel: &CancellationToken,
    progress: &AtomicU64,
) -> Result<(), Failure> {
    let (full_tx, mut full_rx) = mpsc::channel::<Vec<u8>>(UPLOAD_BUFFERS);
    let (empty_tx, mut empty_rx) = mpsc::channel::<Vec<u8>>(UPLOAD_BUFFERS);
    for _ in 0..UPLOAD_BUFFERS {
        let _ = empty_tx.try_send(Vec::with_capacity(BUFFER_SIZE));
    }
    let writer = tokio::task::spawn_blocking(move || -> io::Result<()> {
        let mut file = file;
        while let Some(buf) = full_rx.blocking_recv() {
            file.write_all(&buf)?;
            // The reader may be gone (aborted): keep draining what it already handed over.
            let _ = empty_tx.blocking_send(buf);
        }
        Ok(())
    });
    let mut received = 0u64;
    let mut pending_cr = false;
    let read_result: Result<(), Failure> = 'outer: loop {
        let Some(mut buf) = empty_rx.recv().await else {
            break Ok(()); // the writer stopped: its error is reported below
        };
        buf.clear();
        if pending_cr {
            buf.push(b'\r');
            pending_cr = false;
        }
        let mut eof = false;
        while buf.len() < BUFFER_SIZE {
            let n = tokio::select! {
                _ = cancel.cancelled() => break 'outer Err(Failure::Aborted),
                r = stream.read_buf(&mut buf) => match r {
                    Ok(n) => n,
                    Err(e) => break 'outer Err(Failure::Data(e)),
                },
            };
            if n == 0 {
                eof = true;
                break;
            }
            received += n as u64;
            progress.store(received, Ordering::Relaxed);
        }
        if ascii {
            pending_cr = crlf_to_lf(&mut buf, eof);
        }
        if full_tx.send(buf).await.is_err() {
            break Ok(());
        }
        if eof {
            break Ok(());
        }
    };
    drop(full_tx);
    let write_result = writer.await.unwrap_or_else(|e| Err(io::Error::other(e)));
    match (read_result, write_result) {
        (_, Err(e)) => Err(Failure::Local(e)),
        (r, Ok(())) => r,
    }
}

/// Converts CRLF to LF in place. Returns true when the buffer ended in a CR that may begin a
/// CRLF split across reads (it is removed and must be re-inserted before the next chunk).
fn crlf_to_lf(buf: &mut Vec<u8>, eof: bool) -> bool {
    let mut w = 0;
    let mut r = 0;
    let n = buf.len();
    while r < n {
        let b = buf[r];
        if b == b'\r' {
            if r + 1 == n {
                if !eof {
                    buf.truncate(w);
                    return true;
                }
            } else if buf[r + 1] == b'\n' {
                r += 1;
                continue;
            }
        }
        buf[w] = b;
        w += 1;
        r += 1;
    }
    buf.truncate(w);
    false
}

async fn send_listing(
    stream: &mut TcpStream,
    job: ListJob,
    cancel: &CancellationToken,
    progress: &AtomicU64,
) -> Result<(), Failure> {
    let mut rx = job.spawn();
    let mut sent = 0u64;
    loop {
        let chunk = tokio::select! {
            _ = cancel.cancelled() => return Err(Failure::Aborted),
            c = rx.recv() => c,
        };
        let Some(chunk) = chunk else { return Ok(()) };
        tokio::select! {
            _ = cancel.cancelled() => return Err(Failure::Aborted),
            r = stream.write_all(chunk.as_bytes()) => r.map_err(Failure::Data)?,
        }
        sent += chunk.len() as u64;
        progress.store(sent, Ordering::Relaxed);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn crlf_conversion_handles_splits() {
        let mut a = b"a\r\nb\r".to_vec();
        assert!(crlf_to_lf(&mut a, false));
        assert_eq!(a, b"a\nb");
        let mut b = b"\r\nc\rd".to_vec();
        assert!(!crlf_to_lf(&mut b, true));
        assert_eq!(b, b"\nc\rd");
        let mut c = b"x\r".to_vec();
        assert!(!crlf_to_lf(&mut c, true));
        assert_eq!(c, b"x\r");
    }
}
