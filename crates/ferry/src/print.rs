//! What the shell and the one-shot commands print for a result: one summary line per
//! transfer or batch, a listing, the output of `site exec`, a raw reply. The formatting
//! itself is in output.rs.

use std::time::Instant;

use ferry_client::{BatchOutcome, CancellationToken, Client, ExecOutput, Outcome, Result};

use crate::output;
use crate::progress::Bars;

/// `name: 3.0 MiB in 0.12 s (...), SHA-256 verified`.
pub fn transfer(o: &Outcome) {
    outln!("{}", output::summary(o));
}

/// Ends a batch begun at `started`: its bars go, its summary line is printed (each failure
/// was said as it happened), and its result is the first failure's class.
pub fn batch(bars: &Bars, started: Instant, batch: BatchOutcome) -> Result<()> {
    bars.clear();
    outln!(
        "{}",
        output::batch_summary(&batch.outcomes, batch.failures.len(), started.elapsed())
    );
    batch.into_result().map(drop)
}

/// Prints a listing: MLSD-based `ls -l` lines, raw `LIST` lines from servers without MLSD,
/// or JSON. A path naming a file lists that file.
pub async fn listing(
    client: &mut Client,
    path: &str,
    json: bool,
    cancel: &CancellationToken,
) -> Result<()> {
    let mlsd = client.features().has("MLST");
    if !mlsd && !json {
        for line in client.list_raw(path, cancel).await? {
            outln!("{line}");
        }
        return Ok(());
    }
    let entries = client.entries_of(path, cancel).await?;
    if json {
        outln!("{}", output::entries_json(&entries));
    } else {
        for line in output::entries_long(&entries) {
            outln!("{line}");
        }
    }
    Ok(())
}

/// The output lines on stdout; the status on stderr unless the command exited 0.
pub fn exec_output(out: &ExecOutput) {
    for l in &out.output {
        outln!("{l}");
    }
    if !out.success() {
        errln!("{}", out.status);
    }
}

/// A reply as the server sent it: the code on its first line.
pub fn reply(r: &ferry_proto::Reply) {
    for (i, l) in r.lines.iter().enumerate() {
        if i == 0 {
            outln!("{} {l}", r.code);
        } else {
            outln!("{l}");
        }
    }
}
