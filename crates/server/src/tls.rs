//! TLS for control and data connections (RFC 4217), on rustls with the ring provider, TLS 1.2
//! and 1.3 only (1.3 only with `tls_min_version = "1.3"`).
//!
//! Certificates come from `tls_cert`/`tls_key`, or are generated once (rcgen) under
//! `<data-dir>/tls/`. They are checked at startup (readable, key matches, not expired) and can
//! be reloaded without dropping sessions (SIGHUP): new handshakes see the new certificate.
//!
//! Each FTP session gets its own rustls configuration, with its own session cache and its own
//! ticket key, so a data connection that resumes a TLS session can only be resuming this
//! control connection's session: that is what `tls_session_reuse = require` checks (vsftpd's
//! `require_ssl_reuse`). Tickets are stateless and so reusable: clients such as OpenSSL-based
//! ones present the same ticket on every data connection of a session.
//! ALPN: only `ftp` is accepted from clients that offer ALPN (the ALPACA mitigation).

use std::fmt;
use std::path::{Path, PathBuf};
use std::sync::{Arc, RwLock};

use rustls::crypto::CryptoProvider;
use rustls::server::{ClientHello, ResolvesServerCert, ServerSessionMemoryCache};
use rustls::sign::CertifiedKey;
use rustls::ServerConfig as RustlsConfig;
use rustls_pki_types::pem::PemObject;
use rustls_pki_types::{CertificateDer, PrivateKeyDer};
use sha2::Digest;

use crate::config::{ServerConfig, TlsVersion};

#[derive(Debug, thiserror::Error)]
pub enum TlsError {
    #[error("TLS certificate {path}: {reason}")]
    Certificate { path: PathBuf, reason: String },
    #[error("TLS private key {path}: {reason}")]
    Key { path: PathBuf, reason: String },
    #[error("TLS: {0}")]
    Other(String),
}

/// The certificate and key files in use.
#[derive(Debug, Clone)]
pub struct CertFiles {
    pub cert: PathBuf,
    pub key: PathBuf,
}

/// What `ferryd tls show` prints.
#[derive(Debug, Clone)]
pub struct CertInfo {
    /// SHA-256 of the end-entity certificate's DER, as `AB:CD:...`.
    pub fingerprint: String,
    pub subject: String,
    pub not_before: String,
    pub not_after: String,
    pub expired: bool,
}

const BOTH_VERSIONS: &[&rustls::SupportedProtocolVersion] =
    &[&rustls::version::TLS13, &rustls::version::TLS12];
const ONLY_TLS13: &[&rustls::SupportedProtocolVersion] = &[&rustls::version::TLS13];

fn provider() -> Arc<CryptoProvider> {
    Arc::new(rustls::crypto::ring::default_provider())
}

/// The name of a cipher suite as `tls_cipher_suites` takes it (rustls' names, e.g.
/// `TLS13_AES_256_GCM_SHA384`).
fn suite_name(s: &rustls::SupportedCipherSuite) -> String {
    format!("{:?}", s.suite())
}

/// The provider restricted to `tls_cipher_suites`, in the operator's order; only suites of
/// rustls' own (safe) set can be named, so no configuration can enable a weak one.
fn chosen_provider(config: &ServerConfig) -> Result<Arc<CryptoProvider>, TlsError> {
    let mut p = rustls::crypto::ring::default_provider();
    if config.tls_cipher_suites.is_empty() {
        return Ok(Arc::new(p));
    }
    let all = std::mem::take(&mut p.cipher_suites);
    for wanted in &config.tls_cipher_suites {
        match all
            .iter()
            .find(|s| suite_name(s).eq_ignore_ascii_case(wanted.trim()))
        {
            Some(s) => p.cipher_suites.push(*s),
            None => {
                return Err(TlsError::Other(format!(
                    "tls_cipher_suites: unknown cipher suite {wanted:?}; the choice is {}",
                    all.iter().map(suite_name).collect::<Vec<_>>().join(", ")
                )))
            }
        }
    }
    Ok(Arc::new(p))
}

