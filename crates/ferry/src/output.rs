//! What the commands print: listings (ls -l style or JSON), digests, transfer summaries.

use std::time::Duration;

use ferry_client::{Outcome, RemoteEntry};
use ferry_proto::size::format_size;
use serde::Serialize;

pub fn now() -> i64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.as_secs() as i64)
        .unwrap_or(0)
}

#[derive(Serialize)]
struct JsonEntry<'a> {
    name: &'a str,
    #[serde(rename = "type")]
    kind: &'static str,
    #[serde(skip_serializing_if = "Option::is_none")]
    size: Option<u64>,
    /// RFC 3339, UTC.
    #[serde(skip_serializing_if = "Option::is_none")]
    modified: Option<String>,
    /// Octal permission bits, e.g. "644".
    #[serde(skip_serializing_if = "Option::is_none")]
    mode: Option<String>,
}

fn rfc3339(unix: i64) -> String {
    let m = ferry_proto::time::format_mdtm(unix);
    format!(
        "{}-{}-{}T{}:{}:{}Z",
        &m[0..4],
        &m[4..6],
        &m[6..8],
        &m[8..10],
        &m[10..12],
        &m[12..14]
    )
}

pub fn entries_json(entries: &[RemoteEntry]) -> String {
    let v: Vec<JsonEntry> = entries
        .iter()
        .map(|e| JsonEntry {
            name: &e.name,
            kind: e.kind.name(),
            size: e.size,
            modified: e.modified.map(rfc3339),
            mode: e.mode.map(|m| format!("{m:o}")),
        })
        .collect();
    serde_json::to_string_pretty(&v).unwrap_or_else(|_| "[]".to_owned())
}

pub fn entries_long(entries: &[RemoteEntry]) -> Vec<String> {
    let now = now();
    entries.iter().map(|e| e.long_line(now)).collect()
}

#[derive(Serialize)]
struct JsonDigest<'a> {
    path: &'a str,
    algorithm: &'a str,
    digest: &'a str,
}

pub fn digest_json(path: &str, algorithm: &str, digest: &str) -> String {
    serde_json::to_string(&JsonDigest {
        path,
        algorithm,
        digest,
    })
    .unwrap_or_default()
}

fn rate(bytes: u64, elapsed: Duration) -> String {
    let secs = elapsed.as_secs_f64().max(0.001);
    format!("{}/s", format_size((bytes as f64 / secs) as u64))
}

fn verified(o: &Outcome) -> String {
    match o.verified {
        Some(a) => format!("{a} verified"),
        None if o.time_matched => "size and modification time checked".to_owned(),
        None => "size checked".to_owned(),
    }
}

/// `name: 3.0 MiB in 0.12 s (25.0 MiB/s), resumed at 1.0 MiB, SHA-256 verified`.
pub fn summary(o: &Outcome) -> String {
    if o.skipped {
        return format!(
            "{}: {} already there and identical ({}), skipped",
            o.name,
            format_size(o.size),
            verified(o)
        );
    }
    let mut s = format!(
        "{}: {} in {:.2} s ({})",
        o.name,
        format_size(o.bytes),
        o.elapsed.as_secs_f64(),
        rate(o.bytes, o.elapsed)
    );
    if o.resumed_from > 0 {
        s.push_str(&format!(", resumed at {}", format_size(o.resumed_from)));
    }
    s.push_str(&format!(", {}", verified(o)));
    s
}

/// `3 files` (and `1 file`).
pub fn files(n: usize) -> String {
    if n == 1 {
        "1 file".to_owned()
    } else {
        format!("{n} files")
    }
}

/// One line for a batch: `12 files, 30.0 MiB in 1.20 s (25.0 MiB/s), 2 skipped as identical,
/// all verified by digest`; with failures, what succeeded is counted apart:
/// `3 files, ..., 2 verified by digest, 1 FAILED`.
pub fn batch_summary(outcomes: &[Outcome], failed: usize, elapsed: Duration) -> String {
    let bytes: u64 = outcomes.iter().map(|o| o.bytes).sum();
    let skipped = outcomes.iter().filter(|o| o.skipped).count();
    let unverified = outcomes.iter().filter(|o| o.verified.is_none()).count();
    let verified = outcomes.len() - unverified;
    let mut s = format!(
        "{}, {} in {:.2} s ({})",
        files(outcomes.len() + failed),
        format_size(bytes),
        elapsed.as_secs_f64(),
        rate(bytes, elapsed)
    );
    if skipped > 0 {
        s.push_str(&format!(", {skipped} skipped as identical"));
    }
    if failed == 0 && !outcomes.is_empty() && unverified == 0 {
        s.push_str(", all verified by digest");
    } else {
        if verified > 0 {
            s.push_str(&format!(", {verified} verified by digest"));
        }
        if unverified > 0 {
            s.push_str(&format!(", {unverified} checked by size only"));
        }
    }
    if failed > 0 {
        s.push_str(&format!(", {failed} FAILED"));
    }
    s
}

#[cfg(test)]
mod tests {
    use super::*;

    fn outcome(verified: bool) -> Outcome {
        Outcome {
            name: "f".into(),
            size: 10,
            bytes: 10,
            resumed_from: 0,
            skipped: false,
            verified: verified.then_some(ferry_proto::hash::HashAlgo::Sha256),
            time_matched: false,
            elapsed: Duration::from_millis(5),
        }
    }

    #[test]
    fn batch_summaries_count_what_happened() {
        let t = Duration::from_secs(1);
        let s = batch_summary(&[outcome(true), outcome(true)], 1, t);
        assert!(s.starts_with("3 files, "), "{s}");
        assert!(
            s.ends_with(", 2 verified by digest, 1 FAILED") && !s.contains("all"),
            "{s}"
        );
        let s = batch_summary(&[outcome(true)], 0, t);
        assert!(
            s.starts_with("1 file, ") && s.ends_with("all verified by digest"),
            "{s}"
        );
        let s = batch_summary(&[outcome(false)], 0, t);
        assert!(s.ends_with(", 1 checked by size only"), "{s}");
        assert!(batch_summary(&[], 1, t).starts_with("1 file, "));
    }

    #[test]
    fn rfc3339_from_unix() {
        assert_eq!(rfc3339(1_700_000_000), "2023-11-14T22:13:20Z");
    }
}
