//! Exit codes, one per thing a script can react to (listed in `ferry --help`).

use ferry_client::{Error, ErrorKind};

pub const OK: i32 = 0;
pub const OTHER: i32 = 1;
pub const USAGE: i32 = 2;
pub const LOGIN: i32 = 3;
pub const NOT_FOUND: i32 = 4;
pub const QUOTA: i32 = 5;
pub const INTEGRITY: i32 = 6;
pub const NETWORK: i32 = 7;
/// As a shell reports a process ended by SIGINT.
pub const INTERRUPTED: i32 = 130;

pub fn code(e: &Error) -> i32 {
    match e.kind() {
        ErrorKind::Usage => USAGE,
        ErrorKind::Login => LOGIN,
        ErrorKind::NotFound => NOT_FOUND,
        ErrorKind::Quota => QUOTA,
        ErrorKind::Integrity => INTEGRITY,
        ErrorKind::Network | ErrorKind::Tls => NETWORK,
        ErrorKind::Aborted => INTERRUPTED,
        ErrorKind::Other => OTHER,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use ferry_proto::Reply;

    #[test]
    fn codes() {
        let s = |c| code(&Error::server("X", &Reply::new(c, "")));
        assert_eq!(
            (s(552), s(452), s(550), s(530), s(421), s(500)),
            (5, 5, 4, 3, 7, 1)
        );
        assert_eq!(code(&Error::Usage("x".into())), 2);
        assert_eq!(code(&Error::Login("x".into())), 3);
        assert_eq!(code(&Error::VerifyUnavailable("x".into())), 6);
    }
}
