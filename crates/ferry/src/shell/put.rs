//! `put [-r] LOCAL [REMOTE]` (and `reput`): a file or a tree, resumed and verified; without
//! REMOTE it goes into the current directory, as `ferry put` to a directory URL does.

use std::path::Path;
use std::time::Instant;

use ferry_client::{CancellationToken, Result};

use super::operands::operands;
use super::Shell;
use crate::print;
use crate::words::Word;

pub async fn put(
    shell: &mut Shell,
    cmd: &str,
    words: &[Word],
    cancel: &CancellationToken,
) -> Result<()> {
    let o = operands(cmd, words, "r", 1, 2)?;
    let local = Path::new(&o.words[0]);
    let remote = o.words.get(1).map_or("", String::as_str);
    let bars = &shell.bars;
    let c = super::live(&mut shell.client, bars).await?;
    if o.has('r') {
        let started = Instant::now();
        let batch = c.put_tree(local, remote, bars, cancel).await?;
        print::batch(bars, started, batch)
    } else {
        let outcome = c.put_file(local, remote, bars, cancel).await?;
        print::transfer(&outcome);
        Ok(())
    }
}
