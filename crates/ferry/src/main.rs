//! `ferry`: the command-line FTP client. Parses arguments, then hands over to the one-shot
//! commands (oneshot.rs) or the interactive shell (shell/); all protocol work happens in
//! `ferry-client`.
#![forbid(unsafe_code)]
// Printing goes through stdio.rs (a closed pipe must not panic).
#![deny(clippy::print_stdout, clippy::print_stderr)]

#[macro_use]
mod stdio;

mod cli;
mod complete;
mod exit;
mod login;
mod oneshot;
mod output;
mod print;
mod progress;
mod shell;
mod words;

use clap::Parser;

use std::io::IsTerminal;

use crate::cli::{Cli, Command};

/// Prints an error, and for a refused certificate what to do about it (a changed one
/// loudly, as ssh does).
pub fn report_error(prefix: &str, e: &ferry_client::Error) {
    match e {
        // Each failure was printed as it happened and the summary line counts them.
        ferry_client::Error::Batch { .. } => return,
        // Whoever interrupted said so ("interrupted after ...").
        ferry_client::Error::Aborted => return,
        _ => {}
    }
    if let ferry_client::Error::Certificate(p) = e {
        if let ferry_client::tls::CertProblem::Changed { .. } = p.as_ref() {
            let bar = "@".repeat(64);
            errln!("{bar}\n@    WARNING: THE SERVER'S TLS CERTIFICATE HAS CHANGED!    @\n{bar}");
        }
    }
    errln!("{prefix}: {e}");
    if let Some(a) = login::advice(e) {
        errln!("{a}");
    }
}

fn main() {
    let cli = Cli::parse();
    std::process::exit(run(cli));
}

fn run(cli: Cli) -> i32 {
    let Some(cmd) = cli.command else {
        if let Some(u) = &cli.url {
            if let Err(e) = ferry_client::FtpUrl::parse(u) {
                errln!("ferry: {e} (see ferry --help)");
                return exit::USAGE;
            }
        }
        return shell::run(cli.global, cli.url);
    };
    let g = cli.global;
    let report = |e: ferry_client::Error| {
        report_error("ferry", &e);
        exit::code(&e)
    };
    let url = match oneshot::parse_url(&cmd) {
        Ok(u) => u,
        Err(e) => return report(e),
    };
    // Before the runtime: the password prompt blocks.
    let creds = match &cmd {
        Command::Register { .. } => login::new_account(&url, &g),
        _ => login::credentials(&url, &g),
    };
    let creds = match creds {
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
            errln!("ferry: cannot start: {e}");
            return exit::OTHER;
        }
    };
    if let Command::Register { invite, .. } = cmd {
        let user = creds.user.clone();
        let client = match rt.block_on(login::connect_as(&url, creds, &g, Some(invite))) {
            Ok(c) => c,
            Err(e) => return report(e),
        };
        outln!("Registered {user} on {}; logged in.", url.authority());
        if std::io::stdin().is_terminal() && std::io::stdout().is_terminal() {
            return shell::run_on(&rt, g, shell::Start::Connected(Box::new(client), url));
        }
        let mut client = client;
        rt.block_on(client.quit());
        return exit::OK;
    }
    match rt.block_on(oneshot::run(cmd, &g, creds)) {
        Ok(code) => code,
        Err(e) => report(e),
    }
}
