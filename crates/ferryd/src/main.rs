//! `ferryd`: the Ferry FTP server (`ferryd serve`) and its administration commands
//! (`ferryd user ...`). Thin: parses arguments and configuration, then calls the libraries.

mod ban;
mod privileges;

use std::io::{BufRead, IsTerminal};
use std::net::{IpAddr, SocketAddr};
use std::path::{Path, PathBuf};
use std::process::ExitCode;

use anyhow::{bail, Context, Result};
use clap::{Args, Parser, Subcommand};
use ferry_proto::size::{format_size, parse_size};
use ferry_server::{PortRange, Server, ServerConfig};
use ferry_store::{NewUser, Store, UserUpdate};

#[derive(Parser)]
#[command(
    name = "ferryd",
    version,
    about = "Ferry: a multi-user FTP server with jailed homes and hashed passwords"
)]
struct Cli {
    /// Data directory: ferry.db, homes/<user>/, and an optional ferry.toml.
    #[arg(long, global = true, env = "FERRY_DATA_DIR", value_name = "DIR")]
    data_dir: Option<PathBuf>,
    /// Configuration file (default: <data-dir>/ferry.toml when it exists).
    #[arg(long, global = true, env = "FERRY_CONFIG", value_name = "FILE")]
    config: Option<PathBuf>,
    #[command(subcommand)]
    command: Cmd,
}

#[derive(Subcommand)]
enum Cmd {
    /// Run the FTP server.
    Serve(ServeArgs),
    /// Manage user accounts.
    #[command(subcommand)]
    User(UserCmd),
    /// Quota maintenance.
    #[command(subcommand)]
    Quota(QuotaCmd),
    /// TLS certificate information.
    #[command(subcommand)]
    Tls(TlsCmd),
    /// Registration invitations (for `registration = "invite"`).
    #[command(subcommand)]
    Invite(InviteCmd),
    /// Banned client addresses (the defender's; see docs/security.md).
    #[command(subcommand)]
    Ban(ban::BanCmd),
    /// Print a commented example ferry.toml with every key and its default.
    ConfigExample,
    /// Check the configuration (file, environment, combinations, TLS files) without serving.
    #[command(subcommand)]
    Config(ConfigCmd),
}

#[derive(Subcommand)]
enum ConfigCmd {
    /// Load ferry.toml and FERRY_* as `serve` would, report problems and the effective
    /// settings that one run can change for the next (TLS), and exit non-zero on an error.
    Check,
}

