//! The command line: every subcommand and flag (clap).

use std::net::{IpAddr, SocketAddr};
use std::path::PathBuf;

use clap::{Args, Parser, Subcommand};
use ferry_server::PortRange;

#[derive(Parser)]
#[command(
    name = "ferryd",
    version,
    about = "Ferry: a multi-user FTP server with jailed homes and hashed passwords"
)]
pub(crate) struct Cli {
    /// Data directory: ferry.db, homes/<user>/, and an optional ferry.toml.
    #[arg(long, global = true, env = "FERRY_DATA_DIR", value_name = "DIR")]
    pub(crate) data_dir: Option<PathBuf>,
    /// Configuration file (default: <data-dir>/ferry.toml when it exists).
    #[arg(long, global = true, env = "FERRY_CONFIG", value_name = "FILE")]
    pub(crate) config: Option<PathBuf>,
    #[command(subcommand)]
    pub(crate) command: Cmd,
}

#[derive(Subcommand)]
pub(crate) enum Cmd {
    /// Run the FTP server.
    Serve(ServeArgs),
    /// Manage user accounts.
    #[command(subcommand)]
    User(UserCmd),
    /// Quota maintenance.
    #[command(subcommand)]
    Quota(QuotaCmd),
    /// TLS certificate information.
    #[command(subcommand)]
    Tls(TlsCmd),
    /// Registration invitations (for `registration = "invite"`).
    #[command(subcommand)]
    Invite(InviteCmd),
    /// Banned client addresses (the defender's; see docs/security.md).
    #[command(subcommand)]
    Ban(crate::ban::BanCmd),
    /// Print a commented example ferry.toml with every key and its default.
    ConfigExample,
    /// Check the configuration (file, environment, combinations, TLS files) without serving.
    #[command(subcommand)]
    Config(ConfigCmd),
}

#[derive(Subcommand)]
pub(crate) enum ConfigCmd {
    /// Load ferry.toml and FERRY_* as `serve` would, report problems and the effective
    /// settings that one run can change for the next (TLS), and exit non-zero on an error.
    Check,
}

/// Every flag overrides the same key of ferry.toml; each also reads FERRY_<KEY>.
#[derive(Args)]
pub(crate) struct ServeArgs {
    /// Control listen addresses, comma-separated [default: [::]:2121]
    #[arg(long, env = "FERRY_LISTEN", value_delimiter = ',', value_name = "ADDR")]
    pub(crate) listen: Option<Vec<SocketAddr>>,
    /// Passive data port range, e.g. 50000-50100 [default: chosen by the OS]
    #[arg(long, env = "FERRY_PASSIVE_PORTS", value_name = "FIRST-LAST")]
    pub(crate) passive_ports: Option<PortRange>,
    /// Address announced in PASV replies (behind NAT) [default: the address the client reached]
    #[arg(long, env = "FERRY_PASSIVE_ADDRESS", value_name = "IP")]
    pub(crate) passive_address: Option<IpAddr>,
    /// Most simultaneous connections (0 = no cap) [default: 4096]
    #[arg(long, env = "FERRY_MAX_CONNECTIONS")]
    pub(crate) max_connections: Option<usize>,
    /// Most simultaneous connections from one IP address (0 = no cap) [default: 1024]
    #[arg(long, env = "FERRY_MAX_CONNECTIONS_PER_IP")]
    pub(crate) max_connections_per_ip: Option<usize>,
    /// Most sessions one user may have logged in at once (0 = no cap) [default: 0]
    #[arg(long, env = "FERRY_MAX_CONNECTIONS_PER_USER")]
    pub(crate) max_connections_per_user: Option<usize>,
    /// Seconds of inactivity before a session is closed [default: 300]
    #[arg(long, env = "FERRY_IDLE_TIMEOUT", value_name = "SECS")]
    pub(crate) idle_timeout: Option<u64>,
    /// Seconds a new connection has to log in [default: 60]
    #[arg(long, env = "FERRY_LOGIN_TIMEOUT", value_name = "SECS")]
    pub(crate) login_timeout: Option<u64>,
    /// Seconds to wait for a data connection [default: 30]
    #[arg(long, env = "FERRY_DATA_TIMEOUT", value_name = "SECS")]
    pub(crate) data_timeout: Option<u64>,
    /// Milliseconds before answering a failed login [default: 1000]
    #[arg(long, env = "FERRY_AUTH_FAILURE_DELAY_MS", value_name = "MS")]
    pub(crate) auth_failure_delay_ms: Option<u64>,
    /// Failed logins before the connection is closed [default: 3]
    #[arg(long, env = "FERRY_MAX_LOGIN_FAILURES")]
    pub(crate) max_login_failures: Option<u32>,
    /// Text of the 220 greeting
    #[arg(long, env = "FERRY_GREETING")]
    pub(crate) greeting: Option<String>,
    /// TLS policy: off, optional or required [default: optional once a certificate exists, else off]
    #[arg(long, env = "FERRY_TLS", value_name = "MODE")]
    pub(crate) tls: Option<ferry_server::TlsMode>,
    /// PEM certificate chain file [default: a self-signed one generated under <data-dir>/tls/]
    #[arg(
        long,
        env = "FERRY_TLS_CERT",
        value_name = "FILE",
        requires = "tls_key"
    )]
    pub(crate) tls_cert: Option<PathBuf>,
    /// PEM private key file of --tls-cert
    #[arg(
        long,
        env = "FERRY_TLS_KEY",
        value_name = "FILE",
        requires = "tls_cert"
    )]
    pub(crate) tls_key: Option<PathBuf>,
    /// Implicit FTPS listener (TLS from the first byte), e.g. [::]:2990 or [::]:990 [default: none]
    #[arg(long, env = "FERRY_IMPLICIT_TLS_LISTEN", value_name = "ADDR")]
    pub(crate) implicit_tls_listen: Option<SocketAddr>,
    /// Data-connection TLS session reuse: off (works with Python ftplib) or require [default: off]
    #[arg(long, env = "FERRY_TLS_SESSION_REUSE", value_name = "POLICY")]
    pub(crate) tls_session_reuse: Option<ferry_server::SessionReuse>,
    /// Log filter (error, warn, info, debug, or a tracing filter) [default: info]
    #[arg(long, env = "FERRY_LOG", value_name = "FILTER")]
    pub(crate) log: Option<String>,
}

