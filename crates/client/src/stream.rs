//! The byte stream under a control or data connection. An enum rather than a bare
//! `TcpStream` so FTPS can add a `Tls` variant (the control stream is upgraded in place by
//! `AUTH TLS`, which a boxed trait object could not give back) without touching the code that
//! reads and writes.

use std::io;
use std::net::SocketAddr;
use std::pin::Pin;
use std::task::{Context, Poll};

use tokio::io::{AsyncRead, AsyncWrite, ReadBuf};
use tokio::net::TcpStream;

pub enum NetStream {
    Plain(TcpStream),
    Tls(Box<tokio_rustls::client::TlsStream<TcpStream>>),
}

impl std::fmt::Debug for NetStream {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            NetStream::Plain(s) => write!(f, "Plain({:?})", s.peer_addr().ok()),
            NetStream::Tls(s) => write!(f, "Tls({:?})", s.get_ref().0.peer_addr().ok()),
        }
    }
}

impl NetStream {
    pub fn tcp(&self) -> &TcpStream {
        match self {
            NetStream::Plain(s) => s,
            NetStream::Tls(s) => s.get_ref().0,
        }
    }

    pub fn is_tls(&self) -> bool {
        matches!(self, NetStream::Tls(_))
    }

    /// Whether the TLS session was resumed (for tests and logs); None on plain TCP.
    pub fn tls_resumed(&self) -> Option<bool> {
        match self {
            NetStream::Plain(_) => None,
            NetStream::Tls(s) => {
                Some(s.get_ref().1.handshake_kind() == Some(rustls::HandshakeKind::Resumed))
            }
        }
    }

    /// Ends an upload: half-closes (TLS: `close_notify` first) and, on TLS, reads what the
    /// server still sends until it closes, for at most `limit`. That read takes in the
    /// session tickets a TLS 1.3 server sends after the handshake, which the next data
    /// connection needs to resume the session; a client that only writes never sees them.
    pub async fn finish_upload(&mut self, limit: std::time::Duration) {
        use tokio::io::{AsyncReadExt, AsyncWriteExt};
        let _ = tokio::time::timeout(limit, self.shutdown()).await;
        if self.is_tls() {
            let mut sink = [0u8; 4096];
            let _ = tokio::time::timeout(limit, async {
                while let Ok(n) = self.read(&mut sink).await {
                    if n == 0 {
                        break;
                    }
                }
            })
            .await;
        }
    }

    /// The same connection in blocking mode, for a copy loop on a thread of its own (see
    /// [`ferry_transfer::pump`]), with `timeout` on every read and write; and a second handle on the
    /// socket, whose `shutdown` stops that loop from outside.
    pub(crate) fn into_blocking(
        self,
        timeout: std::time::Duration,
    ) -> io::Result<(BlockingStream, std::net::TcpStream)> {
        let (tcp, tls) = match self {
            NetStream::Plain(s) => (s, None),
            NetStream::Tls(s) => {
                let (tcp, conn) = s.into_inner();
                (tcp, Some(conn))
            }
        };
        let tcp = tcp.into_std()?;
        tcp.set_nonblocking(false)?;
        let timeout = Some(timeout.max(std::time::Duration::from_millis(1)));
        tcp.set_read_timeout(timeout)?;
        tcp.set_write_timeout(timeout)?;
        let handle = tcp.try_clone()?;
        let stream = match tls {
            None => BlockingStream::Plain(tcp),
            Some(conn) => BlockingStream::Tls(Box::new(rustls::StreamOwned::new(conn, tcp))),
        };
        Ok((stream, handle))
    }

    pub fn peer_addr(&self) -> io::Result<SocketAddr> {
        self.tcp().peer_addr()
    }

    pub fn local_addr(&self) -> io::Result<SocketAddr> {
        self.tcp().local_addr()
    }
}

impl AsyncRead for NetStream {
    fn poll_read(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &mut ReadBuf<'_>,
    ) -> Poll<io::Result<()>> {
        match self.get_mut() {
            NetStream::Plain(s) => Pin::new(s).poll_read(cx, buf),
            // A peer that closes without `close_notify` (many FTP servers do on data
            // connections) reads as the end: the transfer's 226 and the size and digest
            // checks tell a complete file from a cut one, as they do without TLS.
            NetStream::Tls(s) => match Pin::new(s.as_mut()).poll_read(cx, buf) {
                Poll::Ready(Err(e)) if e.kind() == io::ErrorKind::UnexpectedEof => {
                    Poll::Ready(Ok(()))
                }
                other => other,
            },
        }
    }
}

impl AsyncWrite for NetStream {
    fn poll_write(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &[u8],
    ) -> Poll<io::Result<usize>> {
        match self.get_mut() {
            NetStream::Plain(s) => Pin::new(s).poll_write(cx, buf),
            NetStream::Tls(s) => Pin::new(s.as_mut()).poll_write(cx, buf),
        }
    }

    fn poll_flush(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        match self.get_mut() {
            NetStream::Plain(s) => Pin::new(s).poll_flush(cx),
            NetStream::Tls(s) => Pin::new(s.as_mut()).poll_flush(cx),
        }
    }

    fn poll_shutdown(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        match self.get_mut() {
            NetStream::Plain(s) => Pin::new(s).poll_shutdown(cx),
            NetStream::Tls(s) => Pin::new(s.as_mut()).poll_shutdown(cx),
        }
    }
}

/// A data connection in blocking mode (see [`NetStream::into_blocking`]).
pub(crate) enum BlockingStream {
    Plain(std::net::TcpStream),
    Tls(Box<rustls::StreamOwned<rustls::ClientConnection, std::net::TcpStream>>),
}

impl BlockingStream {
    /// Ends an upload, as [`NetStream::finish_upload`] does, waiting at most `limit` for each
    /// read of what the server still sends.
    pub(crate) fn finish_upload(&mut self, limit: std::time::Duration) {
        use std::io::{Read, Write};
        match self {
            BlockingStream::Plain(s) => {
                let _ = s.shutdown(std::net::Shutdown::Write);
            }
            BlockingStream::Tls(s) => {
                s.conn.send_close_notify();
                if s.flush().is_ok() {
                    let _ = s.sock.shutdown(std::net::Shutdown::Write);
                    let _ = s.sock.set_read_timeout(Some(limit));
                    let mut sink = [0u8; 4096];
                    while let Ok(n) = s.read(&mut sink) {
                        if n == 0 {
                            break;
                        }
                    }
                }
            }
        }
    }
}

impl io::Read for BlockingStream {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        match self {
            BlockingStream::Plain(s) => s.read(buf),
            // As in `NetStream::poll_read`: a close without `close_notify` is the end.
            BlockingStream::Tls(s) => match s.read(buf) {
                Err(e) if e.kind() == io::ErrorKind::UnexpectedEof => Ok(0),
                other => other,
            },
        }
    }
}

impl io::Write for BlockingStream {
    fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
        match self {
            BlockingStream::Plain(s) => s.write(buf),
            BlockingStream::Tls(s) => s.write(buf),
        }
    }

    fn flush(&mut self) -> io::Result<()> {
        match self {
            BlockingStream::Plain(s) => s.flush(),
            BlockingStream::Tls(s) => s.flush(),
        }
    }
}
