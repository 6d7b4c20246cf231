//! What can go wrong, sorted by what the user can do about it. The binary turns
//! [`ErrorKind`] into an exit code; retries ask [`Error::is_transient`].

use std::io;
use std::time::Duration;

use ferry_proto::Reply;

pub type Result<T, E = Error> = std::result::Result<T, E>;

#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum Error {
    /// The user asked for something malformed (a bad URL, a missing argument).
    #[error("{0}")]
    Usage(String),
    /// The server refused the credentials, or none could be found.
    #[error("login failed: {0}")]
    Login(String),
    /// The server answered a command with a refusal.
    #[error("{command}: {code} {text}")]
    Server {
        command: String,
        code: u16,
        text: String,
    },
    /// Our digest of the bytes differs from the server's.
    #[error("integrity check failed for {path}: local {algo} {local}, server {remote}")]
    Integrity {
        path: String,
        algo: String,
        local: String,
        remote: String,
    },
    /// `--verify required` and the server offers no digest we can use.
    #[error("cannot verify {0}: --verify required, and the server gives no digest for it (HASH, XSHA256, XSHA1 or XMD5)")]
    VerifyUnavailable(String),
    /// A local file operation failed.
    #[error("{context}: {source}")]
    Local {
        context: String,
        #[source]
        source: io::Error,
    },
    /// The control or data connection failed.
    #[error("network error: {0}")]
    Network(#[source] io::Error),
    #[error("timed out after {}s waiting for {what}", .after.as_secs())]
    Timeout { what: String, after: Duration },
    /// The server said something that is not FTP.
    #[error("protocol error: {0}")]
    Protocol(String),
    /// The user interrupted (Ctrl-C).
    #[error("aborted")]
    Aborted,
    #[error("not connected")]
    NotConnected,
    /// The server's certificate was not accepted (see [`crate::tls`]).
    #[error("{0}")]
    Certificate(Box<crate::tls::CertProblem>),
    /// Some files of a multi-file transfer failed (each was reported as it happened, see
    /// [`crate::Progress::failed`]); `first` gives the batch its class.
    #[error("{failed} of {total} files failed; the first: {first}")]
    Batch {
        failed: usize,
        total: usize,
        first: Box<Error>,
    },
    /// The server named a file that cannot be created locally without leaving the target
    /// (`..`, `a/b`, control characters): skipped, see [`crate::names`].
    #[error("{name}: refused a name from the server: {why}")]
    UnsafeName { name: String, why: &'static str },
    /// TLS could not be set up (refused by the server under `--tls require`, failed handshake).
    #[error("TLS: {0}")]
    Tls(String),
}

/// The classes of failure the command line distinguishes (see the exit codes in `ferry --help`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ErrorKind {
    Usage,
    Login,
    /// Not found, or not permitted (FTP does not tell them apart: `550`).
    NotFound,
    /// Over quota or disk full (`552`, `452`, local ENOSPC).
    Quota,
    Integrity,
    Network,
    /// No secure connection: certificate not trusted, or TLS required and unavailable.
    Tls,
    Aborted,
    Other,
}

impl Error {
    pub fn server(command: impl Into<String>, reply: &Reply) -> Error {
        Error::Server {
            command: command.into(),
            code: reply.code,
            text: reply.lines.join(" ").trim().to_owned(),
        }
    }

    pub fn local(context: impl Into<String>, source: io::Error) -> Error {
        Error::Local {
            context: context.into(),
            source,
        }
    }

    pub fn kind(&self) -> ErrorKind {
        match self {
            Error::Usage(_) => ErrorKind::Usage,
            Error::Login(_) => ErrorKind::Login,
            Error::Server { code, .. } => match code {
                552 | 452 => ErrorKind::Quota,
                421 | 425 | 426 => ErrorKind::Network,
                530 | 532 => ErrorKind::Login,
                450 | 550 | 553 => ErrorKind::NotFound,
                _ => ErrorKind::Other,
            },
            Error::Integrity { .. } | Error::VerifyUnavailable(_) => ErrorKind::Integrity,
            Error::Local { source, .. } => match source.kind() {
                io::ErrorKind::NotFound | io::ErrorKind::PermissionDenied => ErrorKind::NotFound,
                io::ErrorKind::StorageFull | io::ErrorKind::QuotaExceeded => ErrorKind::Quota,
                _ => ErrorKind::Other,
            },
            Error::Network(_) | Error::Timeout { .. } | Error::NotConnected => ErrorKind::Network,
            Error::Protocol(_) | Error::UnsafeName { .. } => ErrorKind::Other,
            Error::Aborted => ErrorKind::Aborted,
            Error::Certificate(_) | Error::Tls(_) => ErrorKind::Tls,
            Error::Batch { first, .. } => first.kind(),
        }
    }

    /// Worth reconnecting and trying again: the network failed, or the server said so
    /// (`421` service closing, `425` no data connection, `426` transfer aborted).
    pub fn is_transient(&self) -> bool {
        matches!(
            self,
            Error::Network(_) | Error::Timeout { .. } | Error::NotConnected
        ) || matches!(
            self,
            Error::Server {
                code: 421 | 425 | 426,
                ..
            }
        )
    }

    /// Worth connecting again after a pause: the server is busy (`421 Too many
    /// connections`, as a greeting or at login) or closed the connection before the login
    /// completed. A refused connection or an unknown host is not: waiting would not change
    /// it, and the user should hear of it at once.
    pub fn is_busy_or_dropped(&self) -> bool {
        match self {
            Error::Server { code: 421, .. } => true,
            Error::Network(e) => matches!(
                e.kind(),
                io::ErrorKind::UnexpectedEof
                    | io::ErrorKind::ConnectionReset
                    | io::ErrorKind::ConnectionAborted
                    | io::ErrorKind::BrokenPipe
            ),
            _ => false,
        }
    }

    /// The server's reply code, when the server refused.
    pub fn code(&self) -> Option<u16> {
        match self {
            Error::Server { code, .. } => Some(*code),
            _ => None,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn kinds_follow_reply_codes() {
        let e = |code| Error::server("STOR x", &Reply::new(code, "no"));
        assert_eq!(e(552).kind(), ErrorKind::Quota);
        assert_eq!(e(452).kind(), ErrorKind::Quota);
        assert_eq!(e(550).kind(), ErrorKind::NotFound);
        assert_eq!(e(426).kind(), ErrorKind::Network);
        assert!(e(426).is_transient());
        assert!(e(421).is_transient());
        assert!(!e(550).is_transient());
        assert_eq!(e(500).kind(), ErrorKind::Other);
        assert_eq!(
            Error::local("open", io::Error::from(io::ErrorKind::NotFound)).kind(),
            ErrorKind::NotFound
        );
    }
}
