//! A shell command's words split into options and operands, with the usage errors every
//! command words the same way.

use ferry_client::glob::Operand;
use ferry_client::{Error, Result};

use crate::words::Word;

/// A command's words split into options and operands, as GNU getopt does: a word starting
/// with `-` is one or more one-letter options (`-la`) wherever it stands, up to `--`, after
/// which everything is an operand (`rm -- -dash.txt`); `-` alone is an operand.
pub struct Operands {
    flags: Vec<char>,
    pub words: Vec<String>,
    /// The same operands with what was quoted in them (for wildcards).
    pub raw: Vec<Word>,
}

impl Operands {
    /// Splits `args`; an option not in `allowed` is a usage error.
    pub fn parse(cmd: &str, args: &[Word], allowed: &str) -> Result<Operands> {
        let mut o = Operands {
            flags: Vec::new(),
            words: Vec::new(),
            raw: Vec::new(),
        };
        let mut options_done = false;
        for word in args {
            let a = &word.text;
            if options_done || a == "-" || !a.starts_with('-') {
                o.words.push(a.clone());
                o.raw.push(word.clone());
            } else if a == "--" {
                options_done = true;
            } else if a.starts_with("--") {
                return Err(Error::Usage(format!(
                    "{cmd}: unknown option {a} (see help {cmd})"
                )));
            } else {
                for f in a.chars().skip(1) {
                    if !allowed.contains(f) {
                        return Err(Error::Usage(format!(
                            "{cmd}: unknown option -{f} (see help {cmd})"
                        )));
                    }
                    o.flags.push(f);
                }
            }
        }
        Ok(o)
    }

    /// Requires between `min` and `max` operands.
    pub fn count(self, cmd: &str, min: usize, max: usize) -> Result<Operands> {
        let n = self.words.len();
        if n < min {
            return Err(Error::Usage(format!(
                "{cmd}: missing argument (see help {cmd})"
            )));
        }
        if n > max {
            return Err(Error::Usage(format!(
                "{cmd}: too many arguments (see help {cmd})"
            )));
        }
        Ok(self)
    }

    pub fn has(&self, flag: char) -> bool {
        self.flags.contains(&flag)
    }
}

/// `cmd`'s words as options (those in `allowed`) and between `min` and `max` operands.
pub fn operands(
    cmd: &str,
    words: &[Word],
    allowed: &str,
    min: usize,
    max: usize,
) -> Result<Operands> {
    Operands::parse(cmd, words, allowed)?.count(cmd, min, max)
}

impl Operands {
    /// The operands as paths or wildcard patterns, by what was quoted in them.
    pub fn patterns(&self) -> Result<Vec<Operand>> {
        self.raw
            .iter()
            .map(|w| w.operand().map_err(Error::Usage))
            .collect()
    }
}
