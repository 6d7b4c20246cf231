//! One control connection: the session state, owned by its task, and the control loop.
//!
//! The loop waits on three things at once: the next command line, the running transfer (if
//! any), and server shutdown. A transfer never blocks the loop, so ABOR, STAT, NOOP and QUIT
//! are answered while bytes move; any other command waits for the transfer's final reply
//! first, which keeps replies in order for clients that pipeline.

use std::future::pending;
use std::io;
use std::net::SocketAddr;
use std::sync::atomic::Ordering;
use std::sync::Arc;
use std::time::Instant;

use ferry_proto::hash::HashAlgo;
use ferry_proto::{Command, Reply, TransferType};
use ferry_store::User;
use ferry_vfs::{Home, VirtualPath};
use tracing::Instrument;

use crate::commands::{self, Next};
use crate::config::{SessionReuse, TlsMode};
use crate::control::{Control, ControlStream, Line};
use crate::data::{DataConnector, DataPlan, DataTls};
use crate::defender::{Offence, PreLogin};
use crate::errors::bad_path_reply;
use crate::limits::{ConnectionPermit, UserPermit};
use crate::server::ServerContext;
use crate::transfer::{RunningTransfer, TransferKind, TransferReport};

/// A logged-in user and their jail.
pub(crate) struct Account {
    pub user: User,
    pub home: Home,
    /// Counts this session against the user's cap until the account is dropped (REIN,
    /// QUIT, disconnect).
    pub _permit: UserPermit,
}

pub(crate) enum AuthState {
    /// Waiting for USER.
    Fresh,
    /// USER given, waiting for PASS.
    UserGiven(String),
    /// SITE REGISTER accepted, waiting for the new account's password.
    Registering(crate::commands::Registration),
    LoggedIn(Box<Account>),
}

pub(crate) struct Session {
    pub ctx: Arc<ServerContext>,
    pub ctrl: Control,
    /// This session's rustls configuration (own session cache), when the server has TLS.
    pub tls_config: Option<Arc<rustls::ServerConfig>>,
    /// PBSZ was accepted (RFC 4217 §8: it must precede PROT).
    pub pbsz_set: bool,
    /// PROT P: data connections are TLS.
    pub prot_private: bool,
    /// TLS is mandatory for this session: the global policy, then the user's own setting.
    pub tls_required: bool,
    pub peer: SocketAddr,
    pub local: SocketAddr,
    pub auth: AuthState,
    pub cwd: VirtualPath,
    /// REST offset for the next transfer command only.
    pub rest: Option<u64>,
    /// RANG byte range (inclusive) for the next RETR, STOR or HASH only.
    pub range: Option<(u64, u64)>,
    /// The algorithm HASH uses (OPTS HASH).
    pub hash_algo: HashAlgo,
    /// RNFR source, for the next command only if it is RNTO.
    pub rename_from: Option<VirtualPath>,
    pub transfer_type: TransferType,
    pub data: DataPlan,
    /// After `EPSV ALL`, only EPSV may set up data connections (RFC 2428 §4).
    pub epsv_all: bool,
    pub transfer: Option<RunningTransfer>,
    pub login_failures: u32,
    pub connected_at: Instant,
    /// Held until the login succeeds: counts this connection against its address's
    /// pre-login cap, and is cancelled when the address is banned.
    pub prelogin: Option<PreLogin>,
    _permit: ConnectionPermit,
}

enum Event {
    Line(io::Result<Line>),
    TransferDone(TransferReport),
    Timeout,
    /// The address was banned while this session had not logged in.
    Kicked,
    Shutdown,
}

enum Flow {
    Continue,
    Close,
}