/// Every flag overrides the same key of ferry.toml; each also reads FERRY_<KEY>.
#[derive(Args)]
struct ServeArgs {
    /// Control listen addresses, comma-separated [default: [::]:2121]
    #[arg(long, env = "FERRY_LISTEN", value_delimiter = ',', value_name = "ADDR")]
    listen: Option<Vec<SocketAddr>>,
    /// Passive data port range, e.g. 50000-50100 [default: chosen by the OS]
    #[arg(long, env = "FERRY_PASSIVE_PORTS", value_name = "FIRST-LAST")]
    passive_ports: Option<PortRange>,
    /// Address announced in PASV replies (behind NAT) [default: the address the client reached]
    #[arg(long, env = "FERRY_PASSIVE_ADDRESS", value_name = "IP")]
    passive_address: Option<IpAddr>,
    /// Most simultaneous connections (0 = no cap) [default: 4096]
    #[arg(long, env = "FERRY_MAX_CONNECTIONS")]
    max_connections: Option<usize>,
    /// Most simultaneous connections from one IP address (0 = no cap) [default: 1024]
    #[arg(long, env = "FERRY_MAX_CONNECTIONS_PER_IP")]
    max_connections_per_ip: Option<usize>,
    /// Most sessions one user may have logged in at once (0 = no cap) [default: 0]
    #[arg(long, env = "FERRY_MAX_CONNECTIONS_PER_USER")]
    max_connections_per_user: Option<usize>,
    /// Seconds of inactivity before a session is closed [default: 300]
    #[arg(long, env = "FERRY_IDLE_TIMEOUT", value_name = "SECS")]
    idle_timeout: Option<u64>,
    /// Seconds a new connection has to log in [default: 60]
    #[arg(long, env = "FERRY_LOGIN_TIMEOUT", value_name = "SECS")]
    login_timeout: Option<u64>,
    /// Seconds to wait for a data connection [default: 30]
    #[arg(long, env = "FERRY_DATA_TIMEOUT", value_name = "SECS")]
    data_timeout: Option<u64>,
    /// Milliseconds before answering a failed login [default: 1000]
    #[arg(long, env = "FERRY_AUTH_FAILURE_DELAY_MS", value_name = "MS")]
    auth_failure_delay_ms: Option<u64>,
    /// Failed logins before the connection is closed [default: 3]
    #[arg(long, env = "FERRY_MAX_LOGIN_FAILURES")]
    max_login_failures: Option<u32>,
    /// Text of the 220 greeting
    #[arg(long, env = "FERRY_GREETING")]
    greeting: Option<String>,
    /// TLS policy: off, optional or required [default: optional once a certificate exists, else off]
    #[arg(long, env = "FERRY_TLS", value_name = "MODE")]
    tls: Option<ferry_server::TlsMode>,
    /// PEM certificate chain file [default: a self-signed one generated under <data-dir>/tls/]
    #[arg(
        long,
        env = "FERRY_TLS_CERT",
        value_name = "FILE",
        requires = "tls_key"
    )]
    tls_cert: Option<PathBuf>,
    /// PEM private key file of --tls-cert
    #[arg(
        long,
        env = "FERRY_TLS_KEY",
        value_name = "FILE",
        requires = "tls_cert"
    )]
    tls_key: Option<PathBuf>,
    /// Implicit FTPS listener (TLS from the first byte), e.g. [::]:2990 or [::]:990 [default: none]
    #[arg(long, env = "FERRY_IMPLICIT_TLS_LISTEN", value_name = "ADDR")]
    implicit_tls_listen: Option<SocketAddr>,
    /// Data-connection TLS session reuse: off (works with Python ftplib) or require [default: off]
    #[arg(long, env = "FERRY_TLS_SESSION_REUSE", value_name = "POLICY")]
    tls_session_reuse: Option<ferry_server::SessionReuse>,
    /// Log filter (error, warn, info, debug, or a tracing filter) [default: info]
    #[arg(long, env = "FERRY_LOG", value_name = "FILTER")]
    log: Option<String>,
}

#[derive(Subcommand)]
enum InviteCmd {
    /// Create an invitation and print its token (shown once; only a hash is stored).
    Create {
        /// Quota of the account it creates [default: the default_quota setting]
        #[arg(long, value_name = "SIZE")]
        quota: Option<String>,
        /// Lifetime, e.g. 7d, 12h, 30m [default: 7d]
        #[arg(long, value_name = "DURATION", default_value = "7d")]
        expires: String,
        /// How many accounts it may create
        #[arg(long, value_name = "N", default_value_t = 1)]
        uses: u64,
    },
    /// List invitations.
    List,
    /// Revoke an invitation by its id.
    Revoke { id: i64 },
}

#[derive(Subcommand)]
enum TlsCmd {
    /// Print the certificate's SHA-256 fingerprint, subject and validity (generating a
    /// self-signed one first if TLS has none yet).
    Show,
}

#[derive(Subcommand)]
enum QuotaCmd {
    /// Recompute usage from the files on disk (after a crash, or files changed outside Ferry).
    /// Safe while the server runs.
    Rescan {
        /// Only this user (default: every user).
        name: Option<String>,
    },
}

