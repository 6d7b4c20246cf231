//! The manual's configuration reference (docs/configuration.md) against the code: every key
//! of `KEYS` documented exactly once, no documented key that does not exist, and every default
//! written as a TOML value equal to `ServerConfig::default()`'s (parsed back, compared by
//! `Debug`). A key documented as *unset* must default to `None` or an empty list.
#![allow(clippy::unwrap_used)]

use std::collections::BTreeMap;

use ferry_server::config::KEYS;
use ferry_server::ServerConfig;

fn manual() -> String {
    let path = concat!(env!("CARGO_MANIFEST_DIR"), "/../../docs/configuration.md");
    std::fs::read_to_string(path).unwrap_or_else(|e| panic!("reading {path}: {e}"))
}

/// The rows of the first table under the heading `heading`: first cell (a key in backticks,
/// unquoted here) -> all cells.
fn table(doc: &str, heading: &str) -> Vec<(String, Vec<String>)> {
    let start = doc
        .lines()
        .position(|l| l.trim() == heading)
        .unwrap_or_else(|| panic!("docs/configuration.md has no heading {heading:?}"));
    let mut rows = Vec::new();
    let mut in_table = false;
    for line in doc.lines().skip(start + 1) {
        if line.starts_with("## ") {
            break;
        }
        let line = line.trim();
        if !line.starts_with('|') {
            if in_table {
                break;
            }
            continue;
        }
        in_table = true;
        // `\|` inside a cell is a literal bar.
        let cells: Vec<String> = line
            .replace("\\|", "\u{0}")
            .trim_matches('|')
            .split('|')
            .map(|c| c.trim().replace('\u{0}', "|"))
            .collect();
        let Some(key) = cells[0].strip_prefix('`').and_then(|k| k.strip_suffix('`')) else {
            continue; // the header and the separator
        };
        rows.push((key.to_owned(), cells));
    }
    assert!(!rows.is_empty(), "no table rows under {heading:?}");
    rows
}

/// The TOML value of a default cell written as `` `value` ``, or None for prose.
fn literal(cell: &str) -> Option<&str> {
    let rest = cell.strip_prefix('`')?;
    Some(&rest[..rest.find('`').unwrap()])
}

fn parse(text: &str) -> ServerConfig {
    ServerConfig::from_toml_and_env(text, Vec::new())
        .unwrap_or_else(|e| panic!("the manual's {text:?} does not parse: {e}"))
}

#[test]
fn every_key_is_documented_once_with_its_default_and_variable() {
    let doc = manual();
    let rows = table(&doc, "## Keys");
    let mut seen: BTreeMap<&str, usize> = BTreeMap::new();
    for (key, _) in &rows {
        *seen.entry(key.as_str()).or_default() += 1;
    }
    for key in KEYS {
        assert_eq!(
            seen.get(key).copied().unwrap_or(0),
            1,
            "docs/configuration.md must document `{key}` exactly once"
        );
    }
    for key in seen.keys() {
        assert!(
            KEYS.contains(key),
            "docs/configuration.md documents `{key}`, which is not a key of ferry.toml"
        );
    }

    let default = format!("{:?}", ServerConfig::default());
    for (key, cells) in &rows {
        assert!(
            cells.len() >= 6,
            "row of `{key}` has too few cells: {cells:?}"
        );
        assert_eq!(
            cells[3],
            format!("`FERRY_{}`", key.to_ascii_uppercase()),
            "environment variable of `{key}`"
        );
        let cell = &cells[2];
        match literal(cell) {
            Some(value) => {
                let set = format!("{:?}", parse(&format!("{key} = {value}")));
                assert_eq!(
                    set, default,
                    "docs/configuration.md says `{key}` defaults to {value}, but setting it \
                     to that changes the configuration"
                );
            }
            None => {
                assert!(
                    cell.starts_with("unset"),
                    "default of `{key}` must be a TOML value in backticks or \"unset\": {cell:?}"
                );
                assert!(
                    default.contains(&format!(" {key}: None"))
                        || default.contains(&format!(" {key}: []")),
                    "docs/configuration.md says `{key}` is unset by default, but \
                     ServerConfig::default() has a value: {default}"
                );
            }
        }
    }
}

#[test]
fn the_site_exec_table_matches_the_code() {
    let doc = manual();
    let rows = table(&doc, "## The `[site_exec]` table");
    let base = "[site_exec.commands.x]\nargv = [\"true\"]\n";
    let default = format!("{:?}", parse(base));
    let mut documented = Vec::new();
    for (key, cells) in &rows {
        documented.push(key.as_str());
        let cell = &cells[2];
        let (text, reference) = match key.strip_prefix("commands.NAME.") {
            Some(field) => match literal(cell) {
                Some(value) => (format!("{base}{field} = {value}\n"), default.clone()),
                None => {
                    assert_eq!(cell, "required", "default of `{key}`");
                    assert_eq!(field, "argv");
                    continue;
                }
            },
            None => {
                let value = literal(cell)
                    .unwrap_or_else(|| panic!("default of `{key}` must be a TOML value"));
                (
                    format!("[site_exec]\n{key} = {value}\n"),
                    format!("{:?}", ServerConfig::default()),
                )
            }
        };
        assert_eq!(
            format!("{:?}", parse(&text)),
            reference,
            "docs/configuration.md's default of `{key}` is not the code's"
        );
    }
    documented.sort_unstable();
    assert_eq!(
        documented,
        [
            "commands.NAME.args",
            "commands.NAME.argv",
            "commands.NAME.output_cap",
            "commands.NAME.timeout",
            "commands.NAME.users",
            "max_concurrent",
            "max_per_user",
        ],
        "the [site_exec] keys documented"
    );
    // A key the code does not know is refused (deny_unknown_fields), so the list above is
    // complete only if a misspelt one fails:
    assert!(ServerConfig::from_toml_and_env("[site_exec]\nmax_parallel = 1", Vec::new()).is_err());
    assert!(
        ServerConfig::from_toml_and_env(&format!("{base}timeout_s = 1\n"), Vec::new()).is_err()
    );
}

#[test]
fn size_units_are_what_the_manual_says() {
    use ferry_proto::size::parse_size;
    for (text, bytes) in [
        ("1", 1u64),
        ("1B", 1),
        ("1K", 1 << 10),
        ("1kb", 1 << 10),
        ("1KiB", 1 << 10),
        ("1M", 1 << 20),
        ("1MB", 1 << 20),
        ("1G", 1 << 30),
        ("1GB", 1 << 30),
        ("1GiB", 1 << 30),
        ("1TB", 1 << 40),
        ("1.5k", 1536),
        ("10 MiB", 10 << 20),
    ] {
        assert_eq!(parse_size(text), Ok(Some(bytes)), "{text}");
    }
    assert_eq!(parse_size("unlimited"), Ok(None));
    assert_eq!(parse_size("none"), Ok(None));
    assert!(parse_size("1PB").is_err());
    let doc = manual();
    assert!(doc.contains("`1GB` = `1G` = `1GiB` =\n  2^30 bytes, not 10^9"));
}
