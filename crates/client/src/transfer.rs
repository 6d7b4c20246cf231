//! The byte-moving half of RETR, STOR, APPE and listings.
//!
//! A transfer is a two-stage pipeline over a few large buffers allocated once per transfer:
//! the async side moves bytes between the socket and the buffers, a blocking thread moves
//! them between the buffers and the file and feeds the digest, so the socket never waits for
//! the disk or the hash and no runtime thread ever blocks. Buffers travel back and forth on
//! channels; nothing is allocated per chunk.
//!
//! Ctrl-C (the cancel token) closes the data connection and sends `ABOR` followed by `NOOP`:
//! whatever the server answers to the transfer and to ABOR (`426`+`226`, or `226`+`225`),
//! the `200` to NOOP marks the end, so the control stream stays in step.

use std::fs::File;
use std::io::{self, Read, Seek, SeekFrom, Write};
use std::time::{Duration, Instant};

use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::sync::mpsc;
use tokio_util::sync::CancellationToken;

use crate::client::Client;
use crate::error::{Error, Result};
use crate::progress::Progress;
use crate::stream::NetStream;
use crate::verify::LocalHasher;

/// Each buffer; four are in flight per transfer.
pub const BUFFER_SIZE: usize = 1 << 20;
const BUFFERS: usize = 4;
/// A listing larger than this is refused rather than held in memory.
const MAX_LISTING: usize = 256 << 20;

/// What a download wrote: the file (positioned at its end), its digest so far, the bytes
/// received.
pub struct Received {
    pub file: File,
    pub hasher: Option<LocalHasher>,
    pub bytes: u64,
}

/// Sleeps as needed to keep to a byte rate.
struct RateLimit {
    rate: Option<u64>,
    start: Instant,
    bytes: u64,
}

impl RateLimit {
    fn new(rate: Option<u64>) -> RateLimit {
        RateLimit {
            rate: rate.filter(|r| *r > 0),
            start: Instant::now(),
            bytes: 0,
        }
    }

    /// The largest chunk to move at once: about a tenth of a second's worth when limited.
    fn chunk(&self, max: usize) -> usize {
        match self.rate {
            Some(r) => (r / 10).clamp(1024, max as u64) as usize,
            None => max,
        }
    }

    async fn pace(&mut self, n: usize) {
        let Some(rate) = self.rate else { return };
        self.bytes += n as u64;
        let due = Duration::from_secs_f64(self.bytes as f64 / rate as f64);
        let elapsed = self.start.elapsed();
        if due > elapsed {
            tokio::time::sleep(due - elapsed).await;
        }
    }
}