/// The certificate files the configuration names, or the generated pair's location.
pub fn cert_files(config: &ServerConfig) -> CertFiles {
    match (&config.tls_cert, &config.tls_key) {
        (Some(cert), Some(key)) => CertFiles {
            cert: cert.clone(),
            key: key.clone(),
        },
        _ => {
            let dir = config.data_dir.join("tls");
            CertFiles {
                cert: dir.join("cert.pem"),
                key: dir.join("key.pem"),
            }
        }
    }
}

/// Creates a self-signed certificate for `localhost` and this host's name under
/// `<data-dir>/tls/` if none is configured and none was generated yet. Returns the files.
pub fn ensure_certificate(config: &ServerConfig) -> Result<CertFiles, TlsError> {
    let files = cert_files(config);
    if config.tls_cert.is_some() || config.tls_key.is_some() || files.cert.exists() {
        if config.tls_cert.is_some() != config.tls_key.is_some() {
            return Err(TlsError::Other(
                "tls_cert and tls_key must be set together".into(),
            ));
        }
        return Ok(files);
    }
    // rcgen makes IP-address SANs of the names that parse as addresses.
    let mut names = vec![
        "localhost".to_owned(),
        "127.0.0.1".to_owned(),
        "::1".to_owned(),
    ];
    if let Ok(host) = std::fs::read_to_string("/proc/sys/kernel/hostname") {
        let host = host.trim();
        if !host.is_empty() && host != "localhost" {
            names.push(host.to_owned());
        }
    }
    let generated = rcgen::generate_simple_self_signed(names)
        .map_err(|e| TlsError::Other(format!("generating a certificate: {e}")))?;
    let dir = files
        .cert
        .parent()
        .map(Path::to_path_buf)
        .unwrap_or_default();
    std::fs::create_dir_all(&dir)
        .map_err(|e| TlsError::Other(format!("creating {}: {e}", dir.display())))?;
    write_private(&files.key, generated.key_pair.serialize_pem().as_bytes()).map_err(|e| {
        TlsError::Key {
            path: files.key.clone(),
            reason: e.to_string(),
        }
    })?;
    std::fs::write(&files.cert, generated.cert.pem()).map_err(|e| TlsError::Certificate {
        path: files.cert.clone(),
        reason: e.to_string(),
    })?;
    tracing::info!(cert = %files.cert.display(), "generated a self-signed TLS certificate");
    Ok(files)
}

fn write_private(path: &Path, data: &[u8]) -> std::io::Result<()> {
    use std::io::Write;
    use std::os::unix::fs::OpenOptionsExt;
    let mut f = std::fs::OpenOptions::new()
        .write(true)
        .create(true)
        .truncate(true)
        .mode(0o600)
        .open(path)?;
    f.write_all(data)
}

/// Reads and checks a certificate chain and its key: both readable and parseable, the key
/// matching the certificate, the certificate currently valid.
pub fn load_certified_key(files: &CertFiles) -> Result<(CertifiedKey, CertInfo), TlsError> {
    let cert_err = |reason: String| TlsError::Certificate {
        path: files.cert.clone(),
        reason,
    };
    let certs: Vec<CertificateDer<'static>> = CertificateDer::pem_file_iter(&files.cert)
        .map_err(|e| cert_err(pem_reason(e)))?
        .collect::<Result<_, _>>()
        .map_err(|e| cert_err(pem_reason(e)))?;
    let Some(leaf) = certs.first() else {
        return Err(cert_err("no certificate in the file".into()));
    };
    let info = describe(leaf).map_err(cert_err)?;
    if info.expired {
        return Err(cert_err(format!(
            "expired or not yet valid (valid {} to {})",
            info.not_before, info.not_after
        )));
    }
    let key = PrivateKeyDer::from_pem_file(&files.key).map_err(|e| TlsError::Key {
        path: files.key.clone(),
        reason: pem_reason(e),
    })?;
    let certified = CertifiedKey::from_der(certs, key, &provider()).map_err(|e| TlsError::Key {
        path: files.key.clone(),
        reason: format!(
            "does not match the certificate {}: {e}",
            files.cert.display()
        ),
    })?;
    Ok((certified, info))
}

