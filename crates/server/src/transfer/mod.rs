//! Transfers run as child tasks of the session, so the control loop keeps answering ABOR,
//! STAT, NOOP and QUIT while bytes move. Each task opens its data connection, runs one copy
//! loop, closes the connection and reports the final reply; cancelling its token aborts it.
//!
//! Copy loops run on a blocking thread with the data socket in blocking mode (see
//! [`on_blocking_socket`]); under `PROT P` the socket is wrapped in rustls there. Plain binary
//! RETR is `sendfile(2)` (no user-space copy); everything else moves through one large buffer.
//! No runtime thread ever waits on the disk or the network.
//!
//! Here: the task's life (open the data connection, run, report) and the blocking-socket
//! runner; send.rs moves bytes out (RETR, listings), receive.rs moves them in (STOR, APPE,
//! STOU) and concludes the upload. Failures become replies in errors.rs.

mod receive;
mod send;

use std::fs::File;
use std::io;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use ferry_proto::Reply;
use tokio::net::TcpStream;
use tokio::task::JoinHandle;
use tokio_util::sync::CancellationToken;

use crate::data::{DataConnector, DataStream, DataTls};
use crate::listing::ListJob;
use crate::server::ServerContext;
use crate::upload::Upload;

/// Upload and ASCII buffers: large enough that a 1 GiB transfer costs few thousand syscalls.
pub(crate) const BUFFER_SIZE: usize = 256 * 1024;

