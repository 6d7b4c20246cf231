//! The control connection: one command line out, one reply in (RFC 959 §4.2), every wait
//! bounded by the reply timeout. Lines are bounded too, so a hostile server cannot make the
//! client buffer without end.

use std::io;
use std::net::SocketAddr;
use std::time::Duration;

use ferry_proto::{Reply, ReplyParser};
use tokio::io::{AsyncBufReadExt, AsyncWriteExt, BufReader};
use tokio::net::TcpStream;

use crate::error::{Error, Result};
use crate::stream::NetStream;
use crate::tls::TlsContext;

/// Longest reply line accepted (listings do not travel here; MLST and FEAT lines are short).
const MAX_REPLY_LINE: usize = 64 * 1024;
/// Most bytes one (multi-line) reply may hold: a `SITE EXEC` output or a long `HELP` fits,
/// a server that never ends its reply does not make the client buffer without end.
const MAX_REPLY_BYTES: usize = 4 * 1024 * 1024;

#[derive(Debug)]
pub struct Control {
    io: BufReader<NetStream>,
    timeout: Duration,
    line: Vec<u8>,
}

/// A TCP connection to the first address of `authority` that answers.
pub(crate) async fn connect_tcp(authority: &str, timeout: Duration) -> Result<TcpStream> {
    let addrs: Vec<SocketAddr> = tokio::time::timeout(timeout, tokio::net::lookup_host(authority))
        .await
        .map_err(|_| Error::Timeout {
            what: format!("the address of {authority}"),
            after: timeout,
        })?
        .map_err(Error::Network)?
        .collect();
    let mut last = io::Error::new(io::ErrorKind::NotFound, format!("{authority}: no address"));
    for addr in addrs {
        // Named in the message: "Connection refused" alone does not say by whom.
        let target = if addr.to_string() == authority {
            authority.to_owned()
        } else {
            format!("{authority} ({addr})")
        };
        match tokio::time::timeout(timeout, TcpStream::connect(addr)).await {
            Ok(Ok(s)) => {
                // Small command lines must not wait for the peer's delayed ACK.
                let _ = s.set_nodelay(true);
                return Ok(s);
            }
            Ok(Err(e)) => {
                let why = os_message(&e);
                last = io::Error::new(e.kind(), format!("connecting to {target}: {why}"));
            }
            Err(_) => {
                last = io::Error::new(
                    io::ErrorKind::TimedOut,
                    format!(
                        "connecting to {target} timed out after {}s",
                        timeout.as_secs()
                    ),
                )
            }
        }
    }
    Err(Error::Network(last))
}

/// An I/O error's text without the `(os error N)` Rust adds.
pub(crate) fn os_message(e: &io::Error) -> String {
    let text = e.to_string();
    match text.find(" (os error ") {
        Some(i) => text[..i].to_owned(),
        None => text,
    }
}

impl Control {
    /// Connects to the first address of `authority` (`host:port`) that answers and reads the
    /// greeting; with `tls` (implicit FTPS), the TLS handshake comes first.
    pub async fn connect(
        authority: &str,
        timeout: Duration,
        tls: Option<&TlsContext>,
    ) -> Result<(Control, Reply)> {
        let tcp = connect_tcp(authority, timeout).await?;
        let stream = match tls {
            Some(ctx) => ctx.handshake_implicit(tcp, timeout).await?,
            None => NetStream::Plain(tcp),
        };
        let mut c = Control {
            io: BufReader::new(stream),
            timeout,
            line: Vec::new(),
        };
        // A server that accepts and then says nothing: the message must say we were still
        // connecting, not waiting for the reply to some command.
        let greeted = |r: Result<Reply>| {
            r.map_err(|e| match e {
                Error::Timeout { after, .. } => Error::Timeout {
                    what: format!(
                        "the greeting of {authority} (connected, but no FTP server spoke)"
                    ),
                    after,
                },
                e => e,
            })
        };
        let mut greeting = greeted(c.read_reply().await)?;
        // 120: "service ready in nnn minutes"; the 220 follows.
        while greeting.code == 120 {
            greeting = greeted(c.read_reply().await)?;
        }
        match greeting.code {
            220 => Ok((c, greeting)),
            _ => Err(Error::server("connect", &greeting)),
        }
    }

    /// Runs the TLS handshake on the connection after the server's `234` to `AUTH TLS`.
    pub async fn upgrade(self, tls: &TlsContext) -> Result<Control> {
        if !self.io.buffer().is_empty() {
            // Bytes the server sent after 234 but before the handshake: not FTPS.
            return Err(Error::Protocol(
                "the server sent data after accepting AUTH TLS".to_owned(),
            ));
        }
        let NetStream::Plain(tcp) = self.io.into_inner() else {
            return Err(Error::Protocol("AUTH TLS on a TLS connection".to_owned()));
        };
        let stream = tls.handshake(tcp, self.timeout).await?;
        Ok(Control {
            io: BufReader::new(stream),
            timeout: self.timeout,
            line: Vec::new(),
        })
    }

