//! FTPS for the client (RFC 4217): explicit (`AUTH TLS`) or implicit (`ftps://`), on rustls
//! with the ring provider, TLS 1.3 and 1.2.
//!
//! Trust, first rule that applies wins:
//! 1. `insecure`: nothing is checked (the binary warns loudly).
//! 2. A fingerprint the user vouches for (`--trust-fingerprint`): the certificate must have it.
//! 3. A fingerprint pinned in `known_hosts` for this `host:port`: the certificate must have it;
//!    a different one is refused as a possible interception ([`CertProblem::Changed`]), as ssh
//!    does.
//! 4. The system's roots (or only `--ca-file`'s): the usual WebPKI verification. A failure is
//!    [`CertProblem::Unknown`], carrying the SHA-256 fingerprint so the user can check and pin
//!    it (trust on first use).
//!
//! Downgrade: a host that once spoke TLS (a pin, or a [`TLS_SEEN`] line in `known_hosts`) is
//! refused in plain FTP under [`TlsMode::Auto`], as a browser refuses plain HTTP to an HSTS
//! host: an attacker in the middle can strip `AUTH TLS` from the server's answers, and the
//! password would then travel in clear. Only [`TlsMode::Off`] connects in clear to it.
//!
//! One [`TlsContext`] (one rustls `ClientConfig`, so one session cache) serves the control
//! connection and every data connection to the same server, so data connections resume the
//! control connection's TLS session (servers with `require_ssl_reuse` or Ferry's
//! `tls_session_reuse = require` insist on it).

use std::fmt;
use std::io::{self, Write};
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::Duration;

use rustls::client::danger::{HandshakeSignatureValid, ServerCertVerified, ServerCertVerifier};
use rustls::client::WebPkiServerVerifier;
use rustls::crypto::CryptoProvider;
use rustls::{
    CertificateError, ClientConfig, DigitallySignedStruct, RootCertStore, SignatureScheme,
};
use rustls_pki_types::pem::PemObject;
use rustls_pki_types::{CertificateDer, ServerName, UnixTime};
use sha2::Digest;
use tokio::net::TcpStream;
use tokio_rustls::TlsConnector;

use crate::error::{Error, Result};
use crate::stream::NetStream;

/// Whether to use TLS on an `ftp://` connection.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum TlsMode {
    /// `AUTH TLS` when the server accepts it, plaintext otherwise, except to a host that
    /// spoke TLS before (see the module documentation).
    #[default]
    Auto,
    /// `AUTH TLS` or fail: never send the password in clear.
    Require,
    /// Plain FTP.
    Off,
}

#[derive(Debug, Clone, Default)]
pub struct TlsOptions {
    pub mode: TlsMode,
    /// TLS from the first byte (`ftps://`, port 990).
    pub implicit: bool,
    /// Trust only the certificates in this PEM file instead of the system's roots.
    pub ca_file: Option<PathBuf>,
    /// Accept any certificate.
    pub insecure: bool,
    /// A SHA-256 fingerprint the user vouches for (any case; colons optional).
    pub trusted_fingerprint: Option<String>,
    /// The pins file (see [`known_hosts_path`]); None: pins are neither read nor checked.
    pub known_hosts: Option<PathBuf>,
}

impl TlsOptions {
    /// Whether the control connection should try TLS at all.
    pub fn wanted(&self) -> bool {
        self.implicit || self.mode != TlsMode::Off
    }
}

/// Why a certificate was not accepted, with what the user needs to decide.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum CertProblem {
    /// Not verifiable against the trusted roots (self-signed, unknown issuer, wrong name...).
    Unknown {
        authority: String,
        fingerprint: String,
        reason: String,
    },
    /// The host is pinned to another certificate.
    Changed {
        authority: String,
        pinned: String,
        fingerprint: String,
        file: PathBuf,
    },
    /// The certificate is not the one given with `--trust-fingerprint`.
    NotTheTrusted {
        authority: String,
        trusted: String,
        fingerprint: String,
    },
}

impl CertProblem {
    pub fn fingerprint(&self) -> &str {
        match self {
            CertProblem::Unknown { fingerprint, .. }
            | CertProblem::Changed { fingerprint, .. }
            | CertProblem::NotTheTrusted { fingerprint, .. } => fingerprint,
        }
    }

    pub fn authority(&self) -> &str {
        match self {
            CertProblem::Unknown { authority, .. }
            | CertProblem::Changed { authority, .. }
            | CertProblem::NotTheTrusted { authority, .. } => authority,
        }
    }
}

