//! From a URL and the flags to a logged-in client: credentials (URL, --user, ~/.netrc,
//! FERRY_PASSWORD, then a no-echo prompt on a terminal) and connection options.

use std::io::IsTerminal;
use std::time::Duration;

use ferry_client::credentials::{gather, netrc_path, parse_netrc, NetrcEntry};
use ferry_client::{Client, ClientOptions, Credentials, Error, FtpUrl, Result};

use crate::cli::Global;

pub fn options(g: &Global) -> ClientOptions {
    ClientOptions {
        timeout: Duration::from_secs(g.timeout.max(1)),
        active: g.active,
        verify: g.verify.into(),
        retries: g.retries,
        rate_limit: g.limit_rate,
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

pub async fn connect(url: &FtpUrl, creds: Credentials, g: &Global) -> Result<Client> {
    Client::connect(&url.authority(), creds, options(g)).await
}
