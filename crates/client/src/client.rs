//! One logged-in FTP session: connect, log in, learn the server's features, run commands.
//! A failure that leaves the control stream in an unknown state (a timeout, a dropped
//! connection) discards the connection, so the next command cannot read a stale reply; the
//! caller can [`Client::reconnect`] and carry on in the same directory.

use std::time::Duration;

use ferry_proto::hash::{parse_hash_reply, HashAlgo};
use ferry_proto::Reply;

use crate::control::Control;
use crate::credentials::Credentials;
use crate::error::{Error, Result};
use crate::features::Features;
use crate::files::backoff;
use crate::progress::{Progress, Silent};
use crate::tls::{TlsContext, TlsMode, TlsOptions};
use crate::verify::DigestMethod;

/// How strictly transfers are verified.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum VerifyMode {
    /// Compare digests when the server offers one; otherwise trust sizes and say so.
    #[default]
    Auto,
    /// Fail when the server offers no digest.
    Required,
    /// Never compute digests (sizes only).
    Off,
}

#[derive(Debug, Clone)]
pub struct ClientOptions {
    /// Connect and reply timeout; also the longest a data connection may stall.
    pub timeout: Duration,
    /// Active mode (the server connects to us) instead of passive.
    pub active: bool,
    pub verify: VerifyMode,
    /// Reconnections after a transient failure before giving up.
    pub retries: u32,
    /// Bytes per second, when the user limits the rate.
    pub rate_limit: Option<u64>,
    /// FTPS: when to use it and what to trust.
    pub tls: TlsOptions,
}

impl Default for ClientOptions {
    fn default() -> Self {
        ClientOptions {
            timeout: Duration::from_secs(30),
            active: false,
            verify: VerifyMode::Auto,
            retries: 3,
            rate_limit: None,
            tls: TlsOptions::default(),
        }
    }
}

#[derive(Debug)]
pub struct Client {
    ctrl: Option<Control>,
    pub opts: ClientOptions,
    authority: String,
    credentials: Credentials,
    pub(crate) features: Features,
    /// The digest used to verify transfers (None with `--verify off`).
    pub(crate) digest: Option<DigestMethod>,
    /// The digest the server offers, whatever the verify mode (for `hash`).
    offered: Option<DigestMethod>,
    /// The algorithm `HASH` currently computes on the server (after `OPTS HASH`).
    hash_selected: Option<HashAlgo>,
    pub(crate) epsv_refused: bool,
    /// The remote directory to return to after a reconnection.
    cwd: Option<String>,
    /// The "checking by size only" note was given (it is said once per session).
    pub(crate) said_size_only: bool,
    pub greeting: Reply,
    /// The TLS configuration for this server, built on first use and kept (with its session
    /// cache) for the data connections and reconnections.
    tls_ctx: Option<TlsContext>,
    /// The control connection is TLS.
    tls_active: bool,
    /// Data connections are TLS (`PROT P` accepted).
    pub(crate) prot_private: bool,
    /// `SITE REGISTER` instead of `USER` at the next login: the invitation token, if any.
    registration: Option<Option<String>>,
}

impl Client {
    /// Connects to `authority` (`host:port`) and logs in.
    pub async fn connect(
        authority: &str,
        credentials: Credentials,
        opts: ClientOptions,
    ) -> Result<Client> {
        Client::connect_with(authority, credentials, opts, None, &Silent).await
    }

    /// Connects to `authority` and creates the account `credentials.user` with its password
    /// (`SITE REGISTER`, Ferry's own; `token` for servers that want an invitation), which
    /// also logs in. Later reconnections log in normally.
    pub async fn register(
        authority: &str,
        credentials: Credentials,
        token: Option<String>,
        opts: ClientOptions,
    ) -> Result<Client> {
        Client::connect_with(authority, credentials, opts, Some(token), &Silent).await
    }