impl Client {
    /// `RETR path` (after `REST offset` when offset > 0), appending to `file` and feeding
    /// `hasher`. Returns when the server has confirmed the transfer.
    pub async fn retrieve(
        &mut self,
        path: &str,
        offset: u64,
        file: File,
        hasher: Option<LocalHasher>,
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
        hasher: Option<LocalHasher>,
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
        let mut data = pending.establish(self).await?;

        let (full_tx, full_rx) = mpsc::channel::<(Vec<u8>, usize)>(BUFFERS);
        let (free_tx, mut free_rx) = mpsc::unbounded_channel::<Vec<u8>>();
        for _ in 0..BUFFERS {
            let _ = free_tx.send(vec![0u8; BUFFER_SIZE]);
        }
        let writer =
            tokio::task::spawn_blocking(move || write_file(file, hasher, full_rx, free_tx));

        let t = self.opts.timeout;
        let mut limit = RateLimit::new(self.opts.rate_limit);
        let mut bytes = 0u64;
        let mut failure = None;
        loop {
            // None: the writer stopped early (a disk error, reported when it is joined).
            let Some(mut buf) = free_rx.recv().await else {
                break;
            };
            let chunk = limit.chunk(buf.len());
            let read = tokio::select! {
                _ = cancel.cancelled() => {
                    failure = Some(Error::Aborted);
                    break;
                }
                r = tokio::time::timeout(t, data.read(&mut buf[..chunk])) => r,
            };
            let n = match read {
                Ok(Ok(0)) => break,
                Ok(Ok(n)) => n,
                Ok(Err(e)) => {
                    failure = Some(Error::Network(e));
                    break;
                }
                Err(_) => {
                    failure = Some(Error::Timeout {
                        what: "data from the server".to_owned(),
                        after: t,
                    });
                    break;
                }
            };
            bytes += n as u64;
            progress.advance(n as u64);
            if full_tx.send((buf, n)).await.is_err() {
                break;
            }
            limit.pace(n).await;
        }
        drop(full_tx);
        let written = writer
            .await
            .map_err(|e| Error::local("disk writer", io::Error::other(e)))?;
        match failure {
            Some(Error::Aborted) => return Err(self.abort(data).await),
            Some(e) => return Err(e),
            None => {}
        }
        let (file, hasher) = match written {
            Ok(x) => x,
            // The local side failed: stop the server sending the rest.
            Err(e) => {
                let _ = self.abort(data).await;
                return Err(Error::local("writing the download", e));
            }
        };
        drop(data);
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
        hasher: Option<LocalHasher>,
        progress: &dyn Progress,
        cancel: &CancellationToken,
    ) -> Result<(u64, Option<LocalHasher>)> {
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
        file: File,
        hasher: Option<LocalHasher>,
        progress: &dyn Progress,
        cancel: &CancellationToken,
    ) -> Result<(u64, Option<LocalHasher>)> {
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
        let mut data = pending.establish(self).await?;

        let (full_tx, mut full_rx) = mpsc::channel::<(Vec<u8>, usize)>(BUFFERS);
        let (free_tx, free_rx) = mpsc::unbounded_channel::<Vec<u8>>();
        for _ in 0..BUFFERS {
            let _ = free_tx.send(vec![0u8; BUFFER_SIZE]);
        }
        let chunk = RateLimit::new(self.opts.rate_limit).chunk(BUFFER_SIZE);
        let reader = tokio::task::spawn_blocking(move || {
            read_file(file, offset, hasher, chunk, full_tx, free_rx)
        });

        let t = self.opts.timeout;
        let mut limit = RateLimit::new(self.opts.rate_limit);
        let mut bytes = 0u64;
        let mut failure = None;
        while let Some((buf, n)) = full_rx.recv().await {
            let sent = tokio::select! {
                _ = cancel.cancelled() => {
                    failure = Some(Error::Aborted);
                    break;
                }
                r = tokio::time::timeout(t, data.write_all(&buf[..n])) => r,
            };
            match sent {
                Ok(Ok(())) => {}
                Ok(Err(e)) => {
                    failure = Some(Error::Network(e));
                    break;
                }
                Err(_) => {
                    failure = Some(Error::Timeout {
                        what: "the server to accept data".to_owned(),
                        after: t,
                    });
                    break;
                }
            }
            bytes += n as u64;
            progress.advance(n as u64);
            let _ = free_tx.send(buf);
            limit.pace(n).await;
        }
        drop(full_rx);
        drop(free_tx);
        let read = reader
            .await
            .map_err(|e| Error::local("disk reader", io::Error::other(e)))?;
        match failure {
            Some(Error::Aborted) => return Err(self.abort(data).await),
            Some(Error::Network(e)) => {
                // The server may have said why it stopped reading (552 over quota, 452).
                drop(data);
                if let Ok(r) = self.ctrl()?.read_reply_within(Duration::from_secs(2)).await {
                    if !r.is_positive_completion() {
                        return Err(Error::server(&line, &r));
                    }
                }
                return Err(Error::Network(e));
            }
            Some(e) => return Err(e),
            None => {}
        }
        let hasher = match read {
            Ok(h) => h,
            Err(e) => {
                let _ = self.abort(data).await;
                return Err(Error::local("reading the upload", e));
            }
        };
        // End of file for the server: half-close and let it confirm.
        data.finish_upload(t.min(Duration::from_secs(5))).await;
        drop(data);
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
                _ = cancel.cancelled() => return Err(self.abort(data).await),
                r = tokio::time::timeout(t, data.read(&mut buf)) => r,
            };
            match read {
                Ok(Ok(0)) => break,
                Ok(Ok(n)) => {
                    if out.len() + n > MAX_LISTING {
                        let _ = self.abort(data).await;
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

    /// Stops a running transfer and resynchronises the control connection (see the module
    /// comment). Returns the error to report; when the server does not answer in time, the
    /// connection is dropped.
    pub(crate) async fn abort(&mut self, data: NetStream) -> Error {
        drop(data);
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

/// The disk side of a download.
fn write_file(
    mut file: File,
    mut hasher: Option<LocalHasher>,
    mut full: mpsc::Receiver<(Vec<u8>, usize)>,
    free: mpsc::UnboundedSender<Vec<u8>>,
) -> io::Result<(File, Option<LocalHasher>)> {
    while let Some((buf, n)) = full.blocking_recv() {
        if let Some(h) = hasher.as_mut() {
            h.update(&buf[..n]);
        }
        file.write_all(&buf[..n])?;
        let _ = free.send(buf);
    }
    Ok((file, hasher))
}

/// The disk side of an upload.
fn read_file(
    mut file: File,
    offset: u64,
    mut hasher: Option<LocalHasher>,
    chunk: usize,
    full: mpsc::Sender<(Vec<u8>, usize)>,
    mut free: mpsc::UnboundedReceiver<Vec<u8>>,
) -> io::Result<Option<LocalHasher>> {
    file.seek(SeekFrom::Start(offset))?;
    while let Some(mut buf) = free.blocking_recv() {
        let n = loop {
            match file.read(&mut buf[..chunk]) {
                Err(e) if e.kind() == io::ErrorKind::Interrupted => continue,
                r => break r?,
            }
        };
        if n == 0 {
            return Ok(hasher);
        }
        if let Some(h) = hasher.as_mut() {
            h.update(&buf[..n]);
        }
        if full.blocking_send((buf, n)).is_err() {
            break;
        }
    }
    // The network side stopped first; it reports why.
    Ok(hasher)
}
