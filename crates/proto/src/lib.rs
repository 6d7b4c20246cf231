//! Sans-IO FTP wire grammar shared by the Ferry server and client.
//!
//! Nothing here touches a socket: commands are parsed from and encoded to bytes, replies are
//! encoded and parsed incrementally, and the formats that travel inside replies or data
//! connections (host-port pairs, `LIST` lines, MLSD facts, timestamps, sizes) live beside them,
//! so the server and the client cannot drift apart and every parser can be fuzzed without I/O.
#![forbid(unsafe_code)]

pub mod command;
pub mod glob;
pub mod hash;
pub mod hostport;
pub mod listing;
pub mod reply;
pub mod size;
pub mod time;

pub use command::{Command, ParseError, TransferType};
pub use reply::{Reply, ReplyParser};

/// The longest control line the server accepts (RFC 959 sets no limit; 4 KiB fits any real path).
pub const MAX_LINE: usize = 4096;
