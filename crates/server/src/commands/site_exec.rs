//! SITE EXEC <name> [args] (Ferry's own; off unless the admin lists commands): runs an
//! admin-listed command (see exec.rs). Unknown names, users not allowed and arguments that do
//! not match their pattern all get `550`; so does an argument starting with `-` whose pattern
//! does not itself start with `-`, because a pattern such as `[a-z0-9.-]+` written for host
//! names also matches `-f` (flood ping): options must be allowed on purpose. The output comes back as a multi-line `200`, each
//! line prefixed, the exit code last.

use ferry_proto::Reply;

use super::Next;
use crate::exec::{escape_line, run};
use crate::session::{blocking, Session};

fn allowed(users: &[String], user: &str) -> bool {
    users.iter().any(|u| u == "*" || u == user)
}

/// The commands this user may run, for SITE HELP.
pub(crate) fn visible_commands(s: &Session) -> Vec<String> {
    let Some(user) = s.account().map(|a| a.user.name.clone()) else {
        return Vec::new();
    };
    s.ctx
        .config
        .site_exec
        .commands
        .iter()
        .filter(|(_, c)| allowed(&c.users, &user))
        .map(|(n, _)| n.clone())
        .collect()
}

pub(crate) async fn handle(s: &mut Session, arg: &str) -> Next {
    let mut words = arg.split_whitespace();
    let name = words.next().unwrap_or("");
    let args: Vec<String> = words.map(str::to_owned).collect();
    let Some(account) = s.account() else {
        return Reply::new(530, "Please login with USER and PASS.").into();
    };
    let user = account.user.name.clone();
    let Some(cmd) = s
        .ctx
        .config
        .site_exec
        .commands
        .get(name)
        .filter(|c| allowed(&c.users, &user))
        .cloned()
    else {
        return Reply::new(
            550,
            format!("No command {name:?} for you; SITE HELP lists what you may run."),
        )
        .into();
    };
    if args.len() > cmd.args.len() {
        return Reply::new(
            550,
            format!("{name} takes at most {} argument(s).", cmd.args.len()),
        )
        .into();
    }
    for (value, pattern) in args.iter().zip(&cmd.args) {
        if value.starts_with('-') && !pattern.starts_with('-') {
            return Reply::new(
                550,
                format!("Argument {value:?} refused for {name}: options are not allowed here."),
            )
            .into();
        }
        let ok = regex::Regex::new(&format!("^(?:{pattern})$"))
            .map(|re| re.is_match(value))
            .unwrap_or(false);
        if !ok {
            return Reply::new(550, format!("Argument {value:?} refused for {name}.")).into();
        }
    }
    // The working directory: the user's current directory, checked through the jail.
    let (home, cwd) = match s.target(".") {
        Ok(t) => t,
        Err(r) => return r.into(),
    };
    let home_root = s.ctx.config.home_of(&account.user);
    let host_cwd = match blocking(move || home.canonical_host_path(&home_root, &cwd)).await {
        Ok(p) => p,
        Err(_) => return Reply::new(550, "The current directory is not available.").into(),
    };
    let Some(_user_slot) = s.exec_slot() else {
        return Reply::new(
            450,
            "A command of yours is already running; try again when it ends.",
        )
        .into();
    };
    let Ok(_permit) = s.ctx.exec_permits.try_acquire() else {
        return Reply::new(
            450,
            "Too many commands running on the server; try again later.",
        )
        .into();
    };
    tracing::info!(target: "ferry::audit", event = "site-exec", user, command = name, ?args, "running");
    let outcome = match run(&cmd, &args, host_cwd).await {
        Ok(o) => o,
        Err(e) => {
            tracing::warn!(error = %e, command = name, "SITE EXEC failed to start");
            return Reply::new(451, format!("{name} could not be started.")).into();
        }
    };
    let mut lines = vec![format!("Output of {name}:")];
    for line in outcome.output.split(|b| *b == b'\n') {
        lines.push(format!(" {}", escape_line(line)));
    }
    if lines.last().is_some_and(|l| l == " ") {
        lines.pop();
    }
    if outcome.truncated {
        lines.push(format!(" (output cut at {} bytes)", cmd.output_cap));
    }
    lines.push(match (outcome.timed_out, outcome.exit_code) {
        (true, _) => format!("Killed after {} s (timeout).", cmd.timeout),
        (false, Some(code)) => format!("Exit code {code}."),
        (false, None) => "Killed by a signal.".to_owned(),
    });
    Reply::multi(200, lines).into()
}
