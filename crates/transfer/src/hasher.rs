//! One running digest for every algorithm HASH names (RFC draft-bryan-ftpext-hash):
//! the server computes it while an upload streams and on demand, the client while a transfer
//! streams, to compare with the server's.

use ferry_proto::hash::HashAlgo;
use sha2::Digest;

/// A running digest of one algorithm. `Clone` lets a caller read the digest so far and go on.
#[derive(Clone)]
pub enum Hasher {
    Sha256(sha2::Sha256),
    Sha512(sha2::Sha512),
    Sha1(sha1::Sha1),
    Md5(md5::Md5),
    Crc32(crc32fast::Hasher),
}

impl Hasher {
    pub fn new(algo: HashAlgo) -> Hasher {
        match algo {
            HashAlgo::Sha256 => Hasher::Sha256(sha2::Sha256::new()),
            HashAlgo::Sha512 => Hasher::Sha512(sha2::Sha512::new()),
            HashAlgo::Sha1 => Hasher::Sha1(sha1::Sha1::new()),
            HashAlgo::Md5 => Hasher::Md5(md5::Md5::new()),
            HashAlgo::Crc32 => Hasher::Crc32(crc32fast::Hasher::new()),
        }
    }

    pub fn algo(&self) -> HashAlgo {
        match self {
            Hasher::Sha256(_) => HashAlgo::Sha256,
            Hasher::Sha512(_) => HashAlgo::Sha512,
            Hasher::Sha1(_) => HashAlgo::Sha1,
            Hasher::Md5(_) => HashAlgo::Md5,
            Hasher::Crc32(_) => HashAlgo::Crc32,
        }
    }

    pub fn update(&mut self, data: &[u8]) {
        match self {
            Hasher::Sha256(h) => h.update(data),
            Hasher::Sha512(h) => h.update(data),
            Hasher::Sha1(h) => h.update(data),
            Hasher::Md5(h) => h.update(data),
            Hasher::Crc32(h) => h.update(data),
        }
    }

    /// The lower-case hex digest of what was fed so far; the hasher can go on.
    pub fn peek_hex(&self) -> String {
        self.clone().finish_hex()
    }

    /// The lower-case hex digest (CRC-32 as 8 hex digits, as HASH replies give it).
    pub fn finish_hex(self) -> String {
        match self {
            Hasher::Sha256(h) => hex::encode(h.finalize()),
            Hasher::Sha512(h) => hex::encode(h.finalize()),
            Hasher::Sha1(h) => hex::encode(h.finalize()),
            Hasher::Md5(h) => hex::encode(h.finalize()),
            Hasher::Crc32(h) => format!("{:08x}", h.finalize()),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Published vectors for "abc" (FIPS 180-2, RFC 1321, and the CRC-32/ISO-HDLC check).
    #[test]
    fn every_algorithm_matches_its_known_vector() {
        let vectors = [
            (
                HashAlgo::Sha256,
                "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad",
            ),
            (
                HashAlgo::Sha512,
                "ddaf35a193617abacc417349ae20413112e6fa4e89a97ea20a9eeee64b55d39a\
                 2192992a274fc1a836ba3c23a3feebbd454d4423643ce80e2a9ac94fa54ca49f",
            ),
            (HashAlgo::Sha1, "a9993e364706816aba3e25717850c26c9cd0d89d"),
            (HashAlgo::Md5, "900150983cd24fb0d6963f7d28e17f72"),
            (HashAlgo::Crc32, "352441c2"),
        ];
        for (algo, want) in vectors {
            let mut h = Hasher::new(algo);
            assert_eq!(h.algo(), algo);
            h.update(b"a");
            h.update(b"bc");
            assert_eq!(h.finish_hex(), want, "{}", algo.name());
        }
        assert_eq!(
            Hasher::new(HashAlgo::Md5).finish_hex(),
            "d41d8cd98f00b204e9800998ecf8427e"
        );
    }

    #[test]
    fn peeking_does_not_disturb_the_digest() {
        let mut h = Hasher::new(HashAlgo::Sha256);
        h.update(b"ab");
        let mut whole = Hasher::new(HashAlgo::Sha256);
        whole.update(b"abc");
        assert_eq!(h.peek_hex().len(), 64);
        h.update(b"c");
        assert_eq!(h.finish_hex(), whole.finish_hex());
    }
}