impl fmt::Display for CertProblem {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            CertProblem::Unknown {
                authority,
                fingerprint,
                reason,
            } => write!(
                f,
                "the TLS certificate of {authority} is not trusted ({reason}); its SHA-256 fingerprint is {fingerprint}"
            ),
            CertProblem::Changed {
                authority,
                pinned,
                fingerprint,
                file,
            } => write!(
                f,
                "THE TLS CERTIFICATE OF {authority} HAS CHANGED: its SHA-256 fingerprint is now {fingerprint}, \
                 but {} pins {pinned}. Someone may be intercepting the connection (or the server's \
                 certificate was replaced). Connection refused.",
                file.display()
            ),
            CertProblem::NotTheTrusted {
                authority,
                trusted,
                fingerprint,
            } => write!(
                f,
                "the TLS certificate of {authority} has the SHA-256 fingerprint {fingerprint}, not the trusted {trusted}"
            ),
        }
    }
}

impl std::error::Error for CertProblem {}

/// SHA-256 of a DER certificate as `AB:CD:...` (what `ferryd tls show` prints).
pub fn fingerprint(der: &[u8]) -> String {
    sha2::Sha256::digest(der)
        .iter()
        .map(|b| format!("{b:02X}"))
        .collect::<Vec<_>>()
        .join(":")
}

/// A fingerprint as typed (`ab:cd..`, `ABCD..`, `sha256:AB:CD..`) in the canonical form, or
/// None when it is not 32 bytes of hex.
pub fn normalize_fingerprint(s: &str) -> Option<String> {
    let s = s.trim();
    let s = s
        .strip_prefix("sha256:")
        .or_else(|| s.strip_prefix("SHA256:"))
        .unwrap_or(s);
    let hex: String = s.chars().filter(|c| *c != ':').collect();
    if hex.len() != 64 || !hex.chars().all(|c| c.is_ascii_hexdigit()) {
        return None;
    }
    let hex = hex.to_ascii_uppercase();
    Some(
        hex.as_bytes()
            .chunks(2)
            .map(|p| String::from_utf8_lossy(p).into_owned())
            .collect::<Vec<_>>()
            .join(":"),
    )
}

/// `$XDG_CONFIG_HOME/ferry/known_hosts`, else `~/.config/ferry/known_hosts`.
pub fn known_hosts_path() -> Option<PathBuf> {
    let base = std::env::var_os("XDG_CONFIG_HOME")
        .filter(|v| !v.is_empty())
        .map(PathBuf::from)
        .or_else(|| std::env::var_os("HOME").map(|h| Path::new(&h).join(".config")))?;
    Some(base.join("ferry").join("known_hosts"))
}

/// The entries of a known_hosts file: one `host:port VALUE` per line, `#` comments, where
/// VALUE is a pinned fingerprint or [`TLS_SEEN`].
fn known_host_entries(file: &Path) -> Vec<(String, String)> {
    let Ok(text) = std::fs::read_to_string(file) else {
        return Vec::new();
    };
    text.lines()
        .map(str::trim)
        .filter(|l| !l.is_empty() && !l.starts_with('#'))
        .filter_map(|l| l.split_once(char::is_whitespace))
        .map(|(host, value)| (host.to_owned(), value.trim().to_owned()))
        .collect()
}

/// The value of a known_hosts line for a host that spoke TLS with a certificate the system's
/// roots (or `--ca-file`) verified: nothing to pin, but plaintext is refused from then on,
/// as HSTS does. A pinned fingerprint says the same.
pub const TLS_SEEN: &str = "tls";

/// The fingerprint pinned for `authority` (`host:port`) in a known_hosts file.
pub fn lookup_pin(file: &Path, authority: &str) -> Option<String> {
    known_host_entries(file)
        .into_iter()
        .filter(|(host, _)| host.eq_ignore_ascii_case(authority))
        .find_map(|(_, value)| normalize_fingerprint(&value))
}

/// Whether `authority` spoke TLS before: it has a pin, or a [`TLS_SEEN`] line.
pub fn spoke_tls_before(file: &Path, authority: &str) -> bool {
    known_host_entries(file)
        .iter()
        .any(|(host, _)| host.eq_ignore_ascii_case(authority))
}

/// Records that `authority` spoke TLS, unless the file already knows it (a pin says so too).
pub fn remember_tls(file: &Path, authority: &str) -> io::Result<()> {
    if spoke_tls_before(file, authority) {
        return Ok(());
    }
    rewrite_entry(file, authority, TLS_SEEN)
}

