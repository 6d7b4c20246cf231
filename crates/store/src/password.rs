//! Password hashing: argon2id PHC strings at (at least) the OWASP minimum, verified off the
//! async runtime on a bounded pool, with a short-lived cache of verified credentials.
//!
//! Why a cache: FileZilla and other clients open a new control connection per transfer with
//! the same login, and each argon2id verification costs tens of milliseconds of CPU and 19 MiB
//! of memory. A success is remembered for a minute as a keyed SHA-256 of the password (key
//! random per process, never stored), tied to the exact stored hash, so a password change or a
//! wrong password never hits the cache.

use std::collections::HashMap;
use std::sync::Mutex;
use std::time::{Duration, Instant};

use argon2::password_hash::{PasswordHash, PasswordHasher, SaltString};
use argon2::{Algorithm, Argon2, Params, Version};
use rand_core::{OsRng, RngCore};
use sha2::{Digest, Sha256};
use tokio::sync::Semaphore;

/// OWASP's minimum for argon2id: 19 MiB, 2 iterations, 1 lane.
const M_COST_KIB: u32 = 19 * 1024;
const T_COST: u32 = 2;
const P_COST: u32 = 1;

fn argon2id() -> Argon2<'static> {
    // The constants are valid parameters; Params::new only fails outside argon2's ranges.
    let params = Params::new(M_COST_KIB, T_COST, P_COST, None).unwrap_or_default();
    Argon2::new(Algorithm::Argon2id, Version::V0x13, params)
}

/// Hashes a password into an argon2id PHC string (blocking; call off the runtime).
pub fn hash_password(password: &str) -> Result<String, String> {
    let salt = SaltString::generate(&mut OsRng);
    argon2id()
        .hash_password(password.as_bytes(), &salt)
        .map(|h| h.to_string())
        .map_err(|e| e.to_string())
}

/// Verifies against any stored scheme: argon2id (ours), or a legacy hash brought in by
/// `ferryd user import` (crypt MD5/SHA-256/SHA-512, Apache MD5, bcrypt, plain MD5, verified by
/// crypt3_rs, a maintained pure-Rust crypt(3)), which is replaced by
/// argon2id on the next successful login.
fn verify_blocking(password: &str, stored: &str) -> bool {
    match scheme_of(stored) {
        Scheme::Argon2 => match PasswordHash::new(stored) {
            // The parameters come from the PHC string itself, so older hashes keep verifying.
            Ok(parsed) => parsed
                .verify_password(&[&Argon2::default()], password)
                .is_ok(),
            Err(_) => false,
        },
        // Each scheme's own verifier: crypt3_rs's format-guessing entry point rejects valid
        // SHA-crypt hashes whose salt is shorter than 16 characters.
        Scheme::Crypt("md5-crypt") => crypt3_rs::crypt::md5::verify(password, stored),
        Scheme::Crypt("apr1-md5") => crypt3_rs::crypt::apr1::verify(password, stored),
        Scheme::Crypt("sha256-crypt") => crypt3_rs::crypt::sha256::verify(password, stored),
        Scheme::Crypt("sha512-crypt") => crypt3_rs::crypt::sha512::verify(password, stored),
        Scheme::Crypt("bcrypt") => crypt3_rs::crypt::bcrypt::verify(password, stored),
        Scheme::Crypt(_) => false,
        Scheme::PlainMd5 => {
            use md5::Digest;
            let want = stored.trim_start_matches("md5:").to_ascii_lowercase();
            let got = hex::encode(md5::Md5::digest(password.as_bytes()));
            // Constant-time comparison of equal-length hex strings.
            want.len() == got.len()
                && want
                    .bytes()
                    .zip(got.bytes())
                    .fold(0u8, |acc, (a, b)| acc | (a ^ b))
                    == 0
        }
        Scheme::Unknown => false,
    }
}

/// How a stored password hash is computed.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Scheme {
    Argon2,
    /// A crypt(3) scheme: `$1$` MD5, `$apr1$` Apache MD5, `$5$` SHA-256, `$6$` SHA-512,
    /// `$2y$`/`$2b$`/`$2a$` bcrypt.
    Crypt(&'static str),
    /// `md5:<hex>`: the original specification's unsalted MD5 (imported only).
    PlainMd5,
    Unknown,
}

