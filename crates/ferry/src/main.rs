//! `ferry`: the command-line FTP client. Parses arguments, then hands over to the one-shot
//! commands (oneshot.rs) or the interactive shell (shell.rs); all protocol work happens in
//! `ferry-client`.
#![forbid(unsafe_code)]

mod cli;
mod complete;
mod exit;
mod login;
mod oneshot;
mod output;
mod progress;
mod shell;

use clap::Parser;

use crate::cli::Cli;

fn main() {
    let cli = Cli::parse();
    std::process::exit(run(cli));
}

fn run(cli: Cli) -> i32 {
    let Some(cmd) = cli.command else {
        if let Some(u) = &cli.url {
            if let Err(e) = ferry_client::FtpUrl::parse(u) {
                eprintln!("ferry: {e} (see ferry --help)");
                return exit::USAGE;
            }
        }
        return shell::run(cli.global, cli.url);
    };
    let g = cli.global;
    let report = |e: ferry_client::Error| {
        eprintln!("ferry: {e}");
        exit::code(&e)
    };
    let url = match oneshot::parse_url(&cmd) {
        Ok(u) => u,
        Err(e) => return report(e),
    };
    // Before the runtime: the password prompt blocks.
    let creds = match login::credentials(&url, &g) {
        Ok(c) => c,
        Err(e) => return report(e),
    };
    let rt = match tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
    {
        Ok(rt) => rt,
        Err(e) => {
            eprintln!("ferry: cannot start: {e}");
            return exit::OTHER;
        }
    };
    match rt.block_on(oneshot::run(cmd, &g, creds)) {
        Ok(()) => exit::OK,
        Err(e) => report(e),
    }
}
