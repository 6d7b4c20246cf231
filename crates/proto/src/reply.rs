//! FTP replies (RFC 959 §4.2): encoding for the server, incremental parsing for the client.

use std::fmt::Write as _;

/// A reply: a three-digit code and one or more lines of text.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Reply {
    pub code: u16,
    pub lines: Vec<String>,
}

impl Reply {
    pub fn new(code: u16, text: impl Into<String>) -> Reply {
        Reply {
            code,
            lines: vec![text.into()],
        }
    }

    pub fn multi(code: u16, lines: Vec<String>) -> Reply {
        Reply { code, lines }
    }

    /// The text of a one-line reply, or the lines joined with `\n`.
    pub fn text(&self) -> String {
        self.lines.join("\n")
    }

    pub fn is_positive_completion(&self) -> bool {
        (200..300).contains(&self.code)
    }

    pub fn is_positive_preliminary(&self) -> bool {
        (100..200).contains(&self.code)
    }

    /// Appends the wire form to `out`. Multi-line replies use `code-first` ... `code last`;
    /// intermediate lines that could be mistaken for the end (`NNN ` at the start) get a
    /// leading space, as RFC 959 §4.2 recommends. CR and LF inside text (a file name may
    /// contain them) become NUL, as RFC 959 specifies for path names.
    ///
    /// The code is always three digits: a reply the client read as `055` re-encodes as `055`,
    /// not `55` (found by the `reply_reader` fuzz target).
    pub fn encode_into(&self, out: &mut String) {
        let code = self.code;
        let n = self.lines.len();
        if n <= 1 {
            let _ = write!(out, "{code:03} ");
            push_sanitised(out, self.lines.first().map(String::as_str).unwrap_or(""));
            out.push_str("\r\n");
            return;
        }
        for (i, line) in self.lines.iter().enumerate() {
            if i == 0 {
                let _ = write!(out, "{code:03}-");
            } else if i == n - 1 {
                let _ = write!(out, "{code:03} ");
            } else if line.len() >= 3 && line.as_bytes()[..3].iter().all(u8::is_ascii_digit) {
                out.push(' ');
            }
            push_sanitised(out, line);
            out.push_str("\r\n");
        }
    }

    pub fn encode(&self) -> String {
        let mut s = String::new();
        self.encode_into(&mut s);
        s
    }
}

fn push_sanitised(out: &mut String, text: &str) {
    for c in text.chars() {
        out.push(if c == '\r' || c == '\n' { '\0' } else { c });
    }
}

/// Quotes a path for `257` replies: enclosed in `"`, inner `"` doubled (RFC 959 Appendix II).
pub fn quote_path(path: &str) -> String {
    format!("\"{}\"", path.replace('"', "\"\""))
}

/// Why bytes from a server are not a reply.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ReplyError {
    #[error("malformed reply line: {0:?}")]
    Malformed(String),
    #[error("reply longer than the limit")]
    TooLong,
}

/// Assembles replies from lines a client reads off the control connection.
#[derive(Debug, Default)]
pub struct ReplyParser {
    pending: Option<(u16, Vec<String>)>,
}

impl ReplyParser {
    /// The most lines one reply may have before the parser gives up (a hostile server bound).
    pub const MAX_LINES: usize = 100_000;

    pub fn new() -> ReplyParser {
        ReplyParser::default()
    }

