//! Operations on remote paths other than transfers: what a path names, its entries and its
//! digest, directories made (with their parents), paths removed (a tree with all it holds).

use ferry_proto::hash::HashAlgo;
use tokio_util::sync::CancellationToken;

use crate::client::Client;
use crate::error::{Error, Result};
use crate::listing::{join, EntryType, RemoteEntry};

impl Client {
    /// What `path` names on the server: a file (`SIZE` answers), a directory (`CWD` enters
    /// it), or None (neither: missing, or not ours to see). On a server without `SIZE` a
    /// file shows as None, which every caller treats as "not a directory".
    pub async fn kind_of(&mut self, path: &str) -> Result<Option<EntryType>> {
        match self.size(path).await {
            Ok(Some(_)) => return Ok(Some(EntryType::File)),
            Ok(None) => {}
            Err(e) if matches!(e.code(), Some(500 | 502)) => {}
            Err(e) => return Err(e),
        }
        Ok(self.is_dir(path).await?.then_some(EntryType::Dir))
    }

    /// Deletes `path` as `rm` does: a file, or with `recursive` a directory and everything
    /// in it; a directory without `recursive` is a usage error that says so. `kind` is what
    /// `path` was found to be ([`Client::kind_of`], or a listing).
    pub async fn remove(
        &mut self,
        path: &str,
        kind: Option<EntryType>,
        recursive: bool,
        cancel: &CancellationToken,
    ) -> Result<()> {
        match kind {
            Some(EntryType::Dir) if recursive => self.remove_tree(path, cancel).await,
            Some(EntryType::Dir) => Err(Error::Usage(format!(
                "{path} is a directory (use rm -r to delete a tree)"
            ))),
            _ => self.delete(path).await,
        }
    }

    /// What `ls` shows of `path`: a directory's entries, or a file's own (`MLST`) when the
    /// server refuses to list it as a directory.
    pub async fn entries_of(
        &mut self,
        path: &str,
        cancel: &CancellationToken,
    ) -> Result<Vec<RemoteEntry>> {
        match self.list(path, cancel).await {
            Ok(e) => Ok(e),
            Err(e) if e.code() == Some(550) || e.code() == Some(501) => {
                match self.stat(path).await? {
                    Some(entry) => Ok(vec![entry]),
                    None => Err(e),
                }
            }
            Err(e) => Err(e),
        }
    }

    /// The server's digest of a file, or an error saying why there is none.
    pub async fn file_digest(&mut self, path: &str) -> Result<(HashAlgo, String)> {
        if self.size(path).await?.is_none() {
            if self.is_dir(path).await.unwrap_or(false) {
                return Err(Error::Usage(format!(
                    "{path} is a directory: only files have a digest"
                )));
            }
            return Err(Error::Server {
                command: format!("HASH {path}"),
                code: 550,
                text: "No such file or no permission.".to_owned(),
            });
        }
        self.remote_digest(path, None).await?.ok_or_else(|| {
            Error::Protocol(
                "the server offers no digest command (HASH, XSHA256, XSHA1, XMD5)".into(),
            )
        })
    }

    /// Creates a remote directory unless it already exists.
    pub async fn ensure_dir(&mut self, dir: &str) -> Result<()> {
        match self.mkdir(dir).await {
            Ok(()) => Ok(()),
            Err(e) if e.code() == Some(550) || e.code() == Some(553) || e.code() == Some(521) => {
                if self.is_dir(dir).await? {
                    Ok(())
                } else {
                    Err(e)
                }
            }
            Err(e) => Err(e),
        }
    }

    /// Creates a remote directory and any missing parents (`mkdir -p`); directories that
    /// already exist are fine.
    pub async fn make_dirs(&mut self, path: &str) -> Result<()> {
        let mut prefix = if path.starts_with('/') {
            "/".to_owned()
        } else {
            String::new()
        };
        for part in path.split('/').filter(|p| !p.is_empty()) {
            prefix = join(&prefix, part);
            self.ensure_dir(&prefix).await?;
        }
        Ok(())
    }

    /// Deletes a remote directory and everything in it.
    pub async fn remove_tree(&mut self, dir: &str, cancel: &CancellationToken) -> Result<()> {
        let entries = self.list(dir, cancel).await?;
        for e in entries {
            let p = join(dir, &e.name);
            if e.kind == EntryType::Dir {
                Box::pin(self.remove_tree(&p, cancel)).await?;
            } else {
                self.delete(&p).await?;
            }
        }
        self.rmdir(dir).await
    }
}