impl Session {
    #[allow(clippy::too_many_arguments)]
    pub(crate) async fn run(
        ctx: Arc<ServerContext>,
        control: ControlStream,
        implicit_tls: bool,
        tls_config: Option<Arc<rustls::ServerConfig>>,
        peer: SocketAddr,
        local: SocketAddr,
        id: u64,
        permit: ConnectionPermit,
        prelogin: PreLogin,
    ) {
        let tls_required = ctx.config.tls_mode() == TlsMode::Required;
        let span = tracing::info_span!("session", id, %peer, user = tracing::field::Empty);
        let mut s = Session {
            ctx,
            ctrl: Control::new(control),
            tls_config,
            // Implicit FTPS protects data connections from the start, as clients expect.
            pbsz_set: implicit_tls,
            prot_private: implicit_tls,
            tls_required,
            peer,
            local,
            auth: AuthState::Fresh,
            cwd: VirtualPath::root(),
            rest: None,
            range: None,
            hash_algo: HashAlgo::Sha256,
            rename_from: None,
            transfer_type: TransferType::Image,
            data: DataPlan::None,
            epsv_all: false,
            transfer: None,
            login_failures: 0,
            connected_at: Instant::now(),
            prelogin: Some(prelogin),
            _permit: permit,
        };
        async move {
            tracing::info!("connected");
            let reason = match s.serve().await {
                Ok(reason) => reason,
                Err(e) => format!("control connection error: {}", e.kind()),
            };
            if let Some(t) = s.transfer.take() {
                t.cancel.cancel();
                let _ = t.handle.await;
            }
            s.ctrl.shutdown().await;
            tracing::info!(
                reason,
                duration_s = s.connected_at.elapsed().as_secs_f64(),
                "disconnected"
            );
        }
        .instrument(span)
        .await
    }

    /// The control loop; returns why the session ended.
    async fn serve(&mut self) -> io::Result<String> {
        let greeting = Reply::new(220, self.ctx.config.greeting.clone());
        self.ctrl.send(&greeting).await?;
        loop {
            match self.next_event().await {
                Event::Line(Ok(Line::Command(bytes))) => {
                    if let Flow::Close = self.handle_line(&bytes).await? {
                        return Ok("quit".into());
                    }
                }
                Event::Line(Ok(Line::TooLong)) => {
                    if !self.is_logged_in() {
                        // No client sends 4 KiB before logging in: hostile, and closed.
                        self.offence(Offence::LineTooLongBeforeLogin);
                        self.ctrl
                            .send(&Reply::new(500, "Command line too long; closing."))
                            .await?;
                        return Ok("over-long line before login".into());
                    }
                    self.ctrl
                        .send(&Reply::new(500, "Command line too long."))
                        .await?
                }
                Event::Line(Ok(Line::Eof)) => return Ok("client closed the connection".into()),
                Event::Line(Err(e)) => return Err(e),
                Event::TransferDone(report) => self.finish_transfer(report).await?,
                Event::Timeout => {
                    let text = if self.is_logged_in() {
                        "Idle timeout, closing control connection."
                    } else {
                        self.offence(Offence::LoginTimeout);
                        "Login timeout."
                    };
                    self.ctrl.send(&Reply::new(421, text)).await?;
                    return Ok(text.into());
                }
                Event::Kicked => {
                    self.ctrl
                        .send(&Reply::new(421, crate::defender::BANNED_TEXT))
                        .await?;
                    return Ok("address banned".into());
                }
                Event::Shutdown => {
                    self.ctrl
                        .send(&Reply::new(421, "Server shutting down."))
                        .await?;
                    return Ok("server shutdown".into());
                }
            }
        }
    }

    async fn next_event(&mut self) -> Event {
        let timeout = if self.is_logged_in() {
            self.ctx.config.idle_timeout()
        } else {
            self.ctx
                .config
                .login_timeout()
                .saturating_sub(self.connected_at.elapsed())
        };
        let transfer_running = self.transfer.is_some();
        let kicked = self.prelogin.as_ref().map(PreLogin::kicked);
        let transfer = &mut self.transfer;
        let ctrl = &mut self.ctrl;
        let shutdown = &self.ctx.shutdown;
        tokio::select! {
            biased;
            _ = shutdown.cancelled() => Event::Shutdown,
            _ = async { kicked.as_ref()?.cancelled().await; Some(()) }, if kicked.is_some() => Event::Kicked,
            report = wait_transfer(transfer) => Event::TransferDone(report),
            line = ctrl.next_line() => Event::Line(line),
            _ = tokio::time::sleep(timeout), if !transfer_running => Event::Timeout,
        }
    }

