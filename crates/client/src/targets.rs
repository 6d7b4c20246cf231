//! Where a transfer goes when the user names only its source, or only a directory for it:
//! one set of rules, so that the shell and the one-shot commands put a file in the same
//! place.

use std::path::{Path, PathBuf};

use crate::listing::join;

/// The last component of a remote path (`b` of `/a/b/`); empty for the root.
pub(crate) fn base_name(path: &str) -> &str {
    path.trim_end_matches('/')
        .rsplit('/')
        .next()
        .unwrap_or(path)
}

/// The local name of a download (a file or a tree) the user gave no LOCAL for: the remote
/// path's last component, or for the root (the whole home) the host's name, as wget names
/// what it mirrors.
pub fn default_local_name(remote: &str, host: &str) -> PathBuf {
    match base_name(remote) {
        "" => PathBuf::from(host),
        name => PathBuf::from(name),
    }
}

/// The remote directory a local tree is uploaded to: `remote` itself, unless it is empty or
/// ends in `/`, which names the directory to put the tree in, as for a file
/// (`put -r photos inbox/` makes `inbox/photos`). The tree is named as the local directory
/// really is called, so `put -r .` takes the current directory's name.
pub(crate) fn tree_target(local: &Path, remote: &str) -> String {
    if !remote.is_empty() && !remote.ends_with('/') {
        return remote.to_owned();
    }
    let name = local
        .canonicalize()
        .ok()
        .and_then(|c| c.file_name().map(|n| n.to_string_lossy().into_owned()))
        .unwrap_or_else(|| "upload".to_owned());
    join(remote, &name)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn base_names_of_remote_paths() {
        assert_eq!(base_name("/a/b/"), "b");
        assert_eq!(base_name("c"), "c");
        assert_eq!(base_name("/"), "");
    }

    #[test]
    fn a_download_without_local_name_takes_the_remote_one_or_the_hosts() {
        assert_eq!(default_local_name("/a/b.txt", "h"), PathBuf::from("b.txt"));
        assert_eq!(default_local_name("dir/", "h"), PathBuf::from("dir"));
        assert_eq!(default_local_name("/", "h"), PathBuf::from("h"));
        assert_eq!(default_local_name("", "h"), PathBuf::from("h"));
    }

    #[test]
    fn a_tree_goes_into_a_directory_named_by_a_trailing_slash() {
        let dir = tempfile::tempdir().unwrap();
        let tree = dir.path().join("photos");
        std::fs::create_dir(&tree).unwrap();
        assert_eq!(tree_target(&tree, "inbox/"), "inbox/photos");
        assert_eq!(tree_target(&tree, "/"), "/photos");
        assert_eq!(tree_target(&tree, ""), "photos");
        assert_eq!(tree_target(&tree, "elsewhere"), "elsewhere");
        assert_eq!(tree_target(&tree.join("."), ""), "photos");
    }
}
