//! Directory listings as entries: from MLSD facts when the server lists `MLST` in FEAT (exact,
//! machine-readable), from `LIST` lines in the Unix `ls -l` form otherwise (best effort; a
//! line we cannot read is kept by name). Printed back in one `ls -l` style whatever the source.

use ferry_proto::listing::parse_mlsx_line;
use ferry_proto::time::{format_ls_date, parse_mdtm};
use tokio_util::sync::CancellationToken;

use crate::client::Client;
use crate::error::{Error, Result};

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum EntryType {
    File,
    Dir,
    Link,
    Other,
}

impl EntryType {
    pub fn name(self) -> &'static str {
        match self {
            EntryType::File => "file",
            EntryType::Dir => "dir",
            EntryType::Link => "link",
            EntryType::Other => "other",
        }
    }
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RemoteEntry {
    pub name: String,
    pub kind: EntryType,
    pub size: Option<u64>,
    /// Unix seconds (UTC).
    pub modified: Option<i64>,
    /// Permission bits when the server tells them.
    pub mode: Option<u32>,
    /// What the logged-in user may do with it (the MLSD `perm` fact, RFC 3659 §7.5.5), for
    /// servers that give no `unix.mode`.
    pub perm: Option<String>,
}

impl RemoteEntry {
    /// From one MLSD line; None for `.`/`..` (`cdir`/`pdir`) and unreadable lines. The name is
    /// kept exactly as sent: MLSD names are single components, so a `/` in one is the
    /// server's doing, and [`crate::names::check_local_name`] refuses it before it is used.
    pub fn from_mlsx(line: &str) -> Option<RemoteEntry> {
        let (facts, name) = parse_mlsx_line(line)?;
        let fact = |k: &str| facts.iter().find(|(n, _)| n == k).map(|(_, v)| v.as_str());
        let t = fact("type").unwrap_or("file").to_ascii_lowercase();
        let kind = match t.as_str() {
            "file" => EntryType::File,
            "dir" => EntryType::Dir,
            "cdir" | "pdir" => return None,
            t if t.contains("symlink") || t.contains("slink") => EntryType::Link,
            _ => EntryType::Other,
        };
        Some(RemoteEntry {
            name,
            kind,
            size: fact("size").and_then(|s| s.parse().ok()),
            modified: fact("modify").and_then(parse_mdtm),
            // Octal; pyftpdlib writes Python's `0o644`.
            mode: fact("unix.mode")
                .map(|m| m.strip_prefix("0o").unwrap_or(m))
                .and_then(|m| u32::from_str_radix(m, 8).ok()),
            perm: fact("perm").map(str::to_owned),
        })
    }

    /// From the fact line of an `MLST` reply, which names the full path: the entry's name is
    /// what follows the last slash.
    pub fn from_mlst(line: &str) -> Option<RemoteEntry> {
        let mut e = RemoteEntry::from_mlsx(line)?;
        if let Some((_, n)) = e.name.rsplit_once('/') {
            if !n.is_empty() {
                e.name = n.to_owned();
            }
        }
        Some(e)
    }

    /// From one `LIST` line in the Unix form:
    /// `-rw-r--r--   1 owner group   1234 Nov 29 16:09 name`. Symlinks lose their ` -> target`.
    pub fn from_list_line(line: &str) -> Option<RemoteEntry> {
        let line = line.trim_end_matches(['\r', '\n']);
        let kind = match line.chars().next()? {
            '-' => EntryType::File,
            'd' => EntryType::Dir,
            'l' => EntryType::Link,
            c if "bcps".contains(c) => EntryType::Other,
            _ => return None,
        };
        // Eight whitespace-separated columns, then the name (which may hold spaces).
        let mut rest = line;
        let mut cols = Vec::with_capacity(8);
        for _ in 0..8 {
            rest = rest.trim_start();
            let end = rest.find(char::is_whitespace)?;
            cols.push(&rest[..end]);
            rest = &rest[end..];
        }
        let mut name = rest
            .strip_prefix(' ')
            .unwrap_or(rest)
            .trim_start()
            .to_owned();
        if kind == EntryType::Link {
            if let Some(i) = name.find(" -> ") {
                name.truncate(i);
            }
        }
        if name.is_empty() || name == "." || name == ".." {
            return None;
        }
        let mode = parse_mode(cols[0]);
        Some(RemoteEntry {
            name,
            kind,
            size: cols[4].parse().ok(),
            modified: None,
            mode,
            perm: None,
        })
    }

