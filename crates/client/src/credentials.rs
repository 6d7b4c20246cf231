//! Where the user name and password come from, first match wins: the URL, `--user`,
//! `~/.netrc`, `FERRY_PASSWORD`, then an interactive prompt (the binary's job), else
//! anonymous. Passwords live only in memory: [`Credentials`] never prints one.

use std::fmt;
use std::path::{Path, PathBuf};

use crate::url::FtpUrl;

#[derive(Clone, PartialEq, Eq)]
pub struct Credentials {
    pub user: String,
    pub password: String,
}

impl fmt::Debug for Credentials {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "Credentials({}, ***)", self.user)
    }
}

/// One `machine` (or `default`) entry of a netrc file.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct NetrcEntry {
    pub machine: Option<String>,
    pub login: Option<String>,
    pub password: Option<String>,
}

/// Parses a netrc file (the format of inetutils ftp and curl): tokens separated by
/// whitespace, `machine NAME` / `default` open an entry, `login` and `password` fill it,
/// `macdef` bodies (up to a blank line) are skipped.
pub fn parse_netrc(text: &str) -> Vec<NetrcEntry> {
    let mut entries: Vec<NetrcEntry> = Vec::new();
    let mut lines = text.lines();
    while let Some(line) = lines.next() {
        let mut tokens = line.split_whitespace();
        while let Some(tok) = tokens.next() {
            if tok.starts_with('#') {
                break;
            }
            match tok {
                "machine" => entries.push(NetrcEntry {
                    machine: tokens.next().map(str::to_owned),
                    ..NetrcEntry::default()
                }),
                "default" => entries.push(NetrcEntry::default()),
                "login" => {
                    if let (Some(e), Some(v)) = (entries.last_mut(), tokens.next()) {
                        e.login = Some(v.to_owned());
                    }
                }
                "password" => {
                    if let (Some(e), Some(v)) = (entries.last_mut(), tokens.next()) {
                        e.password = Some(v.to_owned());
                    }
                }
                "macdef" => {
                    for body in lines.by_ref() {
                        if body.trim().is_empty() {
                            break;
                        }
                    }
                    break;
                }
                _ => {}
            }
        }
    }
    entries
}

/// The netrc entry for `host`: its `machine` entry, else `default`.
pub fn netrc_lookup(entries: &[NetrcEntry], host: &str) -> Option<NetrcEntry> {
    entries
        .iter()
        .find(|e| {
            e.machine
                .as_deref()
                .is_some_and(|m| m.eq_ignore_ascii_case(host))
        })
        .or_else(|| entries.iter().find(|e| e.machine.is_none()))
        .cloned()
}

/// `$NETRC`, else `~/.netrc`.
pub fn netrc_path() -> Option<PathBuf> {
    if let Some(p) = std::env::var_os("NETRC") {
        return Some(PathBuf::from(p));
    }
    std::env::var_os("HOME").map(|h| Path::new(&h).join(".netrc"))
}

/// What is known without asking the user. `user` is None when nothing names one (the caller
/// then uses anonymous); `password` is None when the user must be asked.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Partial {
    pub user: Option<String>,
    pub password: Option<String>,
}

pub const ANONYMOUS: &str = "anonymous";

/// Gathers credentials from the URL, `--user`, the netrc entries and `FERRY_PASSWORD`.
pub fn gather(
    url: &FtpUrl,
    user_flag: Option<&str>,
    netrc: &[NetrcEntry],
    env_password: Option<String>,
) -> Partial {
    let mut user = url.user.clone().or_else(|| user_flag.map(str::to_owned));
    let mut password = url.password.clone();
    if password.is_none() {
        if let Some(e) = netrc_lookup(netrc, &url.host) {
            // A netrc password belongs to its login: use it only for that user.
            let matches = match (&user, &e.login) {
                (Some(u), Some(l)) => u == l,
                (None, Some(_)) => true,
                (_, None) => false,
            };
            if matches {
                user = user.or(e.login);
                password = e.password;
            }
        }
    }
    if password.is_none() && user.is_some() {
        password = env_password;
    }
    if user.is_none() && password.is_none() {
        return Partial {
            user: Some(ANONYMOUS.to_owned()),
            password: Some("ferry@".to_owned()),
        };
    }
    Partial { user, password }
}

#[cfg(test)]
mod tests {
    use super::*;

    const NETRC: &str = "# comment\nmachine example.com login alice password pw1\n\
        macdef init\ncd /x\n\nmachine other login bob\n  password pw2\ndefault login anon password a@b\n";

    #[test]
    fn netrc_entries() {
        let e = parse_netrc(NETRC);
        assert_eq!(e.len(), 3);
        let a = netrc_lookup(&e, "EXAMPLE.com").unwrap();
        assert_eq!(
            (a.login.as_deref(), a.password.as_deref()),
            (Some("alice"), Some("pw1"))
        );
        let b = netrc_lookup(&e, "other").unwrap();
        assert_eq!(b.password.as_deref(), Some("pw2"));
        let d = netrc_lookup(&e, "elsewhere").unwrap();
        assert_eq!(d.login.as_deref(), Some("anon"));
    }

    #[test]
    fn precedence() {
        let netrc = parse_netrc(NETRC);
        let url = |s| FtpUrl::parse(s).unwrap();
        // URL password wins.
        let p = gather(&url("ftp://alice:x@example.com"), None, &netrc, None);
        assert_eq!(p.password.as_deref(), Some("x"));
        // netrc fills the user and password.
        let p = gather(&url("ftp://example.com"), None, &netrc, None);
        assert_eq!(
            (p.user.as_deref(), p.password.as_deref()),
            (Some("alice"), Some("pw1"))
        );
        // A netrc password for another login is not used; the environment is.
        let p = gather(
            &url("ftp://example.com"),
            Some("carol"),
            &netrc,
            Some("env".into()),
        );
        assert_eq!(
            (p.user.as_deref(), p.password.as_deref()),
            (Some("carol"), Some("env"))
        );
        // Nothing at all: prompt needed.
        let p = gather(&url("ftp://dave@nowhere"), None, &[], None);
        assert_eq!((p.user.as_deref(), p.password), (Some("dave"), None));
        // No user anywhere: anonymous.
        let p = gather(&url("ftp://nowhere"), None, &[], None);
        assert_eq!(p.user.as_deref(), Some(ANONYMOUS));
    }
}