    async fn handle_line(&mut self, bytes: &[u8]) -> io::Result<Flow> {
        let cmd = match Command::parse(bytes) {
            Ok(c) => c,
            Err(e) => {
                if !self.is_logged_in() {
                    self.offence(Offence::GarbageBeforeLogin);
                }
                self.ctrl.send(&Reply::new(e.code(), e.to_string())).await?;
                return Ok(Flow::Continue);
            }
        };

        if self.transfer.is_some() {
            match cmd {
                Command::Abor => {
                    self.abort_transfer().await?;
                    return Ok(Flow::Continue);
                }
                Command::Stat(None) => {
                    let reply = self.transfer_status();
                    self.ctrl.send(&reply).await?;
                    return Ok(Flow::Continue);
                }
                Command::Noop => {
                    self.ctrl.send(&Reply::new(200, "NOOP ok.")).await?;
                    return Ok(Flow::Continue);
                }
                Command::Quit => {
                    if let Some(t) = self.transfer.take() {
                        t.cancel.cancel();
                        let _ = t.handle.await;
                    }
                    self.ctrl.send(&Reply::new(221, "Goodbye.")).await?;
                    return Ok(Flow::Close);
                }
                _ => {
                    let report = wait_transfer(&mut self.transfer).await;
                    self.finish_transfer(report).await?;
                }
            }
        }
        if !self.is_logged_in() && !cmd.allowed_before_login() {
            self.offence(match cmd {
                Command::Unknown(_) => Offence::GarbageBeforeLogin,
                _ => Offence::RefusedBeforeLogin,
            });
            self.ctrl
                .send(&Reply::new(530, "Please login with USER and PASS."))
                .await?;
            return Ok(Flow::Continue);
        }
        // RNFR must be immediately followed by RNTO (RFC 959 §4.1.3).
        if !matches!(cmd, Command::Rnto(_) | Command::Rnfr(_)) {
            self.rename_from = None;
        }
        let verb = cmd.verb().to_owned();
        match commands::dispatch(self, cmd).await? {
            Next::Reply(r) => {
                tracing::debug!(verb, code = r.code, "command");
                self.ctrl.send(&r).await?;
                Ok(Flow::Continue)
            }
            Next::Silent => Ok(Flow::Continue),
            Next::Close(r) => {
                self.ctrl.send(&r).await?;
                Ok(Flow::Close)
            }
            Next::StartTls(r) => {
                let Some(config) = self.tls_config.clone() else {
                    self.ctrl
                        .send(&Reply::new(502, "TLS is not configured on this server."))
                        .await?;
                    return Ok(Flow::Continue);
                };
                self.ctrl.send(&r).await?;
                match self
                    .ctrl
                    .start_tls(config, self.ctx.config.tls_handshake_timeout())
                    .await
                {
                    Ok(t) => {
                        tracing::info!(version = t.version, cipher = t.cipher, sni = ?t.sni, "TLS established");
                        Ok(Flow::Continue)
                    }
                    Err(e) => {
                        self.ctx
                            .metrics
                            .tls_handshake_failures
                            .fetch_add(1, Ordering::Relaxed);
                        tracing::warn!(error = %e, "TLS handshake failed");
                        // The stream is in an unknown state: nothing more can be said on it.
                        Ok(Flow::Close)
                    }
                }
            }
        }
    }

    fn transfer_status(&self) -> Reply {
        match &self.transfer {
            Some(t) => Reply::new(
                213,
                format!(
                    "Status: {} {}, {} bytes transferred in {:.1} s.",
                    t.verb,
                    t.path,
                    t.progress.load(Ordering::Relaxed),
                    t.elapsed().as_secs_f64()
                ),
            ),
            None => Reply::new(213, "No transfer in progress."),
        }
    }

