//! Connection caps: in total and per client IP (a permit held for the life of a connection),
//! and per user (a permit held while the session is logged in).

use std::collections::HashMap;
use std::net::IpAddr;
use std::sync::{Arc, Mutex};

#[derive(Debug)]
pub(crate) struct ConnectionLimiter {
    max_total: usize,
    max_per_ip: usize,
    state: Mutex<LimiterState>,
}

#[derive(Debug, Default)]
struct LimiterState {
    total: usize,
    per_ip: HashMap<IpAddr, usize>,
}

#[derive(Debug, PartialEq, Eq)]
pub(crate) enum LimitExceeded {
    Total,
    PerIp,
}

/// Counts one connection until dropped.
#[derive(Debug)]
pub(crate) struct ConnectionPermit {
    limiter: Arc<ConnectionLimiter>,
    ip: IpAddr,
}

impl ConnectionLimiter {
    /// `0` means no limit.
    pub(crate) fn new(max_total: usize, max_per_ip: usize) -> Arc<ConnectionLimiter> {
        let unlimited = |n: usize| if n == 0 { usize::MAX } else { n };
        Arc::new(ConnectionLimiter {
            max_total: unlimited(max_total),
            max_per_ip: unlimited(max_per_ip),
            state: Mutex::new(LimiterState::default()),
        })
    }

    pub(crate) fn try_acquire(
        self: &Arc<Self>,
        ip: IpAddr,
    ) -> Result<ConnectionPermit, LimitExceeded> {
        let mut s = self.state.lock().unwrap_or_else(|p| p.into_inner());
        if s.total >= self.max_total {
            return Err(LimitExceeded::Total);
        }
        let n = s.per_ip.entry(ip).or_insert(0);
        if *n >= self.max_per_ip {
            return Err(LimitExceeded::PerIp);
        }
        *n += 1;
        s.total += 1;
        Ok(ConnectionPermit {
            limiter: Arc::clone(self),
            ip,
        })
    }
}

impl Drop for ConnectionPermit {
    fn drop(&mut self) {
        let mut s = self.limiter.state.lock().unwrap_or_else(|p| p.into_inner());
        s.total -= 1;
        if let Some(n) = s.per_ip.get_mut(&self.ip) {
            *n -= 1;
            if *n == 0 {
                s.per_ip.remove(&self.ip);
            }
        }
    }
}

/// Sessions logged in per user.
#[derive(Debug)]
pub(crate) struct UserSessions {
    max: usize,
    counts: Mutex<HashMap<String, usize>>,
}

/// Counts one logged-in session of a user until dropped.
#[derive(Debug)]
pub(crate) struct UserPermit {
    sessions: Arc<UserSessions>,
    user: String,
}

impl UserSessions {
    /// `0` means no limit.
    pub(crate) fn new(max: usize) -> Arc<UserSessions> {
        Arc::new(UserSessions {
            max: if max == 0 { usize::MAX } else { max },
            counts: Mutex::new(HashMap::new()),
        })
    }

    /// A permit for one more session of `user`, or None when the user is at the cap.
    pub(crate) fn try_acquire(self: &Arc<Self>, user: &str) -> Option<UserPermit> {
        let mut counts = self.counts.lock().unwrap_or_else(|p| p.into_inner());
        let n = counts.entry(user.to_owned()).or_insert(0);
        if *n >= self.max {
            return None;
        }
        *n += 1;
        Some(UserPermit {
            sessions: Arc::clone(self),
            user: user.to_owned(),
        })
    }
}

impl Drop for UserPermit {
    fn drop(&mut self) {
        let mut counts = self
            .sessions
            .counts
            .lock()
            .unwrap_or_else(|p| p.into_inner());
        if let Some(n) = counts.get_mut(&self.user) {
            *n -= 1;
            if *n == 0 {
                counts.remove(&self.user);
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn caps_hold_and_permits_release() {
        let l = ConnectionLimiter::new(3, 2);
        let a: IpAddr = "10.0.0.1".parse().unwrap();
        let b: IpAddr = "10.0.0.2".parse().unwrap();
        let p1 = l.try_acquire(a).unwrap();
        let _p2 = l.try_acquire(a).unwrap();
        assert_eq!(l.try_acquire(a).unwrap_err(), LimitExceeded::PerIp);
        let _p3 = l.try_acquire(b).unwrap();
        assert_eq!(l.try_acquire(b).unwrap_err(), LimitExceeded::Total);
        drop(p1);
        assert!(l.try_acquire(a).is_ok());
    }

    #[test]
    fn user_caps_count_each_user_apart() {
        let u = UserSessions::new(2);
        let a1 = u.try_acquire("alice").unwrap();
        let _a2 = u.try_acquire("alice").unwrap();
        assert!(u.try_acquire("alice").is_none());
        assert!(u.try_acquire("bob").is_some());
        drop(a1);
        assert!(u.try_acquire("alice").is_some());
        assert!(
            UserSessions::new(0).try_acquire("x").is_some(),
            "0 = no cap"
        );
    }
}
