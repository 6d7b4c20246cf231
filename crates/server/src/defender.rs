//! The defender: a score per client address, as SFTPGo's defender keeps one, and a lock per
//! (address, account) pair, so that a storm from one address is cut short without locking out
//! the honest users who share it (a NAT, a campus, a corporate proxy).
//!
//! - Offences add points to the address's score: failed logins and registrations, commands
//!   refused before login, garbage and over-long lines before login, bounce attempts,
//!   connections held until the login timeout, connections over the pre-login cap. The score
//!   is a leaky bucket that drains `ban_after_failures` points per `ban_window`; reaching it
//!   bans the address for `ban_seconds`, doubled for each earlier ban, up to
//!   `ban_max_seconds`. A ban refuses new connections at once and closes the address's
//!   sessions that have not logged in (logged-in sessions go on). Bans are written to the
//!   store, so they survive a restart and `ferryd ban` sees and edits them.
//! - Failed logins at one account also fill that (address, account) pair's bucket; at
//!   `account_failures` the pair is locked, and its attempts are answered `530` without a
//!   password verification for `account_lock_seconds`, adding nothing to the address score.
//!   Guesses at one account therefore cost the address only `account_failures` points, and
//!   honest users of other accounts behind it keep logging in; guesses spread over many
//!   accounts fill the address's score and ban it.
//! - Verifications in flight count against both limits until they are settled: a `PASS` that
//!   could fill a bucket if every attempt in flight failed waits its turn (a few milliseconds
//!   each) instead of being verified at once. Many guesses at once therefore cannot overshoot
//!   (from one address at most `ban_after_failures` verifications fail per ban, at most
//!   `account_failures` per pair per lock), while many honest logins at once, which succeed,
//!   are only queued, never refused.
//! - Addresses in `ban_allow` are never banned and have no pre-login cap; their pairs still
//!   lock.

use std::collections::HashMap;
use std::net::IpAddr;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use ferry_store::Store;
use ipnet::IpNet;
use tokio_util::sync::CancellationToken;

use crate::config::ServerConfig;

/// What a banned address is told, at connect, at PASS and when its sessions are closed.
pub(crate) const BANNED_TEXT: &str = "Your address is banned for repeated abuse; try again later.";

/// What an address did wrong, and what it costs.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Offence {
    LoginFailed,
    RegistrationFailed,
    RefusedBeforeLogin,
    GarbageBeforeLogin,
    LineTooLongBeforeLogin,
    Bounce,
    LoginTimeout,
    OverPreLoginCap,
}

impl Offence {
    fn points(self) -> f64 {
        match self {
            Offence::LoginFailed
            | Offence::RegistrationFailed
            | Offence::RefusedBeforeLogin
            | Offence::GarbageBeforeLogin
            | Offence::OverPreLoginCap => 1.0,
            Offence::LoginTimeout => 2.0,
            Offence::LineTooLongBeforeLogin | Offence::Bounce => 5.0,
        }
    }

    fn reason(self) -> &'static str {
        match self {
            Offence::LoginFailed => "failed logins",
            Offence::RegistrationFailed => "failed registrations",
            Offence::RefusedBeforeLogin => "commands before login",
            Offence::GarbageBeforeLogin => "garbage before login",
            Offence::LineTooLongBeforeLogin => "over-long lines",
            Offence::Bounce => "FTP bounce attempts",
            Offence::LoginTimeout => "connections that never log in",
            Offence::OverPreLoginCap => "too many connections waiting to log in",
        }
    }
}

/// The settings, from [`ServerConfig`].
#[derive(Debug, Clone)]
pub(crate) struct DefenderSettings {
    pub threshold: f64,
    pub window: Duration,
    pub ban: Duration,
    pub ban_max: Duration,
    pub account_failures: f64,
    pub account_lock: Duration,
    pub max_prelogin: usize,
    pub allow: Vec<IpNet>,
}

