//! The jail. Every path a user names becomes a [`VirtualPath`] through one function,
//! [`VirtualPath::resolve`], and every file operation goes through a [`Home`], a capability
//! on the user's home directory (cap-std; `openat2(RESOLVE_BENEATH)` on Linux).
//!
//! Two layers, because each catches what the other cannot see: the lexical layer clamps `..`
//! at `/` and turns any argument into a path relative to the home; the capability layer refuses
//! symlinks that lead outside and races (a directory swapped for a link between check and use),
//! which no string manipulation can detect.
#![forbid(unsafe_code)]

mod home;
mod path;

pub use home::{Home, OpenedUpload, Refusal, StagedUpload, WriteMode};
pub use path::{PathError, VirtualPath, STAGING_PREFIX};