    /// `drwxr-xr-x        4096 Nov 29 16:09 name` (the date in UTC).
    pub fn long_line(&self, now: i64) -> String {
        let t = match self.kind {
            EntryType::File => '-',
            EntryType::Dir => 'd',
            EntryType::Link => 'l',
            EntryType::Other => '?',
        };
        let mut perms = String::with_capacity(9);
        match self.mode {
            Some(mode) => {
                for shift in [6u32, 3, 0] {
                    let bits = (mode >> shift) & 7;
                    perms.push(if bits & 4 != 0 { 'r' } else { '-' });
                    perms.push(if bits & 2 != 0 { 'w' } else { '-' });
                    perms.push(if bits & 1 != 0 { 'x' } else { '-' });
                }
            }
            None => match &self.perm {
                // Only the user's own rights are known: shown as the owner's, the rest '-'.
                Some(perm) => {
                    let has = |c: &str| perm.chars().any(|p| c.contains(p.to_ascii_lowercase()));
                    let dir = self.kind == EntryType::Dir;
                    perms.push(if has(if dir { "l" } else { "r" }) {
                        'r'
                    } else {
                        '-'
                    });
                    perms.push(if has(if dir { "cmp" } else { "wa" }) {
                        'w'
                    } else {
                        '-'
                    });
                    perms.push(if dir && has("e") { 'x' } else { '-' });
                    perms.push_str("------");
                }
                None => perms.push_str("?????????"),
            },
        }
        let size = self.size.map(|s| s.to_string()).unwrap_or_default();
        let date = self
            .modified
            .map(|m| format_ls_date(m, now))
            .unwrap_or_else(|| " ".repeat(12));
        let suffix = if self.kind == EntryType::Dir { "/" } else { "" };
        format!(
            "{t}{perms} {size:>12} {date} {}{suffix}",
            crate::names::printable(&self.name)
        )
    }
}

fn parse_mode(s: &str) -> Option<u32> {
    let b = s.as_bytes();
    if b.len() < 10 {
        return None;
    }
    let mut mode = 0;
    for (i, c) in b[1..10].iter().enumerate() {
        if *c != b'-' {
            mode |= 1 << (8 - i);
        }
    }
    Some(mode)
}

/// `dir` + `/` + `name`, without doubling slashes.
pub fn join(dir: &str, name: &str) -> String {
    if dir.is_empty() || dir == "." {
        name.to_owned()
    } else if dir.ends_with('/') {
        format!("{dir}{name}")
    } else {
        format!("{dir}/{name}")
    }
}

impl Client {
    /// The entries of a directory (`MLSD` when offered, else `LIST`), sorted by name.
    pub async fn list(
        &mut self,
        dir: &str,
        cancel: &CancellationToken,
    ) -> Result<Vec<RemoteEntry>> {
        let mlsd = self.features.has("MLST");
        let verb = if mlsd { "MLSD" } else { "LIST" };
        let line = if dir.is_empty() {
            verb.to_owned()
        } else {
            format!("{verb} {dir}")
        };
        let data = self.listing_data(&line, cancel).await?;
        let text = String::from_utf8_lossy(&data);
        let mut entries: Vec<RemoteEntry> = text
            .lines()
            .filter(|l| !l.trim().is_empty())
            .filter_map(|l| {
                if mlsd {
                    RemoteEntry::from_mlsx(l)
                } else {
                    RemoteEntry::from_list_line(l)
                }
            })
            .collect();
        entries.sort_by(|a, b| a.name.cmp(&b.name));
        Ok(entries)
    }

    /// The raw `LIST` lines (for servers without MLSD, shown as they are).
    pub async fn list_raw(&mut self, dir: &str, cancel: &CancellationToken) -> Result<Vec<String>> {
        let line = if dir.is_empty() {
            "LIST".to_owned()
        } else {
            format!("LIST {dir}")
        };
        let data = self.listing_data(&line, cancel).await?;
        // Shown as they are, but for control characters (a name's escape sequences).
        Ok(String::from_utf8_lossy(&data)
            .lines()
            .map(|l| crate::names::printable(l.trim_end_matches('\r')).into_owned())
            .collect())
    }