impl DefenderSettings {
    pub(crate) fn from_config(c: &ServerConfig) -> Result<DefenderSettings, String> {
        let allow = c
            .ban_allow
            .iter()
            .map(|n| parse_net(n).ok_or_else(|| format!("ban_allow: {n:?} is not a network")))
            .collect::<Result<Vec<_>, _>>()?;
        Ok(DefenderSettings {
            threshold: f64::from(c.ban_after_failures),
            window: Duration::from_secs(c.ban_window.max(1)),
            ban: Duration::from_secs(c.ban_seconds.max(1)),
            ban_max: Duration::from_secs(c.ban_max_seconds.max(c.ban_seconds).max(1)),
            account_failures: f64::from(c.account_failures),
            account_lock: Duration::from_secs(c.account_lock_seconds.max(1)),
            max_prelogin: if c.max_prelogin_per_ip == 0 {
                usize::MAX
            } else {
                c.max_prelogin_per_ip
            },
            allow,
        })
    }
}

/// `10.0.0.0/8`, `2001:db8::/32`, or a bare address (a /32 or /128).
pub(crate) fn parse_net(s: &str) -> Option<IpNet> {
    let s = s.trim();
    s.parse::<IpNet>()
        .ok()
        .or_else(|| s.parse::<IpAddr>().ok().map(IpNet::from))
}

/// A leaky bucket: `level` drains at `rate` points per second.
#[derive(Debug, Clone, Copy)]
struct Bucket {
    level: f64,
    at: Instant,
}

impl Bucket {
    fn new(now: Instant) -> Bucket {
        Bucket {
            level: 0.0,
            at: now,
        }
    }

    fn drain(&mut self, now: Instant, rate: f64) -> f64 {
        let dt = now.saturating_duration_since(self.at).as_secs_f64();
        self.level = (self.level - dt * rate).max(0.0);
        self.at = now;
        self.level
    }
}

#[derive(Debug)]
struct Host {
    score: Bucket,
    /// Password verifications under way (each might yet fail).
    inflight: u32,
    banned_until: Option<Instant>,
    /// Bans so far (this one included while banned).
    offences: u32,
    /// Written to the store (or read from it): a ban the store no longer has was lifted by
    /// `ferryd ban del`.
    persisted: bool,
    prelogin: usize,
    /// Cancelled when the address is banned: its sessions not yet logged in end.
    kick: CancellationToken,
}

impl Host {
    fn new(now: Instant) -> Host {
        Host {
            score: Bucket::new(now),
            inflight: 0,
            banned_until: None,
            offences: 0,
            persisted: false,
            prelogin: 0,
            kick: CancellationToken::new(),
        }
    }

    fn banned(&self, now: Instant) -> bool {
        self.banned_until.is_some_and(|u| u > now)
    }
}

#[derive(Debug)]
struct Pair {
    failures: Bucket,
    inflight: u32,
    locked_until: Option<Instant>,
}

#[derive(Debug, Default)]
struct State {
    hosts: HashMap<IpAddr, Host>,
    pairs: HashMap<(IpAddr, String), Pair>,
}

pub(crate) struct Defender {
    settings: DefenderSettings,
    store: Store,
    state: Mutex<State>,
}

/// Why a connection is turned away at the door.
#[derive(Debug, PartialEq, Eq)]
pub(crate) enum Refusal {
    Banned,
    TooManyPreLogin,
}

/// Counts one connection of an address that has not logged in yet, until dropped.
pub(crate) struct PreLogin {
    defender: Arc<Defender>,
    ip: IpAddr,
    counted: bool,
    kick: CancellationToken,
}

impl PreLogin {
    /// Cancelled when the address gets banned.
    pub(crate) fn kicked(&self) -> CancellationToken {
        self.kick.clone()
    }
}

impl Drop for PreLogin {
    fn drop(&mut self) {
        if !self.counted {
            return;
        }
        let mut s = self.defender.lock();
        if let Some(h) = s.hosts.get_mut(&self.ip) {
            h.prelogin = h.prelogin.saturating_sub(1);
        }
    }
}

/// What to do with a `PASS`.
pub(crate) enum LoginGate {
    /// The address is banned: close the connection.
    Banned,
    /// Too many failures at this account from this address: `530`, no verification.
    AccountLocked,
    /// Verify the password, then report how it went.
    Verify(LoginAttempt),
}

