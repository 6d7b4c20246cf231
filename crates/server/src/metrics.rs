//! Server-wide counters, readable live by an operator or a test (`Server::metrics`).

use std::sync::atomic::AtomicU64;

/// What the server has done since it started.
#[derive(Debug, Default)]
pub struct ServerMetrics {
    pub digests_from_store: AtomicU64,
    pub digests_computed: AtomicU64,
    pub digests_stored_on_upload: AtomicU64,
    /// TLS handshakes that failed (control and data connections).
    pub tls_handshake_failures: AtomicU64,
}