    /// [`Client::connect`] (or [`Client::register`], with `registration` = Some(token)),
    /// telling `progress` of each retry while the server is busy.
    pub async fn connect_with(
        authority: &str,
        credentials: Credentials,
        opts: ClientOptions,
        registration: Option<Option<String>>,
        progress: &dyn Progress,
    ) -> Result<Client> {
        let mut c = Client {
            ctrl: None,
            opts,
            authority: authority.to_owned(),
            credentials,
            features: Features::default(),
            digest: None,
            offered: None,
            hash_selected: None,
            epsv_refused: false,
            cwd: None,
            said_size_only: false,
            greeting: Reply::new(220, ""),
            tls_ctx: None,
            tls_active: false,
            prot_private: false,
            registration,
        };
        c.establish(progress).await?;
        Ok(c)
    }

    /// Connects and logs in, again after a pause when the server is busy or drops us (a
    /// `421 Too many connections` greeting, a `421` at login, a connection closed before the
    /// login completed), up to `retries` times with the transfers' backoff. A refused or
    /// unreachable address fails at once: waiting would not change it.
    async fn establish(&mut self, progress: &dyn Progress) -> Result<()> {
        let mut attempt = 0;
        loop {
            let r = match self.open_control().await {
                Ok(()) => self.login().await,
                Err(e) => Err(e),
            };
            match r {
                Err(e) if e.is_busy_or_dropped() && attempt < self.opts.retries => {
                    self.ctrl = None;
                    attempt += 1;
                    let wait = backoff(attempt);
                    progress.note(&format!(
                        "{}: {e}; retrying in {:.1}s (attempt {attempt} of {})",
                        self.authority,
                        wait.as_secs_f64(),
                        self.opts.retries
                    ));
                    tokio::time::sleep(wait).await;
                }
                Err(e) => {
                    self.ctrl = None;
                    return Err(e);
                }
                Ok(()) => return Ok(()),
            }
        }
    }

    /// The TLS configuration, built on first use.
    fn tls_context(&mut self) -> Result<TlsContext> {
        if let Some(ctx) = &self.tls_ctx {
            return Ok(ctx.clone());
        }
        let host = host_of(&self.authority);
        let ctx = TlsContext::new(&self.opts.tls, &host, &self.authority)?;
        self.tls_ctx = Some(ctx.clone());
        Ok(ctx)
    }

    /// Connects the control connection, with TLS as the options say: from the start
    /// (implicit), or by `AUTH TLS` (`auto`: when the server accepts it; `require`: or fail).
    async fn open_control(&mut self) -> Result<()> {
        let t = self.opts.timeout;
        self.ctrl = None;
        self.tls_active = false;
        self.prot_private = false;
        if self.opts.tls.implicit {
            let ctx = self.tls_context()?;
            let (ctrl, greeting) = Control::connect(&self.authority, t, Some(&ctx)).await?;
            self.ctrl = Some(ctrl);
            self.greeting = greeting;
            self.tls_active = true;
            return Ok(());
        }
        let (mut ctrl, greeting) = Control::connect(&self.authority, t, None).await?;
        self.greeting = greeting;
        let mode = self.opts.tls.mode;
        if mode != TlsMode::Off {
            let r = ctrl.cmd("AUTH TLS").await?;
            if r.code == 234 {
                let ctx = self.tls_context()?;
                ctrl = ctrl.upgrade(&ctx).await?;
                self.tls_active = true;
                self.remember_tls();
            } else if let Some(file) = self.spoke_tls_before() {
                return Err(Error::Tls(format!(
                    "{authority} spoke TLS before (recorded in {file}), but now does not offer                      it (AUTH TLS: {code} {text}). Someone between you and the server may be                      stripping TLS, so the password is not sent in clear. If the server really                      stopped offering TLS, run with --tls off, or remove the line for                      {authority} from {file}",
                    authority = self.authority,
                    file = file.display(),
                    code = r.code,
                    text = r.lines.join(" ").trim()
                )));
            } else if mode == TlsMode::Require {
                return Err(Error::Tls(format!(
                    "{} does not offer TLS (AUTH TLS: {} {}), and --tls require forbids plain FTP",
                    self.authority,
                    r.code,
                    r.lines.join(" ").trim()
                )));
            }
        }
        self.ctrl = Some(ctrl);
        Ok(())
    }