#[derive(Subcommand)]
pub(crate) enum InviteCmd {
    /// Create an invitation and print its token (shown once; only a hash is stored).
    Create {
        /// Quota of the account it creates [default: the default_quota setting]
        #[arg(long, value_name = "SIZE")]
        quota: Option<String>,
        /// Lifetime, e.g. 7d, 12h, 30m [default: 7d]
        #[arg(long, value_name = "DURATION", default_value = "7d")]
        expires: String,
        /// How many accounts it may create
        #[arg(long, value_name = "N", default_value_t = 1)]
        uses: u64,
    },
    /// List invitations.
    List,
    /// Revoke an invitation by its id.
    Revoke { id: i64 },
}

#[derive(Subcommand)]
pub(crate) enum TlsCmd {
    /// Print the certificate's SHA-256 fingerprint, subject and validity (generating a
    /// self-signed one first if TLS has none yet).
    Show,
}

#[derive(Subcommand)]
pub(crate) enum QuotaCmd {
    /// Recompute usage from the files on disk (after a crash, or files changed outside Ferry).
    /// Safe while the server runs.
    Rescan {
        /// Only this user (default: every user).
        name: Option<String>,
    },
}

#[derive(Subcommand)]
pub(crate) enum UserCmd {
    /// Create a user. The password is read from stdin with --password-stdin, else prompted for.
    Add {
        name: String,
        /// Read the password from the first line of standard input.
        #[arg(long)]
        password_stdin: bool,
        /// Home directory [default: <data-dir>/homes/<name>]
        #[arg(long, value_name = "DIR")]
        home: Option<PathBuf>,
        /// Quota, e.g. 10MiB, 1G or unlimited [default: the default_quota setting]
        #[arg(long, value_name = "SIZE")]
        quota: Option<String>,
        /// Most files the user may own (unset: no limit)
        #[arg(long, value_name = "N")]
        quota_files: Option<u64>,
    },
    /// Delete a user (their files stay on disk).
    Del { name: String },
    /// Change a user's password.
    Passwd {
        name: String,
        #[arg(long)]
        password_stdin: bool,
    },
    /// List users.
    List,
    /// Disable the accounts still on an imported legacy hash (MD5, crypt, bcrypt), so a
    /// migration can be finished: users who logged in since the import have argon2id already.
    ExpireLegacy {
        /// Only accounts created (imported) longer ago than this, e.g. 90d, 12h [default: all]
        #[arg(long, value_name = "DURATION")]
        older_than: Option<String>,
        /// Report which accounts would be disabled, change nothing.
        #[arg(long)]
        dry_run: bool,
    },
    /// Import users from another server's password file, in one transaction. Legacy hashes
    /// keep working and become argon2id at each user's next login.
    Import {
        /// pure-ftpd (pureftpd.passwd), htpasswd, or md5 (lines user:md5hex)
        format: ferry_store::ImportFormat,
        file: PathBuf,
        /// Report what would be imported, change nothing.
        #[arg(long)]
        dry_run: bool,
    },
    /// Show one user's settings and usage.
    Show { name: String },
    /// Change a user's home, quota or enabled state.
    Set {
        name: String,
        /// New home directory ("default" for <data-dir>/homes/<name>).
        #[arg(long, value_name = "DIR")]
        home: Option<String>,
        /// New quota (e.g. 500MiB, or unlimited).
        #[arg(long, value_name = "SIZE")]
        quota: Option<String>,
        /// New file-count quota ("unlimited" to remove).
        #[arg(long, value_name = "N")]
        quota_files: Option<String>,
        /// Allow the user to log in.
        #[arg(long, conflicts_with = "disable")]
        enable: bool,
        /// Refuse the user's logins.
        #[arg(long)]
        disable: bool,
        /// Whether this user must use TLS: yes, no, or default (the server's `tls` policy).
        #[arg(long, value_name = "yes|no|default", num_args = 0..=1, default_missing_value = "yes")]
        require_tls: Option<String>,
    },
}