    /// The names in a directory (`NLST`), without any directory prefix the server adds.
    pub async fn names(&mut self, dir: &str, cancel: &CancellationToken) -> Result<Vec<String>> {
        let line = if dir.is_empty() {
            "NLST".to_owned()
        } else {
            format!("NLST {dir}")
        };
        let data = self.listing_data(&line, cancel).await?;
        let mut names: Vec<String> = String::from_utf8_lossy(&data)
            .lines()
            .map(|l| l.rsplit('/').next().unwrap_or(l).to_owned())
            .filter(|n| !n.is_empty() && n != "." && n != "..")
            .collect();
        names.sort();
        Ok(names)
    }

    /// The facts of one entry (`MLST`), when the server offers it.
    pub async fn stat(&mut self, path: &str) -> Result<Option<RemoteEntry>> {
        if !self.features.has("MLST") {
            return Ok(None);
        }
        let r = self.quote(&format!("MLST {path}")).await?;
        match r.code {
            250 => Ok(r
                .lines
                .iter()
                .skip(1)
                .find(|l| l.starts_with(' '))
                .and_then(|l| RemoteEntry::from_mlst(l))),
            550 => Ok(None),
            _ => Err(Error::server(format!("MLST {path}"), &r)),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn mlsd_lines() {
        let e = RemoteEntry::from_mlsx(
            "type=file;size=1234;modify=20231114221320;perm=adfrw;UNIX.mode=0644; 文件 a.txt",
        )
        .unwrap();
        assert_eq!(e.name, "文件 a.txt");
        assert_eq!(
            (e.kind, e.size, e.mode),
            (EntryType::File, Some(1234), Some(0o644))
        );
        assert_eq!(e.modified, Some(1_700_000_000));
        assert_eq!(
            e.long_line(1_700_000_100),
            "-rw-r--r--         1234 Nov 14 22:13 文件 a.txt"
        );
        assert!(RemoteEntry::from_mlsx("type=cdir;modify=20231114221320; .").is_none());
        let py = RemoteEntry::from_mlsx("type=file;size=3;unix.mode=0o640; f").unwrap();
        assert_eq!(py.mode, Some(0o640));
        // pyftpdlib without unix.mode: the user's rights from `perm`.
        let f = RemoteEntry::from_mlsx("type=file;perm=radfwMT;size=3;modify=20231114221320; f")
            .unwrap();
        assert!(f.long_line(1_700_000_100).starts_with("-rw------- "));
        let d =
            RemoteEntry::from_mlsx("type=dir;perm=elradfmwMT;modify=20231114221320; d").unwrap();
        assert!(d.long_line(1_700_000_100).starts_with("drwx------ "));
        let d = RemoteEntry::from_mlst(" type=dir;modify=20231114221320; /a/sub").unwrap();
        assert_eq!((d.name.as_str(), d.kind), ("sub", EntryType::Dir));
        // In MLSD a slash is kept, for the caller to refuse: `x/..` must not become `..`.
        let hostile = RemoteEntry::from_mlsx("type=dir; x/..").unwrap();
        assert_eq!(hostile.name, "x/..");
        let esc = RemoteEntry::from_mlsx("type=file;size=1; \x1b[2Jx").unwrap();
        assert!(!esc.long_line(0).contains('\x1b'));
    }

    #[test]
    fn list_lines() {
        let e = RemoteEntry::from_list_line(
            "-rw-r--r--    1 ftp      ftp              1234 Nov 14 22:13 two  spaces",
        )
        .unwrap();
        assert_eq!(e.name, "two  spaces");
        assert_eq!((e.size, e.mode), (Some(1234), Some(0o644)));
        let l =
            RemoteEntry::from_list_line("lrwxrwxrwx 1 u g 4 Jan  1  2020 ln -> target").unwrap();
        assert_eq!((l.name.as_str(), l.kind), ("ln", EntryType::Link));
        assert!(RemoteEntry::from_list_line("total 12").is_none());
    }

    #[test]
    fn joins() {
        assert_eq!(join("", "a"), "a");
        assert_eq!(join("/", "a"), "/a");
        assert_eq!(join("/d", "a"), "/d/a");
    }
}
