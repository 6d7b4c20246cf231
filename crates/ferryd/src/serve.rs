//! `ferryd serve`: logging, limits, privileges, signals, and the server's run; and `ferryd
//! config check`, which reports what serve would decide.

use std::io::IsTerminal;

use anyhow::{Context, Result};
use ferry_server::{Server, ServerConfig};

use crate::cli::ServeArgs;
use crate::{open_store, privileges};

pub(crate) fn apply_serve_args(c: &mut ServerConfig, a: ServeArgs) {
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

pub(crate) fn init_logging(filter: &str) -> Result<()> {
    let filter = tracing_subscriber::EnvFilter::try_new(filter)
        .with_context(|| format!("bad log filter {filter:?}"))?;
    tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_writer(std::io::stderr)
        .with_ansi(std::io::stderr().is_terminal())
        .init();
    Ok(())
}

/// `ferryd config check`: what `serve` would refuse, warn about, or silently decide.
pub(crate) fn config_check(config: &ServerConfig) -> Result<()> {
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
pub(crate) fn raise_fd_limit() {
    use rustix::process::{getrlimit, setrlimit, Resource};
    let mut lim = getrlimit(Resource::Nofile);
    if lim.current < lim.maximum {
        lim.current = lim.maximum;
        let _ = setrlimit(Resource::Nofile, lim);
    }
}

pub(crate) async fn serve(config: ServerConfig) -> Result<()> {
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
pub(crate) async fn reload_on_sighup(reloader: Option<ferry_server::TlsReloader>) {
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

pub(crate) async fn shutdown_signal() {
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
