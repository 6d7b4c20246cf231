//! From a URL and the flags to a logged-in client: credentials (URL, --user, ~/.netrc,
//! FERRY_PASSWORD, then a no-echo prompt on a terminal), connection options, and the
//! certificate decisions a user makes (trust on first use, pinned in known_hosts).

use std::io::{BufRead, IsTerminal, Write};
use std::time::Duration;

use ferry_client::credentials::{gather, netrc_path, parse_netrc, NetrcEntry};
use ferry_client::tls::{self, CertProblem};
use ferry_client::{Client, ClientOptions, Credentials, Error, FtpUrl, Result, TlsOptions};

use crate::cli::Global;

pub fn options(g: &Global, url: &FtpUrl) -> ClientOptions {
    ClientOptions {
        timeout: Duration::from_secs(g.timeout.max(1)),
        active: g.active,
        verify: g.verify.into(),
        retries: g.retries,
        rate_limit: g.limit_rate,
        tls: TlsOptions {
            mode: g.tls.into(),
            implicit: url.implicit_tls,
            ca_file: g.ca_file.clone(),
            insecure: g.insecure,
            trusted_fingerprint: g.trust_fingerprint.clone(),
            known_hosts: tls::known_hosts_path(),
        },
    }
}

fn netrc() -> Vec<NetrcEntry> {
    netrc_path()
        .and_then(|p| std::fs::read_to_string(p).ok())
        .map(|t| parse_netrc(&t))
        .unwrap_or_default()
}

/// Finds the credentials, asking on the terminal when nothing else has a password. Blocking
/// (the prompt), so called before entering the runtime.
pub fn credentials(url: &FtpUrl, g: &Global) -> Result<Credentials> {
    let partial = gather(
        url,
        g.user.as_deref(),
        &netrc(),
        std::env::var("FERRY_PASSWORD").ok(),
    );
    let user = partial.user.unwrap_or_else(|| "anonymous".to_owned());
    let password = match partial.password {
        Some(p) => p,
        None if std::io::stdin().is_terminal() => {
            rpassword::prompt_password(format!("Password for {user}@{}: ", url.host))
                .map_err(|e| Error::Login(format!("could not read the password: {e}")))?
        }
        None => {
            return Err(Error::Login(format!(
                "no password for {user}@{}: give it in the URL, ~/.netrc or FERRY_PASSWORD",
                url.host
            )))
        }
    };
    Ok(Credentials { user, password })
}

/// The name and new password for `ferry register`: the name from the URL or --user, the
/// password from the URL, FERRY_PASSWORD, or asked twice on the terminal.
pub fn new_account(url: &FtpUrl, g: &Global) -> Result<Credentials> {
    let user = url.user.clone().or_else(|| g.user.clone()).ok_or_else(|| {
        Error::Usage(
            "register: give the new user name in the URL (ftp://NAME@host) or with --user NAME"
                .into(),
        )
    })?;
    if let Some(p) = url
        .password
        .clone()
        .or_else(|| std::env::var("FERRY_PASSWORD").ok())
    {
        return Ok(Credentials { user, password: p });
    }
    if !std::io::stdin().is_terminal() {
        return Err(Error::Login(
            "no password for the new account: set FERRY_PASSWORD or run on a terminal".into(),
        ));
    }
    let read = |prompt: String| {
        rpassword::prompt_password(prompt)
            .map_err(|e| Error::Login(format!("could not read the password: {e}")))
    };
    let first = read(format!("New password for {user}@{}: ", url.host))?;
    let second = read("Again: ".to_owned())?;
    if first != second {
        return Err(Error::Login("the passwords differ".into()));
    }
    Ok(Credentials {
        user,
        password: first,
    })
}

