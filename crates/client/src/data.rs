//! Data connections (RFC 959 §3.2, RFC 2428): passive by default, `EPSV` first and `PASV`
//! when the server does not know it; active (`EPRT`, else `PORT`) on request. A passive
//! connection always goes to the control connection's peer address, whatever a `227` reply
//! names: a server behind NAT often announces an unreachable address, and a hostile one could
//! point the client anywhere.

use std::net::{IpAddr, SocketAddr};

use ferry_proto::hostport::{format_eprt, format_port, parse_epsv_reply, parse_pasv_reply};
use tokio::net::{TcpListener, TcpStream};

use crate::client::Client;
use crate::error::{Error, Result};
use crate::stream::NetStream;

/// A data connection being set up: passive ones are connected before the transfer command,
/// active ones are accepted after it.
pub(crate) enum PendingData {
    Connected(TcpStream),
    Listening(TcpListener, IpAddr),
}

impl PendingData {
    pub(crate) async fn establish(self, client: &Client) -> Result<NetStream> {
        let t = client.opts.timeout;
        let tcp = match self {
            PendingData::Connected(s) => s,
            PendingData::Listening(listener, peer_ip) => loop {
                let (s, from) = tokio::time::timeout(t, listener.accept())
                    .await
                    .map_err(|_| Error::Timeout {
                        what: "the server's active data connection".to_owned(),
                        after: t,
                    })?
                    .map_err(Error::Network)?;
                // Only the server may connect back (anyone could race it otherwise).
                if from.ip() == peer_ip {
                    break s;
                }
            },
        };
        // PROT P: the client is the TLS client in either direction (RFC 4217 §7), with the
        // control connection's configuration, so the session resumes.
        match client.data_tls() {
            Some(ctx) => ctx.handshake(tcp, t).await,
            None => Ok(NetStream::Plain(tcp)),
        }
    }
}

impl Client {
    /// Prepares the data connection for the next transfer command.
    pub(crate) async fn prepare_data(&mut self) -> Result<PendingData> {
        if self.opts.active {
            self.prepare_active().await
        } else {
            self.prepare_passive().await
        }
    }

    async fn prepare_passive(&mut self) -> Result<PendingData> {
        let t = self.opts.timeout;
        let peer = self.ctrl()?.stream().peer_addr().map_err(Error::Network)?;
        let port = if !self.epsv_refused {
            let r = self.ctrl()?.cmd("EPSV").await?;
            if r.code == 229 {
                Some(parse_epsv_reply(&r.text()).ok_or_else(|| {
                    Error::Protocol(format!("unreadable EPSV reply: {}", r.text()))
                })?)
            } else if r.code >= 500 && peer.is_ipv4() {
                self.epsv_refused = true;
                None
            } else {
                return Err(Error::server("EPSV", &r));
            }
        } else {
            None
        };
        let port = match port {
            Some(p) => p,
            None => {
                let r = self.ctrl()?.cmd("PASV").await?;
                if r.code != 227 {
                    return Err(Error::server("PASV", &r));
                }
                parse_pasv_reply(&r.text())
                    .ok_or_else(|| Error::Protocol(format!("unreadable PASV reply: {}", r.text())))?
                    .port()
            }
        };
        let addr = SocketAddr::new(peer.ip(), port);
        let s = tokio::time::timeout(t, TcpStream::connect(addr))
            .await
            .map_err(|_| Error::Timeout {
                what: format!("the data connection to {addr}"),
                after: t,
            })?
            .map_err(Error::Network)?;
        Ok(PendingData::Connected(s))
    }

    async fn prepare_active(&mut self) -> Result<PendingData> {
        let (local, peer) = {
            let s = self.ctrl()?.stream();
            (
                s.local_addr().map_err(Error::Network)?,
                s.peer_addr().map_err(Error::Network)?,
            )
        };
        let listener = TcpListener::bind(SocketAddr::new(local.ip(), 0))
            .await
            .map_err(Error::Network)?;
        let addr = listener.local_addr().map_err(Error::Network)?;
        let line = match addr {
            SocketAddr::V4(v4) if !self.features.has("EPRT") => format!("PORT {}", format_port(v4)),
            _ => format!("EPRT {}", format_eprt(addr)),
        };
        self.ctrl()?.cmd_ok(&line).await?;
        Ok(PendingData::Listening(listener, peer.ip()))
    }
}
