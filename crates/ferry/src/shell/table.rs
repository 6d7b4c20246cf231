//! Every shell command in one table: its name and aliases (what the dispatch in mod.rs
//! matches), its operands and what it does (for `help`), and what its operands are (for Tab
//! completion in complete.rs).

/// What Tab completes in a command's operands.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Completes {
    /// No paths at all.
    Nothing,
    /// Command names (`help`).
    Commands,
    /// Local paths.
    Local,
    /// A local path, then remote ones (`put LOCAL REMOTE`).
    LocalThenRemote,
    /// Remote paths.
    Remote,
    /// Remote directories only.
    RemoteDirs,
}

pub struct ShellCommand {
    pub name: &'static str,
    /// Other names that run it, not listed by `help`.
    pub aliases: &'static [&'static str],
    pub args: &'static str,
    pub help: &'static str,
    pub completes: Completes,
}

const fn command(
    name: &'static str,
    args: &'static str,
    help: &'static str,
    completes: Completes,
) -> ShellCommand {
    ShellCommand {
        name,
        aliases: &[],
        args,
        help,
        completes,
    }
}

use Completes::*;

pub const COMMANDS: &[ShellCommand] = &[
    command(
        "open",
        "URL",
        "connect to [ftp://][user@]host[:port][/dir] (ftps:// for implicit TLS)",
        Nothing,
    ),
    command("close", "", "disconnect", Nothing),
    ShellCommand {
        aliases: &["quit", "exit"],
        ..command(
            "bye",
            "",
            "disconnect and leave (also quit, exit, Ctrl-D)",
            Nothing,
        )
    },
    ShellCommand {
        aliases: &["?"],
        ..command(
            "help",
            "[COMMAND]",
            "list the commands, or explain one",
            Commands,
        )
    },
    command(
        "!",
        "[COMMAND]",
        "run a local shell command (a shell without COMMAND)",
        Local,
    ),
    command("cd", "DIR", "change the remote directory", RemoteDirs),
    command("cdup", "", "go to the parent remote directory", Nothing),
    command("pwd", "", "print the remote directory", Nothing),
    command(
        "lcd",
        "[DIR]",
        "change the local directory (home without DIR)",
        Local,
    ),
    command("lpwd", "", "print the local directory", Nothing),
    command(
        "ls",
        "[-l] [PATH]",
        "list a remote directory (ls -l style)",
        Remote,
    ),
    command("dir", "[-l] [PATH]", "same as ls", Remote),
    command(
        "lls",
        "[-l] [DIR]",
        "list a local directory (ls -l style)",
        Local,
    ),
    command(
        "mkdir",
        "[-p] DIR...",
        "create remote directories (-p: and their parents)",
        Remote,
    ),
    command(
        "rmdir",
        "DIR...",
        "remove empty remote directories",
        RemoteDirs,
    ),
    ShellCommand {
        aliases: &["delete"],
        ..command(
            "rm",
            "[-r] [--] PATH...",
            "delete remote files (wildcards allowed; -r for trees; -- ends options)",
            Remote,
        )
    },
    ShellCommand {
        aliases: &["mv"],
        ..command("rename", "FROM TO", "rename or move a remote file", Remote)
    },
    command(
        "get",
        "[-r] REMOTE [LOCAL]",
        "download (resumes and verifies by itself)",
        Remote,
    ),
    command(
        "put",
        "[-r] LOCAL [REMOTE]",
        "upload (resumes and verifies by itself)",
        LocalThenRemote,
    ),
    command(
        "mget",
        "PATTERN...",
        "download every remote file matching (e.g. *.txt)",
        Remote,
    ),
    command(
        "mput",
        "PATTERN...",
        "upload every local file matching",
        Local,
    ),
    command(
        "cat",
        "REMOTE",
        "print a remote file (verified as any download)",
        Remote,
    ),
    command(
        "reget",
        "REMOTE [LOCAL]",
        "resume a download (get does this too)",
        Remote,
    ),
    command(
        "reput",
        "LOCAL [REMOTE]",
        "resume an upload (put does this too)",
        LocalThenRemote,
    ),
    command(
        "hash",
        "PATH",
        "print the server's digest of a file",
        Remote,
    ),
    command("quota", "", "show your quota on the server", Nothing),
    command(
        "site",
        "ARGS",
        "send a SITE command (site help lists them; site exec NAME [ARGS] runs one)",
        Remote,
    ),
    command(
        "quote",
        "LINE",
        "send a raw FTP command and print the reply",
        Remote,
    ),
];

/// The command a typed name (already lower case) runs: by its name or an alias.
pub fn find(typed: &str) -> Option<&'static ShellCommand> {
    COMMANDS
        .iter()
        .find(|c| c.name == typed || c.aliases.contains(&typed))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_and_aliases_are_unique() {
        let mut all: Vec<&str> = COMMANDS
            .iter()
            .flat_map(|c| std::iter::once(c.name).chain(c.aliases.iter().copied()))
            .collect();
        let n = all.len();
        all.sort_unstable();
        all.dedup();
        assert_eq!(all.len(), n);
        assert_eq!(find("quit").map(|c| c.name), Some("bye"));
        assert_eq!(find("dir").map(|c| c.name), Some("dir"));
        assert!(find("nope").is_none());
    }
}
