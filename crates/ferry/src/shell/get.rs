//! `get [-r] REMOTE [LOCAL]` (and `reget`): a file or a tree, resumed and verified; without
//! LOCAL it is named as `ferry get` names it ([`default_local_name`]).

use std::path::PathBuf;
use std::time::Instant;

use ferry_client::targets::default_local_name;
use ferry_client::{CancellationToken, Result};

use super::operands::operands;
use super::Shell;
use crate::print;
use crate::words::Word;

pub async fn get(
    shell: &mut Shell,
    cmd: &str,
    words: &[Word],
    cancel: &CancellationToken,
) -> Result<()> {
    let o = operands(cmd, words, "r", 1, 2)?;
    let remote = &o.words[0];
    let host = shell.url.as_ref().map_or("", |u| u.host.as_str());
    let local = o
        .words
        .get(1)
        .map(PathBuf::from)
        .unwrap_or_else(|| default_local_name(remote, host));
    let bars = &shell.bars;
    let c = super::live(&mut shell.client, bars).await?;
    if o.has('r') {
        let started = Instant::now();
        let batch = c.get_tree(remote, &local, bars, cancel).await?;
        print::batch(bars, started, batch)
    } else {
        let outcome = c.get_file(remote, &local, bars, cancel).await?;
        print::transfer(&outcome);
        Ok(())
    }
}