/// Connects and logs in (or registers, with `registration` = Some(token)). A certificate that
/// cannot be verified is offered to the user on a terminal (and pinned once accepted); one
/// accepted by --trust-fingerprint is pinned too.
pub async fn connect_as(
    url: &FtpUrl,
    creds: Credentials,
    g: &Global,
    registration: Option<Option<String>>,
) -> Result<Client> {
    let mut opts = options(g, url);
    if g.insecure && opts.tls.wanted() {
        errln!(
            "ferry: WARNING: --insecure: the server's TLS certificate is NOT checked. Anyone \
             between you and {} can read and change this session, password included.",
            url.authority()
        );
    }
    // Retries while the server is busy are told as notes (none with -q).
    let notes = crate::progress::Bars::new(g.quiet);
    let mut accepted_now = false;
    let client = loop {
        let attempt = Client::connect_with(
            &url.authority(),
            creds.clone(),
            opts.clone(),
            registration.clone(),
            &notes,
        )
        .await;
        match attempt {
            Err(Error::Certificate(p))
                if matches!(*p, CertProblem::Unknown { .. })
                    && !accepted_now
                    && std::io::stdin().is_terminal()
                    && std::io::stderr().is_terminal() =>
            {
                let problem = (*p).clone();
                let yes = tokio::task::spawn_blocking(move || ask_trust(&problem))
                    .await
                    .unwrap_or(false);
                if !yes {
                    return Err(Error::Certificate(p));
                }
                opts.tls.trusted_fingerprint = Some(p.fingerprint().to_owned());
                accepted_now = true;
            }
            other => break other?,
        };
    };
    if client.is_tls() && (accepted_now || g.trust_fingerprint.is_some()) {
        if let (Some(file), Some(fp)) = (
            tls::known_hosts_path(),
            opts.tls
                .trusted_fingerprint
                .as_deref()
                .and_then(tls::normalize_fingerprint),
        ) {
            let authority = url.authority();
            if tls::lookup_pin(&file, &authority).as_deref() != Some(fp.as_str()) {
                match tls::pin(&file, &authority, &fp) {
                    Ok(()) => {
                        if !g.quiet {
                            errln!(
                                "ferry: pinned the certificate of {authority} ({fp}) in {}",
                                file.display()
                            );
                        }
                    }
                    Err(e) => errln!("ferry: could not write {}: {e}", file.display()),
                }
            }
        }
    }
    if client.is_tls() && !g.insecure && !url.implicit_tls {
        if let Some(file) = &opts.tls.known_hosts {
            if !tls::spoke_tls_before(file, &url.authority()) {
                errln!(
                    "ferry: warning: could not record in {} that {} speaks TLS: a later \
                     downgrade to plain FTP would not be noticed",
                    file.display(),
                    url.authority()
                );
            }
        }
    }
    if !client.is_tls() && !g.quiet && g.tls != crate::cli::Tls::Off {
        errln!(
            "ferry: note: {} does not offer TLS; this session (password included) is not encrypted",
            url.authority()
        );
    } else if client.is_tls() && !client.is_data_tls() && !g.quiet {
        errln!("ferry: note: the server refused encrypted data connections (PROT P); file contents travel in clear");
    }
    Ok(client)
}

pub async fn connect(url: &FtpUrl, creds: Credentials, g: &Global) -> Result<Client> {
    connect_as(url, creds, g, None).await
}

/// Shows an unverifiable certificate and asks whether to trust it (default no).
fn ask_trust(p: &CertProblem) -> bool {
    let CertProblem::Unknown {
        authority,
        fingerprint,
        reason,
    } = p
    else {
        return false;
    };
    let mut err = std::io::stderr();
    let _ = write!(
        err,
        "The TLS certificate of {authority} cannot be verified ({reason}).\n\
         SHA-256 fingerprint: {fingerprint}\n\
         Compare it with the server's (ferryd tls show). Trust it and remember it for \
         {authority}? [y/N] "
    );
    let _ = err.flush();
    let mut answer = String::new();
    if std::io::stdin().lock().read_line(&mut answer).is_err() {
        return false;
    }
    matches!(answer.trim().to_ascii_lowercase().as_str(), "y" | "yes")
}

/// What to do about a certificate refusal, for the error message.
pub fn advice(e: &Error) -> Option<String> {
    let Error::Certificate(p) = e else {
        return None;
    };
    Some(match p.as_ref() {
        CertProblem::Unknown { fingerprint, .. } => format!(
            "If this fingerprint is the server's (check with `ferryd tls show` on it), pin it by \
             running again with --trust-fingerprint {fingerprint}, or interactively (on a \
             terminal) to answer the prompt; or give the CA with --ca-file FILE."
        ),
        CertProblem::Changed {
            authority,
            fingerprint,
            file,
            ..
        } => format!(
            "If the change is expected, remove the line for {authority} from {} or run with \
             --trust-fingerprint {fingerprint} to pin the new certificate.",
            file.display()
        ),
        CertProblem::NotTheTrusted { .. } => {
            "Check the fingerprint given with --trust-fingerprint.".to_owned()
        }
    })
}