fn pem_reason(e: rustls_pki_types::pem::Error) -> String {
    match e {
        rustls_pki_types::pem::Error::Io(io) => io.to_string(),
        rustls_pki_types::pem::Error::NoItemsFound => {
            "no PEM item of the expected kind found".into()
        }
        other => format!("not valid PEM ({other:?})"),
    }
}

/// Fingerprint, subject and validity of a DER certificate.
pub fn describe(der: &CertificateDer<'_>) -> Result<CertInfo, String> {
    let (_, cert) = x509_parser::parse_x509_certificate(der.as_ref())
        .map_err(|e| format!("not a valid X.509 certificate: {e}"))?;
    let validity = cert.validity();
    let fingerprint = sha2::Sha256::digest(der.as_ref())
        .iter()
        .map(|b| format!("{b:02X}"))
        .collect::<Vec<_>>()
        .join(":");
    Ok(CertInfo {
        fingerprint,
        subject: cert.subject().to_string(),
        not_before: validity.not_before.to_string(),
        not_after: validity.not_after.to_string(),
        expired: !validity.is_valid(),
    })
}

/// Serves the current certificate; swapped on reload.
struct ReloadableCert {
    current: RwLock<Arc<CertifiedKey>>,
}

impl fmt::Debug for ReloadableCert {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("ReloadableCert")
    }
}

impl ResolvesServerCert for ReloadableCert {
    fn resolve(&self, hello: ClientHello<'_>) -> Option<Arc<CertifiedKey>> {
        if let Some(sni) = hello.server_name() {
            tracing::debug!(sni, "TLS client hello");
        }
        self.current.read().ok().map(|c| Arc::clone(&c))
    }
}

/// The verifier of client certificates, when `tls_client_ca` names the authorities to trust.
fn client_verifier(
    config: &ServerConfig,
) -> Result<Option<Arc<dyn rustls::server::danger::ClientCertVerifier>>, TlsError> {
    let Some(path) = &config.tls_client_ca else {
        return Ok(None);
    };
    let ca_err = |reason: String| TlsError::Certificate {
        path: path.clone(),
        reason,
    };
    let mut roots = rustls::RootCertStore::empty();
    for cert in CertificateDer::pem_file_iter(path).map_err(|e| ca_err(pem_reason(e)))? {
        let cert = cert.map_err(|e| ca_err(pem_reason(e)))?;
        roots
            .add(cert)
            .map_err(|e| ca_err(format!("not a usable CA certificate: {e}")))?;
    }
    if roots.is_empty() {
        return Err(ca_err("no certificate in the file".into()));
    }
    let builder =
        rustls::server::WebPkiClientVerifier::builder_with_provider(Arc::new(roots), provider());
    let builder = match config.tls_client_cert {
        crate::config::ClientCertPolicy::Optional => builder.allow_unauthenticated(),
        crate::config::ClientCertPolicy::Required => builder,
    };
    builder.build().map(Some).map_err(|e| ca_err(e.to_string()))
}

/// The subject common name of the certificate a TLS client presented (already verified by
/// the handshake against `tls_client_ca`).
pub(crate) fn client_common_name(conn: &rustls::CommonState) -> Option<String> {
    let der = conn.peer_certificates()?.first()?;
    let (_, cert) = x509_parser::parse_x509_certificate(der).ok()?;
    let cn = cert.subject().iter_common_name().next()?;
    cn.as_str().ok().map(str::to_owned)
}

