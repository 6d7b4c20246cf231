//! `ftp://user[:password]@host[:port]/path` (RFC 1738 §3.2, IPv6 literals as in RFC 3986):
//! user, password and path are percent-decoded, so any UTF-8 name can be written.
//! `ftps://` is the same with implicit TLS (TLS from the first byte, port 990 by default).

use std::fmt;

use percent_encoding::{percent_decode_str, utf8_percent_encode, AsciiSet, CONTROLS};

use crate::error::{Error, Result};

pub const DEFAULT_PORT: u16 = 21;
/// The implicit-FTPS port (`ftps://`).
pub const DEFAULT_FTPS_PORT: u16 = 990;

#[derive(Clone, PartialEq, Eq)]
pub struct FtpUrl {
    pub user: Option<String>,
    pub password: Option<String>,
    /// A host name or an IP address, without brackets.
    pub host: String,
    pub port: u16,
    /// The path as the server should see it: `/` + the decoded URL path (empty when the URL
    /// has none, meaning the login directory).
    pub path: String,
    /// `ftps://`: implicit TLS.
    pub implicit_tls: bool,
}

/// Characters escaped when a URL is printed back (the path keeps its slashes).
const PATH_ESCAPES: &AsciiSet = &CONTROLS
    .add(b' ')
    .add(b'"')
    .add(b'#')
    .add(b'%')
    .add(b'?')
    .add(b'<')
    .add(b'>');
const USER_ESCAPES: &AsciiSet = &PATH_ESCAPES.add(b'@').add(b':').add(b'/');

impl FtpUrl {
    pub fn parse(s: &str) -> Result<FtpUrl> {
        let bad = |why: &str| Error::Usage(format!("{}: {why}", redact(s)));
        let scheme = |name: &str| {
            s.get(..name.len())
                .filter(|p| p.eq_ignore_ascii_case(name))
                .map(|_| &s[name.len()..])
        };
        let (rest, implicit_tls) = match (scheme("ftp://"), scheme("ftps://")) {
            (Some(r), _) => (r, false),
            (None, Some(r)) => (r, true),
            (None, None) => return Err(bad("not an ftp:// or ftps:// URL")),
        };
        let (authority, path) = match rest.find('/') {
            Some(i) => (&rest[..i], &rest[i..]),
            None => (rest, ""),
        };
        // The last '@' ends the user info: a password may contain an unescaped '@'.
        let (userinfo, hostport) = match authority.rfind('@') {
            Some(i) => (Some(&authority[..i]), &authority[i + 1..]),
            None => (None, authority),
        };
        let (user, password) = match userinfo {
            None => (None, None),
            Some(ui) => {
                let (u, p) = match ui.split_once(':') {
                    Some((u, p)) => (u, Some(p)),
                    None => (ui, None),
                };
                let u = decode(u).map_err(|_| bad("user name is not UTF-8"))?;
                let p = p
                    .map(decode)
                    .transpose()
                    .map_err(|_| bad("password is not UTF-8"))?;
                ((!u.is_empty()).then_some(u), p)
            }
        };
        let (host, port) = if let Some(v6) = hostport.strip_prefix('[') {
            let (h, after) = v6
                .split_once(']')
                .ok_or_else(|| bad("unclosed [ in IPv6 address"))?;
            let port = match after {
                "" => None,
                p => Some(
                    p.strip_prefix(':')
                        .ok_or_else(|| bad("junk after IPv6 address"))?,
                ),
            };
            (h.to_owned(), port)
        } else {
            match hostport.rsplit_once(':') {
                Some((h, p)) => (h.to_owned(), Some(p)),
                None => (hostport.to_owned(), None),
            }
        };
        if host.is_empty() {
            return Err(bad("no host"));
        }
        let port = match port {
            None | Some("") if implicit_tls => DEFAULT_FTPS_PORT,
            None | Some("") => DEFAULT_PORT,
            Some(p) => p
                .parse::<u16>()
                .ok()
                .filter(|p| *p != 0)
                .ok_or_else(|| bad("port must be a number from 1 to 65535"))?,
        };
        let path = if path.is_empty() {
            String::new()
        } else {
            decode(path).map_err(|_| bad("path is not UTF-8"))?
        };
        Ok(FtpUrl {
            user,
            password,
            host,
            port,
            path,
            implicit_tls,
        })
    }

    /// `host:port` for connecting (IPv6 literals in brackets).
    pub fn authority(&self) -> String {
        if self.host.contains(':') {
            format!("[{}]:{}", self.host, self.port)
        } else {
            format!("{}:{}", self.host, self.port)
        }
    }

