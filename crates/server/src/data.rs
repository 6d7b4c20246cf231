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
