//! The Ferry client engine: an async FTP client on `ferry-proto` that resumes and verifies by
//! itself (see ARCHITECTURE.md). The `ferry` binary is a thin shell over it.
//!
//! - [`Client`]: one logged-in session (control connection, FEAT, commands).
//! - [`Client::get_file`] / [`Client::put_file`]: whole-file transfers with safe resume
//!   ([`resume`]), digest verification ([`verify`]) and retries; `get_tree` / `put_tree`.
//! - [`FtpUrl`], [`credentials`]: where to connect and as whom.
#![forbid(unsafe_code)]

pub mod client;
pub mod control;
pub mod credentials;
mod data;
pub mod error;
pub mod features;
pub mod files;
pub mod glob;
pub mod listing;
pub mod names;
pub mod progress;
pub mod resume;
pub mod stream;
pub mod tls;
pub mod transfer;
pub mod url;
pub mod verify;

pub use client::{Client, ClientOptions, ExecOutput, VerifyMode};
pub use credentials::Credentials;
pub use error::{Error, ErrorKind, Result};
pub use files::{BatchOutcome, Outcome};
pub use listing::{EntryType, RemoteEntry};
pub use progress::{Progress, Silent};
pub use tls::{TlsMode, TlsOptions};
pub use url::FtpUrl;

pub use ferry_transfer::Hasher;
pub use tokio_util::sync::CancellationToken;