/// Pins `fingerprint` for `authority`, replacing any earlier line for it.
pub fn pin(file: &Path, authority: &str, fingerprint: &str) -> io::Result<()> {
    rewrite_entry(file, authority, fingerprint)
}

/// Replaces the lines of `authority` by `authority value`, atomically (a reader never sees
/// half a file, and a crash leaves the old one).
fn rewrite_entry(file: &Path, authority: &str, value: &str) -> io::Result<()> {
    if let Some(dir) = file.parent() {
        std::fs::create_dir_all(dir)?;
    }
    let old = match std::fs::read_to_string(file) {
        Ok(t) => t,
        Err(e) if e.kind() == io::ErrorKind::NotFound => String::new(),
        Err(e) => return Err(e),
    };
    let mut out = String::new();
    for line in old.lines() {
        let host = line.split_whitespace().next().unwrap_or("");
        if !line.trim_start().starts_with('#') && host.eq_ignore_ascii_case(authority) {
            continue;
        }
        out.push_str(line);
        out.push('\n');
    }
    out.push_str(&format!("{authority} {value}\n"));
    let tmp = file.with_extension("tmp");
    {
        let mut f = std::fs::File::create(&tmp)?;
        f.write_all(out.as_bytes())?;
        f.sync_all()?;
    }
    std::fs::rename(&tmp, file)
}

fn provider() -> Arc<CryptoProvider> {
    Arc::new(rustls::crypto::ring::default_provider())
}

#[derive(Debug)]
struct Verifier {
    authority: String,
    insecure: bool,
    trusted: Option<String>,
    pinned: Option<(String, PathBuf)>,
    /// None when there is no root to verify against.
    webpki: Option<Arc<WebPkiServerVerifier>>,
    /// The certificates of `--ca-file`: a server presenting one of them exactly is trusted
    /// even when WebPKI would refuse it (a self-signed certificate made by `openssl req
    /// -x509` is marked as a CA, which WebPKI refuses as a server's certificate).
    ca_file_certs: Vec<CertificateDer<'static>>,
    provider: Arc<CryptoProvider>,
}

fn refuse(p: CertProblem) -> rustls::Error {
    rustls::Error::InvalidCertificate(CertificateError::Other(rustls::OtherError(Arc::new(p))))
}

impl ServerCertVerifier for Verifier {
    fn verify_server_cert(
        &self,
        end_entity: &CertificateDer<'_>,
        intermediates: &[CertificateDer<'_>],
        server_name: &ServerName<'_>,
        ocsp_response: &[u8],
        now: UnixTime,
    ) -> std::result::Result<ServerCertVerified, rustls::Error> {
        if self.insecure {
            return Ok(ServerCertVerified::assertion());
        }
        let fp = fingerprint(end_entity.as_ref());
        if let Some(t) = &self.trusted {
            return if *t == fp {
                Ok(ServerCertVerified::assertion())
            } else {
                Err(refuse(CertProblem::NotTheTrusted {
                    authority: self.authority.clone(),
                    trusted: t.clone(),
                    fingerprint: fp,
                }))
            };
        }
        if let Some((pinned, file)) = &self.pinned {
            return if *pinned == fp {
                Ok(ServerCertVerified::assertion())
            } else {
                Err(refuse(CertProblem::Changed {
                    authority: self.authority.clone(),
                    pinned: pinned.clone(),
                    fingerprint: fp,
                    file: file.clone(),
                }))
            };
        }
        let reason = match &self.webpki {
            Some(v) => match v.verify_server_cert(
                end_entity,
                intermediates,
                server_name,
                ocsp_response,
                now,
            ) {
                Ok(ok) => return Ok(ok),
                Err(_) if self.ca_file_certs.iter().any(|c| c == end_entity) => {
                    return Ok(ServerCertVerified::assertion())
                }
                Err(rustls::Error::InvalidCertificate(e)) => describe_cert_error(&e),
                Err(e) => e.to_string(),
            },
            None => "no trusted root certificates".to_owned(),
        };
        Err(refuse(CertProblem::Unknown {
            authority: self.authority.clone(),
            fingerprint: fp,
            reason,
        }))
    }

    fn verify_tls12_signature(
        &self,
        message: &[u8],
        cert: &CertificateDer<'_>,
        dss: &DigitallySignedStruct,
    ) -> std::result::Result<HandshakeSignatureValid, rustls::Error> {
        rustls::crypto::verify_tls12_signature(
            message,
            cert,
            dss,
            &self.provider.signature_verification_algorithms,
        )
    }

    fn verify_tls13_signature(
        &self,
        message: &[u8],
        cert: &CertificateDer<'_>,
        dss: &DigitallySignedStruct,
    ) -> std::result::Result<HandshakeSignatureValid, rustls::Error> {
        rustls::crypto::verify_tls13_signature(
            message,
            cert,
            dss,
            &self.provider.signature_verification_algorithms,
        )
    }

    fn supported_verify_schemes(&self) -> Vec<SignatureScheme> {
        self.provider
            .signature_verification_algorithms
            .supported_schemes()
    }
}

fn describe_cert_error(e: &CertificateError) -> String {
    match e {
        CertificateError::UnknownIssuer => "self-signed or issued by an unknown authority".into(),
        CertificateError::Expired | CertificateError::ExpiredContext { .. } => "expired".into(),
        CertificateError::NotValidForName | CertificateError::NotValidForNameContext { .. } => {
            "issued for another name".into()
        }
        CertificateError::Other(o) => format!("{o}"),
        other => format!("{other}"),
    }
}

/// The TLS set-up for one server: configuration (with its session cache) and name.
#[derive(Clone)]
pub struct TlsContext {
    connector: TlsConnector,
    name: ServerName<'static>,
    authority: String,
}

impl fmt::Debug for TlsContext {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "TlsContext({})", self.authority)
    }
}