#[derive(Subcommand)]
enum UserCmd {
    /// Create a user. The password is read from stdin with --password-stdin, else prompted for.
    Add {
        name: String,
        /// Read the password from the first line of standard input.
        #[arg(long)]
        password_stdin: bool,
        /// Home directory [default: <data-dir>/homes/<name>]
        #[arg(long, value_name = "DIR")]
        home: Option<PathBuf>,
        /// Quota, e.g. 10MiB, 1G or unlimited [default: the default_quota setting]
        #[arg(long, value_name = "SIZE")]
        quota: Option<String>,
        /// Most files the user may own (unset: no limit)
        #[arg(long, value_name = "N")]
        quota_files: Option<u64>,
    },
    /// Delete a user (their files stay on disk).
    Del { name: String },
    /// Change a user's password.
    Passwd {
        name: String,
        #[arg(long)]
        password_stdin: bool,
    },
    /// List users.
    List,
    /// Disable the accounts still on an imported legacy hash (MD5, crypt, bcrypt), so a
    /// migration can be finished: users who logged in since the import have argon2id already.
    ExpireLegacy {
        /// Only accounts created (imported) longer ago than this, e.g. 90d, 12h [default: all]
        #[arg(long, value_name = "DURATION")]
        older_than: Option<String>,
        /// Report which accounts would be disabled, change nothing.
        #[arg(long)]
        dry_run: bool,
    },
    /// Import users from another server's password file, in one transaction. Legacy hashes
    /// keep working and become argon2id at each user's next login.
    Import {
        /// pure-ftpd (pureftpd.passwd), htpasswd, or md5 (lines user:md5hex)
        format: ferry_store::ImportFormat,
        file: PathBuf,
        /// Report what would be imported, change nothing.
        #[arg(long)]
        dry_run: bool,
    },
    /// Show one user's settings and usage.
    Show { name: String },
    /// Change a user's home, quota or enabled state.
    Set {
        name: String,
        /// New home directory ("default" for <data-dir>/homes/<name>).
        #[arg(long, value_name = "DIR")]
        home: Option<String>,
        /// New quota (e.g. 500MiB, or unlimited).
        #[arg(long, value_name = "SIZE")]
        quota: Option<String>,
        /// New file-count quota ("unlimited" to remove).
        #[arg(long, value_name = "N")]
        quota_files: Option<String>,
        /// Allow the user to log in.
        #[arg(long, conflicts_with = "disable")]
        enable: bool,
        /// Refuse the user's logins.
        #[arg(long)]
        disable: bool,
        /// Whether this user must use TLS: yes, no, or default (the server's `tls` policy).
        #[arg(long, value_name = "yes|no|default", num_args = 0..=1, default_missing_value = "yes")]
        require_tls: Option<String>,
    },
}

/// jemalloc, because glibc kept what a storm of connections had freed: 1,300 held sessions
/// allocate from every worker's arena, and after they close glibc returns only the top of
/// each heap, so RSS stayed at 7x its start (67 MiB for 9.6, scripts/storm) until a
/// `malloc_trim`. jemalloc's background thread returns freed pages once they have been
/// unused for [`DIRTY_DECAY_MS`], without the allocating threads doing anything; that covers
/// the 19 MiB each argon2id verification allocates too (glibc needed a fixed mmap threshold
/// to give those back).
#[global_allocator]
static ALLOCATOR: tikv_jemallocator::Jemalloc = tikv_jemallocator::Jemalloc;

/// Freed pages go back at once. jemalloc's default (10 s) left twice the starting RSS 15 s
/// after a storm; 1 s left only live memory after a storm too, but the bench's "RSS at rest",
/// read half a second after a workload, was 22.8 MiB with 1 s against 14.3 MiB with 0, and
/// STOR, small files and concurrent STOR were no slower with 0 (../shared/bench, quick).
const DIRTY_DECAY_MS: isize = 0;

/// Freed pages go back to the OS on a timer, not only when some thread allocates again.
fn return_freed_pages_to_the_os() {
    use tikv_jemalloc_ctl::{background_thread, max_background_threads, Access, AsName};
    // Arenas made from now on, then arena 0, which already exists.
    for key in [&b"arenas.dirty_decay_ms\0"[..], b"arena.0.dirty_decay_ms\0"] {
        if let Err(e) = key.name().write(DIRTY_DECAY_MS) {
            eprintln!("ferryd: cannot set jemalloc decay: {e}");
        }
    }
    // One thread keeps up with the purging (scripts/storm); jemalloc defaults to one per CPU.
    if let Err(e) = max_background_threads::write(1) {
        eprintln!("ferryd: cannot limit jemalloc's background threads: {e}");
    }
    if let Err(e) = background_thread::write(true) {
        eprintln!("ferryd: cannot start jemalloc's background thread: {e}");
    }
}

fn main() -> ExitCode {
    return_freed_pages_to_the_os();
    let cli = Cli::parse();
    // Each plain transfer runs on a blocking thread (ferry-server, transfer.rs): allow as many
    // as there may be transfers, not tokio's default of 512.
    let result = tokio::runtime::Builder::new_multi_thread()
        .max_blocking_threads(8192)
        .enable_all()
        .build()
        .map_err(anyhow::Error::from)
        .and_then(|runtime| runtime.block_on(run(cli)));
    match result {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            report(&e);
            ExitCode::FAILURE
        }
    }
}

