//! The Ferry FTP server engine: listener and connection limits, one task per control
//! connection owning its [`session`], one file per FTP verb under [`commands`], data channels
//! and the transfer tasks they run.
#![forbid(unsafe_code)]

mod commands;
pub mod config;
mod control;
mod data;
mod defender;
mod digest;
mod errors;
mod exec;
mod limits;
mod listing;
mod metrics;
mod quota;
mod recovery;
mod server;
mod session;
pub mod tls;
mod transfer;
mod upload;

pub use config::{
    ClientCertPolicy, ExecCommand, PortRange, RegistrationMode, ServerConfig, SessionReuse,
    SiteExecConfig, TlsMode, TlsVersion,
};
pub use metrics::ServerMetrics;
pub use quota::rescan_usage;
pub use server::{Server, TlsReloader};