/// One password verification under way, counted in flight until settled.
pub(crate) struct LoginAttempt {
    defender: Arc<Defender>,
    ip: IpAddr,
    account: String,
    settled: bool,
}

impl LoginAttempt {
    /// The password was right: the pair's failures are forgotten.
    pub(crate) fn succeeded(mut self) {
        self.settled = true;
        let now = Instant::now();
        let d = Arc::clone(&self.defender);
        let mut s = d.lock();
        if let Some(p) = s
            .pairs
            .get_mut(&(self.ip, std::mem::take(&mut self.account)))
        {
            p.inflight = p.inflight.saturating_sub(1);
            p.failures = Bucket::new(now);
        }
        if let Some(h) = s.hosts.get_mut(&self.ip) {
            h.inflight = h.inflight.saturating_sub(1);
        }
    }

    /// The password was wrong (or the account unknown): true when this failure got the
    /// address banned.
    pub(crate) fn failed(mut self) -> bool {
        self.settle_as_failure()
    }

    fn settle_as_failure(&mut self) -> bool {
        self.settled = true;
        let now = Instant::now();
        let d = Arc::clone(&self.defender);
        let mut s = d.lock();
        let rate = d.pair_rate();
        if let Some(p) = s
            .pairs
            .get_mut(&(self.ip, std::mem::take(&mut self.account)))
        {
            p.inflight = p.inflight.saturating_sub(1);
            let level = p.failures.drain(now, rate) + 1.0;
            p.failures.level = level;
            if d.settings.account_failures > 0.0 && full(level, d.settings.account_failures) {
                p.locked_until = Some(now + d.settings.account_lock);
                tracing::warn!(ip = %self.ip, "account locked for this address after repeated failures");
            }
        }
        if let Some(h) = s.hosts.get_mut(&self.ip) {
            h.inflight = h.inflight.saturating_sub(1);
        }
        let banned = d.check_ban(&mut s, self.ip, Offence::LoginFailed, now);
        drop(s);
        if let Some(b) = banned {
            d.persist(b);
            return true;
        }
        false
    }
}

impl Drop for LoginAttempt {
    /// A verification abandoned half-way (store error, connection gone) counts as a failure:
    /// a client must not be able to reset its score by hanging up mid-guess.
    fn drop(&mut self) {
        if !self.settled {
            self.settle_as_failure();
        }
    }
}

/// A ban to write to the store.
struct NewBan {
    ip: IpAddr,
    until: Duration,
    offences: u32,
    reason: &'static str,
}

const MAX_TRACKED: usize = 100_000;
/// Account names are keyed by at most this many bytes (a hostile USER can be 4 KiB long).
const MAX_KEYED_NAME: usize = 64;

