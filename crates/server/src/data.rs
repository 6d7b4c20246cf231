//! Data connections: passive listeners (PASV/EPSV) and active connects (PORT/EPRT), with the
//! FTP-bounce and connection-theft checks of the security envelope.

use std::collections::hash_map::RandomState;
use std::hash::BuildHasher;
use std::io;
use std::net::{IpAddr, SocketAddr};
use std::time::Duration;

use tokio::net::{TcpListener, TcpSocket, TcpStream};

use crate::config::PortRange;

/// How the next transfer gets its data connection. Consumed by that transfer.
#[derive(Debug, Default)]
pub(crate) enum DataPlan {
    #[default]
    None,
    /// PASV/EPSV: we listen, the client connects.
    Passive(TcpListener),
    /// PORT/EPRT: we connect to the client.
    Active(SocketAddr),
}

/// Everything a transfer task needs to open its data connection.
#[derive(Debug)]
pub(crate) struct DataConnector {
    pub plan: DataPlan,
    /// The control connection's peer: the only address allowed on the data connection.
    pub peer_ip: IpAddr,
    /// The control connection's local address: active connections start from it.
    pub local_ip: IpAddr,
    pub timeout: Duration,
}

impl DataConnector {
    pub(crate) async fn connect(self) -> io::Result<TcpStream> {
        match self.plan {
            DataPlan::None => Err(io::Error::new(
                io::ErrorKind::NotConnected,
                "no data connection planned",
            )),
            DataPlan::Passive(listener) => {
                tokio::time::timeout(self.timeout, accept_from(&listener, self.peer_ip))
                    .await
                    .map_err(|_| {
                        io::Error::new(io::ErrorKind::TimedOut, "no data connection arrived")
                    })?
            }
            DataPlan::Active(addr) => {
                let socket = if addr.is_ipv4() {
                    TcpSocket::new_v4()?
                } else {
                    TcpSocket::new_v6()?
                };
                // Leave from the address the client reached us on (multi-homed hosts).
                let local = match (self.local_ip, addr) {
                    (IpAddr::V4(ip), SocketAddr::V4(_)) => Some(SocketAddr::new(IpAddr::V4(ip), 0)),
                    (IpAddr::V6(ip), SocketAddr::V6(_)) => Some(SocketAddr::new(IpAddr::V6(ip), 0)),
                    _ => None,
                };
                if let Some(local) = local {
                    socket.bind(local)?;
                }
                tokio::time::timeout(self.timeout, socket.connect(addr))
                    .await
                    .map_err(|_| {
                        io::Error::new(io::ErrorKind::TimedOut, "active data connection timed out")
                    })?
            }
        }
    }
}

/// Accepts the first connection that comes from the control peer. Others are dropped and do
/// not consume the transfer (a third party cannot steal or spoil it).
async fn accept_from(listener: &TcpListener, peer_ip: IpAddr) -> io::Result<TcpStream> {
    loop {
        let (stream, addr) = listener.accept().await?;
        if addr.ip().to_canonical() == peer_ip {
            return Ok(stream);
        }
        tracing::warn!(expected = %peer_ip, got = %addr, "data connection from a foreign address refused");
    }
}

/// Binds a passive listener on `ip`, on a port from `range` (random start, then every port in
/// turn) or one the OS picks.
pub(crate) async fn passive_listener(
    ip: IpAddr,
    range: Option<PortRange>,
) -> io::Result<TcpListener> {
    let Some(range) = range else {
        return TcpListener::bind(SocketAddr::new(ip, 0)).await;
    };
    let span = u32::from(range.last - range.first) + 1;
    let start = (RandomState::new().hash_one(ip) % u64::from(span)) as u32;
    let mut last_err = None;
    for i in 0..span {
        let port = range.first + ((start + i) % span) as u16;
        match TcpListener::bind(SocketAddr::new(ip, port)).await {
            Ok(l) => return Ok(l),
            Err(e) => last_err = Some(e),
        }
    }
    Err(last_err.unwrap_or_else(|| {
        io::Error::new(io::ErrorKind::AddrInUse, "passive port range exhausted")
    }))
}

