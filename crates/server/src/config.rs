//! Server configuration. Every key has a default, can be set in `ferry.toml`, and is
//! overridden by a `FERRY_<KEY>` environment variable or a `ferryd serve` flag (in ferryd).

use std::net::{IpAddr, SocketAddr};
use std::path::PathBuf;
use std::str::FromStr;
use std::time::Duration;

use serde::Deserialize;

/// An inclusive port range for passive data connections, e.g. `49152-65534`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct PortRange {
    pub first: u16,
    pub last: u16,
}

impl PortRange {
    /// How many ports it holds (first <= last is checked when parsed).
    pub fn port_count(&self) -> usize {
        usize::from(self.last.saturating_sub(self.first)) + 1
    }
}

impl FromStr for PortRange {
    type Err = String;
    fn from_str(s: &str) -> Result<Self, String> {
        let (a, b) = s
            .split_once('-')
            .ok_or_else(|| format!("passive port range {s:?} must look like 49152-65534"))?;
        let first: u16 = a.trim().parse().map_err(|_| format!("bad port {a:?}"))?;
        let last: u16 = b.trim().parse().map_err(|_| format!("bad port {b:?}"))?;
        if first == 0 || first > last {
            return Err(format!("passive port range {s:?} is empty or starts at 0"));
        }
        Ok(PortRange { first, last })
    }
}

impl<'de> Deserialize<'de> for PortRange {
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        let s = String::deserialize(d)?;
        s.parse().map_err(serde::de::Error::custom)
    }
}

/// `tls = off | optional | required`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum TlsMode {
    /// No AUTH TLS, no implicit listener.
    Off,
    /// Clients may protect the control and data connections.
    Optional,
    /// Login and transfers require TLS (per-user settings can override).
    Required,
}

impl FromStr for TlsMode {
    type Err = String;
    fn from_str(s: &str) -> Result<Self, String> {
        match s.to_ascii_lowercase().as_str() {
            "off" => Ok(TlsMode::Off),
            "optional" => Ok(TlsMode::Optional),
            "required" => Ok(TlsMode::Required),
            _ => Err(format!("tls must be off, optional or required, not {s:?}")),
        }
    }
}

/// `tls_session_reuse = off | require` (for data connections).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum SessionReuse {
    /// Any data-connection handshake is accepted (Python's ftplib cannot reuse sessions).
    Off,
    /// The data connection must resume the control connection's TLS session.
    Require,
}

impl FromStr for SessionReuse {
    type Err = String;
    fn from_str(s: &str) -> Result<Self, String> {
        match s.to_ascii_lowercase().as_str() {
            "off" => Ok(SessionReuse::Off),
            "require" => Ok(SessionReuse::Require),
            _ => Err(format!(
                "tls_session_reuse must be off or require, not {s:?}"
            )),
        }
    }
}

/// `upload_mode`: how a `STOR` of a whole file reaches its name (SFTPGo's `upload_mode`
/// 0/1/2). Resumed uploads (`REST n` + `STOR`, `APPE`) always write in place.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum UploadMode {
    /// Written to a hidden staging file and renamed over the target when complete; an
    /// interrupted upload's fragment becomes the target, so clients can resume it.
    AtomicResume,
    /// As `atomic-resume`, but an interrupted upload is discarded: the target only ever
    /// holds a complete upload.
    Atomic,
    /// Written straight into the target (truncated first), as classic FTP servers do.
    InPlace,
}

impl UploadMode {
    pub fn name(self) -> &'static str {
        match self {
            UploadMode::AtomicResume => "atomic-resume",
            UploadMode::Atomic => "atomic",
            UploadMode::InPlace => "in-place",
        }
    }
}

/// `tls_client_cert`: whether a TLS client must present a certificate (with `tls_client_ca`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum ClientCertPolicy {
    Optional,
    Required,
}

/// `tls_min_version = "1.2" | "1.3"`: the oldest TLS version accepted (rustls offers none
/// older than 1.2).
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub enum TlsVersion {
    V1_2,
    V1_3,
}

