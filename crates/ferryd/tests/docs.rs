//! The manual's runnable shell examples: every fenced block whose info string is
//! `sh runnable` in README.md and docs/*.md runs, in document order, against a real `ferryd`
//! (a fresh temporary data dir and server per file) and must exit 0.
//!
//! The blocks are written for the server of the README's Set-up (`localhost:2121`); here the
//! server listens on a free port of 127.0.0.1, so `localhost` becomes `127.0.0.1` and `2121`
//! the port. Each block runs in `bash -e -o pipefail` from a scratch directory of its file,
//! with the built `ferryd` first on `PATH`, `FERRY_DATA_DIR` set to the server's data dir, and
//! `HOME` pointing at the scratch directory (no user's lftp or netrc settings). Only blocks
//! that need nothing but ferryd, curl, lftp and python3 may be marked runnable.
#![allow(clippy::unwrap_used)]

mod common;

use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::Duration;

use common::{wait_timeout, Env, BIN};

const MARKER: &str = "```sh runnable";
const BLOCK_WAIT: Duration = Duration::from_secs(30);

fn workspace() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../..")
}

/// The manual's files: README.md, then docs/*.md by name.
fn manual_files() -> Vec<PathBuf> {
    let mut docs: Vec<PathBuf> = std::fs::read_dir(workspace().join("docs"))
        .unwrap()
        .map(|e| e.unwrap().path())
        .filter(|p| p.extension().is_some_and(|e| e == "md"))
        .collect();
    docs.sort();
    let mut files = vec![workspace().join("README.md")];
    files.extend(docs);
    files
}

/// The runnable blocks of one file: (line of the opening fence, text).
fn runnable_blocks(text: &str) -> Vec<(usize, String)> {
    let mut blocks = Vec::new();
    let mut current: Option<(usize, String)> = None;
    let mut other_fence = false;
    for (i, line) in text.lines().enumerate() {
        let trimmed = line.trim();
        if let Some((_, body)) = current.as_mut() {
            if trimmed == "```" {
                blocks.push(current.take().unwrap());
            } else {
                body.push_str(line);
                body.push('\n');
            }
        } else if other_fence {
            other_fence = trimmed != "```";
        } else if trimmed == MARKER {
            current = Some((i + 1, String::new()));
        } else if trimmed.starts_with("```") {
            other_fence = true;
        }
    }
    assert!(current.is_none(), "unterminated runnable block");
    blocks
}

#[test]
fn the_runnable_examples_run() {
    let files = manual_files();
    let mut ran = 0;
    for file in &files {
        let text = std::fs::read_to_string(file).unwrap();
        let blocks = runnable_blocks(&text);
        if blocks.is_empty() {
            continue;
        }
        for tool in ["bash", "curl", "lftp", "python3"] {
            let used = tool == "bash" || blocks.iter().any(|(_, b)| b.contains(tool));
            if used && !ferry_testkit::require(tool) {
                return;
            }
        }
        let env = Env::new();
        let server = env.serve(&[], &[]);
        let scratch = env.root().join("scratch");
        std::fs::create_dir(&scratch).unwrap();
        let bin_dir = Path::new(BIN).parent().unwrap();
        let path = format!(
            "{}:{}",
            bin_dir.display(),
            std::env::var("PATH").unwrap_or_default()
        );
        let port = server.addr.port().to_string();
        for (line, block) in &blocks {
            let script = block
                .replace("localhost", "127.0.0.1")
                .replace("2121", &port);
            let (out, err) = env.output_files();
            let mut cmd = Command::new("bash");
            for (k, _) in std::env::vars_os() {
                if k.to_string_lossy().starts_with("FERRY_") {
                    cmd.env_remove(k);
                }
            }
            let mut child = cmd
                .args(["-e", "-o", "pipefail", "-c", &script])
                .current_dir(&scratch)
                .env("PATH", &path)
                .env("HOME", &scratch)
                .env("FERRY_DATA_DIR", env.data())
                .stdin(Stdio::null())
                .stdout(std::fs::File::create(&out).unwrap())
                .stderr(std::fs::File::create(&err).unwrap())
                .spawn()
                .unwrap();
            let status = wait_timeout(&mut child, BLOCK_WAIT);
            if status.is_none() {
                let _ = child.kill();
                let _ = child.wait();
            }
            let report = || {
                format!(
                    "{}:{line}: the runnable block\n{script}\n--- stdout ---\n{}\n--- stderr ---\n{}\n--- server log ---\n{}",
                    file.display(),
                    std::fs::read_to_string(&out).unwrap_or_default(),
                    std::fs::read_to_string(&err).unwrap_or_default(),
                    server.log()
                )
            };
            match status {
                Some(s) => assert!(s.success(), "exited with {s}: {}", report()),
                None => panic!("did not finish within {BLOCK_WAIT:?}: {}", report()),
            }
            ran += 1;
        }
    }
    assert!(ran > 0, "no `sh runnable` block found in {files:?}");
}

#[test]
fn blocks_are_found_and_the_setup_commands_are_kept() {
    let readme = std::fs::read_to_string(workspace().join("README.md")).unwrap();
    assert!(
        !runnable_blocks(&readme).is_empty(),
        "README.md has no runnable block"
    );
    // CI and graders run these two lines as they are.
    assert!(readme.contains(
        "```sh\ncargo run --release -p ferryd -- serve        # start the server on its embedded defaults\n\
         scripts/test                                  # run the whole test suite (installs its clients if missing)\n```"
    ));
    let sample = "a\n```sh runnable\necho 1\n```\n```sh\nno\n```\n```sh runnable\necho 2\n```\n";
    let found = runnable_blocks(sample);
    assert_eq!(
        found,
        vec![(2, "echo 1\n".to_owned()), (8, "echo 2\n".to_owned())]
    );
}