    /// ABOR during a transfer: stop it now, then `426` for the transfer and `226` for ABOR.
    /// If the transfer had already finished, its own reply goes first and ABOR gets `226`.
    async fn abort_transfer(&mut self) -> io::Result<()> {
        if let Some(t) = &self.transfer {
            t.cancel.cancel();
        }
        let report = wait_transfer(&mut self.transfer).await;
        self.finish_transfer(report).await?;
        self.ctrl
            .send(&Reply::new(226, "ABOR command successful."))
            .await
    }

    async fn finish_transfer(&mut self, report: TransferReport) -> io::Result<()> {
        if let Some(t) = self.transfer.take() {
            let secs = t.elapsed().as_secs_f64();
            tracing::info!(
                verb = t.verb,
                path = %t.path,
                bytes = report.bytes,
                duration_s = secs,
                mib_per_s = report.bytes as f64 / (1 << 20) as f64 / secs.max(1e-6),
                result = report.result,
                "transfer"
            );
        }
        self.ctrl.send(&report.reply).await
    }

    /// Adds to this session's address score (see defender.rs). A ban that follows ends
    /// this session too when it has not logged in (its pre-login token is cancelled).
    pub(crate) fn offence(&self, offence: Offence) {
        self.ctx.defender.record(self.peer.ip(), offence);
    }

    pub(crate) fn is_logged_in(&self) -> bool {
        matches!(self.auth, AuthState::LoggedIn(_))
    }

    pub(crate) fn account(&self) -> Option<&Account> {
        match &self.auth {
            AuthState::LoggedIn(a) => Some(a),
            _ => None,
        }
    }

    /// Resolves a path argument through the jail: the user's home and the virtual path,
    /// or the reply refusing it.
    pub(crate) fn target(&self, arg: &str) -> Result<(Home, VirtualPath), Reply> {
        let account = self
            .account()
            .ok_or_else(|| Reply::new(530, "Please login with USER and PASS."))?;
        let path = VirtualPath::resolve(&self.cwd, arg).map_err(|_| bad_path_reply())?;
        Ok((account.home.clone(), path))
    }

    /// Takes this user's SITE EXEC slot (at most `max_per_user` commands at once across all
    /// their sessions); released when the guard drops.
    pub(crate) fn exec_slot(&self) -> Option<ExecSlot> {
        let user = self.account()?.user.name.clone();
        let mut running = self
            .ctx
            .exec_running
            .lock()
            .unwrap_or_else(|p| p.into_inner());
        let n = running.entry(user.clone()).or_insert(0);
        if *n >= self.ctx.config.site_exec.max_per_user.max(1) {
            return None;
        }
        *n += 1;
        Some(ExecSlot {
            ctx: Arc::clone(&self.ctx),
            user,
        })
    }

    /// Credits removed bytes and files to the user's quota ledger. The file operation has
    /// happened already, so a store failure is logged (a rescan repairs it), not reported.
    pub(crate) async fn release_usage(&self, bytes: u64, files: u64) {
        if let Some(a) = self.account() {
            self.ctx.ledger.release(a.user.id, bytes, files).await;
        }
    }

    /// Why a transfer command cannot start, checked before it touches any file: no PORT/PASV
    /// prepared a data connection, or TLS is required and data connections are not protected.
    pub(crate) fn missing_data_plan(&self) -> Option<Reply> {
        if self.tls_required && !self.prot_private {
            return Some(Reply::new(
                521,
                "Data connections must be protected: send PBSZ 0 and PROT P.",
            ));
        }
        matches!(self.data, DataPlan::None)
            .then(|| Reply::new(425, "Use PORT, EPRT, PASV or EPSV first."))
    }