    /// Feeds one line (without CRLF). Returns the reply when this line completes one.
    pub fn push_line(&mut self, line: &str) -> Result<Option<Reply>, ReplyError> {
        let code_of = |l: &str| -> Option<u16> {
            let b = l.as_bytes();
            if b.len() >= 3 && b[..3].iter().all(u8::is_ascii_digit) {
                l[..3].parse().ok()
            } else {
                None
            }
        };
        match &mut self.pending {
            None => {
                let code = code_of(line).ok_or_else(|| ReplyError::Malformed(line.to_owned()))?;
                match line.as_bytes().get(3) {
                    Some(b'-') => {
                        self.pending = Some((code, vec![line[4..].to_owned()]));
                        Ok(None)
                    }
                    Some(b' ') => Ok(Some(Reply::new(code, &line[4..]))),
                    None => Ok(Some(Reply::new(code, ""))),
                    Some(_) => Err(ReplyError::Malformed(line.to_owned())),
                }
            }
            Some((code, lines)) => {
                // Checked before the last line too, so no reply exceeds the bound.
                if lines.len() >= Self::MAX_LINES {
                    return Err(ReplyError::TooLong);
                }
                if code_of(line) == Some(*code) && line.as_bytes().get(3).is_none_or(|b| *b == b' ')
                {
                    let mut lines = std::mem::take(lines);
                    lines.push(line.get(4..).unwrap_or("").to_owned());
                    let code = *code;
                    self.pending = None;
                    return Ok(Some(Reply::multi(code, lines)));
                }
                // Kept verbatim: FEAT and MLST lines carry a meaningful leading space.
                lines.push(line.to_owned());
                Ok(None)
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn single_and_multi_line_encoding() {
        assert_eq!(Reply::new(200, "OK").encode(), "200 OK\r\n");
        let r = Reply::multi(
            211,
            vec![
                "Features:".into(),
                "MDTM".into(),
                "123 tricky".into(),
                "End".into(),
            ],
        );
        assert_eq!(
            r.encode(),
            "211-Features:\r\nMDTM\r\n 123 tricky\r\n211 End\r\n"
        );
        assert_eq!(Reply::new(550, "a\nb").encode(), "550 a\0b\r\n");
    }

    #[test]
    fn parser_round_trips_encoding() {
        let r = Reply::multi(211, vec!["Features:".into(), " MDTM".into(), "End".into()]);
        let mut p = ReplyParser::new();
        let mut got = None;
        for line in r.encode().split("\r\n").filter(|l| !l.is_empty()) {
            got = p.push_line(line).unwrap();
        }
        let got = got.unwrap();
        assert_eq!(got.code, 211);
        assert_eq!(got.lines.last().unwrap(), "End");
        assert!(ReplyParser::new().push_line("hello").is_err());
    }

    /// A reply of exactly MAX_LINES lines is read; one more line, even the closing one, is
    /// refused (the closing line used to be let through as line MAX_LINES + 1).
    #[test]
    fn replies_hold_at_most_max_lines() {
        for (lines, ok) in [
            (ReplyParser::MAX_LINES, true),
            (ReplyParser::MAX_LINES + 1, false),
        ] {
            let mut p = ReplyParser::new();
            assert_eq!(p.push_line("211-first"), Ok(None));
            let mut result = Ok(None);
            for _ in 1..lines - 1 {
                result = p.push_line(" middle");
                if result.is_err() {
                    break;
                }
            }
            if result.is_ok() {
                result = p.push_line("211 End");
            }
            match result {
                Ok(Some(r)) => {
                    assert!(ok, "{} lines accepted", r.lines.len());
                    assert_eq!(r.lines.len(), lines);
                }
                Err(ReplyError::TooLong) => assert!(!ok, "{lines} lines refused"),
                other => panic!("{other:?}"),
            }
        }
    }

    #[test]
    fn codes_below_100_keep_three_digits() {
        let r = ReplyParser::new().push_line("055").unwrap().unwrap();
        assert_eq!(r.code, 55);
        assert_eq!(r.encode(), "055 \r\n");
        assert_eq!(ReplyParser::new().push_line("055 ").unwrap(), Some(r));
        assert_eq!(
            Reply::multi(7, vec!["a".into(), "b".into()]).encode(),
            "007-a\r\n007 b\r\n"
        );
    }

    #[test]
    fn quoting_doubles_quotes() {
        assert_eq!(quote_path("/a\"b"), "\"/a\"\"b\"");
    }
}