    /// Records in known_hosts that the server spoke TLS (HSTS-like; see [`crate::tls`]). Not
    /// under `--insecure`, whose handshake proves nothing about who answered. A file that
    /// cannot be written costs the protection, not the session (the binary checks and says so).
    fn remember_tls(&self) {
        if self.opts.tls.insecure {
            return;
        }
        if let Some(file) = &self.opts.tls.known_hosts {
            let _ = crate::tls::remember_tls(file, &self.authority);
        }
    }

    /// The known_hosts file that says this server spoke TLS before, if it does.
    fn spoke_tls_before(&self) -> Option<&std::path::Path> {
        self.opts
            .tls
            .known_hosts
            .as_deref()
            .filter(|f| crate::tls::spoke_tls_before(f, &self.authority))
    }

    /// Whether the control connection is encrypted.
    pub fn is_tls(&self) -> bool {
        self.tls_active
    }

    /// Whether data connections are encrypted (`PROT P`).
    pub fn is_data_tls(&self) -> bool {
        self.prot_private
    }

    /// The TLS set-up for data connections, when they are encrypted.
    pub(crate) fn data_tls(&self) -> Option<&TlsContext> {
        self.tls_ctx.as_ref().filter(|_| self.prot_private)
    }

    async fn login(&mut self) -> Result<()> {
        let user = self.credentials.user.clone();
        // Kept until the server accepts it: a login retried after a 421 registers again.
        let r = match self.registration.clone() {
            Some(token) => {
                let line = match token {
                    Some(t) => format!("SITE REGISTER {user} {t}"),
                    None => format!("SITE REGISTER {user}"),
                };
                let r = self.ctrl()?.cmd(&line).await?;
                if r.code == 421 {
                    return Err(Error::server("SITE REGISTER", &r));
                }
                if r.code != 331 {
                    return Err(Error::Login(format!(
                        "registration refused: {} {}",
                        r.code,
                        r.lines.join(" ").trim()
                    )));
                }
                let pass = self.credentials.password.clone();
                let r = self.ctrl()?.cmd(&format!("PASS {pass}")).await?;
                if r.code != 230 {
                    return Err(Error::Login(format!(
                        "registration refused: {} {}",
                        r.code,
                        r.lines.join(" ").trim()
                    )));
                }
                r
            }
            None => self.ctrl()?.cmd(&format!("USER {user}")).await?,
        };
        let r = match r.code {
            230 => r,
            331 => {
                let pass = self.credentials.password.clone();
                self.ctrl()?.cmd(&format!("PASS {pass}")).await?
            }
            _ => return Err(login_error("USER", &r)),
        };
        if r.code != 230 && r.code != 202 {
            return Err(login_error("PASS", &r));
        }
        self.registration = None;
        if self.tls_active {
            // RFC 4217 §9: PBSZ 0 then PROT P; sent after the login, as curl and lftp do,
            // since some servers only take them then.
            let pbsz = self.ctrl()?.cmd("PBSZ 0").await?;
            let prot = if pbsz.is_positive_completion() {
                Some(self.ctrl()?.cmd("PROT P").await?)
            } else {
                None
            };
            match prot {
                Some(r) if r.is_positive_completion() => self.prot_private = true,
                other => {
                    let r = other.unwrap_or(pbsz);
                    if self.opts.tls.mode == TlsMode::Require || self.opts.tls.implicit {
                        return Err(Error::Tls(format!(
                            "{} refuses encrypted data connections ({} {})",
                            self.authority,
                            r.code,
                            r.lines.join(" ").trim()
                        )));
                    }
                }
            }
        }
        let feat = self.ctrl()?.cmd("FEAT").await?;
        self.features = Features::parse(&feat);
        self.hash_selected = self.features.hash_selected;
        if self.features.has("UTF8") {
            // Some servers only send UTF-8 names after this; a refusal changes nothing.
            let _ = self.ctrl()?.cmd("OPTS UTF8 ON").await?;
        }
        if let Some(opts) = self.features.mlst_opts_for_mode() {
            // Listings then carry permissions; a refusal only leaves them out.
            let _ = self.ctrl()?.cmd(&opts).await?;
        }
        // Binary always: ASCII mode would change the bytes (and their digest).
        self.ctrl()?.cmd_ok("TYPE I").await?;
        self.offered = DigestMethod::choose(&self.features);
        self.digest = match self.opts.verify {
            VerifyMode::Off => None,
            _ => self.offered,
        };
        Ok(())
    }