impl FromStr for TlsVersion {
    type Err = String;
    fn from_str(s: &str) -> Result<Self, String> {
        match s.trim() {
            "1.2" => Ok(TlsVersion::V1_2),
            "1.3" => Ok(TlsVersion::V1_3),
            _ => Err(format!(
                "tls_min_version must be \"1.2\" or \"1.3\", not {s:?}"
            )),
        }
    }
}

impl<'de> Deserialize<'de> for TlsVersion {
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        // A string in ferry.toml; FERRY_TLS_MIN_VERSION=1.3 arrives as a TOML float.
        #[derive(Deserialize)]
        #[serde(untagged)]
        enum Raw {
            Text(String),
            Num(f64),
        }
        let text = match Raw::deserialize(d)? {
            Raw::Text(s) => s,
            Raw::Num(n) => format!("{n:.1}"),
        };
        text.parse().map_err(serde::de::Error::custom)
    }
}

/// `registration = off | invite | open`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum RegistrationMode {
    Off,
    /// `SITE REGISTER <user> <token>` with a token from `ferryd invite create`.
    Invite,
    /// `SITE REGISTER <user>`: anyone may create an account.
    Open,
}

/// One command `SITE EXEC` may run.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ExecCommand {
    /// The program and its fixed arguments; run without a shell.
    pub argv: Vec<String>,
    /// One regular expression per extra argument a user may add (anchored: it must match the
    /// whole argument). No entry, no extra arguments.
    #[serde(default)]
    pub args: Vec<String>,
    /// User names allowed to run it (`"*"`: every user).
    #[serde(default)]
    pub users: Vec<String>,
    /// Seconds before the command's process group is killed.
    #[serde(default = "default_exec_timeout")]
    pub timeout: u64,
    /// Most output bytes returned (the rest is cut off).
    #[serde(default = "default_exec_output", deserialize_with = "de_size_required")]
    pub output_cap: u64,
}

fn default_exec_timeout() -> u64 {
    5
}

fn default_exec_output() -> u64 {
    64 << 10
}

/// `SITE EXEC`: off unless commands are listed.
#[derive(Debug, Clone, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct SiteExecConfig {
    pub commands: std::collections::BTreeMap<String, ExecCommand>,
    /// Commands running at once, server-wide.
    pub max_concurrent: usize,
    /// Commands running at once for one user.
    pub max_per_user: usize,
}

impl Default for SiteExecConfig {
    fn default() -> Self {
        SiteExecConfig {
            commands: Default::default(),
            max_concurrent: 4,
            max_per_user: 1,
        }
    }
}

