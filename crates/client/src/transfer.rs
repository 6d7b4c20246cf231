//! The protocol half of RETR, STOR, APPE and listings; the bytes themselves move in
//! [`ferry_transfer::pump`], on a thread of its own.
//!
//! Ctrl-C (the cancel token) shuts the data connection down, which ends the copy, and sends
//! `ABOR` followed by `NOOP`: whatever the server answers to the transfer and to ABOR
//! (`426`+`226`, or `226`+`225`), the `200` to NOOP marks the end, so the control stream
//! stays in step.

use std::fs::File;
use std::io::{self, Seek, SeekFrom};
use std::net::{Shutdown, TcpStream};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;
use std::time::Duration;

use tokio::io::AsyncReadExt;
use tokio_util::sync::CancellationToken;

use crate::client::Client;
use crate::error::{Error, Result};
use crate::progress::Progress;
use ferry_transfer::pump::{pump, Count, PumpFailure, Pumped};
use ferry_transfer::Hasher;

/// A listing larger than this is refused rather than held in memory.
const MAX_LISTING: usize = 256 << 20;
/// How often the progress bar hears of the copy thread's count.
const PROGRESS_TICK: Duration = Duration::from_millis(100);

/// What a download wrote: the file (positioned at its end), its digest so far, the bytes
/// received.
pub struct Received {
    pub file: File,
    pub hasher: Option<Hasher>,
    pub bytes: u64,
}

impl Client {
    /// `RETR path` (after `REST offset` when offset > 0), appending to `file` and feeding
    /// `hasher`. Returns when the server has confirmed the transfer.
    pub async fn retrieve(
        &mut self,
        path: &str,
        offset: u64,
        file: File,
        hasher: Option<Hasher>,
        progress: &dyn Progress,
        cancel: &CancellationToken,
    ) -> Result<Received> {
        let r = self
            .retrieve_inner(path, offset, file, hasher, progress, cancel)
            .await;
        self.settle(r)
    }

    async fn retrieve_inner(
        &mut self,
        path: &str,
        offset: u64,
        file: File,
        hasher: Option<Hasher>,
        progress: &dyn Progress,
        cancel: &CancellationToken,
    ) -> Result<Received> {
        let pending = self.prepare_data().await?;
        if offset > 0 {
            let r = self.ctrl()?.cmd(&format!("REST {offset}")).await?;
            if r.code != 350 {
                return Err(Error::server(format!("REST {offset}"), &r));
            }
        }
        let line = format!("RETR {path}");
        self.open_transfer(&line).await?;
        let t = self.opts.timeout;
        let (data, socket) = pending
            .establish(self)
            .await?
            .into_blocking(t)
            .map_err(Error::Network)?;
        let rate = self.opts.rate_limit;
        let copied = run_copy(
            move |moved| pump(data, file, hasher, rate, Count::Reads, moved),
            socket,
            progress,
            cancel,
        )
        .await?;
        let Some(Pumped {
            source: data,
            sink: file,
            hasher,
            bytes,
            failure,
        }) = copied
        else {
            return Err(self.abort().await);
        };
        drop(data);
        match failure {
            None => {}
            Some(PumpFailure::Source(e)) => {
                return Err(network_error(e, t, "data from the server"))
            }
            // The local side failed: stop the server sending the rest.
            Some(PumpFailure::Sink(e)) => {
                let _ = self.abort().await;
                return Err(Error::local("writing the download", e));
            }
        }
        self.finish_transfer(&line).await?;
        Ok(Received {
            file,
            hasher,
            bytes,
        })
    }

    /// `STOR path` (after `REST offset` when offset > 0; or `APPE path` when `append`), sending
    /// `file` from `offset` to its end and feeding `hasher`. Returns the bytes sent and the
    /// digest.
    #[allow(clippy::too_many_arguments)]
    pub async fn store(
        &mut self,
        path: &str,
        offset: u64,
        append: bool,
        file: File,
        hasher: Option<Hasher>,
        progress: &dyn Progress,
        cancel: &CancellationToken,
    ) -> Result<(u64, Option<Hasher>)> {
        let r = self
            .store_inner(path, offset, append, file, hasher, progress, cancel)
            .await;
        self.settle(r)
    }

    #[allow(clippy::too_many_arguments)]
    async fn store_inner(
        &mut self,
        path: &str,
        offset: u64,
        append: bool,
        mut file: File,
        hasher: Option<Hasher>,
        progress: &dyn Progress,
        cancel: &CancellationToken,
    ) -> Result<(u64, Option<Hasher>)> {
        file.seek(SeekFrom::Start(offset))
            .map_err(|e| Error::local("reading the upload", e))?;
        let pending = self.prepare_data().await?;
        let line = if append {
            format!("APPE {path}")
        } else {
            if offset > 0 {
                let r = self.ctrl()?.cmd(&format!("REST {offset}")).await?;
                if r.code != 350 {
                    return Err(Error::server(format!("REST {offset}"), &r));
                }
            }
            format!("STOR {path}")
        };
        self.open_transfer(&line).await?;
        let t = self.opts.timeout;
        let (data, socket) = pending
            .establish(self)
            .await?
            .into_blocking(t)
            .map_err(Error::Network)?;
        let rate = self.opts.rate_limit;
        let copied = run_copy(
            move |moved| {
                let mut p = pump(file, data, hasher, rate, Count::Writes, moved);
                if p.failure.is_none() {
                    // End of file for the server: half-close and let it confirm.
                    p.sink.finish_upload(t.min(Duration::from_secs(5)));
                }
                p
            },
            socket,
            progress,
            cancel,
        )
        .await?;
        let Some(Pumped {
            sink: data,
            hasher,
            bytes,
            failure,
            ..
        }) = copied
        else {
            return Err(self.abort().await);
        };
        drop(data);
        match failure {
            None => {}
            Some(PumpFailure::Sink(e)) => {
                // The server may have said why it stopped reading (552 over quota, 452).
                if let Ok(r) = self.ctrl()?.read_reply_within(Duration::from_secs(2)).await {
                    if !r.is_positive_completion() {
                        return Err(Error::server(&line, &r));
                    }
                }
                return Err(network_error(e, t, "the server to accept data"));
            }
            Some(PumpFailure::Source(e)) => {
                let _ = self.abort().await;
                return Err(Error::local("reading the upload", e));
            }
        }
        self.finish_transfer(&line).await?;
        Ok((bytes, hasher))
    }

