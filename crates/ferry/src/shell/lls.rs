//! `lls [-l] [DIR]`: a local directory (or file) listed as `ls` lists remote ones.

use std::path::Path;

use ferry_client::{EntryType, Error, RemoteEntry, Result};

use super::operands::operands;
use crate::output;
use crate::words::Word;

pub fn lls(cmd: &str, words: &[Word]) -> Result<()> {
    // Always the long form (as ls): -l and -a are accepted for habit's sake.
    let o = operands(cmd, words, "la", 0, 1)?;
    list(Path::new(
        o.words.first().map(String::as_str).unwrap_or("."),
    ))
}

fn list(path: &Path) -> Result<()> {
    use std::os::unix::fs::PermissionsExt;

    let context = |e| Error::local(format!("lls {}", path.display()), e);
    let entry = |name: String, m: &std::fs::Metadata| RemoteEntry {
        name,
        kind: if m.is_dir() {
            EntryType::Dir
        } else if m.is_file() {
            EntryType::File
        } else if m.file_type().is_symlink() {
            EntryType::Link
        } else {
            EntryType::Other
        },
        size: m.is_file().then_some(m.len()),
        modified: m
            .modified()
            .ok()
            .and_then(|t| t.duration_since(std::time::UNIX_EPOCH).ok())
            .map(|d| d.as_secs() as i64),
        mode: Some(m.permissions().mode() & 0o777),
        perm: None,
    };
    let meta = std::fs::metadata(path).map_err(context)?;
    let mut entries = Vec::new();
    if meta.is_dir() {
        for e in std::fs::read_dir(path).map_err(context)? {
            let e = e.map_err(context)?;
            let name = e.file_name().to_string_lossy().into_owned();
            // Not followed: a symlink shows as one, as ls -l shows it.
            if let Ok(m) = e.path().symlink_metadata() {
                entries.push(entry(name, &m));
            }
        }
        entries.sort_by(|a, b| a.name.cmp(&b.name));
    } else {
        entries.push(entry(path.display().to_string(), &meta));
    }
    for line in output::entries_long(&entries) {
        outln!("{line}");
    }
    Ok(())
}