    /// Opens a new connection to the same server as the same user, back in the directory the
    /// old one was in.
    pub async fn reconnect(&mut self) -> Result<()> {
        self.reconnect_with(&Silent).await
    }

    /// [`Client::reconnect`], telling `progress` of each retry while the server is busy.
    pub async fn reconnect_with(&mut self, progress: &dyn Progress) -> Result<()> {
        self.epsv_refused = false;
        self.establish(progress).await?;
        if let Some(dir) = self.cwd.clone() {
            self.ctrl()?.cmd_ok(&format!("CWD {dir}")).await?;
        }
        Ok(())
    }

    /// Makes sure the next command has a live session: reconnects (back in the same
    /// directory) when the connection was lost, or when the server closed it meanwhile, e.g.
    /// after its idle timeout, so the command runs instead of failing once first.
    pub async fn ensure_connected(&mut self, progress: &dyn Progress) -> Result<()> {
        if let Some(ctrl) = self.ctrl.as_mut() {
            match ctrl.closed_by_server().await {
                None => return Ok(()),
                Some(why) => {
                    self.ctrl = None;
                    progress.note(&format!("{why}: reconnecting"));
                }
            }
        }
        self.reconnect_with(progress).await
    }

    pub fn is_connected(&self) -> bool {
        self.ctrl.is_some()
    }

    pub fn user(&self) -> &str {
        &self.credentials.user
    }

    pub fn authority(&self) -> &str {
        &self.authority
    }

    pub fn features(&self) -> &Features {
        &self.features
    }

    pub fn digest_method(&self) -> Option<DigestMethod> {
        self.digest
    }

    pub(crate) fn ctrl(&mut self) -> Result<&mut Control> {
        self.ctrl.as_mut().ok_or(Error::NotConnected)
    }

    /// Drops the connection when `r` failed in a way that leaves it unusable.
    pub(crate) fn settle<T>(&mut self, r: Result<T>) -> Result<T> {
        if let Err(e) = &r {
            if matches!(
                e,
                Error::Network(_) | Error::Timeout { .. } | Error::Protocol(_)
            ) || e.code() == Some(421)
            {
                self.ctrl = None;
            }
        }
        r
    }

    pub(crate) fn drop_connection(&mut self) {
        self.ctrl = None;
    }

    /// Sends any command line and returns the reply, whatever its code (`quote`).
    pub async fn quote(&mut self, line: &str) -> Result<Reply> {
        let r = self.ctrl()?.cmd(line).await;
        self.settle(r)
    }

    async fn simple(&mut self, line: &str) -> Result<Reply> {
        let r = self.ctrl()?.cmd_ok(line).await;
        self.settle(r)
    }

    pub async fn pwd(&mut self) -> Result<String> {
        let r = self.simple("PWD").await?;
        let dir = parse_pwd(&r.text()).ok_or_else(|| {
            Error::Protocol(format!(
                "unreadable PWD reply: {}",
                crate::names::printable(&r.text())
            ))
        })?;
        // The directory is shown in prompts and reused in commands: escape sequences or a
        // line break in it are the server's attack, not a path.
        if dir.chars().any(char::is_control) {
            return Err(Error::Protocol(format!(
                "the server's current directory holds control characters: {}",
                crate::names::printable(&dir)
            )));
        }
        Ok(dir)
    }

    pub async fn cwd(&mut self, dir: &str) -> Result<()> {
        self.simple(&format!("CWD {dir}")).await?;
        // Remember where we are as an absolute path, for reconnections.
        self.cwd = self.pwd().await.ok();
        Ok(())
    }