/// Prints an error and its causes as returning it from `main` would, but without the
/// backtrace anyhow adds whenever RUST_BACKTRACE is set: an operator needs to know which file
/// is wrong and why, not where in ferryd the error was passed on.
fn report(e: &anyhow::Error) {
    eprintln!("Error: {e}");
    let mut causes = e.chain().skip(1).peekable();
    if causes.peek().is_some() {
        eprintln!("\nCaused by:");
        for cause in causes {
            eprintln!("    {cause}");
        }
    }
}

async fn run(cli: Cli) -> Result<()> {
    let mut config = load_config(cli.data_dir.as_deref(), cli.config.as_deref())?;
    match cli.command {
        Cmd::ConfigExample => {
            print!("{}", include_str!("../../../ferry.toml.example"));
            Ok(())
        }
        Cmd::Config(ConfigCmd::Check) => config_check(&config),
        Cmd::Serve(args) => {
            let log = args.log.clone().unwrap_or_else(|| "info".into());
            init_logging(&log)?;
            for w in ferry_server::config::unknown_env_warnings(std::env::vars()) {
                tracing::warn!("{w}");
            }
            apply_serve_args(&mut config, args);
            serve(config).await
        }
        Cmd::User(cmd) => {
            let store = open_store(&config).await?;
            let r = user_command(&store, &config, cmd).await;
            store.close().await;
            r
        }
        Cmd::Tls(TlsCmd::Show) => {
            let files = ferry_server::tls::ensure_certificate(&config)?;
            let (_, info) = ferry_server::tls::load_certified_key(&files)?;
            println!("certificate: {}", files.cert.display());
            println!("key:         {}", files.key.display());
            println!("subject:     {}", info.subject);
            println!("sha256:      {}", info.fingerprint);
            println!("valid from:  {}", info.not_before);
            println!("valid until: {}", info.not_after);
            Ok(())
        }
        Cmd::Invite(cmd) => {
            let store = open_store(&config).await?;
            let r = invite_command(&store, cmd).await;
            store.close().await;
            r
        }
        Cmd::Ban(cmd) => {
            let store = open_store(&config).await?;
            let r = ban::ban_command(&store, cmd).await;
            store.close().await;
            r
        }
        Cmd::Quota(QuotaCmd::Rescan { name }) => {
            let store = open_store(&config).await?;
            let r = rescan(&store, &config, name.as_deref()).await;
            store.close().await;
            r
        }
    }
}

fn load_config(data_dir: Option<&Path>, config_file: Option<&Path>) -> Result<ServerConfig> {
    let data_dir = data_dir
        .map(Path::to_path_buf)
        .unwrap_or_else(|| ServerConfig::default().data_dir);
    let file = config_file
        .map(Path::to_path_buf)
        .unwrap_or_else(|| data_dir.join("ferry.toml"));
    let text = if file.exists() {
        std::fs::read_to_string(&file).with_context(|| format!("reading {}", file.display()))?
    } else if config_file.is_some() {
        bail!("configuration file {} does not exist", file.display());
    } else {
        String::new()
    };
    let mut config = ServerConfig::from_toml_and_env(&text, std::env::vars())
        .map_err(anyhow::Error::msg)
        .with_context(|| format!("in {} or a FERRY_* environment variable", file.display()))?;
    config.data_dir = data_dir;
    Ok(config)
}

fn apply_serve_args(c: &mut ServerConfig, a: ServeArgs) {
    if let Some(v) = a.listen {
        c.listen = v;
    }
    if a.passive_ports.is_some() {
        c.passive_ports = a.passive_ports;
    }
    if a.passive_address.is_some() {
        c.passive_address = a.passive_address;
    }
    let set = |slot: &mut u64, v: Option<u64>| {
        if let Some(v) = v {
            *slot = v;
        }
    };
    set(&mut c.idle_timeout, a.idle_timeout);
    set(&mut c.login_timeout, a.login_timeout);
    set(&mut c.data_timeout, a.data_timeout);
    set(&mut c.auth_failure_delay_ms, a.auth_failure_delay_ms);
    if let Some(v) = a.max_connections {
        c.max_connections = v;
    }
    if let Some(v) = a.max_connections_per_ip {
        c.max_connections_per_ip = v;
    }
    if let Some(v) = a.max_connections_per_user {
        c.max_connections_per_user = v;
    }
    if let Some(v) = a.max_login_failures {
        c.max_login_failures = v;
    }
    if let Some(v) = a.greeting {
        c.greeting = v;
    }
    if a.tls.is_some() {
        c.tls = a.tls;
    }
    if a.tls_cert.is_some() {
        c.tls_cert = a.tls_cert;
        c.tls_key = a.tls_key;
    }
    if a.implicit_tls_listen.is_some() {
        c.implicit_tls_listen = a.implicit_tls_listen;
    }
    if let Some(v) = a.tls_session_reuse {
        c.tls_session_reuse = v;
    }
}

