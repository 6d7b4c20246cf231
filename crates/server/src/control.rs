//! The control connection: bounded, cancel-safe line reading and reply writing.
//!
//! Reading is cancel-safe (the session `select!`s between the next line and a running
//! transfer): all state lives in `self.pending`, and each await is a single `read` whose
//! bytes are appended before the next await.

use std::io;

use ferry_proto::{Reply, MAX_LINE};
use tokio::io::{AsyncRead, AsyncReadExt, AsyncWrite, AsyncWriteExt};

/// The read half of a TCP control connection, read so that urgent data cannot stall it.
///
/// ftplib sends `ABOR` with `MSG_OOB`. With `SO_OOBINLINE` the urgent byte stays in the
/// stream, but Linux ends a read at the urgent mark: the first read returns `ABOR\r`, and the
/// `\n` is already queued. tokio's `poll_read` treats any short read as "drained" and waits for
/// a new readiness edge that never comes. Reading with `try_read` until it would block (which
/// is the only case where readiness is cleared) has no such gap.
pub(crate) struct TcpControlReader(pub tokio::net::tcp::OwnedReadHalf);

impl AsyncRead for TcpControlReader {
    fn poll_read(
        self: std::pin::Pin<&mut Self>,
        cx: &mut std::task::Context<'_>,
        buf: &mut tokio::io::ReadBuf<'_>,
    ) -> std::task::Poll<io::Result<()>> {
        use std::task::Poll;
        let this = self.get_mut();
        loop {
            match this.0.try_read(buf.initialize_unfilled()) {
                Ok(n) => {
                    buf.advance(n);
                    return Poll::Ready(Ok(()));
                }
                Err(e) if e.kind() == io::ErrorKind::WouldBlock => {
                    match this.0.as_ref().poll_read_ready(cx) {
                        Poll::Ready(Ok(())) => continue,
                        Poll::Ready(Err(e)) => return Poll::Ready(Err(e)),
                        Poll::Pending => return Poll::Pending,
                    }
                }
                Err(e) => return Poll::Ready(Err(e)),
            }
        }
    }
}

pub(crate) type BoxRead = Box<dyn AsyncRead + Send + Sync + Unpin>;
pub(crate) type BoxWrite = Box<dyn AsyncWrite + Send + Sync + Unpin>;

/// What the next read produced.
#[derive(Debug, PartialEq, Eq)]
pub(crate) enum Line {
    /// A complete line, CRLF and Telnet commands removed.
    Command(Vec<u8>),
    /// A line longer than [`MAX_LINE`]; its bytes are discarded up to the next LF.
    TooLong,
    /// The client closed the connection.
    Eof,
}

pub(crate) struct Control {
    reader: BoxRead,
    writer: BoxWrite,
    pending: Vec<u8>,
    /// Set after a too-long line until its end (LF) has been seen and dropped.
    discarding: bool,
    out: String,
}

impl Control {
    pub(crate) fn new(reader: BoxRead, writer: BoxWrite) -> Control {
        Control {
            reader,
            writer,
            pending: Vec::with_capacity(512),
            discarding: false,
            out: String::with_capacity(256),
        }
    }

    pub(crate) async fn next_line(&mut self) -> io::Result<Line> {
        loop {
            if let Some(line) = self.take_line() {
                return Ok(line);
            }
            let mut chunk = [0u8; 2048];
            let n = self.reader.read(&mut chunk).await?;
            if n == 0 {
                return Ok(Line::Eof);
            }
            self.pending.extend_from_slice(&chunk[..n]);
        }
    }

    fn take_line(&mut self) -> Option<Line> {
        loop {
            match self.pending.iter().position(|&b| b == b'\n') {
                Some(lf) if self.discarding => {
                    self.pending.drain(..=lf);
                    self.discarding = false;
                }
                Some(lf) => {
                    let line: Vec<u8> = self.pending.drain(..=lf).collect();
                    if line.len() > MAX_LINE {
                        return Some(Line::TooLong);
                    }
                    return Some(Line::Command(strip_telnet(&line[..lf])));
                }
                None if self.discarding => {
                    self.pending.clear();
                    return None;
                }
                None if self.pending.len() > MAX_LINE => {
                    self.pending.clear();
                    self.discarding = true;
                    return Some(Line::TooLong);
                }
                None => return None,
            }
        }
    }

    /// Drops input already read but not yet parsed (AUTH TLS must not execute pipelined bytes).
    #[allow(dead_code)]
    pub(crate) fn discard_pending(&mut self) {
        self.pending.clear();
    }

    pub(crate) async fn send(&mut self, reply: &Reply) -> io::Result<()> {
        self.out.clear();
        reply.encode_into(&mut self.out);
        self.writer.write_all(self.out.as_bytes()).await?;
        self.writer.flush().await
    }

    pub(crate) async fn shutdown(&mut self) {
        let _ = self.writer.shutdown().await;
    }
}

/// Removes the trailing CR and Telnet IAC sequences (RFC 854): clients such as ftplib send
/// `IAC IP IAC DM` before `ABOR`. `IAC IAC` is a literal 0xFF.
fn strip_telnet(line: &[u8]) -> Vec<u8> {
    let line = line.strip_suffix(b"\r").unwrap_or(line);
    if !line.contains(&0xFF) {
        return line.to_vec();
    }
    let mut out = Vec::with_capacity(line.len());
    let mut i = 0;
    while i < line.len() {
        if line[i] != 0xFF {
            out.push(line[i]);
            i += 1;
            continue;
        }
        match line.get(i + 1) {
            Some(0xFF) => {
                out.push(0xFF);
                i += 2;
            }
            // WILL, WONT, DO, DONT carry an option byte.
            Some(0xFB..=0xFE) => i += 3,
            Some(_) => i += 2,
            None => i += 1,
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    fn control_over(input: &'static [u8]) -> Control {
        Control::new(Box::new(input), Box::new(tokio::io::sink()))
    }

    #[tokio::test]
    async fn lines_split_on_lf_with_or_without_cr() {
        let mut c = control_over(b"USER a\r\nPASS b\nNOOP\r\n");
        assert_eq!(
            c.next_line().await.unwrap(),
            Line::Command(b"USER a".to_vec())
        );
        assert_eq!(
            c.next_line().await.unwrap(),
            Line::Command(b"PASS b".to_vec())
        );
        assert_eq!(
            c.next_line().await.unwrap(),
            Line::Command(b"NOOP".to_vec())
        );
        assert_eq!(c.next_line().await.unwrap(), Line::Eof);
    }

    #[tokio::test]
    async fn long_lines_are_reported_once_and_skipped() {
        let mut input = vec![b'A'; MAX_LINE * 3];
        input.extend_from_slice(b"\r\nNOOP\r\n");
        let input: &'static [u8] = Box::leak(input.into_boxed_slice());
        let mut c = control_over(input);
        assert_eq!(c.next_line().await.unwrap(), Line::TooLong);
        assert_eq!(
            c.next_line().await.unwrap(),
            Line::Command(b"NOOP".to_vec())
        );
        assert!(c.pending.capacity() < MAX_LINE * 2 + 4096);
    }

    #[test]
    fn telnet_sequences_are_removed() {
        assert_eq!(strip_telnet(b"\xff\xf4\xff\xf2ABOR\r"), b"ABOR");
        assert_eq!(strip_telnet(b"a\xff\xffb"), b"a\xffb");
        assert_eq!(strip_telnet(b"\xff\xfb\x01X"), b"X");
    }
}