pub(crate) enum TransferKind {
    Send {
        file: File,
        offset: u64,
        len: u64,
        ascii: bool,
    },
    Receive(Box<Upload>),
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
        ctx: Arc<ServerContext>,
        connector: DataConnector,
        tls: Option<DataTls>,
        kind: TransferKind,
        verb: &'static str,
        path: String,
        // The text of the final 226 (STOU names the file it created).
        success_text: String,
    ) -> RunningTransfer {
        let cancel = CancellationToken::new();
        let progress = Arc::new(AtomicU64::new(0));
        let (c, p) = (cancel.clone(), Arc::clone(&progress));
        let handle =
            tokio::spawn(async move { run(ctx, connector, tls, kind, c, p, success_text).await });
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

pub(crate) enum Failure {
    Aborted,
    Data(io::Error),
    Local(io::Error),
    /// The user's quota is reached: what fitted was written.
    Quota,
    /// The data connection's TLS handshake failed, or did not resume the control session when
    /// that is required.
    Tls(String),
}

async fn run(
    ctx: Arc<ServerContext>,
    connector: DataConnector,
    tls: Option<DataTls>,
    kind: TransferKind,
    cancel: CancellationToken,
    progress: Arc<AtomicU64>,
    success_text: String,
) -> TransferReport {
    let stream = tokio::select! {
        _ = cancel.cancelled() => Err(None),
        s = connector.connect() => s.map_err(Some),
    };
    let stream = match stream {
        Ok(s) => s,
        Err(why) => {
            // An upload that never got its data still concludes by its mode's rule (a new
            // file stands, empty, in atomic-resume, as on a classic server).
            if let TransferKind::Receive(upload) = kind {
                let failure = match &why {
                    None => Failure::Aborted,
                    Some(e) => Failure::Data(io::Error::new(e.kind(), e.to_string())),
                };
                let _ = receive::abandon_upload(upload, failure).await;
            }
            return match why {
                None => report(Err(Failure::Aborted), &progress, &success_text),
                Some(e) => {
                    tracing::debug!(error = %e, "data connection failed");
                    TransferReport {
                        reply: Reply::new(425, "Can't open data connection."),
                        bytes: 0,
                        result: "no-data-connection",
                    }
                }
            };
        }
    };
    let result = match kind {
        TransferKind::Send {
            file,
            offset,
            len,
            ascii,
        } => {
            let file = send::Download {
                file,
                offset,
                len,
                ascii,
            };
            send::run(stream, tls, &ctx, &cancel, file, &progress).await
        }
        TransferKind::Receive(upload) => {
            receive::run(stream, tls, &ctx, &cancel, upload, &progress).await
        }
        TransferKind::List(job) => send::listing(stream, tls, &ctx, &cancel, job, &progress).await,
    };
    report(result, &progress, &success_text)
}

fn report(result: Result<(), Failure>, progress: &AtomicU64, success_text: &str) -> TransferReport {
    let (reply, result) = match result {
        Ok(()) => (Reply::new(226, success_text), "ok"),
        Err(failure) => crate::errors::transfer_failure_reply(&failure),
    };
    TransferReport {
        reply,
        bytes: progress.load(Ordering::Relaxed),
        result,
    }
}

/// How long a blocking data socket may wait for the peer before the transfer fails.
const DATA_IO_TIMEOUT: Duration = Duration::from_secs(300);

/// Runs a copy loop on a blocking thread, with the data socket switched to blocking mode and,
/// under `PROT P`, wrapped in TLS (the handshake happens there too, so it cannot stall the
/// control loop).
///
/// A blocked `read`/`sendfile` returns as soon as the kernel has data or room, with no epoll
/// round trip per socket-buffer's worth (measured 10-40% faster than readiness-driven loops
/// on loopback). ABOR shuts the socket down, which ends a blocked call (or a handshake) at
/// once; a peer that stops responding fails after [`DATA_IO_TIMEOUT`].
///
/// `copy` returns its result and whatever it must hand back (an upload's quota entry), which
/// comes back here however the transfer ended: when the TLS handshake fails, `copy` is called
/// with that failure instead of a stream, so an upload can still conclude.
async fn on_blocking_socket<T: Send + 'static>(
    stream: TcpStream,
    tls: Option<DataTls>,
    metrics: Arc<crate::metrics::ServerMetrics>,
    cancel: &CancellationToken,
    copy: impl FnOnce(Result<&mut DataStream, Failure>) -> (Result<(), Failure>, T) + Send + 'static,
) -> (Result<(), Failure>, Option<T>) {
    let prepared = (|| {
        let sock = stream.into_std()?;
        sock.set_nonblocking(false)?;
        sock.set_read_timeout(Some(DATA_IO_TIMEOUT))?;
        sock.set_write_timeout(Some(DATA_IO_TIMEOUT))?;
        let killer = sock.try_clone()?;
        Ok((sock, killer))
    })();
    let (sock, killer) = match prepared {
        Ok(s) => s,
        Err(e) => return (Err(Failure::Data(e)), None),
    };
    let mut worker = tokio::task::spawn_blocking(move || -> (Result<(), Failure>, Option<T>) {
        let mut ds = match DataStream::open(sock, tls) {
            Ok(ds) => ds,
            Err(why) => {
                metrics
                    .tls_handshake_failures
                    .fetch_add(1, Ordering::Relaxed);
                tracing::warn!(why, "data connection TLS handshake failed");
                let (result, extra) = copy(Err(Failure::Tls(why)));
                return (result, Some(extra));
            }
        };
        let (result, extra) = copy(Ok(&mut ds));
        if result.is_ok() {
            // A clean end: close_notify under TLS, then FIN. Best effort: every byte is already
            // written or read, and a client that closes first (curl after an upload) must not
            // turn a complete transfer into a failed one.
            if let Err(e) = ds.finish() {
                tracing::debug!(error = %e, "data connection closed before our close_notify");
            }
        }
        (result, Some(extra))
    });
    let (joined, aborted) = tokio::select! {
        _ = cancel.cancelled() => {
            let _ = killer.shutdown(std::net::Shutdown::Both);
            (worker.await, true)
        }
        r = &mut worker => (r, false),
    };
    match joined {
        // A transfer that completed as ABOR arrived did complete (an upload is in place).
        Ok((Ok(()), extra)) => (Ok(()), extra),
        Ok((_, extra)) if aborted => (Err(Failure::Aborted), extra),
        Ok((result, extra)) => (result, extra),
        Err(e) => (Err(Failure::Local(io::Error::other(e))), None),
    }
}