impl Defender {
    pub(crate) fn new(settings: DefenderSettings, store: Store) -> Arc<Defender> {
        Arc::new(Defender {
            settings,
            store,
            state: Mutex::new(State::default()),
        })
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, State> {
        self.state.lock().unwrap_or_else(|p| p.into_inner())
    }

    fn host_rate(&self) -> f64 {
        self.settings.threshold / self.settings.window.as_secs_f64()
    }

    fn pair_rate(&self) -> f64 {
        self.settings.account_failures / self.settings.window.as_secs_f64()
    }

    fn allowed(&self, ip: IpAddr) -> bool {
        self.settings.allow.iter().any(|n| n.contains(&ip))
    }

    fn host(s: &mut State, ip: IpAddr, now: Instant) -> &mut Host {
        if s.hosts.len() >= MAX_TRACKED && !s.hosts.contains_key(&ip) {
            // Forget the quiet: addresses with no ban, no waiting connection, little score.
            s.hosts
                .retain(|_, h| h.banned(now) || h.prelogin > 0 || h.score.level >= 1.0);
            s.pairs
                .retain(|_, p| p.locked_until.is_some_and(|u| u > now));
        }
        s.hosts.entry(ip).or_insert_with(|| Host::new(now))
    }

    /// Whether a connection from `ip` is refused before anything else is done for it.
    pub(crate) fn refuses_at_once(&self, ip: IpAddr) -> bool {
        let now = Instant::now();
        let s = self.lock();
        s.hosts.get(&ip).is_some_and(|h| h.banned(now)) && !self.allowed(ip)
    }

    #[cfg(test)]
    fn is_banned(&self, ip: IpAddr) -> bool {
        let now = Instant::now();
        self.lock().hosts.get(&ip).is_some_and(|h| h.banned(now))
    }

    /// Lets a new connection in (counted as waiting to log in until the permit is dropped),
    /// or says why not.
    pub(crate) fn admit(self: &Arc<Self>, ip: IpAddr) -> Result<PreLogin, Refusal> {
        let now = Instant::now();
        let allowed = self.allowed(ip);
        let mut s = self.lock();
        let h = Self::host(&mut s, ip, now);
        if h.banned(now) && !allowed {
            return Err(Refusal::Banned);
        }
        if h.prelogin >= self.settings.max_prelogin && !allowed {
            let banned = self.check_ban(&mut s, ip, Offence::OverPreLoginCap, now);
            drop(s);
            if let Some(b) = banned {
                self.persist(b);
            }
            return Err(Refusal::TooManyPreLogin);
        }
        h.prelogin += 1;
        let kick = h.kick.clone();
        Ok(PreLogin {
            defender: Arc::clone(self),
            ip,
            counted: true,
            kick,
        })
    }

    /// Adds an offence to the address's score; true when it got the address banned.
    pub(crate) fn record(self: &Arc<Self>, ip: IpAddr, offence: Offence) -> bool {
        let now = Instant::now();
        let mut s = self.lock();
        let banned = self.check_ban(&mut s, ip, offence, now);
        drop(s);
        match banned {
            Some(b) => {
                self.persist(b);
                true
            }
            None => false,
        }
    }

    /// Decides what a `PASS` for `account` from `ip` may do (see the module comment),
    /// waiting while attempts in flight could still fill a bucket.
    pub(crate) async fn begin_login(self: &Arc<Self>, ip: IpAddr, account: &str) -> LoginGate {
        // Far longer than any verification: only a stuck bucket would get here.
        const MAX_WAIT: Duration = Duration::from_secs(30);
        let started = Instant::now();
        let account = keyed_name(account);
        loop {
            if let Some(gate) = self.try_begin_login(ip, &account) {
                return gate;
            }
            if started.elapsed() > MAX_WAIT {
                return LoginGate::AccountLocked;
            }
            tokio::time::sleep(Duration::from_millis(5)).await;
        }
    }

    /// The gate for one `PASS`, or None to wait for attempts in flight.
    fn try_begin_login(self: &Arc<Self>, ip: IpAddr, account: &str) -> Option<LoginGate> {
        let now = Instant::now();
        let allowed = self.allowed(ip);
        let mut s = self.lock();
        let host_rate = self.host_rate();
        let pair_rate = self.pair_rate();
        let threshold = self.settings.threshold;
        let h = Self::host(&mut s, ip, now);
        if h.banned(now) && !allowed {
            return Some(LoginGate::Banned);
        }
        let host_level = h.score.drain(now, host_rate);
        let guarded = !allowed && threshold > 0.0;
        if guarded && h.inflight == 0 && full(host_level, threshold) {
            let ban = self.ban(&mut s, ip, Offence::LoginFailed, now);
            drop(s);
            self.persist(ban);
            return Some(LoginGate::Banned);
        }
        let h = Self::host(&mut s, ip, now);
        // Were every attempt in flight to fail, the address would already be at its limit.
        let host_busy = guarded && full(host_level + f64::from(h.inflight), threshold);
        let key = (ip, account.to_owned());
        let p = s.pairs.entry(key.clone()).or_insert(Pair {
            failures: Bucket::new(now),
            inflight: 0,
            locked_until: None,
        });
        if p.locked_until.is_some_and(|u| u > now) {
            return Some(LoginGate::AccountLocked);
        }
        p.locked_until = None;
        let cap = self.settings.account_failures;
        let pair_level = p.failures.drain(now, pair_rate);
        if cap > 0.0 && p.inflight == 0 && full(pair_level, cap) {
            p.locked_until = Some(now + self.settings.account_lock);
            return Some(LoginGate::AccountLocked);
        }
        if host_busy || (cap > 0.0 && full(pair_level + f64::from(p.inflight), cap)) {
            return None;
        }
        p.inflight += 1;
        if let Some(h) = s.hosts.get_mut(&ip) {
            h.inflight += 1;
        }
        Some(LoginGate::Verify(LoginAttempt {
            defender: Arc::clone(self),
            ip,
            account: key.1,
            settled: false,
        }))
    }

    /// Adds `offence` and bans when the score is full. Returns the ban to persist.
    fn check_ban(
        &self,
        s: &mut State,
        ip: IpAddr,
        offence: Offence,
        now: Instant,
    ) -> Option<NewBan> {
        if self.settings.threshold <= 0.0 || self.allowed(ip) {
            return None;
        }
        let rate = self.host_rate();
        let h = Self::host(s, ip, now);
        if h.banned(now) {
            return None;
        }
        let level = h.score.drain(now, rate) + offence.points();
        h.score.level = level;
        if full(level, self.settings.threshold) {
            return Some(self.ban(s, ip, offence, now));
        }
        None
    }

    fn ban(&self, s: &mut State, ip: IpAddr, offence: Offence, now: Instant) -> NewBan {
        let h = Self::host(s, ip, now);
        h.offences = h.offences.saturating_add(1);
        let until = self.ban_length(h.offences);
        h.banned_until = Some(now + until);
        h.score = Bucket::new(now);
        h.persisted = false;
        // Sessions of this address still waiting to log in end now; later ones get a new token.
        h.kick.cancel();
        h.kick = CancellationToken::new();
        tracing::warn!(%ip, reason = offence.reason(), seconds = until.as_secs(), bans = h.offences, "address banned");
        NewBan {
            ip,
            until,
            offences: h.offences,
            reason: offence.reason(),
        }
    }

    fn ban_length(&self, offences: u32) -> Duration {
        let doublings = offences.saturating_sub(1).min(20);
        self.settings
            .ban
            .saturating_mul(1u32 << doublings)
            .min(self.settings.ban_max)
    }

    /// Writes a ban to the store, off the caller's path; a repeat offender whose history is
    /// only in the store (from before a restart) gets the longer ban it has earned.
    fn persist(self: &Arc<Self>, ban: NewBan) {
        let d = Arc::clone(self);
        let Ok(rt) = tokio::runtime::Handle::try_current() else {
            return;
        };
        rt.spawn(async move {
            let earlier = d.store.ban_offenses(ban.ip).await.unwrap_or(0);
            let mut offences = ban.offences;
            let mut until = ban.until;
            if earlier >= offences {
                offences = earlier.saturating_add(1);
                until = d.ban_length(offences);
                let now = Instant::now();
                let mut s = d.lock();
                let h = Self::host(&mut s, ban.ip, now);
                h.offences = offences;
                h.banned_until = Some(now + until);
            }
            let until_unix =
                unix_now().saturating_add(i64::try_from(until.as_secs()).unwrap_or(i64::MAX));
            match d
                .store
                .put_ban(ban.ip, until_unix, offences, ban.reason)
                .await
            {
                Ok(()) => {
                    if let Some(h) = d.lock().hosts.get_mut(&ban.ip) {
                        h.persisted = true;
                    }
                }
                Err(e) => tracing::error!(ip = %ban.ip, error = %e, "cannot store the ban"),
            }
        });
    }

    /// Makes the bans in memory those of the store: bans added by `ferryd ban add` (or by
    /// another process) take effect, and stored bans that are gone (`ferryd ban del`) are
    /// lifted. Bans not yet written keep their place.
    pub(crate) async fn sync_with_store(&self) {
        let stored = match self.store.active_bans().await {
            Ok(b) => b,
            Err(e) => {
                tracing::warn!(error = %e, "cannot read bans from the store");
                return;
            }
        };
        let now = Instant::now();
        let unix = unix_now();
        let mut s = self.lock();
        let mut listed = std::collections::HashSet::with_capacity(stored.len());
        for b in &stored {
            listed.insert(b.ip);
            let left = Duration::from_secs(u64::try_from(b.banned_until - unix).unwrap_or(0));
            let h = Self::host(&mut s, b.ip, now);
            if !h.banned(now) {
                h.kick.cancel();
                h.kick = CancellationToken::new();
                tracing::info!(ip = %b.ip, reason = b.reason, "address banned (from the store)");
            }
            h.banned_until = Some(now + left);
            h.offences = h.offences.max(b.offenses);
            h.persisted = true;
        }
        for (ip, h) in s.hosts.iter_mut() {
            if h.persisted && h.banned(now) && !listed.contains(ip) {
                tracing::info!(%ip, "ban lifted");
                h.banned_until = None;
                h.score = Bucket::new(now);
                h.persisted = false;
            }
        }
    }
}

/// Whether a bucket holding `level` has reached `cap`. Points come in whole numbers and drain
/// continuously, so a bucket filled to the cap a moment ago still counts as full.
fn full(level: f64, cap: f64) -> bool {
    level + 0.5 >= cap
}

fn keyed_name(account: &str) -> String {
    let mut end = account.len().min(MAX_KEYED_NAME);
    while !account.is_char_boundary(end) {
        end -= 1;
    }
    account[..end].to_owned()
}

fn unix_now() -> i64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map(|d| i64::try_from(d.as_secs()).unwrap_or(i64::MAX))
        .unwrap_or(0)
}

