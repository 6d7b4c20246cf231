//! Names of the digest algorithms of the HASH command (draft-bryan-ftpext-hash-02) and their
//! legacy X* commands.

use std::fmt;

#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum HashAlgo {
    Sha256,
    Sha512,
    Sha1,
    Md5,
    Crc32,
}

impl HashAlgo {
    /// In the order FEAT lists them.
    pub const ALL: [HashAlgo; 5] = [
        HashAlgo::Sha256,
        HashAlgo::Sha512,
        HashAlgo::Sha1,
        HashAlgo::Md5,
        HashAlgo::Crc32,
    ];

    /// The IANA-style name used on the wire (`SHA-256`).
    pub fn name(self) -> &'static str {
        match self {
            HashAlgo::Sha256 => "SHA-256",
            HashAlgo::Sha512 => "SHA-512",
            HashAlgo::Sha1 => "SHA-1",
            HashAlgo::Md5 => "MD5",
            HashAlgo::Crc32 => "CRC32",
        }
    }

    /// Case-insensitive; also accepts the names without the dash (`SHA256`).
    pub fn parse(s: &str) -> Option<HashAlgo> {
        let s = s.trim().to_ascii_uppercase().replace('-', "");
        HashAlgo::ALL
            .into_iter()
            .find(|a| a.name().replace('-', "") == s)
    }

    /// The legacy command that computes this digest (`XSHA256`, ..., `XCRC`).
    pub fn legacy_command(self) -> &'static str {
        match self {
            HashAlgo::Sha256 => "XSHA256",
            HashAlgo::Sha512 => "XSHA512",
            HashAlgo::Sha1 => "XSHA1",
            HashAlgo::Md5 => "XMD5",
            HashAlgo::Crc32 => "XCRC",
        }
    }

    /// The FEAT line, with the selected algorithm starred: `HASH SHA-256*;SHA-512;...`.
    pub fn feat_line(selected: HashAlgo) -> String {
        let names: Vec<String> = HashAlgo::ALL
            .iter()
            .map(|a| {
                if *a == selected {
                    format!("{}*", a.name())
                } else {
                    a.name().to_owned()
                }
            })
            .collect();
        format!("HASH {}", names.join(";"))
    }
}

impl fmt::Display for HashAlgo {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}

/// A HASH reply's text: `SHA-256 0-1234 <hex> <path>` (the end is exclusive: `0-<size>` for a
/// whole file, as ProFTPD replies).
pub fn hash_reply_text(algo: HashAlgo, start: u64, end: u64, hex: &str, path: &str) -> String {
    format!("{} {start}-{end} {hex} {path}", algo.name())
}

/// Parses a HASH reply's text into (algo, start, end, hex).
pub fn parse_hash_reply(text: &str) -> Option<(HashAlgo, u64, u64, String)> {
    let mut words = text.splitn(4, ' ');
    let algo = HashAlgo::parse(words.next()?)?;
    let (start, end) = words.next()?.split_once('-')?;
    let hex = words.next()?.to_ascii_lowercase();
    Some((algo, start.parse().ok()?, end.parse().ok()?, hex))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_and_feat() {
        assert_eq!(HashAlgo::parse("sha-256"), Some(HashAlgo::Sha256));
        assert_eq!(HashAlgo::parse("SHA512"), Some(HashAlgo::Sha512));
        assert_eq!(HashAlgo::parse("crc32"), Some(HashAlgo::Crc32));
        assert_eq!(HashAlgo::parse("whirlpool"), None);
        assert_eq!(
            HashAlgo::feat_line(HashAlgo::Md5),
            "HASH SHA-256;SHA-512;SHA-1;MD5*;CRC32"
        );
        let t = hash_reply_text(HashAlgo::Sha1, 0, 5, "ABC", "a b");
        assert_eq!(
            parse_hash_reply(&t),
            Some((HashAlgo::Sha1, 0, 5, "abc".into()))
        );
    }
}
