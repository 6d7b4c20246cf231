//! The listener: accepts control connections, applies the connection caps, and runs one
//! session task per connection until shutdown.

use std::future::Future;
use std::io;
use std::net::{IpAddr, Ipv4Addr, SocketAddr};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;
use std::time::Duration;

use ferry_proto::Reply;
use ferry_store::Store;
use tokio::io::AsyncWriteExt;
use tokio::net::{TcpListener, TcpStream};
use tokio_util::sync::CancellationToken;
use tokio_util::task::TaskTracker;

use crate::config::{ServerConfig, TlsMode};
use crate::control::{accept_tls, ControlStream, TcpControlStream};
use crate::defender::{Defender, DefenderSettings, Refusal, BANNED_TEXT};
use crate::limits::{ConnectionLimiter, LimitExceeded, UserSessions};
use crate::metrics::ServerMetrics;
use crate::quota::UnlimitedUsage;
use crate::session::Session;
use crate::tls::Tls;

/// What every session shares.
pub(crate) struct ServerContext {
    pub config: ServerConfig,
    pub store: Store,
    pub limiter: Arc<ConnectionLimiter>,
    /// Logged-in sessions per user.
    pub user_sessions: Arc<UserSessions>,
    pub shutdown: CancellationToken,
    pub metrics: Arc<ServerMetrics>,
    /// Bounds on-demand hashing server-wide.
    pub hash_permits: tokio::sync::Semaphore,
    /// Usage of users without limits, summed and written in batches.
    pub ledger: crate::quota::Ledger,
    /// This server's name in the shared store (`node_id`).
    pub node_id: String,
    /// Scores, bans and account locks per client address.
    pub defender: Arc<Defender>,
    /// Bounds SITE EXEC server-wide.
    pub exec_permits: tokio::sync::Semaphore,
    /// SITE EXEC commands running per user.
    pub exec_running: std::sync::Mutex<std::collections::HashMap<String, usize>>,
    /// Present when TLS is enabled (`tls` not `off`).
    pub tls: Option<Arc<Tls>>,
    next_session_id: AtomicU64,
}

/// A bound server, ready to run.
pub struct Server {
    ctx: Arc<ServerContext>,
    /// Control listeners, each flagged whether TLS starts at once (implicit FTPS).
    listeners: Vec<(TcpListener, bool)>,
    run_marker: crate::recovery::RunMarker,
}

/// Reloads the TLS certificate of a running server (SIGHUP).
#[derive(Clone)]
pub struct TlsReloader(Arc<Tls>);

impl TlsReloader {
    pub fn reload(&self) -> Result<crate::tls::CertInfo, crate::tls::TlsError> {
        self.0.reload()
    }
}

