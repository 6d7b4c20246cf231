//! `ferryd ban list | add | del`: the defender's bans as the store holds them. The running
//! server reads the store every two seconds, so an added ban closes the address's
//! connections that have not logged in, and a deleted one lets it back in, without a restart.

use std::net::IpAddr;

use anyhow::{bail, Result};
use clap::Subcommand;
use ferry_store::Store;

#[derive(Subcommand)]
pub enum BanCmd {
    /// List the bans in force.
    List,
    /// Ban an address (IPv4 or IPv6).
    Add {
        ip: IpAddr,
        /// How long, e.g. 1h, 7d, 30m [default: 1d]
        #[arg(long = "for", value_name = "DURATION", default_value = "1d")]
        duration: String,
        /// Shown in `ban list` and the server's log
        #[arg(long, default_value = "banned by the administrator")]
        reason: String,
    },
    /// Lift the ban of an address and forget its earlier bans.
    Del { ip: IpAddr },
}

pub async fn ban_command(store: &Store, cmd: BanCmd) -> Result<()> {
    let now = crate::unix_now();
    match cmd {
        BanCmd::List => {
            let bans = store.active_bans().await?;
            if bans.is_empty() {
                println!("no bans in force");
                return Ok(());
            }
            println!("{:<39} {:>10} {:>5}  REASON", "ADDRESS", "ENDS IN", "BANS");
            for b in bans {
                println!(
                    "{:<39} {:>10} {:>5}  {}",
                    b.ip.to_string(),
                    human_secs(b.banned_until.saturating_sub(now)),
                    b.offenses,
                    b.reason
                );
            }
        }
        BanCmd::Add {
            ip,
            duration,
            reason,
        } => {
            let secs = crate::parse_duration_secs(&duration)?;
            if secs <= 0 {
                bail!("a ban must last at least a second");
            }
            let ip = ip.to_canonical();
            let offenses = store.ban_offenses(ip).await?.saturating_add(1);
            store
                .put_ban(ip, now.saturating_add(secs), offenses, &reason)
                .await?;
            println!("{ip} banned for {}", human_secs(secs));
        }
        BanCmd::Del { ip } => {
            let ip = ip.to_canonical();
            if !store.delete_ban(ip).await? {
                bail!("{ip} is not banned");
            }
            println!("{ip} unbanned");
        }
    }
    Ok(())
}

fn human_secs(s: i64) -> String {
    match s {
        s if s >= 86_400 => format!("{}d{}h", s / 86_400, s % 86_400 / 3600),
        s if s >= 3600 => format!("{}h{}m", s / 3600, s % 3600 / 60),
        s if s >= 60 => format!("{}m{}s", s / 60, s % 60),
        s => format!("{}s", s.max(0)),
    }
}