#[derive(Debug, Clone, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct ServerConfig {
    /// Where the database and homes live.
    pub data_dir: PathBuf,
    /// Control listeners. `[::]` also accepts IPv4 on Linux (dual stack).
    pub listen: Vec<SocketAddr>,
    /// Passive data ports; `None` lets the OS choose.
    pub passive_ports: Option<PortRange>,
    /// The address announced in `227` replies, for servers behind NAT.
    pub passive_address: Option<IpAddr>,
    pub max_connections: usize,
    pub max_connections_per_ip: usize,
    /// Sessions one user may have logged in at once (0 = no cap).
    pub max_connections_per_user: usize,
    /// Seconds without a command (and no transfer running) before the session is closed.
    pub idle_timeout: u64,
    /// Seconds to complete a login after connecting.
    pub login_timeout: u64,
    /// Seconds to wait for a data connection to open.
    pub data_timeout: u64,
    /// Milliseconds from a failed PASS to its `530` (the same for unknown users and bad passwords).
    pub auth_failure_delay_ms: u64,
    /// Failed logins on one connection before it is closed.
    pub max_login_failures: u32,
    /// The text of the `220` greeting.
    pub greeting: String,
    /// Largest file (or range) HASH computes on demand; larger ones get `556`.
    #[serde(deserialize_with = "de_size_required")]
    pub hash_max_size: u64,
    /// On-demand digests computed at once, server-wide.
    pub hash_workers: usize,
    /// Compute SHA-256 while files are uploaded, so HASH answers without reading them.
    pub hash_uploads: bool,
    /// How uploads reach their target (see [`UploadMode`]).
    pub upload_mode: UploadMode,
    /// fsync an upload's data (and its directory after the rename) before `226`, so a
    /// completed upload survives a power cut.
    pub fsync_uploads: bool,
    /// This server's name in the shared store (journaled uploads, reservations); unique per
    /// node when several share one database. Default: the host name.
    pub node_id: Option<String>,
    /// TLS policy; unset means `optional` once a certificate exists (configured, or generated
    /// earlier), else `off`.
    pub tls: Option<TlsMode>,
    /// PEM certificate chain and private key; unset: a self-signed pair is generated under
    /// `<data-dir>/tls/` when TLS is enabled.
    pub tls_cert: Option<PathBuf>,
    pub tls_key: Option<PathBuf>,
    /// A listener where TLS starts immediately (implicit FTPS, conventionally port 990).
    pub implicit_tls_listen: Option<SocketAddr>,
    pub tls_session_reuse: SessionReuse,
    /// The oldest TLS version a client may use (control and data connections).
    pub tls_min_version: TlsVersion,
    /// Cipher suites offered, by rustls name, in order of preference (empty: rustls' safe
    /// default set).
    pub tls_cipher_suites: Vec<String>,
    /// Seconds a TLS handshake may take.
    pub tls_handshake_timeout: u64,
    /// PEM bundle of the certificate authorities whose client certificates are accepted.
    /// Set, a client presenting a certificate from them whose subject CN is the `USER` name
    /// logs in without a password (`232`, RFC 4217), as SFTPGo's certificate login.
    pub tls_client_ca: Option<PathBuf>,
    /// `optional` (certificate login, or a password as usual) or `required` (every TLS
    /// handshake must present a valid client certificate, as vsftpd's `require_cert`).
    pub tls_client_cert: ClientCertPolicy,
    /// Self-registration over FTP (`SITE REGISTER`).
    pub registration: RegistrationMode,
    /// Allow registration over a plaintext control connection even when TLS is available.
    pub registration_allow_plaintext: bool,
    /// Allow `registration = "open"` with an unlimited `default_quota` (anyone on the
    /// internet may then fill the disk); without it, that combination refuses to start.
    pub registration_allow_unlimited: bool,
    /// The defender's score at which an address is banned (0: addresses are never banned).
    /// Each failed login or registration adds 1, as do other offences (see defender.rs); the
    /// score drains by this much every `ban_window` seconds.
    pub ban_after_failures: u32,
    /// Seconds over which `ban_after_failures` points must gather to ban.
    pub ban_window: u64,
    /// Seconds of an address's first ban; each repeat doubles it, up to `ban_max_seconds`.
    pub ban_seconds: u64,
    pub ban_max_seconds: u64,
    /// Failed logins at one account from one address (within `ban_window`) before further
    /// attempts at that account from that address are refused unverified for
    /// `account_lock_seconds` (0: never). Other accounts behind the same address (NAT) are
    /// not affected.
    pub account_failures: u32,
    pub account_lock_seconds: u64,
    /// Connections from one address that may wait before logging in at once (0: no cap).
    pub max_prelogin_per_ip: usize,
    /// Networks never banned (e.g. `["10.0.0.0/8", "2001:db8::/32"]`): an office NAT, a
    /// monitoring host.
    pub ban_allow: Vec<String>,
    /// `SITE EXEC` commands (none by default).
    pub site_exec: SiteExecConfig,
    /// `user[:group]` to switch to after binding the ports and reading the TLS key, when
    /// started as root (ferryd never needs root: see CAP_NET_BIND_SERVICE).
    pub run_as: Option<String>,
    /// The process umask (octal), applied to everything ferryd creates.
    #[serde(deserialize_with = "de_mode")]
    pub umask: u32,
    /// Permission bits of uploaded files (before the umask); an overwrite keeps the old file's.
    #[serde(deserialize_with = "de_mode")]
    pub file_mode: u32,
    /// Permission bits of directories made with MKD (before the umask).
    #[serde(deserialize_with = "de_mode")]
    pub dir_mode: u32,
    /// Quota for users created without `--quota` (bytes; `None` = unlimited).
    #[serde(deserialize_with = "de_size")]
    pub default_quota: Option<u64>,
}