impl Server {
    /// Binds every configured control address (`[::]` falls back to `0.0.0.0` on hosts
    /// without IPv6) and the implicit-TLS listener, and loads the TLS certificate (a missing,
    /// unreadable, mismatched or expired certificate is an error naming the file).
    pub async fn bind(config: ServerConfig, store: Store) -> io::Result<Server> {
        let tls = match config.tls_mode() {
            TlsMode::Off => None,
            _ => Some(Arc::new(Tls::load(&config).map_err(|e| {
                io::Error::new(io::ErrorKind::InvalidData, e.to_string())
            })?)),
        };
        // This node runs no upload yet: what its journal holds was cut off by a crash.
        let node_id = config.node_id();
        let (run_marker, crashed) = crate::recovery::RunMarker::create(&config.data_dir, &node_id)?;
        if crashed {
            crate::recovery::sweep_orphaned_staging(store.clone(), &config);
        }
        let recovered = crate::recovery::recover_uploads(&store, &node_id).await?;
        if recovered.uploads > 0 {
            tracing::warn!(
                node = %node_id,
                uploads = recovered.uploads,
                kept_for_resume = recovered.kept,
                given_back = recovered.given_back,
                "resolved uploads interrupted by a crash"
            );
        }
        let mut listeners = Vec::new();
        for addr in &config.listen {
            let l = match TcpListener::bind(addr).await {
                Ok(l) => l,
                Err(e)
                    if addr.ip() == IpAddr::V6(std::net::Ipv6Addr::UNSPECIFIED)
                        && e.kind() != io::ErrorKind::AddrInUse =>
                {
                    tracing::warn!(error = %e, "IPv6 unavailable, listening on IPv4 only");
                    TcpListener::bind(SocketAddr::new(
                        IpAddr::V4(Ipv4Addr::UNSPECIFIED),
                        addr.port(),
                    ))
                    .await?
                }
                Err(e) => {
                    return Err(io::Error::new(
                        e.kind(),
                        format!("cannot listen on {addr}: {e}"),
                    ))
                }
            };
            listeners.push((l, false));
        }
        if let Some(addr) = config.implicit_tls_listen {
            if tls.is_none() {
                return Err(io::Error::new(
                    io::ErrorKind::InvalidInput,
                    "implicit_tls_listen needs TLS enabled (tls = optional or required)",
                ));
            }
            let l = TcpListener::bind(addr)
                .await
                .map_err(|e| io::Error::new(e.kind(), format!("cannot listen on {addr}: {e}")))?;
            listeners.push((l, true));
        }
        let defender_settings = DefenderSettings::from_config(&config)
            .map_err(|e| io::Error::new(io::ErrorKind::InvalidInput, e))?;
        let defender = Defender::new(defender_settings, store.clone());
        // Bans from before the restart (and from `ferryd ban add`) hold from the first accept.
        defender.sync_with_store().await;
        let limiter = ConnectionLimiter::new(config.max_connections, config.max_connections_per_ip);
        let config_max_per_user = config.max_connections_per_user;
        let hash_permits = tokio::sync::Semaphore::new(config.hash_workers.max(1));
        let ctx = Arc::new(ServerContext {
            hash_permits,
            defender,
            exec_permits: tokio::sync::Semaphore::new(config.site_exec.max_concurrent.max(1)),
            exec_running: Default::default(),
            ledger: crate::quota::Ledger::new(store.clone()),
            node_id,
            tls,
            metrics: Arc::new(ServerMetrics::default()),
            config,
            store,
            limiter,
            user_sessions: UserSessions::new(config_max_per_user),
            shutdown: CancellationToken::new(),
            next_session_id: AtomicU64::new(1),
        });
        Ok(Server {
            ctx,
            listeners,
            run_marker,
        })
    }

    /// Counters of this server (shared, live).
    pub fn metrics(&self) -> Arc<ServerMetrics> {
        Arc::clone(&self.ctx.metrics)
    }

    /// The addresses of the plain control listeners, in configuration order.
    pub fn local_addrs(&self) -> Vec<SocketAddr> {
        self.listeners
            .iter()
            .filter(|(_, implicit)| !implicit)
            .filter_map(|(l, _)| l.local_addr().ok())
            .collect()
    }

    /// The implicit-TLS listener's address, if configured.
    pub fn implicit_tls_addr(&self) -> Option<SocketAddr> {
        self.listeners
            .iter()
            .find(|(_, implicit)| *implicit)
            .and_then(|(l, _)| l.local_addr().ok())
    }

    /// A handle that reloads the certificate while the server runs (None without TLS).
    pub fn tls_reloader(&self) -> Option<TlsReloader> {
        self.ctx.tls.as_ref().map(|t| TlsReloader(Arc::clone(t)))
    }

    /// Serves until `shutdown` completes, then stops accepting, tells every session (`421`)
    /// and waits up to five seconds for them to end.
    pub async fn run_until(self, shutdown: impl Future<Output = ()>) -> io::Result<()> {
        let tracker = TaskTracker::new();
        for (l, implicit) in self.listeners {
            let ctx = Arc::clone(&self.ctx);
            let t = tracker.clone();
            tracing::info!(addr = %l.local_addr()?, implicit_tls = implicit, "listening");
            tracker.spawn(async move { accept_loop(l, implicit, ctx, t).await });
        }
        let defender = Arc::clone(&self.ctx.defender);
        let stop_syncing = self.ctx.shutdown.clone();
        let ban_sync = tokio::spawn(async move {
            // `ferryd ban add | del` write the store; a running server picks them up here.
            let mut tick = tokio::time::interval(Duration::from_secs(2));
            loop {
                tokio::select! {
                    _ = stop_syncing.cancelled() => return,
                    _ = tick.tick() => defender.sync_with_store().await,
                }
            }
        });
        let ctx = Arc::clone(&self.ctx);
        let stop_flushing = self.ctx.shutdown.clone();
        let flusher = tokio::spawn(async move {
            let mut tick = tokio::time::interval(UnlimitedUsage::FLUSH_EVERY);
            loop {
                tokio::select! {
                    _ = stop_flushing.cancelled() => return,
                    _ = tick.tick() => ctx.ledger.flush().await,
                }
            }
        });
        shutdown.await;
        tracing::info!("shutting down: no new connections, ending sessions");
        self.ctx.shutdown.cancel();
        tracker.close();
        if tokio::time::timeout(Duration::from_secs(5), tracker.wait())
            .await
            .is_err()
        {
            tracing::warn!("some sessions did not end within 5 s");
        }
        let _ = flusher.await;
        let _ = ban_sync.await;
        self.ctx.ledger.flush().await;
        self.ctx.store.close().await;
        self.run_marker.remove();
        Ok(())
    }
}

