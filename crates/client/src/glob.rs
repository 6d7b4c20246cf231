//! Wildcards for `mget`, `mput` and `rm`: the shared implementation in ferry-proto.

pub use ferry_proto::glob::{is_pattern, matches};