/// The server's TLS state: the certificate (reloadable) and the base rustls configuration.
pub struct Tls {
    files: CertFiles,
    resolver: Arc<ReloadableCert>,
    base: RustlsConfig,
    info: RwLock<CertInfo>,
}

impl Tls {
    /// Loads (generating if needed) the certificate and builds the configuration.
    pub fn load(config: &ServerConfig) -> Result<Tls, TlsError> {
        let files = ensure_certificate(config)?;
        let (key, info) = load_certified_key(&files)?;
        let resolver = Arc::new(ReloadableCert {
            current: RwLock::new(Arc::new(key)),
        });
        let base = RustlsConfig::builder_with_provider(chosen_provider(config)?)
            .with_protocol_versions(match config.tls_min_version {
                TlsVersion::V1_2 => BOTH_VERSIONS,
                TlsVersion::V1_3 => ONLY_TLS13,
            })
            .map_err(|e| TlsError::Other(e.to_string()))?;
        let base = match client_verifier(config)? {
            Some(v) => base.with_client_cert_verifier(v),
            None => base.with_no_client_auth(),
        };
        let mut base =
            base.with_cert_resolver(Arc::clone(&resolver) as Arc<dyn ResolvesServerCert>);
        base.alpn_protocols = vec![b"ftp".to_vec()];
        tracing::info!(fingerprint = %info.fingerprint, not_after = %info.not_after, cert = %files.cert.display(), "TLS certificate loaded");
        Ok(Tls {
            files,
            resolver,
            base,
            info: RwLock::new(info),
        })
    }

    /// Re-reads the certificate files. Sessions already established keep their connections;
    /// new handshakes use the new certificate. On error the old certificate stays.
    pub fn reload(&self) -> Result<CertInfo, TlsError> {
        let (key, info) = load_certified_key(&self.files)?;
        if let Ok(mut cur) = self.resolver.current.write() {
            *cur = Arc::new(key);
        }
        if let Ok(mut i) = self.info.write() {
            *i = info.clone();
        }
        tracing::info!(fingerprint = %info.fingerprint, "TLS certificate reloaded");
        Ok(info)
    }

    pub fn info(&self) -> Option<CertInfo> {
        self.info.read().ok().map(|i| i.clone())
    }

    /// A configuration for one FTP session, with a session cache and ticket key of its own
    /// (see the module documentation).
    pub(crate) fn session_config(&self) -> Arc<RustlsConfig> {
        let mut c = self.base.clone();
        // Clients built on rustls use each ticket once; a few spare ones let them resume the
        // session on that many uploads in a row (downloads and listings bring new ones).
        c.send_tls13_tickets = 8;
        c.session_storage = ServerSessionMemoryCache::new(16);
        match rustls::crypto::ring::Ticketer::new() {
            Ok(t) => c.ticketer = t,
            Err(e) => tracing::warn!(error = %e, "no TLS session tickets for this session"),
        }
        Arc::new(c)
    }
}

/// The session's configuration without post-handshake session tickets, for upload data
/// connections: a client that only writes never reads those tickets, and closing its socket
/// with them unread makes its kernel reset the connection, which can destroy the end of the
/// upload on our side. Ticket key and session cache are shared, so resumption still works.
pub(crate) fn quiet_config(session: &Arc<RustlsConfig>) -> Arc<RustlsConfig> {
    let mut c = RustlsConfig::clone(session);
    c.send_tls13_tickets = 0;
    Arc::new(c)
}

/// A line for the logs: `TLSv1_3 TLS13_AES_256_GCM_SHA384`.
pub(crate) fn describe_connection(conn: &rustls::CommonState) -> (String, String) {
    let version = conn
        .protocol_version()
        .map(|v| format!("{v:?}"))
        .unwrap_or_default();
    let cipher = conn
        .negotiated_cipher_suite()
        .map(|c| format!("{:?}", c.suite()))
        .unwrap_or_default();
    (version, cipher)
}
