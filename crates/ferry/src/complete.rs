//! Tab completion in the shell: command names (also after `help`); local paths for the
//! arguments that are local files; remote names for the others, in any directory the word
//! names (`get /tr<Tab>`, `cd tree/<Tab>`), listed through the shell's own session. Which
//! operands are which is said by each command's line in shell/table.rs.
//!
//! Completions are inserted the way the shell's parser ([`split_words`]) reads them back:
//! a name with spaces or quotes comes out escaped (`my\ file.txt`), as local paths already
//! were by rustyline.

use std::collections::HashMap;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use ferry_client::{CancellationToken, Client, EntryType};
use rustyline::completion::{Completer, FilenameCompleter, Pair};
use rustyline::highlight::Highlighter;
use rustyline::hint::Hinter;
use rustyline::validate::Validator;
use rustyline::{Context, Helper};
use tokio::runtime::Handle;

use crate::shell::table::{self, Completes, COMMANDS};
use crate::words::{escape_word, split_words};

/// The longest a listing for completion may take: the prompt must not hang on a slow server.
const LIST_LIMIT: Duration = Duration::from_secs(5);

/// Remote listings for completion. The shell lends its session here while it waits at the
/// prompt (no command runs then), and takes it back before running the next command.
pub struct RemoteNames {
    session: Mutex<Option<Client>>,
    runtime: Handle,
    /// Listings fetched since the last command, by directory as typed (`""` is the current
    /// one); each entry is a name, with `/` after a directory's.
    cache: Mutex<HashMap<String, Vec<String>>>,
}

impl RemoteNames {
    pub fn new(runtime: Handle) -> RemoteNames {
        RemoteNames {
            session: Mutex::new(None),
            runtime,
            cache: Mutex::new(HashMap::new()),
        }
    }

    /// Lends the session for the time of one prompt.
    pub fn lend(&self, client: Option<Client>) {
        if let Ok(mut s) = self.session.lock() {
            *s = client;
        }
    }

    /// Takes the session back (before a command runs).
    pub fn take_back(&self) -> Option<Client> {
        self.session.lock().ok().and_then(|mut s| s.take())
    }

    /// Forgets every listing: the last command may have changed the server or the current
    /// directory.
    pub fn forget(&self) {
        if let Ok(mut c) = self.cache.lock() {
            c.clear();
        }
    }

    /// The names in `dir` (`""`: the current directory); empty when it cannot be listed.
    fn names(&self, dir: &str) -> Vec<String> {
        if let Some(names) = self.cache.lock().ok().and_then(|c| c.get(dir).cloned()) {
            return names;
        }
        let Ok(mut session) = self.session.lock() else {
            return Vec::new();
        };
        let Some(client) = session.as_mut().filter(|c| c.is_connected()) else {
            return Vec::new();
        };
        // A slow listing is cancelled (ABOR, so the session stays in step), not abandoned.
        let cancel = CancellationToken::new();
        let timer = {
            let cancel = cancel.clone();
            self.runtime.spawn(async move {
                tokio::time::sleep(LIST_LIMIT).await;
                cancel.cancel();
            })
        };
        let listed = self.runtime.block_on(client.list(dir, &cancel));
        timer.abort();
        let names: Vec<String> = match listed {
            Ok(entries) => entries
                .into_iter()
                .map(|e| match e.kind {
                    EntryType::Dir => format!("{}/", e.name),
                    _ => e.name,
                })
                .collect(),
            Err(_) => return Vec::new(),
        };
        if let Ok(mut c) = self.cache.lock() {
            c.insert(dir.to_owned(), names.clone());
        }
        names
    }
}

pub struct ShellHelper {
    files: FilenameCompleter,
    remote: Arc<RemoteNames>,
}

impl ShellHelper {
    pub fn new(remote: Arc<RemoteNames>) -> ShellHelper {
        ShellHelper {
            files: FilenameCompleter::new(),
            remote,
        }
    }

