//! The command line: what a user types, and the help that teaches it.

use clap::{Args, Parser, Subcommand, ValueEnum};
use ferry_client::{TlsMode, VerifyMode};

const ABOUT: &str = "Ferry: an FTP client that resumes and verifies by itself.

Run a single command (get, put, ls, mkdir, rm, hash, site exec, register), or give just a
URL to open an interactive shell (`help` inside it lists its commands).";

const AFTER_HELP: &str = "URLs:
  ftp://[user[:password]@]host[:port]/path     port 21 unless given; IPv6 as ftp://[::1]:2121/
  ftps://[user[:password]@]host[:port]/path    implicit TLS, port 990 unless given
  Characters such as spaces or '@' in names may be percent-encoded (%20, %40).

Examples:
  ferry ftp://alice@files.example.com/          open the interactive shell
  ferry get ftp://alice@host/big.iso            download (resumes by itself if interrupted)
  ferry get -r ftp://alice@host/photos ./pics   download a whole directory
  ferry put report.pdf ftp://alice@host/inbox/  upload into a directory
  ferry ls --json ftp://alice@host/             list as JSON
  ferry hash ftp://alice@host/big.iso           print the server's SHA-256
  ferry --tls require get ftp://alice@host/f    never fall back to plain FTP
  ferry register ftp://host --user carol --invite TOKEN    create an account (Ferry servers)
  ferry site exec ftp://alice@host/ greet       run a command the server's admin allows

TLS (FTPS): with --tls auto (the default) ferry sends AUTH TLS and encrypts the session and
every data connection (PBSZ 0, PROT P) when the server accepts, and stays plain FTP when it
does not, except to a host:port that spoke TLS before (remembered in known_hosts, as HSTS
does): that one is refused in clear unless --tls off is given, since an attacker in the middle
can hide the offer. --tls require refuses plain FTP; ftps:// URLs use implicit TLS. Certificates are
checked against the system's roots, or only against --ca-file. A certificate that cannot be
verified (a self-signed one) is shown by its SHA-256 fingerprint: compare it with the
server's (`ferryd tls show`), then accept it at the prompt or pass --trust-fingerprint, and
ferry pins it for that host:port in $XDG_CONFIG_HOME/ferry/known_hosts (default
~/.config/ferry/known_hosts). A pinned host that later shows another certificate is refused,
as ssh does: remove its line from known_hosts, or pass --trust-fingerprint NEW to re-pin.
--insecure skips every check (with a warning): anyone on the path could read your password.

Passwords, first found wins: the URL, ~/.netrc (machine/login/password), the FERRY_PASSWORD
environment variable, then a prompt (no echo) when run in a terminal. They are never printed
and never kept in the shell history.

