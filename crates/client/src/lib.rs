//! The Ferry client engine: an async FTP client on `ferry-proto` that resumes and verifies by
//! itself (see ARCHITECTURE.md). The `ferry` binary is a thin shell over it.
//!
//! - [`Client`]: one logged-in session (control connection, FEAT, commands).
//! - [`Client::get_file`] / [`Client::put_file`]: whole-file transfers with safe resume
//!   ([`resume`]), digest verification ([`verify`]) and retries; `get_tree` / `put_tree`
//!   for directory trees.
//! - [`batch`]: commands over several operands (`get_many`, `put_many`, `remove_many`, ...)
//!   with their [`BatchOutcome`]; [`glob`] expands the operands, [`targets`] names what a
//!   transfer creates when the user does not.
//! - [`Client::remove`], [`Client::make_dirs`], [`Client::kind_of`], [`Client::entries_of`],
//!   [`Client::file_digest`]: what `rm`, `mkdir -p`, `ls` and `hash` do to a remote path.
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
mod put;
mod remote;
pub mod resume;
pub mod stream;
pub mod targets;
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

pub use ferry_transfer::Hasher;
pub use tokio_util::sync::CancellationToken;
