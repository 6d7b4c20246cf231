//! Data connections: passive listeners (PASV/EPSV) and active connects (PORT/EPRT), with the
//! FTP-bounce and connection-theft checks of the security envelope.

use std::collections::hash_map::RandomState;
use std::hash::BuildHasher;
use std::io;
use std::net::{IpAddr, SocketAddr};
use std::sync::OnceLock;
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

/// Binds a passive listener on `ip`, on a port from `range`, or else from the ports the OS
/// hands out for `bind(port 0)`.
///
/// Ports are picked here rather than by `bind(port 0)`: the kernel's own search walks the
/// ephemeral range checking every bound socket, and with the TIME_WAIT sockets a busy FTP
/// server accumulates that search took 70% of the server's CPU on the bench's small files.
/// A random port costs one hash lookup, and a configured range is tried in full.
pub(crate) async fn passive_listener(
    ip: IpAddr,
    range: Option<PortRange>,
) -> io::Result<TcpListener> {
    let (range, attempts) = match range {
        Some(r) => (r, r.port_count()),
        None => (ephemeral_ports(), 64),
    };
    let mut pick = PortPicker::new(range);
    let mut last_err = None;
    for _ in 0..attempts {
        match TcpListener::bind(SocketAddr::new(ip, pick.next())).await {
            Ok(l) => return Ok(l),
            Err(e) => last_err = Some(e),
        }
    }
    if attempts < range.port_count() {
        // A crowded range: let the OS search after all.
        return TcpListener::bind(SocketAddr::new(ip, 0)).await;
    }
    Err(last_err.unwrap_or_else(|| {
        io::Error::new(io::ErrorKind::AddrInUse, "passive port range exhausted")
    }))
}

/// The OS's ephemeral port range (Linux: net.ipv4.ip_local_port_range), read once.
fn ephemeral_ports() -> PortRange {
    static RANGE: OnceLock<PortRange> = OnceLock::new();
    *RANGE.get_or_init(|| {
        std::fs::read_to_string("/proc/sys/net/ipv4/ip_local_port_range")
            .ok()
            .and_then(|text| {
                let mut ports = text.split_whitespace().map(str::parse::<u16>);
                match (ports.next(), ports.next()) {
                    (Some(Ok(first)), Some(Ok(last))) if 1024 <= first && first <= last => {
                        Some(PortRange { first, last })
                    }
                    _ => None,
                }
            })
            .unwrap_or(PortRange {
                first: 32768,
                last: 60999,
            })
    })
}

/// Visits every port of a range once, from a random start with a random odd stride (a
/// permutation of the range, so a busy stretch is not probed port by port).
struct PortPicker {
    range: PortRange,
    at: u32,
    stride: u32,
}

impl PortPicker {
    fn new(range: PortRange) -> PortPicker {
        let seed = RandomState::new().hash_one(std::time::Instant::now());
        let span = range.port_count() as u32;
        // A stride coprime with the span visits every port before coming back.
        let mut stride = ((seed >> 32) as u32 % span.max(1)) | 1;
        while gcd(stride, span) != 1 {
            stride += 2;
        }
        PortPicker {
            range,
            at: (seed as u32) % span.max(1),
            stride,
        }
    }

    fn next(&mut self) -> u16 {
        let span = self.range.port_count() as u32;
        let port = self.range.first + self.at as u16;
        self.at = (self.at + self.stride) % span.max(1);
        port
    }
}

fn gcd(mut a: u32, mut b: u32) -> u32 {
    while b != 0 {
        (a, b) = (b, a % b);
    }
    a
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

    #[test]
    fn the_picker_visits_every_port_of_a_range_once() {
        for (first, last) in [(40000, 40000), (40000, 40001), (39100, 39110), (2000, 2999)] {
            let range = PortRange { first, last };
            let mut pick = PortPicker::new(range);
            let mut seen: Vec<u16> = (0..range.port_count()).map(|_| pick.next()).collect();
            seen.sort_unstable();
            assert_eq!(seen, (first..=last).collect::<Vec<_>>());
        }
    }

    #[tokio::test]
    async fn without_a_range_ports_come_from_the_ephemeral_range() {
        let eph = ephemeral_ports();
        let l = passive_listener("127.0.0.1".parse().unwrap(), None)
            .await
            .unwrap();
        let p = l.local_addr().unwrap().port();
        assert!((eph.first..=eph.last).contains(&p), "{p} outside {eph:?}");
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