/// Permission bits: a TOML octal integer (`0o644`) or a string of octal digits (`"0644"`,
/// `"644"`, as `FERRY_FILE_MODE=644` arrives). At most 0o777: no set-id or sticky bits.
fn de_mode<'de, D: serde::Deserializer<'de>>(d: D) -> Result<u32, D::Error> {
    #[derive(Deserialize)]
    #[serde(untagged)]
    enum Raw {
        Num(u32),
        Text(String),
    }
    let mode = match Raw::deserialize(d)? {
        Raw::Num(n) => n,
        Raw::Text(s) => {
            let digits = s.trim().trim_start_matches("0o");
            u32::from_str_radix(digits, 8).map_err(|_| {
                serde::de::Error::custom(format!("{s:?} is not an octal mode such as \"0644\""))
            })?
        }
    };
    if mode > 0o777 {
        return Err(serde::de::Error::custom(format!(
            "mode {mode:o} (octal) has bits beyond 0777; write modes in octal, e.g. \"0644\""
        )));
    }
    Ok(mode)
}

fn de_size<'de, D: serde::Deserializer<'de>>(d: D) -> Result<Option<u64>, D::Error> {
    #[derive(Deserialize)]
    #[serde(untagged)]
    enum Raw {
        Num(u64),
        Text(String),
    }
    match Raw::deserialize(d)? {
        Raw::Num(n) => Ok(Some(n)),
        Raw::Text(s) => ferry_proto::size::parse_size(&s).map_err(serde::de::Error::custom),
    }
}

fn de_size_required<'de, D: serde::Deserializer<'de>>(d: D) -> Result<u64, D::Error> {
    de_size(d)?.ok_or_else(|| {
        serde::de::Error::custom("a size is required here (\"unlimited\" is not allowed)")
    })
}

impl Default for ServerConfig {
    fn default() -> Self {
        ServerConfig {
            data_dir: PathBuf::from("ferry-data"),
            listen: vec![SocketAddr::from(([0u16; 8], 2121))],
            passive_ports: None,
            passive_address: None,
            max_connections: 4096,
            max_connections_per_ip: 1024,
            max_connections_per_user: 0,
            idle_timeout: 300,
            login_timeout: 60,
            data_timeout: 30,
            auth_failure_delay_ms: 1000,
            max_login_failures: 3,
            greeting: "Ferry FTP server ready.".to_owned(),
            default_quota: None,
            hash_max_size: 64 << 30,
            hash_workers: 2,
            hash_uploads: true,
            upload_mode: UploadMode::AtomicResume,
            fsync_uploads: true,
            node_id: None,
            tls: None,
            tls_cert: None,
            tls_key: None,
            implicit_tls_listen: None,
            tls_session_reuse: SessionReuse::Off,
            tls_min_version: TlsVersion::V1_2,
            tls_cipher_suites: Vec::new(),
            tls_handshake_timeout: 10,
            tls_client_ca: None,
            tls_client_cert: ClientCertPolicy::Optional,
            registration: RegistrationMode::Off,
            registration_allow_plaintext: false,
            registration_allow_unlimited: false,
            ban_after_failures: 20,
            ban_window: 60,
            ban_seconds: 300,
            ban_max_seconds: 86_400,
            account_failures: 5,
            account_lock_seconds: 900,
            max_prelogin_per_ip: 128,
            ban_allow: Vec::new(),
            site_exec: SiteExecConfig::default(),
            run_as: None,
            umask: 0o022,
            file_mode: 0o644,
            dir_mode: 0o755,
        }
    }
}

