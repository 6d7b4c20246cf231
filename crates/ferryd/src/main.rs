//! `ferryd`: the Ferry FTP server (`ferryd serve`) and its administration commands
//! (`ferryd user ...`). Thin: parses arguments and configuration, then calls the libraries.

mod admin;
mod ban;
mod cli;
mod privileges;
mod serve;

use std::path::Path;
use std::process::ExitCode;

use anyhow::{bail, Context, Result};
use clap::Parser;
use ferry_server::ServerConfig;
use ferry_store::Store;

use crate::admin::{invite_command, rescan, user_command};
pub(crate) use crate::admin::{parse_duration_secs, unix_now};
use crate::cli::{Cli, Cmd, ConfigCmd, QuotaCmd, TlsCmd};
use crate::serve::{apply_serve_args, config_check, init_logging, serve};

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

async fn open_store(config: &ServerConfig) -> Result<Store> {
    std::fs::create_dir_all(&config.data_dir)
        .with_context(|| format!("creating data directory {}", config.data_dir.display()))?;
    // The store's open error already names the file and says what is wrong with it.
    Ok(Store::open_sqlite(&config.database_path()).await?)
}
