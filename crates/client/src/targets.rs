//! Where a transfer goes when the user names only its source.

/// The last component of a remote path (`b` of `/a/b/`); empty for the root.
pub(crate) fn base_name(path: &str) -> &str {
    path.trim_end_matches('/')
        .rsplit('/')
        .next()
        .unwrap_or(path)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn base_names_of_remote_paths() {
        assert_eq!(base_name("/a/b/"), "b");
        assert_eq!(base_name("c"), "c");
    }
}
