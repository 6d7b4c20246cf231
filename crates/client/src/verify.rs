//! Integrity: which digest the server can compute for us, and the same digest computed
//! locally while the bytes stream. Preference: `HASH` in SHA-256 (selected with `OPTS HASH`),
//! else the legacy `XSHA256`, `XSHA1`, `XMD5` — always in an algorithm both sides have.

use ferry_proto::hash::HashAlgo;
use md5::Md5;
use sha1::Sha1;
use sha2::{Digest, Sha256, Sha512};

use crate::features::Features;

/// A running digest in one of the algorithms the client can compute.
#[derive(Clone)]
pub enum LocalHasher {
    Sha256(Sha256),
    Sha512(Sha512),
    Sha1(Sha1),
    Md5(Md5),
}

impl LocalHasher {
    pub fn new(algo: HashAlgo) -> Option<LocalHasher> {
        Some(match algo {
            HashAlgo::Sha256 => LocalHasher::Sha256(Sha256::new()),
            HashAlgo::Sha512 => LocalHasher::Sha512(Sha512::new()),
            HashAlgo::Sha1 => LocalHasher::Sha1(Sha1::new()),
            HashAlgo::Md5 => LocalHasher::Md5(Md5::new()),
            HashAlgo::Crc32 => return None,
        })
    }

    pub fn algo(&self) -> HashAlgo {
        match self {
            LocalHasher::Sha256(_) => HashAlgo::Sha256,
            LocalHasher::Sha512(_) => HashAlgo::Sha512,
            LocalHasher::Sha1(_) => HashAlgo::Sha1,
            LocalHasher::Md5(_) => HashAlgo::Md5,
        }
    }

    pub fn update(&mut self, data: &[u8]) {
        match self {
            LocalHasher::Sha256(h) => h.update(data),
            LocalHasher::Sha512(h) => h.update(data),
            LocalHasher::Sha1(h) => h.update(data),
            LocalHasher::Md5(h) => h.update(data),
        }
    }

    /// The lower-case hex digest of what was fed so far; the hasher can go on.
    pub fn peek_hex(&self) -> String {
        self.clone().finish_hex()
    }

    pub fn finish_hex(self) -> String {
        match self {
            LocalHasher::Sha256(h) => hex::encode(h.finalize()),
            LocalHasher::Sha512(h) => hex::encode(h.finalize()),
            LocalHasher::Sha1(h) => hex::encode(h.finalize()),
            LocalHasher::Md5(h) => hex::encode(h.finalize()),
        }
    }
}

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

    #[test]
    fn hasher_peeks_and_continues() {
        let mut h = LocalHasher::new(HashAlgo::Sha256).unwrap();
        h.update(b"ab");
        let mut whole = LocalHasher::new(HashAlgo::Sha256).unwrap();
        whole.update(b"abc");
        assert_eq!(h.peek_hex().len(), 64);
        h.update(b"c");
        assert_eq!(h.finish_hex(), whole.finish_hex());
        assert_eq!(
            LocalHasher::new(HashAlgo::Md5).unwrap().finish_hex(),
            "d41d8cd98f00b204e9800998ecf8427e"
        );
    }
}