impl TlsContext {
    /// Builds the configuration for `host` (name or address) at `authority` (`host:port`,
    /// the key of pins): loads the roots and the pin now.
    pub fn new(opts: &TlsOptions, host: &str, authority: &str) -> Result<TlsContext> {
        let provider = provider();
        let mut roots = RootCertStore::empty();
        let mut ca_file_certs = Vec::new();
        match &opts.ca_file {
            Some(path) => {
                // Read first, so that a missing file is said plainly (not as a PEM error).
                let pem = std::fs::read(path).map_err(|e| {
                    Error::Usage(format!(
                        "cannot read --ca-file {}: {}",
                        path.display(),
                        crate::control::os_message(&e)
                    ))
                })?;
                let certs: Vec<CertificateDer<'static>> = CertificateDer::pem_slice_iter(&pem)
                    .collect::<std::result::Result<_, _>>()
                    .map_err(|e| {
                        Error::Usage(format!("--ca-file {}: not a PEM file: {e}", path.display()))
                    })?;
                ca_file_certs = certs.clone();
                let (added, _) = roots.add_parsable_certificates(certs);
                if added == 0 {
                    return Err(Error::Usage(format!(
                        "--ca-file {}: no usable certificate in it",
                        path.display()
                    )));
                }
            }
            None if !opts.insecure => {
                // Unreadable system certificates are skipped; with none at all, every
                // certificate is "unknown" and the user is offered the fingerprint.
                let native = rustls_native_certs::load_native_certs();
                roots.add_parsable_certificates(native.certs);
            }
            None => {}
        }
        let webpki = if roots.is_empty() {
            None
        } else {
            WebPkiServerVerifier::builder_with_provider(Arc::new(roots), Arc::clone(&provider))
                .build()
                .ok()
        };
        let pinned = opts
            .known_hosts
            .as_ref()
            .and_then(|file| lookup_pin(file, authority).map(|fp| (fp, file.clone())));
        let trusted = match &opts.trusted_fingerprint {
            Some(t) => Some(normalize_fingerprint(t).ok_or_else(|| {
                Error::Usage(format!(
                    "{t:?} is not a SHA-256 fingerprint (64 hex digits, colons optional)"
                ))
            })?),
            None => None,
        };
        let verifier = Verifier {
            authority: authority.to_owned(),
            insecure: opts.insecure,
            trusted,
            pinned,
            webpki,
            ca_file_certs,
            provider: Arc::clone(&provider),
        };
        let mut config = ClientConfig::builder_with_provider(provider)
            .with_protocol_versions(&[&rustls::version::TLS13, &rustls::version::TLS12])
            .map_err(|e| Error::Tls(e.to_string()))?
            .dangerous()
            .with_custom_certificate_verifier(Arc::new(verifier))
            .with_no_client_auth();
        // RFC 4217 servers may check ALPN (the ALPACA mitigation): say we speak FTP.
        config.alpn_protocols = vec![b"ftp".to_vec()];
        let name = ServerName::try_from(host.to_owned())
            .map_err(|_| Error::Usage(format!("{host}: not a valid TLS server name")))?;
        Ok(TlsContext {
            connector: TlsConnector::from(Arc::new(config)),
            name,
            authority: authority.to_owned(),
        })
    }

    /// The TLS handshake on a connected socket, bounded by `timeout`.
    pub async fn handshake(&self, tcp: TcpStream, timeout: Duration) -> Result<NetStream> {
        self.handshake_as(tcp, timeout, false).await
    }