#[cfg(test)]
mod tests {
    use super::*;

    async fn defender(threshold: u32, account_failures: u32) -> (Arc<Defender>, tempfile::TempDir) {
        let dir = tempfile::tempdir().unwrap();
        let store = Store::open_sqlite(&dir.path().join("t.db")).await.unwrap();
        let c = ServerConfig {
            ban_after_failures: threshold,
            account_failures,
            max_prelogin_per_ip: 2,
            ban_allow: vec!["10.9.0.0/16".into()],
            ..Default::default()
        };
        let d = Defender::new(DefenderSettings::from_config(&c).unwrap(), store);
        (d, dir)
    }

    async fn fail(d: &Arc<Defender>, ip: IpAddr, account: &str) -> Option<bool> {
        match d.begin_login(ip, account).await {
            LoginGate::Verify(a) => Some(a.failed()),
            LoginGate::AccountLocked => None,
            LoginGate::Banned => Some(true),
        }
    }

    #[tokio::test]
    async fn guesses_at_one_account_lock_the_pair_not_the_address() {
        let (d, _dir) = defender(20, 5).await;
        let nat: IpAddr = "192.0.2.1".parse().unwrap();
        for _ in 0..5 {
            assert_eq!(fail(&d, nat, "victim").await, Some(false));
        }
        for _ in 0..100 {
            assert!(matches!(
                d.begin_login(nat, "victim").await,
                LoginGate::AccountLocked
            ));
        }
        assert!(!d.is_banned(nat));
        // An honest user behind the same address logs in.
        match d.begin_login(nat, "alice").await {
            LoginGate::Verify(a) => a.succeeded(),
            _ => panic!("alice is not locked out"),
        }
    }

