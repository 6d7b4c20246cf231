//! Shell-style wildcards, the same on both sides: the server filters `NLST *.txt` / `LIST *.txt`
//! with them, the client matches `mget`, `mput` and `rm` patterns against listed names
//! (servers disagree on globbing in NLST, and some refuse it). `*` any run, `?` one character,
//! `[abc]`, `[a-z]`, `[!x]` one of / none of. A leading `.` is matched only explicitly, as in a
//! shell.

/// Whether a word contains wildcard characters at all.
pub fn is_pattern(s: &str) -> bool {
    s.contains(['*', '?', '['])
}

pub fn matches(pattern: &str, name: &str) -> bool {
    if name.starts_with('.') && !pattern.starts_with('.') {
        return false;
    }
    let p: Vec<char> = pattern.chars().collect();
    let n: Vec<char> = name.chars().collect();
    match_from(&p, &n)
}

fn match_from(p: &[char], n: &[char]) -> bool {
    // Iterative with one backtrack point for the last `*`: linear in practice, no recursion
    // blow-up on patterns like `*a*a*a*b`.
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
                    if let Some((ok, len)) = class(&p[pi..], n[ni]) {
                        if ok {
                            pi += len;
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
    p[pi..].iter().all(|c| *c == '*')
}

/// Matches `c` against the class at the start of `p` (`[...]`); returns (matched, length of
/// the class), or None when the `[` is not closed (then it is a literal).
fn class(p: &[char], c: char) -> Option<(bool, usize)> {
    let mut i = 1;
    let negate = matches!(p.get(i), Some('!') | Some('^'));
    if negate {
        i += 1;
    }
    let mut matched = false;
    let mut first = true;
    while i < p.len() {
        if p[i] == ']' && !first {
            return Some((matched != negate, i + 1));
        }
        first = false;
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
    }
    None
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn wildcards() {
        assert!(matches("*.txt", "a.txt"));
        assert!(matches("*.txt", "ü.txt"));
        assert!(!matches("*.txt", "a.txt.gz"));
        assert!(matches("a?c", "abc"));
        assert!(!matches("a?c", "ac"));
        assert!(matches("[ab]*", "bx"));
        assert!(!matches("[!ab]*", "bx"));
        assert!(matches("f[0-9]", "f7"));
        assert!(matches("*a*a*b", "xaaaaab"));
        assert!(!matches("*a*a*b", "xaaaaa"));
        assert!(!matches("*", ".hidden"));
        assert!(matches(".*", ".hidden"));
        assert!(matches("[x", "[x"));
        assert!(is_pattern("*.txt") && !is_pattern("plain"));
    }
}
