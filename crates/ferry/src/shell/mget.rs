//! `mget PATTERN...`: every remote file the patterns match, into the local directory.

use std::time::Instant;

use ferry_client::{CancellationToken, Result};

use super::operands::operands;
use super::Shell;
use crate::print;
use crate::words::Word;

pub async fn mget(
    shell: &mut Shell,
    cmd: &str,
    words: &[Word],
    cancel: &CancellationToken,
) -> Result<()> {
    let o = operands(cmd, words, "", 1, usize::MAX)?;
    let patterns = o.patterns()?;
    let bars = &shell.bars;
    let c = super::live(&mut shell.client, bars).await?;
    let started = Instant::now();
    let batch = c.get_many(&patterns, bars, cancel).await?;
    print::batch(bars, started, batch)
}