    #[tokio::test]
    async fn guesses_spread_over_accounts_ban_the_address() {
        let (d, _dir) = defender(20, 5).await;
        let ip: IpAddr = "192.0.2.2".parse().unwrap();
        let mut verified = 0;
        for i in 0..200 {
            match d.begin_login(ip, &format!("user{i}")).await {
                LoginGate::Verify(a) => {
                    verified += 1;
                    a.failed();
                }
                LoginGate::AccountLocked => {}
                LoginGate::Banned => break,
            }
        }
        assert_eq!(verified, 20, "no more verifications than the threshold");
        assert!(d.is_banned(ip));
        assert!(d.admit(ip).is_err());
    }

    #[tokio::test]
    async fn concurrent_attempts_cannot_overshoot() {
        let (d, _dir) = defender(10, 3).await;
        let ip: IpAddr = "192.0.2.3".parse().unwrap();
        // Sixty guesses begun before any of them is answered: ten get through, the others
        // wait, and once the ten fail the address is banned and the others refused.
        let attempts: Vec<_> = (0..60)
            .filter_map(|i| match d.try_begin_login(ip, &format!("u{i}")) {
                Some(LoginGate::Verify(a)) => Some(a),
                _ => None,
            })
            .collect();
        assert_eq!(attempts.len(), 10);
        for a in attempts {
            a.failed();
        }
        assert!(d.is_banned(ip));
        assert!(matches!(
            d.try_begin_login(ip, "late"),
            Some(LoginGate::Banned)
        ));
    }