    pub fn timeout(&self) -> Duration {
        self.timeout
    }

    pub fn stream(&self) -> &NetStream {
        self.io.get_ref()
    }

    /// Sends one command line. CR and LF inside would smuggle a second command: refused.
    pub async fn send(&mut self, line: &str) -> Result<()> {
        if line.contains(['\r', '\n']) {
            return Err(Error::Usage(
                "a command may not contain a line break".to_owned(),
            ));
        }
        let mut out = Vec::with_capacity(line.len() + 2);
        out.extend_from_slice(line.as_bytes());
        out.extend_from_slice(b"\r\n");
        let t = self.timeout;
        let w = self.io.get_mut();
        tokio::time::timeout(t, async {
            w.write_all(&out).await?;
            w.flush().await
        })
        .await
        .map_err(|_| Error::Timeout {
            what: "the server to accept a command".to_owned(),
            after: t,
        })?
        .map_err(Error::Network)
    }

    /// Reads one complete (possibly multi-line) reply.
    pub async fn read_reply(&mut self) -> Result<Reply> {
        let t = self.timeout;
        tokio::time::timeout(t, self.read_reply_unbounded())
            .await
            .map_err(|_| Error::Timeout {
                what: "the server's reply".to_owned(),
                after: t,
            })?
    }

    /// Like [`Control::read_reply`] with another limit (a transfer's final reply may follow a
    /// long server-side flush).
    pub async fn read_reply_within(&mut self, t: Duration) -> Result<Reply> {
        tokio::time::timeout(t, self.read_reply_unbounded())
            .await
            .map_err(|_| Error::Timeout {
                what: "the server's reply".to_owned(),
                after: t,
            })?
    }

    async fn read_reply_unbounded(&mut self) -> Result<Reply> {
        let mut parser = ReplyParser::new();
        let mut total = 0usize;
        loop {
            self.read_line().await?;
            total += self.line.len();
            if total > MAX_REPLY_BYTES {
                return Err(Error::Protocol(format!(
                    "reply longer than {} MiB",
                    MAX_REPLY_BYTES >> 20
                )));
            }
            let text = String::from_utf8_lossy(&self.line);
            let text = text.trim_end_matches(['\r', '\n']);
            match parser.push_line(text) {
                Ok(Some(r)) => return Ok(r),
                Ok(None) => {}
                Err(e) => return Err(Error::Protocol(e.to_string())),
            }
        }
    }

    async fn read_line(&mut self) -> Result<()> {
        self.line.clear();
        loop {
            let buf = self.io.fill_buf().await.map_err(Error::Network)?;
            if buf.is_empty() {
                return Err(Error::Network(io::Error::new(
                    io::ErrorKind::UnexpectedEof,
                    "the server closed the control connection",
                )));
            }
            let (take, done) = match buf.iter().position(|b| *b == b'\n') {
                Some(i) => (i + 1, true),
                None => (buf.len(), false),
            };
            if self.line.len() + take > MAX_REPLY_LINE {
                return Err(Error::Protocol("reply line too long".to_owned()));
            }
            self.line.extend_from_slice(&buf[..take]);
            self.io.consume(take);
            if done {
                return Ok(());
            }
        }
    }

    /// Why the connection is finished when the server has spoken unprompted (the `421` it
    /// sends before closing an idle session) or closed it; None while it is quiet. An FTP
    /// server only ever answers, so anything waiting to be read on an idle control
    /// connection means its end.
    pub async fn closed_by_server(&mut self) -> Option<String> {
        if self.io.buffer().is_empty() {
            // Polled once: Ready (data, end of stream or an error) or nothing pending.
            let pending = tokio::time::timeout(Duration::ZERO, self.io.fill_buf()).await;
            if pending.is_err() {
                return None;
            }
        }
        let said = tokio::time::timeout(Duration::ZERO, self.read_reply_unbounded()).await;
        Some(match said {
            Ok(Ok(r)) => format!(
                "the server ended the session ({} {})",
                r.code,
                r.lines.join(" ").trim()
            ),
            _ => "the server closed the connection".to_owned(),
        })
    }

    /// Sends a command and reads its reply.
    pub async fn cmd(&mut self, line: &str) -> Result<Reply> {
        self.send(line).await?;
        self.read_reply().await
    }

    /// Sends a command and requires a positive completion (2xx) reply.
    pub async fn cmd_ok(&mut self, line: &str) -> Result<Reply> {
        let r = self.cmd(line).await?;
        if r.is_positive_completion() {
            Ok(r)
        } else {
            Err(Error::server(line, &r))
        }
    }
}
