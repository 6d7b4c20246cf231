//! Tab completion in the shell: command names first; then local paths for the commands that
//! take local files, and the names in the current remote directory (refreshed after each
//! command that may change them) for the others.

use std::sync::{Arc, Mutex};

use rustyline::completion::{Completer, FilenameCompleter, Pair};
use rustyline::highlight::Highlighter;
use rustyline::hint::Hinter;
use rustyline::validate::Validator;
use rustyline::{Context, Helper};

use crate::shell::COMMANDS;

/// Commands whose arguments are local paths.
const LOCAL: &[&str] = &["lcd", "lls", "put", "mput", "reput"];

pub struct ShellHelper {
    files: FilenameCompleter,
    /// Names in the remote working directory; directories end with `/`.
    pub remote: Arc<Mutex<Vec<String>>>,
}

impl ShellHelper {
    pub fn new(remote: Arc<Mutex<Vec<String>>>) -> ShellHelper {
        ShellHelper {
            files: FilenameCompleter::new(),
            remote,
        }
    }
}

impl Completer for ShellHelper {
    type Candidate = Pair;

    fn complete(
        &self,
        line: &str,
        pos: usize,
        ctx: &Context<'_>,
    ) -> rustyline::Result<(usize, Vec<Pair>)> {
        let before = &line[..pos];
        let word_start = before.rfind(' ').map(|i| i + 1).unwrap_or(0);
        let word = &before[word_start..];
        if word_start == 0 {
            let c = COMMANDS
                .iter()
                .filter(|(name, _, _)| name.starts_with(word))
                .map(|(name, _, _)| Pair {
                    display: (*name).to_owned(),
                    replacement: format!("{name} "),
                })
                .collect();
            return Ok((0, c));
        }
        let command = before.split_whitespace().next().unwrap_or("");
        if LOCAL.contains(&command)
            && (command != "put" || before[..word_start].split_whitespace().count() < 2)
        {
            return self.files.complete(line, pos, ctx);
        }
        // Remote names, within the current directory only.
        if word.contains('/') {
            return Ok((pos, Vec::new()));
        }
        let names = self.remote.lock().map(|n| n.clone()).unwrap_or_default();
        let c = names
            .into_iter()
            .filter(|n| n.starts_with(word))
            .map(|n| Pair {
                display: n.clone(),
                replacement: if n.ends_with('/') { n } else { format!("{n} ") },
            })
            .collect();
        Ok((word_start, c))
    }
}

impl Hinter for ShellHelper {
    type Hint = String;
}
impl Highlighter for ShellHelper {}
impl Validator for ShellHelper {}
impl Helper for ShellHelper {}