    /// The last path component (`file.txt` of `/a/file.txt`), if any.
    pub fn file_name(&self) -> Option<&str> {
        self.path.rsplit('/').next().filter(|n| !n.is_empty())
    }

    /// The same server with another path.
    pub fn with_path(&self, path: &str) -> FtpUrl {
        FtpUrl {
            path: path.to_owned(),
            ..self.clone()
        }
    }
}

fn decode(s: &str) -> std::result::Result<String, std::str::Utf8Error> {
    percent_decode_str(s).decode_utf8().map(|c| c.into_owned())
}

/// Never shows the password: URLs end up in messages, logs and history.
impl fmt::Display for FtpUrl {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(if self.implicit_tls {
            "ftps://"
        } else {
            "ftp://"
        })?;
        if let Some(u) = &self.user {
            write!(f, "{}@", utf8_percent_encode(u, USER_ESCAPES))?;
        }
        f.write_str(&self.authority())?;
        write!(f, "{}", utf8_percent_encode(&self.path, PATH_ESCAPES))
    }
}

impl fmt::Debug for FtpUrl {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "FtpUrl({self})")
    }
}

/// A URL as typed, with any password replaced by `***` (for error messages and history).
pub fn redact(s: &str) -> String {
    let Some(scheme_end) = s.find("://") else {
        return s.to_owned();
    };
    let after = &s[scheme_end + 3..];
    let auth_end = after.find('/').unwrap_or(after.len());
    let authority = &after[..auth_end];
    match (authority.rfind('@'), authority.find(':')) {
        (Some(at), Some(colon)) if colon < at => format!(
            "{}{}:***{}",
            &s[..scheme_end + 3],
            &authority[..colon],
            &s[scheme_end + 3 + at..]
        ),
        _ => s.to_owned(),
    }
}

/// Whether a line typed in the shell carries a password in a URL.
pub fn contains_password(s: &str) -> bool {
    redact(s) != s
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn full_url() {
        let u = FtpUrl::parse("ftp://alice:s%40cret@example.com:2121/dir/f%C3%A9.txt").unwrap();
        assert_eq!(u.user.as_deref(), Some("alice"));
        assert_eq!(u.password.as_deref(), Some("s@cret"));
        assert_eq!(u.host, "example.com");
        assert_eq!(u.port, 2121);
        assert_eq!(u.path, "/dir/fé.txt");
        assert_eq!(u.file_name(), Some("fé.txt"));
        assert_eq!(
            u.to_string(),
            "ftp://alice@example.com:2121/dir/f%C3%A9.txt"
        );
        assert_eq!(FtpUrl::parse(&u.to_string()).unwrap().path, u.path);
    }

    #[test]
    fn defaults_and_ipv6() {
        let u = FtpUrl::parse("ftp://host").unwrap();
        assert_eq!((u.user, u.port, u.path.as_str()), (None, 21, ""));
        let u = FtpUrl::parse("ftp://bob@[::1]:2121/a b").unwrap();
        assert_eq!(u.host, "::1");
        assert_eq!(u.authority(), "[::1]:2121");
        assert_eq!(u.path, "/a b");
        assert_eq!(FtpUrl::parse("ftp://[::1]/").unwrap().port, 21);
        let u = FtpUrl::parse("FTP://x:p@ss@h/").unwrap();
        assert_eq!(u.password.as_deref(), Some("p@ss"));
    }

    #[test]
    fn ftps_is_implicit_tls_on_990() {
        let u = FtpUrl::parse("ftps://alice@host/x").unwrap();
        assert!(u.implicit_tls);
        assert_eq!(u.port, 990);
        assert_eq!(u.to_string(), "ftps://alice@host:990/x");
        assert_eq!(FtpUrl::parse("FTPS://h:2990").unwrap().port, 2990);
        assert!(!FtpUrl::parse("ftp://h").unwrap().implicit_tls);
    }

    #[test]
    fn rejects_malformed() {
        for bad in [
            "http://h/",
            "ftp://",
            "ftp://h:0/",
            "ftp://h:99999/",
            "ftp://[::1/",
            "ftp://h:x/",
        ] {
            assert!(FtpUrl::parse(bad).is_err(), "{bad}");
        }
        let e = FtpUrl::parse("ftp://u:topsecret@h:x/").unwrap_err();
        assert!(!e.to_string().contains("topsecret"));
    }

    #[test]
    fn redaction() {
        assert_eq!(redact("open ftp://a:pw@h/x"), "open ftp://a:***@h/x");
        assert_eq!(redact("ftp://a@h:21/x"), "ftp://a@h:21/x");
        assert!(contains_password("open ftp://a:pw@h"));
        assert!(!contains_password("open ftp://a@h:21"));
    }
}
