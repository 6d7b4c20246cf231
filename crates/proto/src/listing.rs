//! What a directory listing says about one entry: `LIST` lines in the `ls -l` form vsftpd
//! prints (which lftp, curl and FileZilla parse), and MLSD/MLST facts (RFC 3659 §7).

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
        // Listings write one line per entry: plain pushes, not the formatting machinery
        // (which was a sixth of the server's time on a large MLSD).
        out.push(' ');
        push_number(out, self.nlink, 10, 4);
        out.push_str(" ftp      ftp      ");
        push_number(out, self.size, 10, 12);
        out.push(' ');
        crate::time::write_ls_date(self.mtime, now, out);
        out.push(' ');
        out.push_str(&self.name);
    }

    /// MLSD/MLST facts followed by `; name` (RFC 3659 §7.2), without CRLF. `perm` reflects what
    /// this user may do here: a user owns everything in their home.
    pub fn write_mlsx_line(&self, out: &mut String) {
        let (kind, perm) = match self.kind {
            EntryKind::Dir => ("dir", "flcdmpe"),
            EntryKind::File => ("file", "adfrw"),
            EntryKind::Symlink => ("OS.unix=symlink", "f"),
        };
        out.push_str("type=");
        out.push_str(kind);
        if self.kind == EntryKind::File {
            out.push_str(";size=");
            push_number(out, self.size, 10, 0);
        }
        out.push_str(";modify=");
        crate::time::write_mdtm(self.mtime, out);
        out.push_str(";perm=");
        out.push_str(perm);
        out.push_str(";unique=");
        push_number(out, self.unique.0, 16, 0);
        out.push('g');
        push_number(out, self.unique.1, 16, 0);
        out.push_str(";UNIX.mode=0");
        push_number(out, u64::from(self.mode & 0o7777), 8, 0);
        out.push_str("; ");
        out.push_str(&self.name);
    }
}

/// Appends `n` in base `radix` (8, 10 or 16, lower-case), right-aligned with spaces in
/// `width` columns.
fn push_number(out: &mut String, mut n: u64, radix: u64, width: usize) {
    const DIGITS: &[u8; 16] = b"0123456789abcdef";
    let mut buf = [b' '; 24];
    let mut at = buf.len();
    loop {
        at -= 1;
        buf[at] = DIGITS[(n % radix) as usize];
        n /= radix;
        if n == 0 {
            break;
        }
    }
    let start = at.min(buf.len().saturating_sub(width));
    // Only ASCII was written.
    out.push_str(std::str::from_utf8(&buf[start..]).unwrap_or_default());
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

    /// The hand-written number and date pushes print what `format!` would.
    #[test]
    fn lines_match_the_formatting_machinery() {
        let now = 1_700_000_000;
        for (kind, size, nlink, mtime, unique) in [
            (EntryKind::Dir, 4096, 2, now - 10, (0, 0)),
            (EntryKind::File, 0, 1, 0, (1, 15)),
            (
                EntryKind::File,
                u64::MAX,
                123_456,
                now - 400 * 86_400,
                (u64::MAX, 16),
            ),
            (EntryKind::Symlink, 7, 99_999, -86_400, (0xfe00, 0x9c87c1)),
        ] {
            let e = Entry {
                name: "n".into(),
                kind,
                size,
                mtime,
                mode: 0o40755,
                nlink,
                unique,
            };
            let mut list = String::new();
            e.write_list_line(now, &mut list);
            let date = crate::time::format_ls_date(mtime, now);
            assert!(
                list.ends_with(&format!(
                    " {nlink:>4} ftp      ftp      {size:>12} {date} n"
                )),
                "{list}"
            );
            let mut facts = String::new();
            e.write_mlsx_line(&mut facts);
            let modify = crate::time::format_mdtm(mtime);
            let size_fact = if kind == EntryKind::File {
                format!(";size={size}")
            } else {
                String::new()
            };
            assert!(
                facts.contains(&format!("{size_fact};modify={modify};perm="))
                    && facts.ends_with(&format!(
                        ";unique={:x}g{:x};UNIX.mode=0755; n",
                        unique.0, unique.1
                    )),
                "{facts}"
            );
        }
        assert_eq!(crate::time::format_mdtm(-86_400), "19691231000000");
        assert_eq!(crate::time::format_ls_date(0, now), "Jan 01  1970");
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
