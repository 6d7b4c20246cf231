//! When to resume, skip or start over — the same rules for downloads and uploads, where
//! "have" is what already sits at the destination and "want" the size of the source:
//!
//! | destination          | check                                   | then                |
//! |----------------------|-----------------------------------------|---------------------|
//! | absent or empty      | —                                       | transfer            |
//! | smaller              | digest of its bytes = source's prefix?  | resume, else restart|
//! | same size            | digests equal?                          | skip, else restart  |
//! | larger               | —                                       | restart             |
//!
//! Without a digest on the server the check cannot be made (the user is told, and
//! `--verify required` refuses before anything moves): a smaller destination is resumed on
//! its size alone, and one of the same size is kept only when the modification times agree
//! too (rsync's quick check; transfers carry the time over, MDTM/MFMT, so an unchanged file
//! matches on the next run).

use std::fs::File;
use std::io::{self, Read};
use std::path::Path;

use ferry_proto::hash::HashAlgo;

use crate::client::VerifyMode;
use crate::error::{Error, Result};
use ferry_transfer::Hasher;

/// What to look at before deciding.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Check {
    /// Nothing to compare: transfer everything.
    None,
    /// Compare the destination's `n` bytes with the source's first `n`.
    Prefix(u64),
    /// Compare the whole files.
    Whole,
}

pub fn check_for(have: Option<u64>, want: u64) -> Check {
    match have {
        // Two empty files are compared like any others (and then skipped), not sent again.
        Some(0) if want == 0 => Check::Whole,
        None | Some(0) => Check::None,
        Some(h) if h < want => Check::Prefix(h),
        Some(h) if h == want => Check::Whole,
        Some(_) => Check::None,
    }
}

/// What comparing the digests showed.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Verdict {
    Same,
    Different,
    /// The server offers no digest (for this range).
    Unknown,
    /// No digest, and the files have the same size but different modification times.
    OtherTime,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Plan {
    /// Transfer from the start (replacing whatever is there).
    Fresh,
    /// Keep the first n bytes, transfer the rest.
    Resume(u64),
    /// Identical already.
    Skip,
}

/// The decision table of the module comment.
pub fn decide(check: Check, verdict: Verdict, mode: VerifyMode, name: &str) -> Result<Plan> {
    if verdict == Verdict::Unknown && mode == VerifyMode::Required && check != Check::None {
        return Err(Error::VerifyUnavailable(name.to_owned()));
    }
    Ok(match (check, verdict) {
        (Check::None, _) => Plan::Fresh,
        (Check::Prefix(n), Verdict::Same | Verdict::Unknown) => Plan::Resume(n),
        (Check::Whole, Verdict::Same | Verdict::Unknown) => Plan::Skip,
        (_, Verdict::Different | Verdict::OtherTime) => Plan::Fresh,
    })
}

/// The digest of a local file's first `len` bytes, as a hasher that can go on over the rest.
/// Runs on a blocking thread.
pub async fn hash_prefix(path: &Path, len: u64, algo: HashAlgo) -> Result<Hasher> {
    let p = path.to_owned();
    let ctx = format!("reading {}", path.display());
    tokio::task::spawn_blocking(move || -> io::Result<Hasher> {
        let mut h = Hasher::new(algo);
        let file = File::open(&p)?;
        let mut rest = file.take(len);
        let mut buf = vec![0u8; ferry_transfer::pump::BUFFER_SIZE];
        let mut seen = 0u64;
        loop {
            let n = match rest.read(&mut buf) {
                Ok(0) => break,
                Ok(n) => n,
                Err(e) if e.kind() == io::ErrorKind::Interrupted => continue,
                Err(e) => return Err(e),
            };
            h.update(&buf[..n]);
            seen += n as u64;
        }
        if seen != len {
            return Err(io::Error::new(
                io::ErrorKind::UnexpectedEof,
                "the file shrank while being read",
            ));
        }
        Ok(h)
    })
    .await
    .map_err(|e| Error::local(&ctx, io::Error::other(e)))?
    .map_err(|e| Error::local(ctx, e))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_matrix() {
        let auto = VerifyMode::Auto;
        let d = |have, v| decide(check_for(have, 100), v, auto, "f").unwrap();
        assert_eq!(d(None, Verdict::Unknown), Plan::Fresh);
        assert_eq!(d(Some(0), Verdict::Unknown), Plan::Fresh);
        assert_eq!(d(Some(40), Verdict::Same), Plan::Resume(40));
        assert_eq!(d(Some(40), Verdict::Different), Plan::Fresh);
        assert_eq!(d(Some(40), Verdict::Unknown), Plan::Resume(40));
        assert_eq!(d(Some(100), Verdict::Same), Plan::Skip);
        assert_eq!(d(Some(100), Verdict::Different), Plan::Fresh);
        assert_eq!(d(Some(101), Verdict::Unknown), Plan::Fresh);
        assert_eq!(d(Some(100), Verdict::OtherTime), Plan::Fresh);
        assert_eq!(check_for(Some(0), 0), Check::Whole);
        assert_eq!(check_for(Some(0), 5), Check::None);
        assert!(decide(
            Check::Prefix(4),
            Verdict::Unknown,
            VerifyMode::Required,
            "f"
        )
        .is_err());
        assert_eq!(
            decide(Check::None, Verdict::Unknown, VerifyMode::Required, "f").unwrap(),
            Plan::Fresh
        );
    }
}