    /// The handshake that opens an implicit-TLS (`ftps://`) connection: a server that
    /// answers in plain text is most likely an explicit-TLS one, and the user is told so.
    pub(crate) async fn handshake_implicit(
        &self,
        tcp: TcpStream,
        timeout: Duration,
    ) -> Result<NetStream> {
        self.handshake_as(tcp, timeout, true).await
    }

    async fn handshake_as(
        &self,
        tcp: TcpStream,
        timeout: Duration,
        implicit: bool,
    ) -> Result<NetStream> {
        let s = tokio::time::timeout(timeout, self.connector.connect(self.name.clone(), tcp))
            .await
            .map_err(|_| Error::Timeout {
                what: format!("the TLS handshake with {}", self.authority),
                after: timeout,
            })?
            .map_err(|e| handshake_error(e, &self.authority, implicit))?;
        Ok(NetStream::Tls(Box::new(s)))
    }
}

/// A certificate refusal comes back from the handshake as an `io::Error` wrapping the
/// rustls error wrapping our [`CertProblem`].
fn handshake_error(e: io::Error, authority: &str, implicit: bool) -> Error {
    let Some(inner) = e.get_ref().and_then(|i| i.downcast_ref::<rustls::Error>()) else {
        return Error::Network(e);
    };
    if implicit && matches!(inner, rustls::Error::InvalidMessage(_)) {
        // The bytes were no TLS record: typically a plain `220` greeting.
        return Error::Tls(format!(
            "{authority} did not start TLS (it answered in plain text): is this an \
             explicit-TLS port? Use ftp:// there (TLS then starts with AUTH TLS); ftps:// is \
             for implicit-TLS ports such as 990"
        ));
    }
    if let rustls::Error::InvalidCertificate(CertificateError::Other(other)) = inner {
        if let Some(p) = other.0.downcast_ref::<CertProblem>() {
            return Error::Certificate(Box::new(p.clone()));
        }
    }
    Error::Tls(format!("handshake with {authority} failed: {inner}"))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn fingerprints_normalize() {
        let fp = fingerprint(b"x");
        assert_eq!(fp.len(), 32 * 3 - 1);
        assert_eq!(normalize_fingerprint(&fp.to_lowercase()), Some(fp.clone()));
        assert_eq!(
            normalize_fingerprint(&fp.replace(':', "")),
            Some(fp.clone())
        );
        assert_eq!(
            normalize_fingerprint(&format!("sha256:{fp}")),
            Some(fp.clone())
        );
        assert_eq!(normalize_fingerprint("AB:CD"), None);
        assert_eq!(normalize_fingerprint(&"zz".repeat(32)), None);
    }

    #[test]
    fn pins_are_replaced_per_host() {
        let dir = tempfile::tempdir().expect("tempdir");
        let file = dir.path().join("ferry").join("known_hosts");
        let (a, b) = (fingerprint(b"a"), fingerprint(b"b"));
        assert_eq!(lookup_pin(&file, "h:21"), None);
        pin(&file, "h:21", &a).expect("pin");
        pin(&file, "other:990", &b).expect("pin");
        assert_eq!(lookup_pin(&file, "h:21"), Some(a));
        pin(&file, "h:21", &b).expect("pin");
        assert_eq!(lookup_pin(&file, "H:21"), Some(b.clone()));
        assert_eq!(lookup_pin(&file, "other:990"), Some(b));
        let text = std::fs::read_to_string(&file).expect("read");
        assert_eq!(text.lines().count(), 2, "{text}");
    }

    #[test]
    fn a_host_that_spoke_tls_is_remembered_and_a_pin_counts_as_such() {
        let dir = tempfile::tempdir().expect("tempdir");
        let file = dir.path().join("known_hosts");
        assert!(!spoke_tls_before(&file, "h:21"));
        remember_tls(&file, "h:21").expect("remember");
        assert!(spoke_tls_before(&file, "H:21"));
        assert_eq!(lookup_pin(&file, "h:21"), None);
        assert!(!spoke_tls_before(&file, "h:2121"));
        // Pinning replaces the marker; remembering again keeps the pin.
        let fp = fingerprint(b"a");
        pin(&file, "h:21", &fp).expect("pin");
        remember_tls(&file, "h:21").expect("remember");
        assert_eq!(lookup_pin(&file, "h:21"), Some(fp.clone()));
        let text = std::fs::read_to_string(&file).expect("read");
        assert_eq!(text, format!("h:21 {fp}\n"));
    }
}
