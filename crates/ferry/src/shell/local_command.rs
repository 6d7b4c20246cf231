//! `!COMMAND`: runs a local shell command (`$SHELL -c`), on the same terminal; `!` alone
//! starts that shell.

use super::Shell;

pub fn local_command(shell: &mut Shell, command: &str) {
    let command = command.trim();
    let program = std::env::var_os("SHELL").unwrap_or_else(|| "sh".into());
    let mut c = std::process::Command::new(&program);
    if !command.is_empty() {
        c.arg("-c").arg(command);
    }
    match c.status() {
        Ok(status) if status.success() => {}
        Ok(status) => {
            errln!("!{command}: {status}");
            shell.last_failure = Some(crate::exit::OTHER);
        }
        Err(e) => {
            errln!("!{command}: cannot run {}: {e}", program.to_string_lossy());
            shell.last_failure = Some(crate::exit::OTHER);
        }
    }
}