    /// Runs a listing command (`MLSD`, `LIST`, `NLST`) and returns its data.
    pub async fn listing_data(
        &mut self,
        line: &str,
        cancel: &CancellationToken,
    ) -> Result<Vec<u8>> {
        let r = self.listing_inner(line, cancel).await;
        self.settle(r)
    }

    async fn listing_inner(&mut self, line: &str, cancel: &CancellationToken) -> Result<Vec<u8>> {
        let pending = self.prepare_data().await?;
        self.open_transfer(line).await?;
        let mut data = pending.establish(self).await?;
        let t = self.opts.timeout;
        let mut out = Vec::new();
        let mut buf = vec![0u8; 64 * 1024];
        loop {
            let read = tokio::select! {
                _ = cancel.cancelled() => {
                    drop(data);
                    return Err(self.abort().await);
                }
                r = tokio::time::timeout(t, data.read(&mut buf)) => r,
            };
            match read {
                Ok(Ok(0)) => break,
                Ok(Ok(n)) => {
                    if out.len() + n > MAX_LISTING {
                        drop(data);
                        let _ = self.abort().await;
                        return Err(Error::Protocol("listing larger than 256 MiB".to_owned()));
                    }
                    out.extend_from_slice(&buf[..n]);
                }
                Ok(Err(e)) => return Err(Error::Network(e)),
                Err(_) => {
                    return Err(Error::Timeout {
                        what: "listing data".to_owned(),
                        after: t,
                    })
                }
            }
        }
        drop(data);
        self.finish_transfer(line).await?;
        Ok(out)
    }

    /// Sends a transfer command and waits for its preliminary reply (`150`/`125`).
    async fn open_transfer(&mut self, line: &str) -> Result<()> {
        let r = self.ctrl()?.cmd(line).await?;
        if r.is_positive_preliminary() {
            Ok(())
        } else {
            Err(Error::server(line, &r))
        }
    }

    /// Reads the final reply of a transfer (`226`/`250`).
    async fn finish_transfer(&mut self, line: &str) -> Result<()> {
        let r = self.ctrl()?.read_reply().await?;
        if r.is_positive_completion() {
            Ok(())
        } else {
            Err(Error::server(line, &r))
        }
    }

    /// Resynchronises the control connection after a transfer was stopped (see the module
    /// comment); the data connection is already closed. Returns the error to report; when
    /// the server does not answer in time, the connection is dropped.
    pub(crate) async fn abort(&mut self) -> Error {
        let t = self.opts.timeout;
        let resync = async {
            let c = self.ctrl()?;
            c.send("ABOR").await?;
            c.send("NOOP").await?;
            for _ in 0..6 {
                if c.read_reply_within(t).await?.code == 200 {
                    return Ok(());
                }
            }
            Err(Error::Protocol("no reply to NOOP after ABOR".to_owned()))
        };
        if resync.await.is_err() {
            self.drop_connection();
        }
        Error::Aborted
    }
}

/// Runs a copy on a blocking thread, telling `progress` of its count every tick. Cancelling
/// shuts `socket` down, which ends the copy's blocking I/O at once; the result is then None.
async fn run_copy<T: Send + 'static>(
    copy: impl FnOnce(&AtomicU64) -> T + Send + 'static,
    socket: TcpStream,
    progress: &dyn Progress,
    cancel: &CancellationToken,
) -> Result<Option<T>> {
    let moved = Arc::new(AtomicU64::new(0));
    let counter = Arc::clone(&moved);
    let mut job = tokio::task::spawn_blocking(move || copy(&counter));
    let mut tick = tokio::time::interval(PROGRESS_TICK);
    let mut reported = 0;
    let mut cancelled = false;
    let joined = loop {
        tokio::select! {
            joined = &mut job => break joined,
            _ = cancel.cancelled(), if !cancelled => {
                cancelled = true;
                let _ = socket.shutdown(Shutdown::Both);
            }
            _ = tick.tick() => {}
        }
        let now = moved.load(Ordering::Relaxed);
        progress.advance(now - reported);
        reported = now;
    };
    progress.advance(moved.load(Ordering::Relaxed) - reported);
    let out = joined.map_err(|e| Error::local("the transfer thread", io::Error::other(e)))?;
    Ok((!cancelled).then_some(out))
}

/// A data-connection error, with the socket timeout told apart.
fn network_error(e: io::Error, after: Duration, what: &str) -> Error {
    match e.kind() {
        io::ErrorKind::WouldBlock | io::ErrorKind::TimedOut => Error::Timeout {
            what: what.to_owned(),
            after,
        },
        _ => Error::Network(e),
    }
}