    /// Remote names completing `word` (unescaped), as replacements for the whole word.
    fn remote_candidates(&self, word: &str, dirs_only: bool) -> Vec<Pair> {
        // `a/b/na` lists `a/b` for names starting with `na`; `/na` lists the root.
        let (dir_part, prefix) = match word.rfind('/') {
            Some(i) => (&word[..=i], &word[i + 1..]),
            None => ("", word),
        };
        let list_dir = match dir_part {
            "" | "/" => dir_part,
            d => d.trim_end_matches('/'),
        };
        self.remote
            .names(list_dir)
            .into_iter()
            .filter(|n| n.starts_with(prefix) && (!dirs_only || n.ends_with('/')))
            .map(|n| {
                let full = escape_word(&format!("{dir_part}{n}"));
                Pair {
                    replacement: if n.ends_with('/') {
                        full
                    } else {
                        format!("{full} ")
                    },
                    display: n,
                }
            })
            .collect()
    }
}

fn command_candidates(word: &str) -> Vec<Pair> {
    COMMANDS
        .iter()
        .filter(|c| c.name.starts_with(word))
        .map(|c| Pair {
            display: c.name.to_owned(),
            replacement: format!("{} ", c.name),
        })
        .collect()
}

/// Where the word under the cursor starts in `before` (the line up to the cursor), and the
/// word as the shell will read it (quotes and escapes removed): the same rules as
/// [`split_words`].
pub fn current_word(before: &str) -> (usize, String) {
    let mut start = None;
    let mut word = String::new();
    let mut quote: Option<char> = None;
    let mut chars = before.char_indices();
    while let Some((i, c)) = chars.next() {
        match (quote, c) {
            (Some(q), c) if c == q => quote = None,
            (_, '\\') => {
                start.get_or_insert(i);
                if let Some((_, n)) = chars.next() {
                    word.push(n);
                }
            }
            (Some(_), c) => word.push(c),
            (None, '"' | '\'') => {
                start.get_or_insert(i);
                quote = Some(c);
            }
            (None, c) if c.is_whitespace() => {
                start = None;
                word.clear();
            }
            (None, c) => {
                start.get_or_insert(i);
                word.push(c);
            }
        }
    }
    (start.unwrap_or(before.len()), word)
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
        let (start, word) = current_word(before);
        let earlier = split_words(&before[..start]);
        let Some(command) = earlier.first().map(|c| c.to_ascii_lowercase()) else {
            return Ok((start, command_candidates(&word)));
        };
        // `!cmd args`: a local command takes local paths; an unknown command, remote ones.
        let completes = match table::find(&command) {
            Some(c) => c.completes,
            None if command.starts_with('!') => Completes::Local,
            None => Completes::Remote,
        };
        // Options do not count as paths: `put -r DIR <Tab>` completes the remote side.
        let paths_before = earlier[1..].iter().filter(|w| !w.starts_with('-')).count();
        match completes {
            Completes::Commands => Ok((start, command_candidates(&word))),
            Completes::Nothing => Ok((start, Vec::new())),
            Completes::Local => self.files.complete(line, pos, ctx),
            Completes::LocalThenRemote if paths_before == 0 => self.files.complete(line, pos, ctx),
            Completes::LocalThenRemote | Completes::Remote => {
                Ok((start, self.remote_candidates(&word, false)))
            }
            Completes::RemoteDirs => Ok((start, self.remote_candidates(&word, true))),
        }
    }
}

impl Hinter for ShellHelper {
    type Hint = String;
}
impl Highlighter for ShellHelper {}
impl Validator for ShellHelper {}
impl Helper for ShellHelper {}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_word_under_the_cursor_follows_the_parser() {
        assert_eq!(current_word("get my\\ fi"), (4, "my fi".to_owned()));
        assert_eq!(current_word("get \"my fi"), (4, "my fi".to_owned()));
        assert_eq!(current_word("get a b"), (6, "b".to_owned()));
        assert_eq!(current_word("get "), (4, String::new()));
        assert_eq!(current_word("he"), (0, "he".to_owned()));
    }
}