pub fn scheme_of(stored: &str) -> Scheme {
    if stored.starts_with("$argon2") {
        Scheme::Argon2
    } else if stored.starts_with("$apr1$") {
        Scheme::Crypt("apr1-md5")
    } else if stored.starts_with("$1$") {
        Scheme::Crypt("md5-crypt")
    } else if stored.starts_with("$5$") {
        Scheme::Crypt("sha256-crypt")
    } else if stored.starts_with("$6$") {
        Scheme::Crypt("sha512-crypt")
    } else if stored.starts_with("$2y$") || stored.starts_with("$2b$") || stored.starts_with("$2a$")
    {
        Scheme::Crypt("bcrypt")
    } else if stored.len() == 36
        && stored.starts_with("md5:")
        && stored[4..].bytes().all(|b| b.is_ascii_hexdigit())
    {
        Scheme::PlainMd5
    } else {
        Scheme::Unknown
    }
}

impl Scheme {
    pub fn name(self) -> &'static str {
        match self {
            Scheme::Argon2 => "argon2id",
            Scheme::Crypt(n) => n,
            Scheme::PlainMd5 => "md5",
            Scheme::Unknown => "unknown",
        }
    }
}

/// Whether a stored hash should be replaced by a fresh argon2id one at the next login.
pub fn needs_rehash(stored: &str) -> bool {
    !stored.starts_with("$argon2id$")
}

struct CachedLogin {
    phc: String,
    keyed_digest: [u8; 32],
    expires: Instant,
}

/// Verifies passwords on a bounded blocking pool and remembers recent successes.
pub struct PasswordVerifier {
    permits: Semaphore,
    cache_key: [u8; 32],
    cache: Mutex<HashMap<String, CachedLogin>>,
    /// A hash of a random password, verified for unknown users so they cost the same time.
    decoy_phc: std::sync::OnceLock<String>,
}

const CACHE_TTL: Duration = Duration::from_secs(60);
const CACHE_MAX: usize = 10_000;

impl Default for PasswordVerifier {
    fn default() -> Self {
        Self::new()
    }
}

impl PasswordVerifier {
    pub fn new() -> PasswordVerifier {
        let mut cache_key = [0u8; 32];
        OsRng.fill_bytes(&mut cache_key);
        let workers = std::thread::available_parallelism()
            .map(|n| n.get())
            .unwrap_or(2);
        PasswordVerifier {
            permits: Semaphore::new(workers),
            cache_key,
            cache: Mutex::new(HashMap::new()),
            decoy_phc: std::sync::OnceLock::new(),
        }
    }

    fn keyed_digest(&self, user: &str, password: &str) -> [u8; 32] {
        let mut h = Sha256::new();
        h.update(self.cache_key);
        h.update((user.len() as u64).to_le_bytes());
        h.update(user.as_bytes());
        h.update(password.as_bytes());
        h.finalize().into()
    }

    /// Hashes on the blocking pool (at most one job per core at a time).
    pub async fn hash(&self, password: &str) -> Result<String, String> {
        let _permit = self.permits.acquire().await.map_err(|e| e.to_string())?;
        let pw = password.to_owned();
        tokio::task::spawn_blocking(move || hash_password(&pw))
            .await
            .map_err(|e| e.to_string())?
    }

    /// Checks `password` against `phc` (the stored hash of `user`), or against a decoy when the
    /// user does not exist (`phc` is `None`), so both failures take the same time.
    pub async fn verify(&self, user: &str, password: &str, phc: Option<&str>) -> bool {
        let digest = self.keyed_digest(user, password);
        if let Some(phc) = phc {
            if let Ok(cache) = self.cache.lock() {
                if let Some(hit) = cache.get(user) {
                    if hit.phc == phc && hit.keyed_digest == digest && hit.expires > Instant::now()
                    {
                        return true;
                    }
                }
            }
        }
        let target = match phc {
            Some(p) => p.to_owned(),
            None => self.decoy().await,
        };
        let ok = {
            let Ok(_permit) = self.permits.acquire().await else {
                return false;
            };
            let pw = password.to_owned();
            let t = target.clone();
            tokio::task::spawn_blocking(move || verify_blocking(&pw, &t))
                .await
                .unwrap_or(false)
        };
        if ok && phc.is_some() {
            if let Ok(mut cache) = self.cache.lock() {
                let now = Instant::now();
                if cache.len() >= CACHE_MAX {
                    cache.retain(|_, v| v.expires > now);
                    if cache.len() >= CACHE_MAX {
                        cache.clear();
                    }
                }
                cache.insert(
                    user.to_owned(),
                    CachedLogin {
                        phc: target,
                        keyed_digest: digest,
                        expires: now + CACHE_TTL,
                    },
                );
            }
        }
        ok && phc.is_some()
    }