    pub async fn cdup(&mut self) -> Result<()> {
        self.simple("CDUP").await?;
        self.cwd = self.pwd().await.ok();
        Ok(())
    }

    pub async fn mkdir(&mut self, dir: &str) -> Result<()> {
        self.simple(&format!("MKD {dir}")).await.map(drop)
    }

    pub async fn rmdir(&mut self, dir: &str) -> Result<()> {
        self.simple(&format!("RMD {dir}")).await.map(drop)
    }

    pub async fn delete(&mut self, path: &str) -> Result<()> {
        self.simple(&format!("DELE {path}")).await.map(drop)
    }

    pub async fn rename(&mut self, from: &str, to: &str) -> Result<()> {
        let r = self.ctrl()?.cmd(&format!("RNFR {from}")).await;
        let r = self.settle(r)?;
        if r.code != 350 {
            return Err(Error::server(format!("RNFR {from}"), &r));
        }
        self.simple(&format!("RNTO {to}")).await.map(drop)
    }

    pub async fn site(&mut self, args: &str) -> Result<Reply> {
        self.simple(&format!("SITE {args}")).await
    }

    /// `SITE EXEC name args` (Ferry's restricted commands): the command's output and exit.
    pub async fn site_exec(&mut self, name: &str, args: &[String]) -> Result<ExecOutput> {
        let mut line = format!("SITE EXEC {name}");
        for a in args {
            line.push(' ');
            line.push_str(a);
        }
        let r = self.simple(&line).await?;
        Ok(ExecOutput::from_reply(&r))
    }

    /// The size of a regular file; None when it does not exist (or is no file).
    pub async fn size(&mut self, path: &str) -> Result<Option<u64>> {
        let r = self.ctrl()?.cmd(&format!("SIZE {path}")).await;
        let r = self.settle(r)?;
        match r.code {
            213 => r
                .text()
                .trim()
                .parse()
                .map(Some)
                .map_err(|_| Error::Protocol(format!("unreadable SIZE reply: {}", r.text()))),
            550 => Ok(None),
            _ => Err(Error::server(format!("SIZE {path}"), &r)),
        }
    }

    /// The modification time of a remote file in Unix seconds (`MDTM`, RFC 3659), when the
    /// server offers it and knows the file.
    pub async fn modified(&mut self, path: &str) -> Result<Option<i64>> {
        if !self.features.has("MDTM") {
            return Ok(None);
        }
        let r = self.quote(&format!("MDTM {path}")).await?;
        Ok((r.code == 213)
            .then(|| ferry_proto::time::parse_mdtm(r.text().trim()))
            .flatten())
    }

    /// Sets the modification time of a remote file (`MFMT`,
    /// draft-somers-ftp-mfxx), when the server offers it; whether it did.
    pub async fn set_modified(&mut self, path: &str, unix: i64) -> Result<bool> {
        if !self.features.has("MFMT") {
            return Ok(false);
        }
        let time = ferry_proto::time::format_mdtm(unix);
        let r = self.quote(&format!("MFMT {time} {path}")).await?;
        Ok(r.code == 213)
    }

    /// Whether `path` is a directory we can enter (CWD there and back).
    pub async fn is_dir(&mut self, path: &str) -> Result<bool> {
        let here = self.pwd().await?;
        let r = self.ctrl()?.cmd(&format!("CWD {path}")).await;
        let r = self.settle(r)?;
        if r.code != 250 && r.code != 200 {
            return Ok(false);
        }
        self.simple(&format!("CWD {here}")).await?;
        Ok(true)
    }

    /// The bytes the server will still accept (`AVBL`), when it says.
    pub async fn available(&mut self, path: Option<&str>) -> Result<Option<u64>> {
        if !self.features.has("AVBL") {
            return Ok(None);
        }
        let line = match path {
            Some(p) => format!("AVBL {p}"),
            None => "AVBL".to_owned(),
        };
        let r = self.quote(&line).await?;
        Ok((r.code == 213)
            .then(|| r.text().trim().parse().ok())
            .flatten())
    }

