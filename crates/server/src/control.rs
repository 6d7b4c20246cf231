//! The control connection: bounded, cancel-safe line reading and reply writing.
//!
//! Reading is cancel-safe (the session `select!`s between the next line and a running
//! transfer): all state lives in `self.pending`, and each await is a single `read` whose
//! bytes are appended before the next await.

use std::io;

use ferry_proto::{Reply, MAX_LINE};
use std::pin::Pin;
use std::task::{Context, Poll};

use tokio::io::{AsyncRead, AsyncReadExt, AsyncWrite, AsyncWriteExt, ReadBuf};
use tokio::net::TcpStream;

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

/// A TCP control connection, read so that urgent data cannot stall it.
///
/// ftplib sends `ABOR` with `MSG_OOB`. With `SO_OOBINLINE` the urgent byte stays in the
/// stream, but Linux ends a read at the urgent mark: the first read returns `ABOR\r`, and the
/// `\n` is already queued. tokio's `poll_read` treats any short read as "drained" and waits for
/// a new readiness edge that never comes. Reading with `try_read` until it would block (which
/// is the only case where readiness is cleared) has no such gap.
pub(crate) struct TcpControlStream(pub TcpStream);

impl AsyncRead for TcpControlStream {
    fn poll_read(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &mut ReadBuf<'_>,
    ) -> Poll<io::Result<()>> {
        let this = self.get_mut();
        loop {
            match this.0.try_read(buf.initialize_unfilled()) {
                Ok(n) => {
                    buf.advance(n);
                    return Poll::Ready(Ok(()));
                }
                Err(e) if e.kind() == io::ErrorKind::WouldBlock => match this.0.poll_read_ready(cx)
                {
                    Poll::Ready(Ok(())) => continue,
                    Poll::Ready(Err(e)) => return Poll::Ready(Err(e)),
                    Poll::Pending => return Poll::Pending,
                },
                Err(e) => return Poll::Ready(Err(e)),
            }
        }
    }
}

impl AsyncWrite for TcpControlStream {
    fn poll_write(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &[u8],
    ) -> Poll<io::Result<usize>> {
        Pin::new(&mut self.get_mut().0).poll_write(cx, buf)
    }
    fn poll_flush(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        Pin::new(&mut self.get_mut().0).poll_flush(cx)
    }
    fn poll_shutdown(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        Pin::new(&mut self.get_mut().0).poll_shutdown(cx)
    }
}

/// The control connection's transport: plain, or TLS after `AUTH TLS` (or from the start on
/// the implicit-TLS listener).
pub(crate) enum ControlStream {
    Plain(TcpControlStream),
    Tls(Box<tokio_rustls::server::TlsStream<TcpControlStream>>),
    /// Only while a handshake owns the stream.
    Upgrading,
    #[cfg(test)]
    Test(tokio::io::DuplexStream),
}

fn upgrading() -> io::Error {
    io::Error::new(
        io::ErrorKind::NotConnected,
        "control connection is being upgraded",
    )
}

impl AsyncRead for ControlStream {
    fn poll_read(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &mut ReadBuf<'_>,
    ) -> Poll<io::Result<()>> {
        match self.get_mut() {
            ControlStream::Plain(s) => Pin::new(s).poll_read(cx, buf),
            ControlStream::Tls(s) => Pin::new(s.as_mut()).poll_read(cx, buf),
            ControlStream::Upgrading => Poll::Ready(Err(upgrading())),
            #[cfg(test)]
            ControlStream::Test(s) => Pin::new(s).poll_read(cx, buf),
        }
    }
}

