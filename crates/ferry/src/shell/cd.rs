//! Where the shell stands: `cd`, `cdup` and `pwd` on the server, `lcd` and `lpwd` here.

use std::path::PathBuf;

use ferry_client::{Error, Result};

use super::operands::operands;
use super::Shell;
use crate::words::Word;

pub async fn cd(shell: &mut Shell, cmd: &str, words: &[Word]) -> Result<()> {
    let o = operands(cmd, words, "", 1, 1)?;
    let c = shell.client().await?;
    c.cwd(&o.words[0]).await?;
    shell.cwd = c.pwd().await?;
    Ok(())
}

pub async fn cdup(shell: &mut Shell, cmd: &str, words: &[Word]) -> Result<()> {
    operands(cmd, words, "", 0, 0)?;
    let c = shell.client().await?;
    c.cdup().await?;
    shell.cwd = c.pwd().await?;
    Ok(())
}

pub async fn pwd(shell: &mut Shell, cmd: &str, words: &[Word]) -> Result<()> {
    operands(cmd, words, "", 0, 0)?;
    let d = shell.client().await?.pwd().await?;
    outln!("{d}");
    Ok(())
}

/// `lcd [DIR]`: home without DIR, as `cd` in a Unix shell.
pub fn lcd(cmd: &str, words: &[Word]) -> Result<()> {
    let o = operands(cmd, words, "", 0, 1)?;
    let dir = match o.words.first() {
        Some(d) => PathBuf::from(d),
        None => std::env::var_os("HOME")
            .map(PathBuf::from)
            .unwrap_or_default(),
    };
    std::env::set_current_dir(&dir)
        .map_err(|e| Error::local(format!("lcd {}", dir.display()), e))?;
    outln!("Local directory: {}", current_dir().display());
    Ok(())
}

pub fn lpwd(cmd: &str, words: &[Word]) -> Result<()> {
    operands(cmd, words, "", 0, 0)?;
    outln!("{}", current_dir().display());
    Ok(())
}

fn current_dir() -> PathBuf {
    std::env::current_dir().unwrap_or_default()
}