Resume and verification: downloads are written to NAME.part and renamed when complete. An
existing partial file (or remote file, for uploads) is kept only if its bytes match the
source's first bytes, checked by digest (HASH, XSHA256, XSHA1 or XMD5, whatever the server
offers); a complete transfer is compared by SHA-256 when the server can compute it. Without
any digest on the server, sizes decide, and files of the same size must also have the same
modification time (downloads keep the server's, uploads set it with MFMT); you are told, and
--verify required refuses before transferring.

Exit status:
  0  success               4  not found or permission denied
  1  other error           5  over quota or disk full (552/452)
  2  usage error           6  integrity check failed (digests differ)
  3  login failed          7  network error or timeout, or no trusted TLS (certificate not
                              trusted or changed, no TLS from a server that spoke it before or
                              under --tls require)
SITE EXEC exits 1 when the remote command does not exit with 0.";

#[derive(Debug, Parser)]
#[command(name = "ferry", version, about = ABOUT, after_help = AFTER_HELP)]
pub struct Cli {
    #[command(flatten)]
    pub global: Global,
    #[command(subcommand)]
    pub command: Option<Command>,
    /// Open the interactive shell connected to this URL.
    #[arg(value_name = "URL")]
    pub url: Option<String>,
}

#[derive(Debug, Clone, Args)]
pub struct Global {
    /// Log in as this user when the URL names none.
    #[arg(short, long, global = true, value_name = "NAME")]
    pub user: Option<String>,
    /// No progress bars or notes: print only the final summary (and errors).
    #[arg(short, long, global = true)]
    pub quiet: bool,
    /// Active mode: the server connects back to us (EPRT/PORT). Passive is the default.
    #[arg(long, global = true)]
    pub active: bool,
    /// Seconds to wait for a connection, a reply or data before giving up.
    #[arg(long, global = true, default_value_t = 30, value_name = "SECS")]
    pub timeout: u64,
    /// Reconnect and resume this many times after a network failure.
    #[arg(long, global = true, default_value_t = 3, value_name = "N")]
    pub retries: u32,
    /// auto: compare digests when the server offers one; required: fail otherwise; off: sizes only.
    #[arg(long, global = true, value_enum, default_value_t = Verify::Auto)]
    pub verify: Verify,
    /// Limit the transfer rate, e.g. 500k or 10M (bytes per second).
    #[arg(long, global = true, value_name = "RATE", value_parser = parse_rate)]
    pub limit_rate: Option<u64>,
    /// auto: AUTH TLS when the server accepts it; require: fail without TLS; off: plain FTP.
    #[arg(long, global = true, value_enum, default_value_t = Tls::Auto)]
    pub tls: Tls,
    /// Trust only the CA certificates in this PEM file (instead of the system's).
    #[arg(long, global = true, value_name = "FILE")]
    pub ca_file: Option<std::path::PathBuf>,
    /// Accept the server certificate with this SHA-256 fingerprint (AB:CD:..., as `ferryd tls
    /// show` prints it) and pin it in known_hosts.
    #[arg(long, global = true, value_name = "FP")]
    pub trust_fingerprint: Option<String>,
    /// Do not verify the server's certificate at all (dangerous; warns).
    #[arg(long, global = true)]
    pub insecure: bool,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum Tls {
    Auto,
    Require,
    Off,
}

impl From<Tls> for TlsMode {
    fn from(t: Tls) -> TlsMode {
        match t {
            Tls::Auto => TlsMode::Auto,
            Tls::Require => TlsMode::Require,
            Tls::Off => TlsMode::Off,
        }
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum Verify {
    Auto,
    Required,
    Off,
}

impl From<Verify> for VerifyMode {
    fn from(v: Verify) -> VerifyMode {
        match v {
            Verify::Auto => VerifyMode::Auto,
            Verify::Required => VerifyMode::Required,
            Verify::Off => VerifyMode::Off,
        }
    }
}

fn parse_rate(s: &str) -> Result<u64, String> {
    match ferry_proto::size::parse_size(s)? {
        Some(0) | None => Err("the rate must be a positive size such as 500k".to_owned()),
        Some(n) => Ok(n),
    }
}

#[derive(Debug, Subcommand)]
pub enum Command {
    /// Download a file (or a directory tree with -r).
    ///
    /// LOCAL may be a file name, an existing directory, a directory to create (a name ending
    /// in /), or - for stdout (no .part, still verified; the summary goes to stderr). By
    /// default the file keeps its name in the current directory. An interrupted download
    /// resumes on the next run.
    Get {
        /// Download a directory and everything below it.
        #[arg(short, long)]
        recursive: bool,
        /// The remote file, e.g. ftp://alice@host/dir/file.bin
        url: String,
        /// Where to save it.
        local: Option<String>,
    },
    /// Upload a file (or a directory tree with -r).
    ///
    /// A URL ending in / (or naming an existing directory) receives the file under its own
    /// name. An interrupted upload resumes on the next run.
    Put {
        /// Upload a directory and everything below it.
        #[arg(short, long)]
        recursive: bool,
        /// The local file.
        local: String,
        /// Where to put it, e.g. ftp://alice@host/inbox/
        url: String,
    },
    /// List a remote directory (ls -l style, or JSON).
    Ls {
        /// One JSON array of {name, type, size, modified, mode}.
        #[arg(long)]
        json: bool,
        url: String,
    },
    /// Create a remote directory.
    Mkdir { url: String },
    /// Delete a remote file (or a directory tree with -r).
    Rm {
        /// Delete a directory and everything below it.
        #[arg(short, long)]
        recursive: bool,
        url: String,
    },
    /// Print the server's digest of a remote file (SHA-256 when it can).
    Hash {
        /// One JSON object {path, algorithm, digest}.
        #[arg(long)]
        json: bool,
        url: String,
    },
    /// Create an account on a Ferry server that allows it (SITE REGISTER).
    ///
    /// The name comes from the URL (ftp://carol@host) or --user; the new password is asked
    /// twice (or taken from FERRY_PASSWORD). TLS is used when the server has it (it refuses
    /// registrations in clear then). On a terminal the shell opens, logged in.
    Register {
        /// The server, e.g. ftp://carol@files.example.com:2121
        url: String,
        /// The invitation token, for servers that register by invitation.
        #[arg(long, value_name = "TOKEN")]
        invite: Option<String>,
    },
    /// Server-specific SITE commands.
    #[command(subcommand)]
    Site(SiteCommand),
}

#[derive(Debug, Subcommand)]
pub enum SiteCommand {
    /// Run a command the server's administrator allows (SITE EXEC) and print its output.
    ///
    /// Exits 0 when the remote command exits 0, else 1. `site help` in the shell lists the
    /// commands you may run.
    Exec {
        /// The server, e.g. ftp://alice@host/dir (the command runs in that directory).
        url: String,
        /// The command's name on the server.
        name: String,
        /// Its arguments.
        #[arg(trailing_var_arg = true, allow_hyphen_values = true)]
        args: Vec<String>,
    },
}