fn init_logging(filter: &str) -> Result<()> {
    let filter = tracing_subscriber::EnvFilter::try_new(filter)
        .with_context(|| format!("bad log filter {filter:?}"))?;
    tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_writer(std::io::stderr)
        .with_ansi(std::io::stderr().is_terminal())
        .init();
    Ok(())
}

async fn open_store(config: &ServerConfig) -> Result<Store> {
    std::fs::create_dir_all(&config.data_dir)
        .with_context(|| format!("creating data directory {}", config.data_dir.display()))?;
    // The store's open error already names the file and says what is wrong with it.
    Ok(Store::open_sqlite(&config.database_path()).await?)
}

/// `ferryd config check`: what `serve` would refuse, warn about, or silently decide.
fn config_check(config: &ServerConfig) -> Result<()> {
    for w in ferry_server::config::unknown_env_warnings(std::env::vars()) {
        println!("warning: {w}");
    }
    config.check().map_err(anyhow::Error::msg)?;
    let (tls, why) = config.tls_mode_reason();
    println!("tls: {} ({why})", format!("{tls:?}").to_ascii_lowercase());
    if tls != ferry_server::TlsMode::Off {
        let files = ferry_server::tls::cert_files(config);
        if files.cert.exists() || config.tls_cert.is_some() {
            let (_, info) = ferry_server::tls::load_certified_key(&files)?;
            println!(
                "certificate: {} (sha256 {}, valid until {})",
                files.cert.display(),
                info.fingerprint,
                info.not_after
            );
        } else {
            println!(
                "certificate: none yet; a self-signed one is generated at {} on first start",
                files.cert.display()
            );
        }
    }
    let listen: Vec<String> = config.listen.iter().map(|a| a.to_string()).collect();
    println!("listen: {}", listen.join(", "));
    println!("data dir: {}", config.data_dir.display());
    println!(
        "uploads: upload_mode = {}, fsync_uploads = {}, node_id = {}",
        config.upload_mode.name(),
        config.fsync_uploads,
        config.node_id()
    );
    match &config.run_as {
        Some(u) => println!("run_as: {u}"),
        None if rustix::process::geteuid().is_root() => {
            println!("warning: started as root without run_as, ferryd would serve as root")
        }
        None => {}
    }
    println!("configuration ok");
    Ok(())
}

/// Many sessions need many descriptors: lift the soft limit to the hard one.
fn raise_fd_limit() {
    use rustix::process::{getrlimit, setrlimit, Resource};
    let mut lim = getrlimit(Resource::Nofile);
    if lim.current < lim.maximum {
        lim.current = lim.maximum;
        let _ = setrlimit(Resource::Nofile, lim);
    }
}

async fn serve(config: ServerConfig) -> Result<()> {
    config.check().map_err(anyhow::Error::msg)?;
    raise_fd_limit();
    privileges::apply_umask(config.umask);
    let store = open_store(&config).await?;
    std::fs::create_dir_all(config.homes_dir())?;
    let users = store.users().await?.len();
    if users == 0 {
        tracing::warn!("no users yet: add one with `ferryd user add NAME`");
    }
    let data_dir = config.data_dir.clone();
    let (tls, tls_why) = config.tls_mode_reason();
    let tls = format!("{tls:?}").to_ascii_lowercase();
    let run_as = config.run_as.clone();
    let server = Server::bind(config, store).await?;
    // Ports bound, key read, database open: root is not needed any more.
    privileges::drop_root(run_as.as_deref(), &data_dir)?;
    // Always handled: without a handler, SIGHUP's default action would end the server
    // abruptly (no 421, and the next start would take it for a crash).
    tokio::spawn(reload_on_sighup(server.tls_reloader()));
    tracing::info!(data_dir = %data_dir.display(), users, addrs = ?server.local_addrs(), tls, tls_why, "ferryd {} started", env!("CARGO_PKG_VERSION"));
    server.run_until(shutdown_signal()).await?;
    tracing::info!("stopped");
    Ok(())
}

