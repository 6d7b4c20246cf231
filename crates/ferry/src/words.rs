//! The shell's command-line words: whitespace separates, "double" or 'single' quotes group,
//! a backslash escapes the next character; the same rules for parsing a line, for the word
//! under the cursor when completing, and for escaping a completed name back.
//!
//! A word also remembers which of its characters were quoted, because that decides
//! wildcards as in a Unix shell: `rm *.txt` expands, `rm "*.txt"` and `rm x\[1\].txt` name a
//! file literally.

use ferry_client::glob::{is_pattern, Operand};

/// One word of a command line.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Word {
    /// The word as the command sees it (quotes and escapes removed).
    pub text: String,
    /// For each character of `text`, whether it was quoted or escaped.
    quoted: Vec<bool>,
}

impl Word {
    /// The wildcard pattern of the characters from `start` (a char index) on, when any of
    /// them is an unquoted wildcard (`*`, `?`, `[`); quoted ones are written so that they
    /// match only themselves (`[*]`, `[[]`).
    fn pattern_from(&self, start: usize) -> Option<String> {
        let chars = self.text.chars().zip(&self.quoted).skip(start);
        let wild = chars
            .clone()
            .any(|(c, quoted)| !quoted && matches!(c, '*' | '?' | '['));
        if !wild {
            return None;
        }
        let mut p = String::new();
        for (c, quoted) in chars {
            match c {
                '*' | '?' | '[' | ']' if *quoted => {
                    p.push('[');
                    p.push(c);
                    p.push(']');
                }
                c => p.push(c),
            }
        }
        Some(p)
    }

    /// The word as a wildcard pattern (see [`Word::pattern_from`]); None when it names a
    /// path literally.
    pub fn pattern(&self) -> Option<String> {
        self.pattern_from(0)
    }

    /// Splits a word with wildcards into its directory (literal, as typed) and the pattern
    /// of its last component. An unquoted wildcard before the last `/` is refused: only
    /// names in one directory are listed.
    pub fn split_pattern(&self) -> Result<Option<(String, String)>, String> {
        if self.pattern().is_none() {
            return Ok(None);
        }
        let Some(slash) = self.text.rfind('/') else {
            return Ok(self.pattern().map(|p| (String::new(), p)));
        };
        let dir = &self.text[..slash];
        let last_start = self.text[..=slash].chars().count();
        let dir_word = Word {
            text: dir.to_owned(),
            quoted: self.quoted[..self.text[..slash].chars().count()].to_vec(),
        };
        if dir_word.pattern().is_some() {
            return Err(format!(
                "{}: wildcards only in the last component",
                self.text
            ));
        }
        let dir = if dir.is_empty() { "/" } else { dir };
        Ok(self.pattern_from(last_start).map(|p| (dir.to_owned(), p)))
    }

    /// The word as an operand of `rm`, `mget` or `mput`: a path, or a wildcard pattern over
    /// one directory (see [`Word::split_pattern`]).
    pub fn operand(&self) -> Result<Operand, String> {
        Ok(match self.split_pattern()? {
            None => Operand::Path(self.text.clone()),
            Some((dir, pattern)) => Operand::Wildcard {
                text: self.text.clone(),
                dir,
                pattern,
            },
        })
    }
}

/// Splits a line into words, with what was quoted (see the module comment).
pub fn parse_line(line: &str) -> Vec<Word> {
    let mut words = Vec::new();
    let mut cur = Word {
        text: String::new(),
        quoted: Vec::new(),
    };
    let mut in_word = false;
    let mut quote: Option<char> = None;
    let mut chars = line.chars();
    let push = |w: &mut Word, c: char, quoted: bool| {
        w.text.push(c);
        w.quoted.push(quoted);
    };
    while let Some(c) = chars.next() {
        match (quote, c) {
            (Some(q), c) if c == q => quote = None,
            (_, '\\') => {
                if let Some(n) = chars.next() {
                    push(&mut cur, n, true);
                    in_word = true;
                }
            }
            (Some(_), c) => push(&mut cur, c, true),
            (None, '"' | '\'') => {
                quote = Some(c);
                in_word = true;
            }
            (None, c) if c.is_whitespace() => {
                if in_word {
                    words.push(std::mem::replace(
                        &mut cur,
                        Word {
                            text: String::new(),
                            quoted: Vec::new(),
                        },
                    ));
                    in_word = false;
                }
            }
            (None, c) => {
                push(&mut cur, c, false);
                in_word = true;
            }
        }
    }
    if in_word {
        words.push(cur);
    }
    words
}

/// The words of a line as plain strings.
pub fn split_words(line: &str) -> Vec<String> {
    parse_line(line).into_iter().map(|w| w.text).collect()
}

/// A name written so that [`split_words`] reads it back unchanged, wildcards included:
/// whitespace, quotes, backslashes and `*?[` escaped with a backslash (what Tab completion
/// inserts).
pub fn escape_word(name: &str) -> String {
    let mut out = String::with_capacity(name.len());
    for c in name.chars() {
        if c.is_whitespace() || matches!(c, '"' | '\'' | '\\') || is_pattern(&c.to_string()) {
            out.push('\\');
        }
        out.push(c);
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use ferry_client::glob::matches;

    fn word(s: &str) -> Word {
        parse_line(s).remove(0)
    }

    #[test]
    fn words() {
        assert_eq!(
            split_words("get \"a b\" c\\ d 'e\"f'"),
            ["get", "a b", "c d", "e\"f"]
        );
        assert_eq!(split_words("  ls  "), ["ls"]);
        assert_eq!(split_words("put ''"), ["put", ""]);
        for name in [
            "a b",
            "it's \"x\"",
            "back\\slash",
            "tab\there",
            "x[1]*?.txt",
            "plain",
        ] {
            let line = format!("get {}", escape_word(name));
            assert_eq!(split_words(&line), ["get", name], "{line}");
            assert_eq!(parse_line(&line)[1].pattern(), None, "{line}");
        }
    }

    #[test]
    fn quoted_wildcards_are_literal() {
        assert_eq!(word("*.txt").pattern().as_deref(), Some("*.txt"));
        assert_eq!(word("\"*.txt\"").pattern(), None);
        assert_eq!(word("x\\[1\\].txt").pattern(), None);
        // Quoted wildcards beside an unquoted one match only themselves.
        let p = word("'[1]'*").pattern().unwrap();
        assert!(matches(&p, "[1]-a.txt"));
        assert!(!matches(&p, "1-a.txt"));
        assert_eq!(
            word("dir/a*").split_pattern(),
            Ok(Some(("dir".to_owned(), "a*".to_owned())))
        );
        assert_eq!(
            word("/a*").split_pattern(),
            Ok(Some(("/".to_owned(), "a*".to_owned())))
        );
        assert_eq!(
            word("\"d*r\"/a*").split_pattern(),
            Ok(Some(("d*r".to_owned(), "a*".to_owned())))
        );
        assert!(word("d*/a*").split_pattern().is_err());
        assert_eq!(word("d/plain").split_pattern(), Ok(None));
    }
}
