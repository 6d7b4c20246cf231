//! `ferry-storm`: runs the storm of issue 13 against a running ferryd on loopback and prints
//! the figures as a Markdown table (scripts/storm starts the server and calls this).

use std::net::{IpAddr, SocketAddr};
use std::process::ExitCode;
use std::time::Duration;

use ferry_testkit::storm::{open_files_limit, run_storm, StormConfig, StormCounts};

const USAGE: &str =
    "usage: ferry-storm --target ADDR --user NAME:PASSWORD [--attacker NAME:PASSWORD]
                   [--pid PID] [--scale F] [--seconds N] [--settle N]
Runs the storm against ADDR (loopback only): honest clients from 127.0.0.1, attackers from
127.0.0.2, password guessers from 127.0.0.3. --pid samples that process's RSS.";

fn parse_args() -> Result<StormConfig, String> {
    let mut target: Option<SocketAddr> = None;
    let mut user: Option<(String, String)> = None;
    let mut attacker: Option<(String, String)> = None;
    let mut pid = None;
    let mut scale = 1.0f64;
    let mut seconds = 60u64;
    let mut settle = 15u64;
    let mut args = std::env::args().skip(1);
    while let Some(a) = args.next() {
        let mut value = || args.next().ok_or_else(|| format!("{a} needs a value"));
        let account = |v: String| -> Result<(String, String), String> {
            v.split_once(':')
                .map(|(u, p)| (u.to_owned(), p.to_owned()))
                .ok_or_else(|| format!("{v:?} is not NAME:PASSWORD"))
        };
        match a.as_str() {
            "--target" => target = Some(value()?.parse().map_err(|e| format!("--target: {e}"))?),
            "--user" => user = Some(account(value()?)?),
            "--attacker" => attacker = Some(account(value()?)?),
            "--pid" => pid = Some(value()?.parse().map_err(|e| format!("--pid: {e}"))?),
            "--scale" => scale = value()?.parse().map_err(|e| format!("--scale: {e}"))?,
            "--seconds" => seconds = value()?.parse().map_err(|e| format!("--seconds: {e}"))?,
            "--settle" => settle = value()?.parse().map_err(|e| format!("--settle: {e}"))?,
            "-h" | "--help" => return Err(String::new()),
            _ => return Err(format!("unknown argument {a:?}")),
        }
    }
    let target = target.ok_or("--target is required")?;
    if !is_loopback(target.ip()) {
        return Err(format!(
            "{target} is not a loopback address: the storm stays on this machine"
        ));
    }
    let (name, password) = user.ok_or("--user is required")?;
    if !(scale > 0.0 && scale <= 1.0) {
        return Err("--scale must be in (0, 1]".into());
    }
    let mut cfg = StormConfig::new(target, (&name, &password));
    cfg.counts = StormCounts::scaled(scale);
    cfg.duration = Duration::from_secs(seconds.clamp(1, 3600));
    cfg.settle = Duration::from_secs(settle.min(600));
    cfg.server_pid = pid;
    cfg.attacker_account = attacker;
    Ok(cfg)
}

fn is_loopback(ip: IpAddr) -> bool {
    ip.to_canonical().is_loopback()
}

fn main() -> ExitCode {
    let cfg = match parse_args() {
        Ok(c) => c,
        Err(e) => {
            if !e.is_empty() {
                eprintln!("ferry-storm: {e}");
            }
            eprintln!("{USAGE}");
            return ExitCode::from(2);
        }
    };
    // Each attacker holds one socket here, each honest transfer two more at most.
    let needed = (cfg.counts.attackers() + 3 * cfg.counts.honest + 64) as u64;
    if let Some(limit) = open_files_limit() {
        if limit < needed {
            eprintln!(
                "ferry-storm: open files limit {limit} < {needed} needed: run `ulimit -n {needed}` first"
            );
            return ExitCode::from(2);
        }
    }
    eprintln!(
        "ferry-storm: {:?} against {} for {} s (+{} s ramp, {} s settle)",
        cfg.counts,
        cfg.target,
        cfg.duration.as_secs(),
        cfg.ramp.as_secs(),
        cfg.settle.as_secs()
    );
    let report = match run_storm(cfg) {
        Ok(r) => r,
        Err(e) => {
            eprintln!("ferry-storm: {e}");
            return ExitCode::FAILURE;
        }
    };
    print!("{}", report.markdown());
    for e in &report.honest_errors {
        eprintln!("honest failure: {e}");
    }
    if report.honest_failed > 0 || !report.final_login_ok {
        return ExitCode::FAILURE;
    }
    ExitCode::SUCCESS
}