    /// Announces an upload of `size` bytes (`ALLO`), so a quota refusal (`552`) comes before
    /// any byte moves; a server without quotas may not know the command, which is fine.
    pub async fn allocate(&mut self, size: u64) -> Result<()> {
        let r = self.quote(&format!("ALLO {size}")).await?;
        if r.code == 552 || r.code == 452 {
            return Err(Error::server(format!("ALLO {size}"), &r));
        }
        Ok(())
    }

    /// The server's digest of `path`, or of the bytes `start..end` of it. None when this
    /// server offers no way (or not for ranges).
    pub async fn remote_digest(
        &mut self,
        path: &str,
        range: Option<(u64, u64)>,
    ) -> Result<Option<(HashAlgo, String)>> {
        let Some(method) = self.offered else {
            return Ok(None);
        };
        if range.is_some() && !method.supports_ranges() {
            return Ok(None);
        }
        let r = self.digest_inner(method, path, range).await;
        self.settle(r)
    }

    async fn digest_inner(
        &mut self,
        method: DigestMethod,
        path: &str,
        range: Option<(u64, u64)>,
    ) -> Result<Option<(HashAlgo, String)>> {
        match method {
            DigestMethod::Hash { algo, .. } => {
                if self.hash_selected != Some(algo) {
                    self.ctrl()?
                        .cmd_ok(&format!("OPTS HASH {}", algo.name()))
                        .await?;
                    self.hash_selected = Some(algo);
                }
                if let Some((start, end)) = range {
                    if end == start {
                        return Ok(Some((algo, empty_digest(algo))));
                    }
                    let r = self
                        .ctrl()?
                        .cmd(&format!("RANG {start} {}", end - 1))
                        .await?;
                    if r.code != 350 {
                        return Err(Error::server("RANG", &r));
                    }
                }
                let r = self.ctrl()?.cmd(&format!("HASH {path}")).await?;
                match r.code {
                    213 => {
                        let (got, s, e, hex) = parse_hash_reply(&r.text()).ok_or_else(|| {
                            Error::Protocol(format!("unreadable HASH reply: {}", r.text()))
                        })?;
                        if got != algo {
                            return Err(Error::Protocol(format!(
                                "asked for {algo}, the server answered {got}"
                            )));
                        }
                        if let Some((start, end)) = range {
                            if (s, e) != (start, end) {
                                return Err(Error::Protocol(format!(
                                    "asked for the digest of bytes {start}-{end}, got {s}-{e}"
                                )));
                            }
                        }
                        Ok(Some((algo, hex)))
                    }
                    // 556: the server will not hash a file this large; 504/502: not this one.
                    556 | 502 | 504 => Ok(None),
                    _ => Err(Error::server(format!("HASH {path}"), &r)),
                }
            }
            DigestMethod::Legacy(algo) => {
                let line = match range {
                    Some((s, e)) => format!("{} {path} {s} {e}", algo.legacy_command()),
                    None => format!("{} {path}", algo.legacy_command()),
                };
                if range.is_some_and(|(s, e)| s == e) {
                    return Ok(Some((algo, empty_digest(algo))));
                }
                let r = self.ctrl()?.cmd(&line).await?;
                match r.code {
                    // The digest is the first word; some servers add the path after it.
                    250 | 213 => {
                        let hex = r
                            .text()
                            .split_whitespace()
                            .next()
                            .unwrap_or("")
                            .to_ascii_lowercase();
                        if hex.is_empty() || !hex.bytes().all(|b| b.is_ascii_hexdigit()) {
                            return Err(Error::Protocol(format!(
                                "unreadable {} reply: {}",
                                algo.legacy_command(),
                                r.text()
                            )));
                        }
                        Ok(Some((algo, hex)))
                    }
                    556 | 502 | 504 => Ok(None),
                    _ => Err(Error::server(line, &r)),
                }
            }
        }
    }