impl AsyncWrite for ControlStream {
    fn poll_write(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &[u8],
    ) -> Poll<io::Result<usize>> {
        match self.get_mut() {
            ControlStream::Plain(s) => Pin::new(s).poll_write(cx, buf),
            ControlStream::Tls(s) => Pin::new(s.as_mut()).poll_write(cx, buf),
            ControlStream::Upgrading => Poll::Ready(Err(upgrading())),
            #[cfg(test)]
            ControlStream::Test(s) => Pin::new(s).poll_write(cx, buf),
        }
    }
    fn poll_flush(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        match self.get_mut() {
            ControlStream::Plain(s) => Pin::new(s).poll_flush(cx),
            ControlStream::Tls(s) => Pin::new(s.as_mut()).poll_flush(cx),
            ControlStream::Upgrading => Poll::Ready(Err(upgrading())),
            #[cfg(test)]
            ControlStream::Test(s) => Pin::new(s).poll_flush(cx),
        }
    }
    fn poll_shutdown(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        match self.get_mut() {
            ControlStream::Plain(s) => Pin::new(s).poll_shutdown(cx),
            ControlStream::Tls(s) => Pin::new(s.as_mut()).poll_shutdown(cx),
            ControlStream::Upgrading => Poll::Ready(Ok(())),
            #[cfg(test)]
            ControlStream::Test(s) => Pin::new(s).poll_shutdown(cx),
        }
    }
}

/// What a completed handshake negotiated, for the logs.
pub(crate) struct TlsSummary {
    pub version: String,
    pub cipher: String,
    pub sni: Option<String>,
}

/// Runs a server handshake on a plain control stream.
pub(crate) async fn accept_tls(
    stream: TcpControlStream,
    config: std::sync::Arc<rustls::ServerConfig>,
    deadline: std::time::Duration,
) -> io::Result<(ControlStream, TlsSummary)> {
    let acceptor = tokio_rustls::TlsAcceptor::from(config);
    let tls = tokio::time::timeout(deadline, acceptor.accept(stream))
        .await
        .map_err(|_| io::Error::new(io::ErrorKind::TimedOut, "TLS handshake timed out"))??;
    let conn = tls.get_ref().1;
    let (version, cipher) = crate::tls::describe_connection(conn);
    let summary = TlsSummary {
        version,
        cipher,
        sni: conn.server_name().map(str::to_owned),
    };
    Ok((ControlStream::Tls(Box::new(tls)), summary))
}

pub(crate) struct Control {
    stream: ControlStream,
    pending: Vec<u8>,
    /// Set after a too-long line until its end (LF) has been seen and dropped.
    discarding: bool,
    out: String,
}

impl Control {
    pub(crate) fn new(stream: ControlStream) -> Control {
        Control {
            stream,
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
            let n = self.stream.read(&mut chunk).await?;
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

    /// Upgrades to TLS after `234`: input the client pipelined after `AUTH TLS` is discarded,
    /// never executed (the Pure-FTPd CVE-2011-1575 / STARTTLS injection class).
    pub(crate) async fn start_tls(
        &mut self,
        config: std::sync::Arc<rustls::ServerConfig>,
        deadline: std::time::Duration,
    ) -> io::Result<TlsSummary> {
        self.pending.clear();
        self.discarding = false;
        let ControlStream::Plain(plain) =
            std::mem::replace(&mut self.stream, ControlStream::Upgrading)
        else {
            return Err(io::Error::new(
                io::ErrorKind::InvalidInput,
                "the control connection is already protected",
            ));
        };
        let (stream, summary) = accept_tls(plain, config, deadline).await?;
        self.stream = stream;
        Ok(summary)
    }

    pub(crate) fn is_tls(&self) -> bool {
        matches!(self.stream, ControlStream::Tls(_))
    }

    /// The subject CN of the verified client certificate on this connection, if any.
    pub(crate) fn client_certificate_name(&self) -> Option<String> {
        match &self.stream {
            ControlStream::Tls(t) => crate::tls::client_common_name(t.get_ref().1),
            _ => None,
        }
    }

    pub(crate) async fn send(&mut self, reply: &Reply) -> io::Result<()> {
        self.out.clear();
        reply.encode_into(&mut self.out);
        self.stream.write_all(self.out.as_bytes()).await?;
        self.stream.flush().await
    }

    pub(crate) async fn shutdown(&mut self) {
        let _ = self.stream.shutdown().await;
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
        let (mut client, server) = tokio::io::duplex(1 << 20);
        tokio::spawn(async move {
            let _ = client.write_all(input).await;
            // Keep reading (replies) until the server side is dropped; then EOF reaches it.
            let _ = client.shutdown().await;
            let mut sink = Vec::new();
            let _ = client.read_to_end(&mut sink).await;
        });
        Control::new(ControlStream::Test(server))
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
