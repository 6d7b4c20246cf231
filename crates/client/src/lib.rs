//! The Ferry client engine: an async FTP client on `ferry-proto` that resumes and verifies by
//! itself (see ARCHITECTURE.md). The `ferry` binary is a thin shell over it.
//!
//! - [`Client`]: one logged-in session (control connection, FEAT, commands).
//! - [`Client::get_file`] / [`Client::put_file`]: whole-file transfers with safe resume
//!   ([`resume`]), digest verification ([`verify`]) and retries; `get_tree` / `put_tree`.
//! - [`FtpUrl`], [`credentials`]: where to connect and as whom.
#![forbid(unsafe_code)]

pub mod batch;
pub mod client;
pub mod control;
pub mod credentials;
mod data;
pub mod error;
pub mod features;
pub mod files;
mod get;
pub mod glob;
pub mod listing;
pub mod names;
pub mod progress;
mod pump;
mod put;
mod remote;
pub mod resume;
pub mod stream;
mod targets;
pub mod tls;
pub mod transfer;
mod tree;
pub mod url;
pub mod verify;

pub use batch::BatchOutcome;
pub use client::{Client, ClientOptions, ExecOutput, VerifyMode};
pub use credentials::Credentials;
pub use error::{Error, ErrorKind, Result};
pub use files::Outcome;
pub use listing::{EntryType, RemoteEntry};
pub use progress::{Progress, Silent};
pub use tls::{TlsMode, TlsOptions};
pub use url::FtpUrl;

pub use tokio_util::sync::CancellationToken;