/// Every top-level key of `ferry.toml`; each can also be set with `FERRY_<KEY>` (upper case).
pub const KEYS: &[&str] = &[
    "data_dir",
    "listen",
    "passive_ports",
    "passive_address",
    "max_connections",
    "max_connections_per_ip",
    "max_connections_per_user",
    "idle_timeout",
    "login_timeout",
    "data_timeout",
    "auth_failure_delay_ms",
    "max_login_failures",
    "greeting",
    "hash_max_size",
    "hash_workers",
    "hash_uploads",
    "upload_mode",
    "fsync_uploads",
    "node_id",
    "tls",
    "tls_cert",
    "tls_key",
    "implicit_tls_listen",
    "tls_session_reuse",
    "tls_min_version",
    "tls_cipher_suites",
    "tls_handshake_timeout",
    "tls_client_ca",
    "tls_client_cert",
    "registration",
    "registration_allow_plaintext",
    "registration_allow_unlimited",
    "ban_after_failures",
    "ban_window",
    "ban_seconds",
    "ban_max_seconds",
    "account_failures",
    "account_lock_seconds",
    "max_prelogin_per_ip",
    "ban_allow",
    "default_quota",
    "run_as",
    "umask",
    "file_mode",
    "dir_mode",
];

/// `FERRY_*` variables read by ferryd, the ferry client or the test suite that are not keys
/// of ferry.toml.
pub const OTHER_ENV: &[&str] = &[
    "FERRY_CONFIG",
    "FERRY_LOG",
    "FERRY_PASSWORD",
    "FERRY_ALLOW_MISSING_TOOLS",
    "FERRY_ROBUSTNESS_SEED",
    "FERRY_ROBUSTNESS_STEPS",
    "FERRY_TEST_LOG",
];

/// The known key closest to a misspelt one (edit distance at most a third of its length,
/// at least 2), for "did you mean" hints.
pub fn nearest_key(unknown: &str) -> Option<&'static str> {
    let limit = (unknown.len() / 3).max(2);
    KEYS.iter()
        .chain(&["site_exec"])
        .map(|k| (edit_distance(unknown, k), *k))
        .filter(|(d, _)| *d <= limit)
        .min()
        .map(|(_, k)| k)
}

fn edit_distance(a: &str, b: &str) -> usize {
    let b: Vec<char> = b.chars().collect();
    let mut row: Vec<usize> = (0..=b.len()).collect();
    for (i, ca) in a.chars().enumerate() {
        let mut prev = row[0];
        row[0] = i + 1;
        for (j, cb) in b.iter().enumerate() {
            let cur = row[j + 1];
            row[j + 1] = (prev + usize::from(ca != *cb)).min(row[j] + 1).min(cur + 1);
            prev = cur;
        }
    }
    row[b.len()]
}

fn did_you_mean(key: &str) -> String {
    nearest_key(key)
        .map(|k| format!("; did you mean `{k}`?"))
        .unwrap_or_default()
}

/// The `FERRY_*` variables in `env` that set no key, each with a warning naming the nearest
/// key: a misspelt variable would otherwise be ignored in silence.
pub fn unknown_env_warnings(env: impl IntoIterator<Item = (String, String)>) -> Vec<String> {
    env.into_iter()
        .filter_map(|(name, _)| {
            let key = name.strip_prefix("FERRY_")?.to_ascii_lowercase();
            if KEYS.contains(&key.as_str()) || OTHER_ENV.contains(&name.as_str()) {
                return None;
            }
            let hint = nearest_key(&key)
                .map(|k| format!("; did you mean FERRY_{}?", k.to_ascii_uppercase()))
                .unwrap_or_default();
            Some(format!(
                "environment variable {name} is not a setting and is ignored{hint}"
            ))
        })
        .collect()
}

impl ServerConfig {
    /// Parses a configuration file's text, then applies `FERRY_<KEY>` environment overrides
    /// (`env` yields the variables; values are TOML when they parse as TOML, else strings, and
    /// `listen` takes a comma-separated list). Tables such as `[site_exec]` are file-only.
    pub fn from_toml_and_env(
        text: &str,
        env: impl IntoIterator<Item = (String, String)>,
    ) -> Result<ServerConfig, String> {
        let mut table: toml::Table = toml::from_str(text).map_err(|e| e.to_string())?;
        if let Some(key) = table
            .keys()
            .find(|k| !KEYS.contains(&k.as_str()) && *k != "site_exec")
        {
            return Err(format!("unknown key `{key}`{}", did_you_mean(key)));
        }
        for (name, raw) in env {
            let Some(key) = name.strip_prefix("FERRY_").map(str::to_ascii_lowercase) else {
                continue;
            };
            if !KEYS.contains(&key.as_str()) {
                continue;
            }
            let value = if key == "listen" || key == "ban_allow" || key == "tls_cipher_suites" {
                toml::Value::Array(
                    raw.split(',')
                        .map(|a| toml::Value::String(a.trim().to_owned()))
                        .collect(),
                )
            } else if matches!(
                key.as_str(),
                "node_id" | "run_as" | "umask" | "file_mode" | "dir_mode"
            ) {
                toml::Value::String(raw.clone())
            } else {
                match toml::from_str::<toml::Table>(&format!("v = {raw}"))
                    .ok()
                    .and_then(|mut t| t.remove("v"))
                {
                    Some(v) => v,
                    None => toml::Value::String(raw.clone()),
                }
            };
            table.insert(key, value);
        }
        table.try_into().map_err(|e: toml::de::Error| e.to_string())
    }