/// SIGHUP re-reads the TLS certificate; sessions keep their connections.
async fn reload_on_sighup(reloader: Option<ferry_server::TlsReloader>) {
    use tokio::signal::unix::{signal, SignalKind};
    let Ok(mut hup) = signal(SignalKind::hangup()) else {
        return;
    };
    while hup.recv().await.is_some() {
        match &reloader {
            Some(r) => {
                if let Err(e) = r.reload() {
                    tracing::error!(error = %e, "TLS certificate reload failed; keeping the current one");
                }
            }
            None => tracing::info!("SIGHUP: TLS is off, nothing to reload"),
        }
    }
}

async fn shutdown_signal() {
    use tokio::signal::unix::{signal, SignalKind};
    let (Ok(mut term), Ok(mut int)) = (
        signal(SignalKind::terminate()),
        signal(SignalKind::interrupt()),
    ) else {
        return std::future::pending().await;
    };
    tokio::select! {
        _ = term.recv() => {},
        _ = int.recv() => {},
    }
}

fn read_password(from_stdin: bool, confirm: bool) -> Result<String> {
    let pw = if from_stdin || !std::io::stdin().is_terminal() {
        let mut line = String::new();
        std::io::stdin().lock().read_line(&mut line)?;
        line.trim_end_matches(['\r', '\n']).to_owned()
    } else {
        let pw = rpassword::prompt_password("Password: ")?;
        if confirm && rpassword::prompt_password("Repeat password: ")? != pw {
            bail!("passwords do not match");
        }
        pw
    };
    if pw.is_empty() {
        bail!("empty password refused");
    }
    Ok(pw)
}

fn parse_quota(s: &str) -> Result<Option<u64>> {
    parse_size(s).map_err(anyhow::Error::msg)
}

fn absolute(p: &Path) -> Result<String> {
    let abs = std::path::absolute(p)?;
    abs.to_str()
        .map(str::to_owned)
        .context("home path must be valid UTF-8")
}

