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
                            .is_some_and(|p| !ferry_proto::glob::matches(p, &e.name))
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