/// PORT/EPRT targets must be the control peer itself and an unprivileged port (no FTP bounce).
pub(crate) fn active_target_allowed(target: SocketAddr, peer_ip: IpAddr) -> bool {
    target.ip().to_canonical() == peer_ip && target.port() >= 1024
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn bounce_targets_are_refused() {
        let peer: IpAddr = "10.0.0.5".parse().unwrap();
        assert!(active_target_allowed(
            "10.0.0.5:40000".parse().unwrap(),
            peer
        ));
        assert!(!active_target_allowed(
            "10.0.0.6:40000".parse().unwrap(),
            peer
        ));
        assert!(!active_target_allowed("10.0.0.5:25".parse().unwrap(), peer));
        assert!(active_target_allowed(
            "[::ffff:10.0.0.5]:40000".parse().unwrap(),
            peer
        ));
    }

    #[tokio::test]
    async fn passive_ports_come_from_the_range() {
        let range = PortRange {
            first: 39100,
            last: 39110,
        };
        let a = passive_listener("127.0.0.1".parse().unwrap(), Some(range))
            .await
            .unwrap();
        let b = passive_listener("127.0.0.1".parse().unwrap(), Some(range))
            .await
            .unwrap();
        for l in [&a, &b] {
            let p = l.local_addr().unwrap().port();
            assert!((39100..=39110).contains(&p));
        }
        assert_ne!(a.local_addr().unwrap(), b.local_addr().unwrap());
    }
}

/// TLS settings for one session's data connections (`PROT P`).
#[derive(Clone)]
pub(crate) struct DataTls {
    /// The session's own rustls configuration (its session cache holds the control
    /// connection's TLS session).
    pub config: std::sync::Arc<rustls::ServerConfig>,
    /// `tls_session_reuse = require`: refuse a handshake that did not resume that session.
    pub require_reuse: bool,
    pub handshake_timeout: Duration,
}

/// An open data connection as the copy loops see it (blocking I/O on a blocking thread).
pub(crate) enum DataStream {
    Plain(std::net::TcpStream),
    Tls(Box<rustls::StreamOwned<rustls::ServerConnection, std::net::TcpStream>>),
}

impl DataStream {
    /// Wraps an accepted or connected socket, performing the TLS handshake when asked to.
    /// Errors are the reason, for the `522` reply.
    pub(crate) fn open(
        mut sock: std::net::TcpStream,
        tls: Option<DataTls>,
    ) -> Result<DataStream, String> {
        let Some(tls) = tls else {
            return Ok(DataStream::Plain(sock));
        };
        let io_timeouts = (
            sock.read_timeout().ok().flatten(),
            sock.write_timeout().ok().flatten(),
        );
        let _ = sock.set_read_timeout(Some(tls.handshake_timeout));
        let _ = sock.set_write_timeout(Some(tls.handshake_timeout));
        let mut conn = rustls::ServerConnection::new(tls.config).map_err(|e| e.to_string())?;
        while conn.is_handshaking() {
            conn.complete_io(&mut sock)
                .map_err(|e| format!("handshake: {e}"))?;
        }
        if tls.require_reuse && conn.handshake_kind() != Some(rustls::HandshakeKind::Resumed) {
            return Err("the data connection must resume the control connection's TLS session (tls_session_reuse = require)".into());
        }
        let _ = sock.set_read_timeout(io_timeouts.0);
        let _ = sock.set_write_timeout(io_timeouts.1);
        Ok(DataStream::Tls(Box::new(rustls::StreamOwned::new(
            conn, sock,
        ))))
    }

    /// Ends the transfer cleanly: TLS close_notify, then FIN.
    pub(crate) fn finish(&mut self) -> io::Result<()> {
        match self {
            DataStream::Plain(s) => s.shutdown(std::net::Shutdown::Write),
            DataStream::Tls(t) => {
                t.conn.send_close_notify();
                while t.conn.wants_write() {
                    t.conn.write_tls(&mut t.sock)?;
                }
                t.sock.shutdown(std::net::Shutdown::Write)
            }
        }
    }
}

impl std::io::Read for DataStream {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        match self {
            DataStream::Plain(s) => s.read(buf),
            DataStream::Tls(t) => match t.read(buf) {
                // A peer that closes TCP without close_notify ends the upload as most FTPS
                // servers accept (vsftpd's strict_ssl_read_eof=NO): truncation is then only as
                // detectable as on a plain connection, and HASH is there to check.
                Err(e) if e.kind() == io::ErrorKind::UnexpectedEof => Ok(0),
                other => other,
            },
        }
    }
}

impl std::io::Write for DataStream {
    fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
        match self {
            DataStream::Plain(s) => s.write(buf),
            DataStream::Tls(t) => t.write(buf),
        }
    }
    fn flush(&mut self) -> io::Result<()> {
        match self {
            DataStream::Plain(s) => s.flush(),
            DataStream::Tls(t) => t.flush(),
        }
    }
}
