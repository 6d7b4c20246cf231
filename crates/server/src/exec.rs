//! Running an admin-listed command for SITE EXEC: fixed argv, no shell, an empty environment
//! (plus a fixed PATH), a working directory inside the user's jail, its own process group
//! (killed on timeout or when the session goes away), and capped output.

use std::path::PathBuf;
use std::process::Stdio;
use std::time::Duration;

use tokio::io::AsyncReadExt;

use crate::config::ExecCommand;

const PATH: &str = "/usr/local/bin:/usr/bin:/bin:/usr/local/sbin:/usr/sbin:/sbin";

/// What a command produced.
pub(crate) struct ExecOutcome {
    /// stdout then stderr, cut at the cap.
    pub output: Vec<u8>,
    pub truncated: bool,
    /// `None` when killed (timeout or signal).
    pub exit_code: Option<i32>,
    pub timed_out: bool,
}

/// Kills the whole process group when dropped: on timeout, and when the session (and with it
/// this future) goes away mid-command.
struct GroupKiller(Option<rustix::process::Pid>);

impl Drop for GroupKiller {
    fn drop(&mut self) {
        if let Some(pid) = self.0 {
            let _ = rustix::process::kill_process_group(pid, rustix::process::Signal::KILL);
        }
    }
}

pub(crate) async fn run(
    cmd: &ExecCommand,
    extra_args: &[String],
    cwd: PathBuf,
) -> std::io::Result<ExecOutcome> {
    let Some((program, fixed)) = cmd.argv.split_first() else {
        return Err(std::io::Error::new(
            std::io::ErrorKind::InvalidInput,
            "empty argv",
        ));
    };
    let mut child = tokio::process::Command::new(program)
        .args(fixed)
        .args(extra_args)
        .env_clear()
        .env("PATH", PATH)
        .env("LANG", "C.UTF-8")
        .current_dir(cwd)
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .process_group(0)
        .kill_on_drop(true)
        .spawn()?;
    let mut killer = GroupKiller(
        child
            .id()
            .and_then(|id| rustix::process::Pid::from_raw(id as i32)),
    );
    let cap = usize::try_from(cmd.output_cap).unwrap_or(usize::MAX);
    let (out, err) = (child.stdout.take(), child.stderr.take());
    let collect = async {
        // Both pipes at once: a command filling one while we wait on the other must not stall.
        let (out, err) = tokio::join!(read_capped(out, cap), read_capped(err, cap));
        let (mut output, mut truncated) = out?;
        let (err_bytes, err_truncated) = err?;
        let room = cap.saturating_sub(output.len());
        truncated |= err_truncated || err_bytes.len() > room;
        output.extend_from_slice(&err_bytes[..err_bytes.len().min(room)]);
        let status = child.wait().await?;
        Ok::<_, std::io::Error>((output, truncated, status.code()))
    };
    match tokio::time::timeout(Duration::from_secs(cmd.timeout.max(1)), collect).await {
        Ok(r) => {
            let (output, truncated, exit_code) = r?;
            // Descendants that outlived the command go with its group.
            drop(killer);
            Ok(ExecOutcome {
                output,
                truncated,
                exit_code,
                timed_out: false,
            })
        }
        Err(_) => {
            drop(std::mem::replace(&mut killer, GroupKiller(None)));
            Ok(ExecOutcome {
                output: Vec::new(),
                truncated: false,
                exit_code: None,
                timed_out: true,
            })
        }
    }
}

/// Reads a pipe to its end, keeping at most `cap` bytes (the rest is drained, not kept).
async fn read_capped(
    pipe: Option<impl tokio::io::AsyncRead + Unpin>,
    cap: usize,
) -> std::io::Result<(Vec<u8>, bool)> {
    let mut kept = Vec::new();
    let mut truncated = false;
    let Some(mut pipe) = pipe else {
        return Ok((kept, false));
    };
    let mut buf = [0u8; 8192];
    loop {
        let n = pipe.read(&mut buf).await?;
        if n == 0 {
            return Ok((kept, truncated));
        }
        let room = cap.saturating_sub(kept.len());
        kept.extend_from_slice(&buf[..n.min(room)]);
        truncated |= n > room;
    }
}

/// Makes output safe for reply lines: control characters (but tab) become `\xNN`.
pub(crate) fn escape_line(line: &[u8]) -> String {
    let text = String::from_utf8_lossy(line);
    let mut out = String::with_capacity(text.len());
    for c in text.chars() {
        if c.is_control() && c != '\t' {
            out.push_str(&format!("\\x{:02x}", c as u32));
        } else {
            out.push(c);
        }
    }
    out
}
