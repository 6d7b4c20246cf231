//! What a directory listing says about one entry: `LIST` lines in the `ls -l` form vsftpd
//! prints (which lftp, curl and FileZilla parse), and MLSD/MLST facts (RFC 3659 §7).

use std::fmt::Write as _;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum EntryKind {
    File,
    Dir,
    /// A symbolic link whose target is not inside the jail (shown, never followed).
    Symlink,
}

/// The facts of one directory entry, independent of how it is printed.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Entry {
    pub name: String,
    pub kind: EntryKind,
    pub size: u64,
    /// Modification time, Unix seconds (UTC).
    pub mtime: i64,
    /// Permission bits (`0o755`).
    pub mode: u32,
    pub nlink: u64,
    /// A stable identity for MLSD `unique` (device and inode).
    pub unique: (u64, u64),
}

impl Entry {
    /// One `LIST` line, without CRLF: `-rw-r--r--    1 ftp      ftp          1234 Nov 29 16:09 name`.
    pub fn write_list_line(&self, now: i64, out: &mut String) {
        let kind = match self.kind {
            EntryKind::File => '-',
            EntryKind::Dir => 'd',
            EntryKind::Symlink => 'l',
        };
        out.push(kind);
        for shift in [6u32, 3, 0] {
            let bits = (self.mode >> shift) & 7;
            out.push(if bits & 4 != 0 { 'r' } else { '-' });
            out.push(if bits & 2 != 0 { 'w' } else { '-' });
            out.push(if bits & 1 != 0 { 'x' } else { '-' });
        }
        let _ = write!(
            out,
            " {:>4} {:<8} {:<8} {:>12} {} {}",
            self.nlink,
            "ftp",
            "ftp",
            self.size,
            crate::time::format_ls_date(self.mtime, now),
            self.name
        );
    }

    /// MLSD/MLST facts followed by `; name` (RFC 3659 §7.2), without CRLF. `perm` reflects what
    /// this user may do here: a user owns everything in their home.
    pub fn write_mlsx_line(&self, out: &mut String) {
        let (kind, perm) = match self.kind {
            EntryKind::Dir => ("dir", "flcdmpe"),
            EntryKind::File => ("file", "adfrw"),
            EntryKind::Symlink => ("OS.unix=symlink", "f"),
        };
        let _ = write!(out, "type={kind};");
        if self.kind == EntryKind::File {
            let _ = write!(out, "size={};", self.size);
        }
        let _ = write!(
            out,
            "modify={};perm={perm};unique={:x}g{:x};UNIX.mode=0{:o}; {}",
            crate::time::format_mdtm(self.mtime),
            self.unique.0,
            self.unique.1,
            self.mode & 0o7777,
            self.name
        );
    }
}

/// The facts FEAT announces after `MLST` (all are sent by default, hence the stars).
pub const MLST_FEAT: &str = "MLST type*;size*;modify*;perm*;unique*;UNIX.mode*;";

/// Parses one MLSD/MLST line into (facts, name). Used by the client.
pub fn parse_mlsx_line(line: &str) -> Option<(Vec<(String, String)>, String)> {
    let line = line.strip_prefix(' ').unwrap_or(line);
    let (facts, name) = line.split_once(' ')?;
    let facts = facts
        .split(';')
        .filter(|f| !f.is_empty())
        .filter_map(|f| {
            f.split_once('=')
                .map(|(k, v)| (k.to_ascii_lowercase(), v.to_owned()))
        })
        .collect();
    Some((facts, name.to_owned()))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn sample(kind: EntryKind) -> Entry {
        Entry {
            name: "文件 a.txt".into(),
            kind,
            size: 1234,
            mtime: 1_700_000_000,
            mode: 0o644,
            nlink: 1,
            unique: (2049, 77),
        }
    }

    #[test]
    fn list_line_looks_like_vsftpd() {
        let mut s = String::new();
        sample(EntryKind::File).write_list_line(1_700_000_100, &mut s);
        assert_eq!(
            s,
            "-rw-r--r--    1 ftp      ftp              1234 Nov 14 22:13 文件 a.txt"
        );
    }

    #[test]
    fn mlsd_line_parses_back() {
        let mut s = String::new();
        sample(EntryKind::File).write_mlsx_line(&mut s);
        assert_eq!(s, "type=file;size=1234;modify=20231114221320;perm=adfrw;unique=801g4d;UNIX.mode=0644; 文件 a.txt");
        let (facts, name) = parse_mlsx_line(&s).unwrap();
        assert_eq!(name, "文件 a.txt");
        assert!(facts.contains(&("size".into(), "1234".into())));
    }
}
