//! `help [COMMAND]`: the command table, or one command's line of it.

use ferry_client::Result;

use super::operands::operands;
use super::table::COMMANDS;
use crate::words::Word;

pub fn help(cmd: &str, words: &[Word]) -> Result<()> {
    let o = operands(cmd, words, "", 0, 1)?;
    match o.words.first() {
        Some(t) => match COMMANDS.iter().find(|c| c.name == t) {
            Some(c) => outln!("{} {}\n    {}", c.name, c.args, c.help),
            None => outln!("no command {t:?}"),
        },
        None => {
            outln!("Commands (Tab completes; Ctrl-C aborts a transfer; Ctrl-D leaves):");
            for c in COMMANDS {
                outln!("  {:<26} {}", format!("{} {}", c.name, c.args), c.help);
            }
        }
    }
    Ok(())
}