async fn user_command(store: &Store, config: &ServerConfig, cmd: UserCmd) -> Result<()> {
    match cmd {
        UserCmd::Add {
            name,
            password_stdin,
            home,
            quota,
            quota_files,
        } => {
            ferry_store::validate_username(&name)?;
            let quota_bytes = match quota {
                Some(q) => parse_quota(&q)?,
                None => config.default_quota,
            };
            let home = home.as_deref().map(absolute).transpose()?;
            let password = read_password(password_stdin, true)?;
            let user = store
                .add_user(NewUser {
                    name: &name,
                    password: &password,
                    home: home.as_deref(),
                    quota_bytes,
                    quota_files,
                })
                .await?;
            let home_dir = config.home_of(&user);
            std::fs::create_dir_all(&home_dir)
                .with_context(|| format!("creating home {}", home_dir.display()))?;
            // Made by root for a server that runs as `run_as`: the server must own it.
            privileges::hand_over(&home_dir, config.run_as.as_deref())?;
            println!(
                "user {name} added (home {}, quota {})",
                home_dir.display(),
                quota_text(user.quota_bytes)
            );
        }
        UserCmd::Import {
            format,
            file,
            dry_run,
        } => {
            let text = std::fs::read_to_string(&file)
                .with_context(|| format!("reading {}", file.display()))?;
            let (users, errors) = ferry_store::parse_import(format, &text);
            for (line, reason) in &errors {
                eprintln!("{}:{line}: skipped: {reason}", file.display());
            }
            let report = store.import_users(&users, dry_run).await?;
            for (line, reason) in &report.skipped {
                eprintln!("{}:{line}: skipped: {reason}", file.display());
            }
            let verb = if dry_run { "would import" } else { "imported" };
            println!(
                "{verb} {} user(s), skipped {} line(s)",
                report.imported.len(),
                errors.len() + report.skipped.len()
            );
            for name in &report.imported {
                println!("  {name}");
            }
        }
        UserCmd::Del { name } => {
            store.delete_user(&name).await?;
            println!("user {name} deleted (home directory left in place)");
        }
        UserCmd::Passwd {
            name,
            password_stdin,
        } => {
            if store.user(&name).await?.is_none() {
                bail!("no such user: {name}");
            }
            let password = read_password(password_stdin, true)?;
            store.set_password(&name, &password).await?;
            println!("password of {name} changed");
        }
        UserCmd::ExpireLegacy {
            older_than,
            dry_run,
        } => {
            let now = std::time::SystemTime::now()
                .duration_since(std::time::UNIX_EPOCH)
                .map(|d| d.as_secs() as i64)
                .unwrap_or(0);
            let before = match older_than.as_deref() {
                Some(d) => now.saturating_sub(parse_duration_secs(d)?),
                None => i64::MAX,
            };
            let schemes: std::collections::HashMap<String, ferry_store::Scheme> =
                store.password_schemes().await?.into_iter().collect();
            let mut expired = 0;
            for u in store.users().await? {
                let legacy = !matches!(schemes.get(&u.name), Some(ferry_store::Scheme::Argon2));
                if !legacy || !u.enabled || u.created_at >= before {
                    continue;
                }
                if !dry_run {
                    store
                        .update_user(
                            &u.name,
                            UserUpdate {
                                enabled: Some(false),
                                ..UserUpdate::default()
                            },
                        )
                        .await?;
                }
                let scheme = schemes.get(&u.name).map(|s| s.name()).unwrap_or("unknown");
                let verb = if dry_run { "would disable" } else { "disabled" };
                println!("{verb} {} (legacy {scheme} hash)", u.name);
                expired += 1;
            }
            println!(
                "{expired} account(s) {} (`ferryd user set NAME --enable` and a new password re-enables one)",
                if dry_run { "would be disabled" } else { "disabled" }
            );
        }
        UserCmd::List => {
            // HASH shows who still has an imported legacy hash (argon2id after their next login).
            let schemes: std::collections::HashMap<String, ferry_store::Scheme> =
                store.password_schemes().await?.into_iter().collect();
            println!(
                "{:<20} {:<8} {:>12} {:>12}  {:<13} HOME",
                "NAME", "ENABLED", "USED", "QUOTA", "HASH"
            );
            for u in store.users().await? {
                let scheme = schemes.get(&u.name).map(|s| s.name()).unwrap_or("unknown");
                println!(
                    "{:<20} {:<8} {:>12} {:>12}  {:<13} {}",
                    u.name,
                    if u.enabled { "yes" } else { "no" },
                    format_size(u.used_bytes),
                    quota_text(u.quota_bytes),
                    scheme,
                    config.home_of(&u).display()
                );
            }
        }
        UserCmd::Show { name } => {
            let Some(u) = store.user(&name).await? else {
                bail!("no such user: {name}")
            };
            println!("name:        {}", u.name);
            println!("enabled:     {}", if u.enabled { "yes" } else { "no" });
            println!("home:        {}", config.home_of(&u).display());
            println!("quota:       {}", quota_text(u.quota_bytes));
            let tls = match u.require_tls {
                Some(true) => "yes",
                Some(false) => "no",
                None => "default (server policy)",
            };
            println!("require tls: {tls}");
            println!(
                "quota files: {}",
                u.quota_files
                    .map(|n| n.to_string())
                    .unwrap_or_else(|| "unlimited".into())
            );
            println!(
                "used:        {} ({} bytes), {} files",
                format_size(u.used_bytes),
                u.used_bytes,
                u.used_files
            );
            if let Some(q) = store.quota_usage(u.id).await? {
                if q.reserved_bytes > 0 {
                    println!(
                        "reserved:    {} bytes by uploads in flight",
                        q.reserved_bytes
                    );
                }
                if let Some(left) = q.available_bytes() {
                    println!("available:   {} ({left} bytes)", format_size(left));
                }
            }
        }
        UserCmd::Set {
            name,
            home,
            quota,
            quota_files,
            enable,
            disable,
            require_tls,
        } => {
            let mut update = UserUpdate::default();
            if let Some(h) = home {
                update.home = Some(if h == "default" {
                    None
                } else {
                    Some(absolute(Path::new(&h))?)
                });
            }
            if let Some(q) = quota {
                update.quota_bytes = Some(parse_quota(&q)?);
            }
            if let Some(q) = quota_files {
                update.quota_files = Some(if q == "unlimited" {
                    None
                } else {
                    Some(q.parse().context("--quota-files takes a number")?)
                });
            }
            if enable {
                update.enabled = Some(true);
            } else if disable {
                update.enabled = Some(false);
            }
            if let Some(r) = require_tls {
                update.require_tls = Some(match r.as_str() {
                    "yes" | "true" => Some(true),
                    "no" | "false" => Some(false),
                    "default" => None,
                    other => bail!("--require-tls takes yes, no or default, not {other:?}"),
                });
            }
            let u = store.update_user(&name, update).await?;
            println!(
                "user {} updated (home {}, quota {}, enabled {})",
                u.name,
                config.home_of(&u).display(),
                quota_text(u.quota_bytes),
                u.enabled
            );
        }
    }
    Ok(())
}