    /// Refuses combinations of settings that are unsafe together, with what to change.
    pub fn check(&self) -> Result<(), String> {
        if self.registration == RegistrationMode::Open
            && self.default_quota.is_none()
            && !self.registration_allow_unlimited
        {
            return Err(
                "registration = \"open\" with an unlimited default_quota lets anyone \
                 create an account with unlimited disk space: set default_quota (e.g. \
                 default_quota = \"100MiB\", or FERRY_DEFAULT_QUOTA), or set \
                 registration_allow_unlimited = true if that is what you want"
                    .to_owned(),
            );
        }
        Ok(())
    }

    /// This node's name in the store: `node_id`, else the host name.
    pub fn node_id(&self) -> String {
        if let Some(id) = self.node_id.as_deref().filter(|s| !s.trim().is_empty()) {
            return id.trim().to_owned();
        }
        std::fs::read_to_string("/proc/sys/kernel/hostname")
            .ok()
            .map(|h| h.trim().to_owned())
            .filter(|h| !h.is_empty())
            .unwrap_or_else(|| "ferryd".to_owned())
    }

    pub fn idle_timeout(&self) -> Duration {
        Duration::from_secs(self.idle_timeout.max(1))
    }
    pub fn login_timeout(&self) -> Duration {
        Duration::from_secs(self.login_timeout.max(1))
    }
    pub fn data_timeout(&self) -> Duration {
        Duration::from_secs(self.data_timeout.max(1))
    }
    pub fn auth_failure_delay(&self) -> Duration {
        Duration::from_millis(self.auth_failure_delay_ms)
    }
    /// The TLS policy in effect and why, for the startup log: one run with `--tls optional`
    /// leaves a certificate that turns TLS on for every later run, which an operator should
    /// not have to guess.
    pub fn tls_mode_reason(&self) -> (TlsMode, String) {
        let mode = self.tls_mode();
        let generated = self.data_dir.join("tls").join("cert.pem");
        let why = if self.tls.is_some() {
            "configured (tls)".to_owned()
        } else if self.tls_cert.is_some() {
            "tls_cert is configured".to_owned()
        } else if generated.exists() {
            format!(
                "certificate found from an earlier run ({}); set tls = 'off' to turn TLS off",
                generated.display()
            )
        } else if self.implicit_tls_listen.is_some() {
            "implicit_tls_listen is configured".to_owned()
        } else {
            "tls is not set and there is no certificate".to_owned()
        };
        (mode, why)
    }

    /// The TLS policy in effect (see [`ServerConfig::tls`]).
    pub fn tls_mode(&self) -> TlsMode {
        self.tls.unwrap_or_else(|| {
            let has_cert =
                self.tls_cert.is_some() || self.data_dir.join("tls").join("cert.pem").exists();
            if has_cert || self.implicit_tls_listen.is_some() {
                TlsMode::Optional
            } else {
                TlsMode::Off
            }
        })
    }

    pub fn tls_handshake_timeout(&self) -> Duration {
        Duration::from_secs(self.tls_handshake_timeout.max(1))
    }