    /// Sends the `150`, then runs the transfer as a child task; its final reply comes later.
    pub(crate) async fn start_transfer(
        &mut self,
        kind: TransferKind,
        verb: &'static str,
        path: &VirtualPath,
        opening: String,
        success: String,
    ) -> io::Result<Next> {
        // Handlers check this before opening files; checked again so no path can skip it.
        if let Some(refusal) = self.missing_data_plan() {
            self.data = DataPlan::None;
            return Ok(refusal.into());
        }
        let plan = std::mem::take(&mut self.data);
        let connector = DataConnector {
            plan,
            peer_ip: self.peer.ip(),
            local_ip: self.local.ip(),
            timeout: self.ctx.config.data_timeout(),
        };
        let tls = match (&self.tls_config, self.prot_private) {
            (Some(config), true) => Some(DataTls {
                config: if matches!(kind, TransferKind::Receive(_)) {
                    crate::tls::quiet_config(config)
                } else {
                    Arc::clone(config)
                },
                require_reuse: self.ctx.config.tls_session_reuse == SessionReuse::Require,
                handshake_timeout: self.ctx.config.tls_handshake_timeout(),
            }),
            _ => None,
        };
        self.ctrl.send(&Reply::new(150, opening)).await?;
        self.transfer = Some(RunningTransfer::spawn(
            Arc::clone(&self.ctx),
            connector,
            tls,
            kind,
            verb,
            path.display(),
            success,
        ));
        Ok(Next::Silent)
    }

    pub(crate) fn mode_name(&self) -> &'static str {
        match self.transfer_type {
            TransferType::Ascii => "ASCII",
            TransferType::Image => "BINARY",
        }
    }
}

async fn wait_transfer(transfer: &mut Option<RunningTransfer>) -> TransferReport {
    match transfer {
        Some(t) => match (&mut t.handle).await {
            Ok(report) => report,
            Err(e) => {
                tracing::error!(error = %e, "transfer task failed");
                TransferReport {
                    reply: Reply::new(451, "Local error in processing."),
                    bytes: 0,
                    result: "panic",
                }
            }
        },
        None => pending().await,
    }
}

/// Runs a short blocking file-system operation (open, stat, rename, mkdir) without stalling
/// the runtime, through [`in_place`]. Against `spawn_blocking`, which wakes a pool thread and
/// then this task again for every call, the bench's small files took 12% less CPU and ran
/// ~15% faster. Long work (hashing a file) goes to [`offload`].
pub(crate) async fn blocking<T: Send + 'static>(
    f: impl FnOnce() -> io::Result<T> + Send + 'static,
) -> io::Result<T> {
    in_place(f)
        .await
        .unwrap_or_else(|| Err(io::Error::other("file-system call panicked")))
}

/// Short blocking work on this task's thread: `block_in_place` hands the worker's other tasks
/// away meanwhile, and lets `f` use `Handle::block_on` (the quota ledger). A current-thread
/// runtime cannot do that, so there it goes to the blocking pool. None if `f` panicked.
pub(crate) async fn in_place<T: Send + 'static>(
    f: impl FnOnce() -> T + Send + 'static,
) -> Option<T> {
    match tokio::runtime::Handle::current().runtime_flavor() {
        tokio::runtime::RuntimeFlavor::MultiThread => Some(tokio::task::block_in_place(f)),
        _ => tokio::task::spawn_blocking(f).await.ok(),
    }
}

/// Runs long blocking work on the blocking pool.
pub(crate) async fn offload<T: Send + 'static>(
    f: impl FnOnce() -> io::Result<T> + Send + 'static,
) -> io::Result<T> {
    tokio::task::spawn_blocking(f)
        .await
        .unwrap_or_else(|e| Err(io::Error::other(e)))
}

/// One running SITE EXEC of a user.
pub(crate) struct ExecSlot {
    ctx: Arc<ServerContext>,
    user: String,
}

impl Drop for ExecSlot {
    fn drop(&mut self) {
        let mut running = self
            .ctx
            .exec_running
            .lock()
            .unwrap_or_else(|p| p.into_inner());
        if let Some(n) = running.get_mut(&self.user) {
            *n = n.saturating_sub(1);
            if *n == 0 {
                running.remove(&self.user);
            }
        }
    }
}