async fn rescan(store: &Store, config: &ServerConfig, only: Option<&str>) -> Result<()> {
    let users = match only {
        Some(name) => vec![store
            .user(name)
            .await?
            .with_context(|| format!("no such user: {name}"))?],
        None => store.users().await?,
    };
    for u in users {
        let home = config.home_of(&u);
        let (bytes, files) = ferry_server::rescan_usage(store, u.id, &home)
            .await
            .with_context(|| format!("scanning {}", home.display()))?;
        println!(
            "{}: {} ({bytes} bytes) in {files} files and directories (was {} bytes, {} files)",
            u.name,
            format_size(bytes),
            u.used_bytes,
            u.used_files
        );
    }
    Ok(())
}

fn unix_now() -> i64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.as_secs() as i64)
        .unwrap_or(0)
}

fn parse_duration_secs(s: &str) -> Result<i64> {
    let s = s.trim();
    let (num, unit) = s.split_at(s.find(|c: char| !c.is_ascii_digit()).unwrap_or(s.len()));
    let n: i64 = num
        .parse()
        .with_context(|| format!("not a duration: {s:?} (use 7d, 12h, 30m or 45s)"))?;
    let mult = match unit {
        "d" => 86_400,
        "h" => 3600,
        "m" => 60,
        "s" | "" => 1,
        _ => bail!("unknown duration unit in {s:?} (use d, h, m or s)"),
    };
    Ok(n.saturating_mul(mult))
}

async fn invite_command(store: &Store, cmd: InviteCmd) -> Result<()> {
    let now = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.as_secs() as i64)
        .unwrap_or(0);
    match cmd {
        InviteCmd::Create {
            quota,
            expires,
            uses,
        } => {
            let quota = quota.as_deref().map(parse_quota).transpose()?.flatten();
            let expires_at = now + parse_duration_secs(&expires)?;
            let (invite, token) = store
                .create_invite(quota, uses.max(1), Some(expires_at))
                .await?;
            println!("{token}");
            eprintln!(
                "invitation {} created: {} use(s), expires in {expires}, quota {}. Register with: SITE REGISTER <name> {token}",
                invite.id,
                invite.uses_left,
                quota.map(format_size).unwrap_or_else(|| "default".into())
            );
        }
        InviteCmd::List => {
            println!(
                "{:>4} {:>5} {:>12} {:>12}  STATE",
                "ID", "USES", "QUOTA", "EXPIRES IN"
            );
            for i in store.invites().await? {
                let state = if i.revoked {
                    "revoked"
                } else if i.uses_left == 0 {
                    "used up"
                } else if i.expires_at.is_some_and(|t| t <= now) {
                    "expired"
                } else {
                    "usable"
                };
                let left = i
                    .expires_at
                    .map(|t| format!("{}h", (t - now).max(0) / 3600))
                    .unwrap_or_else(|| "never".into());
                println!(
                    "{:>4} {:>5} {:>12} {:>12}  {state}",
                    i.id,
                    i.uses_left,
                    i.quota_bytes
                        .map(format_size)
                        .unwrap_or_else(|| "default".into()),
                    left
                );
            }
        }
        InviteCmd::Revoke { id } => {
            if !store.revoke_invite(id).await? {
                bail!("no invitation {id}");
            }
            println!("invitation {id} revoked");
        }
    }
    Ok(())
}

fn quota_text(q: Option<u64>) -> String {
    q.map(format_size).unwrap_or_else(|| "unlimited".into())
}