    /// Says goodbye; errors do not matter any more.
    pub async fn quit(&mut self) {
        if let Some(c) = self.ctrl.as_mut() {
            let _ = c.cmd("QUIT").await;
        }
        self.ctrl = None;
    }
}

/// What `SITE EXEC` answered: `200-Output of NAME:`, the output lines (each prefixed with a
/// space), then `200 Exit code N.` (or why it was killed).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ExecOutput {
    pub output: Vec<String>,
    /// The last line: `Exit code 0.`, `Killed after 5 s (timeout).`, ...
    pub status: String,
    /// The command's exit code, when it exited by itself.
    pub exit_code: Option<i32>,
}

impl ExecOutput {
    pub fn from_reply(r: &Reply) -> ExecOutput {
        let n = r.lines.len();
        let status = r
            .lines
            .last()
            .map(|l| l.trim().to_owned())
            .unwrap_or_default();
        let output = if n >= 2 {
            let start = usize::from(r.lines[0].trim_end().ends_with(':'));
            r.lines[start..n - 1]
                .iter()
                .map(|l| l.strip_prefix(' ').unwrap_or(l).to_owned())
                .collect()
        } else {
            Vec::new()
        };
        let exit_code = status
            .strip_prefix("Exit code ")
            .and_then(|c| c.trim_end_matches('.').parse().ok());
        ExecOutput {
            output,
            status,
            exit_code,
        }
    }

    pub fn success(&self) -> bool {
        self.exit_code == Some(0)
    }
}

/// The host of `host:port` (`[v6]:port` gives the bare address).
fn host_of(authority: &str) -> String {
    let host = match authority.rsplit_once(':') {
        Some((h, p)) if p.bytes().all(|b| b.is_ascii_digit()) => h,
        _ => authority,
    };
    host.trim_start_matches('[')
        .trim_end_matches(']')
        .to_owned()
}

/// A refused login; a `421` (busy, shutting down) is the server's state, not the
/// credentials', and stays a server error so that it is retried.
fn login_error(command: &str, r: &Reply) -> Error {
    if r.code == 421 {
        return Error::server(command, r);
    }
    Error::Login(format!("{} {}", r.code, r.lines.join(" ").trim()))
}

fn empty_digest(algo: HashAlgo) -> String {
    ferry_transfer::Hasher::new(algo).finish_hex()
}

/// The directory in a `257 "/a ""quoted"" dir" is current` reply (RFC 959 Appendix II).
pub fn parse_pwd(text: &str) -> Option<String> {
    let start = text.find('"')? + 1;
    let mut out = String::new();
    let mut chars = text[start..].chars().peekable();
    while let Some(c) = chars.next() {
        if c == '"' {
            if chars.peek() == Some(&'"') {
                chars.next();
                out.push('"');
            } else {
                return Some(out);
            }
        } else {
            out.push(c);
        }
    }
    None
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn exec_replies() {
        let r = Reply::multi(
            200,
            vec![
                "Output of greet:".into(),
                " hello".into(),
                "  two".into(),
                "Exit code 0.".into(),
            ],
        );
        let o = ExecOutput::from_reply(&r);
        assert_eq!(o.output, vec!["hello", " two"]);
        assert!(o.success());
        let o = ExecOutput::from_reply(&Reply::multi(
            200,
            vec![
                "Output of slow:".into(),
                "Killed after 1 s (timeout).".into(),
            ],
        ));
        assert!(o.output.is_empty() && !o.success());
        assert_eq!(
            ExecOutput::from_reply(&Reply::new(200, "Exit code 3.")).exit_code,
            Some(3)
        );
        assert_eq!(host_of("[::1]:21"), "::1");
        assert_eq!(host_of("example.com:990"), "example.com");
    }

    #[test]
    fn pwd_replies() {
        assert_eq!(
            parse_pwd("\"/a \"\"b\"\"\" is current").as_deref(),
            Some("/a \"b\"")
        );
        assert_eq!(parse_pwd("\"/\"").as_deref(), Some("/"));
        assert_eq!(parse_pwd("no quotes"), None);
    }
}
