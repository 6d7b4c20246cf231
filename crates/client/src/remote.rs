//! Operations on remote paths other than transfers: directories made (with their parents)
//! and trees removed.

use tokio_util::sync::CancellationToken;

use crate::client::Client;
use crate::error::Result;
use crate::listing::{join, EntryType};

impl Client {
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