    async fn decoy(&self) -> String {
        if let Some(d) = self.decoy_phc.get() {
            return d.clone();
        }
        let mut random = [0u8; 16];
        OsRng.fill_bytes(&mut random);
        let pw: String = random.iter().map(|b| format!("{b:02x}")).collect();
        let phc = self.hash(&pw).await.unwrap_or_default();
        self.decoy_phc.get_or_init(|| phc).clone()
    }

    /// Forgets cached logins of `user` (password changed, user disabled or deleted).
    pub fn forget(&self, user: &str) {
        if let Ok(mut cache) = self.cache.lock() {
            cache.remove(user);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn hashes_are_argon2id_with_owasp_parameters() {
        let phc = hash_password("s3cret").unwrap();
        assert!(phc.starts_with("$argon2id$v=19$m=19456,t=2,p=1$"), "{phc}");
        assert!(verify_blocking("s3cret", &phc));
        assert!(!verify_blocking("s3cret ", &phc));
        assert!(!verify_blocking("s3cret", "not a hash"));
    }

    #[test]
    fn legacy_schemes_verify() {
        // Published vectors: "password" under glibc MD5-crypt and Apache htpasswd (apr1),
        // "Hello world!" under SHA-512-crypt (Drepper's specification), "U*U" under bcrypt
        // (OpenBSD's test vectors).
        let vectors = [
            ("password", "$1$5pZSV9va$azfrPr6af3Fc7dLblQXVa0"),
            ("password", "$apr1$lZL6V/ci$eIMz/iKDkbtys/uU7LEK00"),
            ("Hello world!", "$6$saltstring$svn8UoSVapNtMuq1ukKS4tPQd8iKwSMHWjl/O817G3uBnIFNjnQJuesI68u4OTLiBFdcbYEdFCoEOfaS35inz1"),
            ("U*U", "$2a$05$CCCCCCCCCCCCCCCCCCCCC.E5YPO9kmyuRGyh0XouQYb4YMJKvyOeW"),
        ];
        for (pw, h) in vectors {
            assert!(verify_blocking(pw, h), "{h}");
            assert!(!verify_blocking("wrong", h), "{h}");
            assert!(needs_rehash(h));
        }
        assert!(verify_blocking(
            "password",
            "md5:5f4dcc3b5aa765d61d8327deb882cf99"
        ));
        assert!(!verify_blocking(
            "passwort",
            "md5:5f4dcc3b5aa765d61d8327deb882cf99"
        ));
        assert_eq!(
            scheme_of("{SHA}W6ph5Mm5Pz8GgiULbPgzG37mj9g="),
            Scheme::Unknown
        );
        assert!(!verify_blocking(
            "password",
            "{SHA}W6ph5Mm5Pz8GgiULbPgzG37mj9g="
        ));
    }

    #[tokio::test]
    async fn verifier_caches_only_exact_successes() {
        let v = PasswordVerifier::new();
        let phc = hash_password("pw").unwrap();
        assert!(v.verify("alice", "pw", Some(&phc)).await);
        assert!(v.verify("alice", "pw", Some(&phc)).await);
        assert!(!v.verify("alice", "wrong", Some(&phc)).await);
        // A changed hash (password changed elsewhere) does not match the cached one.
        let other = hash_password("new").unwrap();
        assert!(!v.verify("alice", "pw", Some(&other)).await);
        assert!(!v.verify("nobody", "pw", None).await);
    }
}
