//! The byte-moving engine shared by the server (`ferry-server`) and the client
//! (`ferry-client`). Both run a transfer's copy loop on a blocking thread with the data socket
//! in blocking mode; the pieces of that loop live here, once:
//!
//! - [`hasher`]: one running digest for the five HASH algorithms;
//! - [`fill`]: the read-until-full step that keeps writes large;
//! - [`pipe`]: a hashing thread fed with recycled buffers, so the digest costs a second core;
//! - [`pump`]: the whole copy loop (source to sink, hashed, paced, counted);
//! - [`sendfile`]: the one `sendfile(2)` loop (blocking or not);
//! - [`ascii`]: TYPE A line-ending conversion.
//!
//! Its only workspace dependency is `ferry-proto` (for the algorithm names).

pub mod ascii;
pub mod fill;
pub mod hasher;
pub mod pipe;
pub mod pump;
pub mod sendfile;

pub use hasher::Hasher;