    #[tokio::test]
    async fn concurrent_honest_logins_are_queued_not_refused() {
        let (d, _dir) = defender(3, 2).await;
        let ip: IpAddr = "192.0.2.5".parse().unwrap();
        let first: Vec<_> = (0..10)
            .filter_map(|_| match d.try_begin_login(ip, "alice") {
                Some(LoginGate::Verify(a)) => Some(a),
                Some(_) => panic!("an honest login was refused"),
                None => None,
            })
            .collect();
        assert_eq!(first.len(), 2, "two in flight at once for this pair");
        for a in first {
            a.succeeded();
        }
        for _ in 0..20 {
            match d.begin_login(ip, "alice").await {
                LoginGate::Verify(a) => a.succeeded(),
                _ => panic!("an honest login was refused"),
            }
        }
        assert!(!d.is_banned(ip));
    }

    #[tokio::test]
    async fn prelogin_cap_allow_list_and_kick() {
        let (d, _dir) = defender(3, 5).await;
        let ip: IpAddr = "192.0.2.4".parse().unwrap();
        let a = d.admit(ip).unwrap();
        let _b = d.admit(ip).unwrap();
        assert_eq!(d.admit(ip).err(), Some(Refusal::TooManyPreLogin));
        drop(a);
        let c = d.admit(ip).unwrap();
        let kicked = c.kicked();
        assert!(!kicked.is_cancelled());
        d.record(ip, Offence::GarbageBeforeLogin);
        d.record(ip, Offence::GarbageBeforeLogin);
        assert!(
            kicked.is_cancelled(),
            "a ban ends the sessions still logging in"
        );
        assert_eq!(d.admit(ip).err(), Some(Refusal::Banned));

        let trusted: IpAddr = "10.9.3.4".parse().unwrap();
        let _held: Vec<_> = (0..10).map(|_| d.admit(trusted).unwrap()).collect();
        for _ in 0..50 {
            d.record(trusted, Offence::Bounce);
        }
        assert!(!d.is_banned(trusted));
    }

    #[tokio::test]
    async fn repeat_offenders_are_banned_longer() {
        let (d, _dir) = defender(1, 5).await;
        assert_eq!(d.ban_length(1), Duration::from_secs(300));
        assert_eq!(d.ban_length(2), Duration::from_secs(600));
        assert_eq!(d.ban_length(30), Duration::from_secs(86_400));
    }

    #[tokio::test]
    async fn bans_persist_and_the_store_can_lift_them() {
        let (d, _dir) = defender(1, 5).await;
        let ip: IpAddr = "2001:db8::9".parse().unwrap();
        assert!(d.record(ip, Offence::Bounce));
        // The write is spawned; wait for it.
        for _ in 0..100 {
            if !d.store.active_bans().await.unwrap().is_empty() {
                break;
            }
            tokio::time::sleep(Duration::from_millis(10)).await;
        }
        let stored = d.store.active_bans().await.unwrap();
        assert_eq!(stored.len(), 1);
        assert_eq!(stored[0].ip, ip);
        assert!(d.store.delete_ban(ip).await.unwrap());
        d.sync_with_store().await;
        assert!(!d.is_banned(ip));
        let other: IpAddr = "192.0.2.99".parse().unwrap();
        d.store
            .put_ban(other, unix_now() + 60, 1, "by hand")
            .await
            .unwrap();
        d.sync_with_store().await;
        assert!(d.is_banned(other));
    }
}
