//! Wildcards for `mget`, `mput` and `rm`: the matcher shared with the server (ferry-proto),
//! and the operands that use it, expanded against a remote listing or a local directory.

use std::path::PathBuf;

pub use ferry_proto::glob::{is_pattern, matches};
use tokio_util::sync::CancellationToken;

use crate::client::Client;
use crate::error::{Error, Result};
use crate::listing::{join, EntryType};

/// An operand as the user wrote it: one path, or a pattern over the names in one directory.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Operand {
    /// A path, taken literally.
    Path(String),
    /// `text` as typed; `dir` its directory (literal, `""` for the current one), and
    /// `pattern` the wildcard pattern of its last component.
    Wildcard {
        text: String,
        dir: String,
        pattern: String,
    },
}

impl Operand {
    /// The operand's last component as typed, without the wildcard meaning: a name equal to
    /// it is taken literally before the pattern is tried (as lftp does: `rm x[1].txt`
    /// deletes that file when it exists).
    fn literal_name(text: &str) -> &str {
        text.rsplit('/').next().unwrap_or(text)
    }
}

impl Client {
    /// The remote paths an operand names, with their types when known: a path is looked up
    /// ([`Client::kind_of`]); a pattern lists its directory and matches the names, after
    /// the literal name (see [`Operand`]). No match is a `550`.
    pub async fn expand(
        &mut self,
        operand: &Operand,
        cancel: &CancellationToken,
    ) -> Result<Vec<(String, Option<EntryType>)>> {
        let (text, dir, pattern) = match operand {
            Operand::Path(path) => return Ok(vec![(path.clone(), self.kind_of(path).await?)]),
            Operand::Wildcard { text, dir, pattern } => (text, dir, pattern),
        };
        let entries = self.list(dir, cancel).await?;
        let literal = Operand::literal_name(text);
        if let Some(e) = entries.iter().find(|e| e.name == literal) {
            return Ok(vec![(text.clone(), Some(e.kind))]);
        }
        let found: Vec<_> = entries
            .into_iter()
            .filter(|e| matches(pattern, &e.name))
            .map(|e| (join(dir, &e.name), Some(e.kind)))
            .collect();
        if found.is_empty() {
            return Err(Error::Server {
                command: text.clone(),
                code: 550,
                text: "no remote file matches".to_owned(),
            });
        }
        Ok(found)
    }
}

/// The local regular files an operand names, by the same rules as [`Client::expand`].
pub fn expand_local(operand: &Operand) -> Result<Vec<PathBuf>> {
    let (text, dir, pattern) = match operand {
        Operand::Path(path) => return Ok(vec![PathBuf::from(path)]),
        Operand::Wildcard { text, dir, pattern } => (text, dir, pattern),
    };
    let in_dir = !dir.is_empty();
    let dir = if in_dir {
        PathBuf::from(dir)
    } else {
        PathBuf::from(".")
    };
    let literal = dir.join(Operand::literal_name(text));
    if literal.is_file() {
        return Ok(vec![PathBuf::from(text)]);
    }
    let mut found: Vec<PathBuf> = std::fs::read_dir(&dir)
        .map_err(|e| Error::local(format!("{}", dir.display()), e))?
        .filter_map(|e| e.ok())
        .filter(|e| e.file_type().is_ok_and(|t| t.is_file()))
        .filter(|e| matches(pattern, &e.file_name().to_string_lossy()))
        .map(|e| {
            if in_dir {
                e.path()
            } else {
                PathBuf::from(e.file_name())
            }
        })
        .collect();
    found.sort();
    if found.is_empty() {
        return Err(Error::local(
            text.clone(),
            std::io::Error::new(std::io::ErrorKind::NotFound, "no local file matches"),
        ));
    }
    Ok(found)
}
