//! Directory listings for LIST, NLST, MLSD and STAT: produced on a blocking thread in bounded
//! chunks, so a directory of 100 000 entries never sits in memory as one string and a slow
//! client only ever holds back a few chunks.

use ferry_proto::listing::Entry;
use ferry_vfs::{Home, VirtualPath};
use tokio::sync::mpsc;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum ListFormat {
    /// `ls -l` lines (LIST, STAT).
    Long,
    /// Names only (NLST).
    Names,
    /// RFC 3659 facts (MLSD).
    Facts,
}

/// What to list: a directory (optionally filtered by a wildcard on names), or one entry.
pub(crate) struct ListJob {
    pub home: Home,
    pub target: ListTarget,
    pub format: ListFormat,
}

pub(crate) enum ListTarget {
    Dir {
        dir: VirtualPath,
        pattern: Option<String>,
    },
    Single(Entry),
}

const CHUNK: usize = 64 * 1024;

impl ListJob {
    /// Starts producing CRLF-terminated lines; the receiver yields chunks of about 64 KiB.
    pub(crate) fn spawn(self) -> mpsc::Receiver<String> {
        let (tx, rx) = mpsc::channel(4);
        tokio::task::spawn_blocking(move || {
            let now = now_unix();
            let mut chunk = String::with_capacity(CHUNK + 512);
            let emit = |e: &Entry, chunk: &mut String| -> bool {
                write_line(e, self.format, now, chunk);
                if chunk.len() >= CHUNK {
                    let full = std::mem::replace(chunk, String::with_capacity(CHUNK + 512));
                    return tx.blocking_send(full).is_ok();
                }
                true
            };
            match &self.target {
                ListTarget::Single(e) => {
                    emit(e, &mut chunk);
                }
                ListTarget::Dir { dir, pattern } => {
                    let Ok(entries) = self.home.list(dir) else {
                        return;
                    };
                    for e in entries {
                        if pattern
                            .as_deref()
                            .is_some_and(|p| !wildcard_match(p, &e.name))
                        {
                            continue;
                        }
                        if !emit(&e, &mut chunk) {
                            return;
                        }
                    }
                }
            }
            if !chunk.is_empty() {
                let _ = tx.blocking_send(chunk);
            }
        });
        rx
    }
}

pub(crate) fn write_line(e: &Entry, format: ListFormat, now: i64, out: &mut String) {
    match format {
        ListFormat::Long => e.write_list_line(now, out),
        ListFormat::Names => out.push_str(&e.name),
        ListFormat::Facts => e.write_mlsx_line(out),
    }
    out.push_str("\r\n");
}

pub(crate) fn now_unix() -> i64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.as_secs() as i64)
        .unwrap_or(0)
}

/// Whether a name component holds `*`, `?` or `[` (a pattern for NLST/LIST, as `mget` sends).
pub(crate) fn is_pattern(name: &str) -> bool {
    name.contains(['*', '?', '['])
}

/// Shell-style matching of `*`, `?` and `[...]` sets on one name.
pub(crate) fn wildcard_match(pattern: &str, name: &str) -> bool {
    let p: Vec<char> = pattern.chars().collect();
    let n: Vec<char> = name.chars().collect();
    // Iterative matcher with single backtrack point for `*` (linear in practice, no recursion).
    let (mut pi, mut ni) = (0, 0);
    let mut star: Option<(usize, usize)> = None;
    while ni < n.len() {
        if pi < p.len() {
            match p[pi] {
                '*' => {
                    star = Some((pi, ni));
                    pi += 1;
                    continue;
                }
                '?' => {
                    pi += 1;
                    ni += 1;
                    continue;
                }
                '[' => {
                    if let Some((matched, next)) = match_set(&p, pi, n[ni]) {
                        if matched {
                            pi = next;
                            ni += 1;
                            continue;
                        }
                    } else if n[ni] == '[' {
                        pi += 1;
                        ni += 1;
                        continue;
                    }
                }
                c if c == n[ni] => {
                    pi += 1;
                    ni += 1;
                    continue;
                }
                _ => {}
            }
        }
        match star {
            Some((sp, sn)) => {
                pi = sp + 1;
                ni = sn + 1;
                star = Some((sp, sn + 1));
            }
            None => return false,
        }
    }
    p[pi..].iter().all(|&c| c == '*')
}

/// Matches `c` against the set starting at `p[start] == '['`. Returns (matched, index after `]`),
/// or `None` when the set is not closed (then `[` is literal).
fn match_set(p: &[char], start: usize, c: char) -> Option<(bool, usize)> {
    let mut i = start + 1;
    let negate = matches!(p.get(i), Some('!' | '^'));
    if negate {
        i += 1;
    }
    let mut matched = false;
    let mut first = true;
    while i < p.len() {
        if p[i] == ']' && !first {
            return Some((matched != negate, i + 1));
        }
        if i + 2 < p.len() && p[i + 1] == '-' && p[i + 2] != ']' {
            if p[i] <= c && c <= p[i + 2] {
                matched = true;
            }
            i += 3;
        } else {
            if p[i] == c {
                matched = true;
            }
            i += 1;
        }
        first = false;
    }
    None
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn wildcards() {
        assert!(wildcard_match("*.txt", "a.txt"));
        assert!(!wildcard_match("*.txt", "a.txt.gz"));
        assert!(wildcard_match("a?c", "abc"));
        assert!(wildcard_match("[ab]*", "box"));
        assert!(!wildcard_match("[!ab]*", "box"));
        assert!(wildcard_match("*", ""));
        assert!(wildcard_match("文*", "文件"));
        assert!(wildcard_match("x[", "x["));
        assert!(wildcard_match("*a*b*c", "zzazzbzzc"));
    }
}