    pub fn homes_dir(&self) -> PathBuf {
        self.data_dir.join("homes")
    }
    pub fn database_path(&self) -> PathBuf {
        self.data_dir.join("ferry.db")
    }
    /// The host directory of a user's home: their own setting, else `<data-dir>/homes/<name>`.
    pub fn home_of(&self, user: &ferry_store::User) -> PathBuf {
        match &user.home {
            Some(h) => PathBuf::from(h),
            None => self.homes_dir().join(&user.name),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn environment_overrides_the_file_for_every_key() {
        let env = vec![
            ("FERRY_GREETING".to_owned(), "from env".to_owned()),
            ("FERRY_HASH_UPLOADS".to_owned(), "false".to_owned()),
            ("FERRY_IDLE_TIMEOUT".to_owned(), "7".to_owned()),
            (
                "FERRY_LISTEN".to_owned(),
                "127.0.0.1:2121, [::1]:2121".to_owned(),
            ),
            ("FERRY_TLS".to_owned(), "required".to_owned()),
            ("FERRY_TLS_MIN_VERSION".to_owned(), "1.3".to_owned()),
            ("FERRY_DEFAULT_QUOTA".to_owned(), "10MiB".to_owned()),
            ("FERRY_PASSWORD".to_owned(), "not a config key".to_owned()),
        ];
        let c = ServerConfig::from_toml_and_env("greeting = \"from file\"\nidle_timeout = 5", env)
            .unwrap();
        assert_eq!(c.greeting, "from env");
        assert!(!c.hash_uploads);
        assert_eq!(c.idle_timeout, 7);
        assert_eq!(c.listen.len(), 2);
        assert_eq!(c.tls, Some(TlsMode::Required));
        assert_eq!(c.tls_min_version, TlsVersion::V1_3);
        assert_eq!(c.default_quota, Some(10 << 20));
        let bad =
            ServerConfig::from_toml_and_env("", vec![("FERRY_IDLE_TIMEOUT".into(), "soon".into())]);
        assert!(bad.is_err());
        // The example file documents every key.
        let example = include_str!("../../../ferry.toml.example");
        for key in KEYS {
            assert!(
                example.contains(&format!("# {key} =")),
                "ferry.toml.example does not document {key}"
            );
        }
    }

    #[test]
    fn unknown_keys_are_errors_and_unknown_variables_warnings_naming_the_nearest_key() {
        let e = ServerConfig::from_toml_and_env("idle_timout = 5", Vec::new()).unwrap_err();
        assert!(
            e.contains("`idle_timout`") && e.contains("`idle_timeout`"),
            "{e}"
        );
        let e = ServerConfig::from_toml_and_env("zzzzzzzz = 1", Vec::new()).unwrap_err();
        assert!(
            e.contains("`zzzzzzzz`") && !e.contains("did you mean"),
            "{e}"
        );
        let e = ServerConfig::from_toml_and_env("[site_exec]\nmax_concurent = 2", Vec::new())
            .unwrap_err();
        assert!(e.contains("max_concurent"), "{e}");
        let env = |n: &str| vec![(n.to_owned(), "1".to_owned())];
        let w = unknown_env_warnings(env("FERRY_IDLE_TIMOUT"));
        assert_eq!(w.len(), 1);
        assert!(w[0].contains("FERRY_IDLE_TIMEOUT"), "{w:?}");
        for fine in ["FERRY_IDLE_TIMEOUT", "FERRY_LOG", "FERRY_CONFIG", "HOME"] {
            assert!(unknown_env_warnings(env(fine)).is_empty(), "{fine}");
        }
    }

    #[test]
    fn toml_keys_parse_with_defaults_for_the_rest() {
        let c: ServerConfig = toml::from_str(
            "passive_ports = \"50000-50100\"\ndefault_quota = \"10MiB\"\nidle_timeout = 5",
        )
        .unwrap();
        assert_eq!(
            c.passive_ports,
            Some(PortRange {
                first: 50000,
                last: 50100
            })
        );
        assert_eq!(c.default_quota, Some(10 << 20));
        assert_eq!(c.idle_timeout, 5);
        assert_eq!(c.max_login_failures, 3);
        assert!(toml::from_str::<ServerConfig>("no_such_key = 1").is_err());
        assert!("100-10".parse::<PortRange>().is_err());
    }
}