async fn accept_loop(
    listener: TcpListener,
    implicit_tls: bool,
    ctx: Arc<ServerContext>,
    tracker: TaskTracker,
) {
    loop {
        let accepted = tokio::select! {
            _ = ctx.shutdown.cancelled() => return,
            a = listener.accept() => a,
        };
        let (stream, peer) = match accepted {
            Ok(a) => a,
            Err(e) => {
                // Out of file descriptors or similar: back off instead of spinning.
                tracing::error!(error = %e, "accept failed");
                tokio::time::sleep(Duration::from_millis(100)).await;
                continue;
            }
        };
        // A banned address is turned away here, without a task: in a storm it reconnects
        // thousands of times a second, and each refusal must cost one write, not a session.
        if ctx.defender.refuses_at_once(peer.ip().to_canonical()) {
            // Closed, not reset: a reset can destroy the 421 before the client reads it, and
            // a user behind a banned address must be told why.
            let _ = stream.try_write(BANNED_REPLY.as_bytes());
            continue;
        }
        let ctx = Arc::clone(&ctx);
        tracker.spawn(async move { admit(stream, peer, implicit_tls, ctx).await });
    }
}

/// Encoded once: written for every refused connection of a banned address.
static BANNED_REPLY: std::sync::LazyLock<String> =
    std::sync::LazyLock::new(|| Reply::new(421, BANNED_TEXT).encode());

async fn admit(
    mut stream: TcpStream,
    peer: SocketAddr,
    implicit_tls: bool,
    ctx: Arc<ServerContext>,
) {
    let peer = SocketAddr::new(peer.ip().to_canonical(), peer.port());
    let prelogin = match ctx.defender.admit(peer.ip()) {
        Ok(p) => p,
        Err(Refusal::Banned) => {
            let _ = stream.write_all(BANNED_REPLY.as_bytes()).await;
            return;
        }
        Err(Refusal::TooManyPreLogin) => {
            let text = "Too many connections from your address waiting to log in.";
            let _ = stream
                .write_all(Reply::new(421, text).encode().as_bytes())
                .await;
            return;
        }
    };
    let permit = match ctx.limiter.try_acquire(peer.ip()) {
        Ok(p) => p,
        Err(which) => {
            let text = match which {
                LimitExceeded::Total => "Too many connections, try again later.",
                LimitExceeded::PerIp => "Too many connections from your address.",
            };
            tracing::warn!(%peer, "connection refused: {text}");
            let _ = stream
                .write_all(Reply::new(421, text).encode().as_bytes())
                .await;
            return;
        }
    };
    // Replies are small and each waits for the previous: without NODELAY every 226 after a
    // small transfer would sit ~40 ms in Nagle's buffer waiting for a delayed ACK.
    let _ = stream.set_nodelay(true);
    // ftplib sends ABOR as urgent data; inline it so the command's last byte is not lost.
    let _ = rustix::net::sockopt::set_socket_oobinline(&stream, true);
    let id = ctx.next_session_id.fetch_add(1, Ordering::Relaxed);
    let Ok(local) = stream.local_addr() else {
        return;
    };
    let local = SocketAddr::new(local.ip().to_canonical(), local.port());
    let session_tls = ctx.tls.as_ref().map(|t| t.session_config());
    let mut control = ControlStream::Plain(TcpControlStream(stream));
    if implicit_tls {
        let (Some(config), ControlStream::Plain(plain)) = (session_tls.clone(), control) else {
            return;
        };
        match accept_tls(plain, config, ctx.config.tls_handshake_timeout()).await {
            Ok((tls, summary)) => {
                tracing::info!(%peer, version = summary.version, cipher = summary.cipher, sni = ?summary.sni, "implicit TLS established");
                control = tls;
            }
            Err(e) => {
                ctx.metrics
                    .tls_handshake_failures
                    .fetch_add(1, Ordering::Relaxed);
                tracing::warn!(%peer, error = %e, "implicit TLS handshake failed");
                return;
            }
        }
    }
    Session::run(
        ctx,
        control,
        implicit_tls,
        session_tls,
        peer,
        local,
        id,
        permit,
        prelogin,
    )
    .await;
}
