//! Integrity: which digest the server can compute for us, and the same digest computed
//! locally while the bytes stream (with `ferry_transfer::Hasher`). Preference: `HASH` in SHA-256 (selected with `OPTS HASH`),
//! else the legacy `XSHA256`, `XSHA1`, `XMD5` — always in an algorithm both sides have.

use ferry_proto::hash::HashAlgo;

use crate::features::Features;

/// How this server computes digests for us.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum DigestMethod {
    /// `HASH path`, in `algo` (selected by `OPTS HASH` when not already the server's choice);
    /// `ranges` when `RANG` can limit it to a prefix.
    Hash { algo: HashAlgo, ranges: bool },
    /// `XSHA256 path [start end]` and friends (ranges always accepted).
    Legacy(HashAlgo),
}

impl DigestMethod {
    /// The best method the FEAT reply offers, or None.
    pub fn choose(features: &Features) -> Option<DigestMethod> {
        const PREFERRED: [HashAlgo; 4] = [
            HashAlgo::Sha256,
            HashAlgo::Sha512,
            HashAlgo::Sha1,
            HashAlgo::Md5,
        ];
        if features.has("HASH") {
            if let Some(algo) = PREFERRED
                .into_iter()
                .find(|a| features.hash_algos.contains(a))
            {
                return Some(DigestMethod::Hash {
                    algo,
                    ranges: features.has("RANG"),
                });
            }
        }
        [HashAlgo::Sha256, HashAlgo::Sha1, HashAlgo::Md5]
            .into_iter()
            .find(|a| features.has(a.legacy_command()))
            .map(DigestMethod::Legacy)
    }

    pub fn algo(self) -> HashAlgo {
        match self {
            DigestMethod::Hash { algo, .. } | DigestMethod::Legacy(algo) => algo,
        }
    }

    /// Whether the server can hash a prefix (needed to resume safely).
    pub fn supports_ranges(self) -> bool {
        match self {
            DigestMethod::Hash { ranges, .. } => ranges,
            DigestMethod::Legacy(_) => true,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use ferry_proto::Reply;

    fn features(lines: &[&str]) -> Features {
        let mut v = vec!["Features:".to_owned()];
        v.extend(lines.iter().map(|l| format!(" {l}")));
        v.push("End".into());
        Features::parse(&Reply::multi(211, v))
    }

    #[test]
    fn prefers_hash_sha256_then_legacy() {
        let f = features(&["HASH SHA-1*;SHA-256;MD5", "RANG STREAM", "XMD5"]);
        assert_eq!(
            DigestMethod::choose(&f),
            Some(DigestMethod::Hash {
                algo: HashAlgo::Sha256,
                ranges: true
            })
        );
        let f = features(&["XMD5", "XSHA1"]);
        assert_eq!(
            DigestMethod::choose(&f),
            Some(DigestMethod::Legacy(HashAlgo::Sha1))
        );
        assert_eq!(DigestMethod::choose(&features(&["MLST"])), None);
    }
}
