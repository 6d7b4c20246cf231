//! PASS (RFC 959 §4.1.1): verifies the password against the stored argon2id hash (on the
//! bounded blocking pool, see ferry-store) and opens the user's home as their jail.
//!
//! A failed login is answered `530` only once a fixed delay has passed since PASS arrived, the
//! same for an unknown user, a wrong password or a disabled account; after
//! `max_login_failures` the connection is closed.

use std::path::PathBuf;
use std::time::Instant;

use ferry_proto::Reply;
use ferry_vfs::{Home, VirtualPath};

use super::Next;
use crate::defender::{LoginGate, BANNED_TEXT};
use crate::session::{blocking, Account, AuthState, Session};

pub(crate) async fn handle(s: &mut Session, password: &str) -> Next {
    let name = match &s.auth {
        AuthState::UserGiven(n) => n.clone(),
        AuthState::Registering(_) => return super::site_register::finish(s, password).await,
        AuthState::LoggedIn(_) => return Reply::new(230, "Already logged in.").into(),
        AuthState::Fresh => return Reply::new(503, "Login with USER first.").into(),
    };
    let started = Instant::now();
    let attempt = match s.ctx.defender.begin_login(s.peer.ip(), &name).await {
        LoginGate::Verify(a) => a,
        LoginGate::Banned => return Next::Close(Reply::new(421, BANNED_TEXT)),
        LoginGate::AccountLocked => {
            // Not verified: guesses at a locked account cost no password hash. The delay
            // and the code are those of any failure; the text tells a user behind the same
            // address why their right password is refused.
            s.login_failures += 1;
            s.auth = AuthState::Fresh;
            tracing::info!(
                user = name,
                "login refused: account locked for this address"
            );
            tokio::time::sleep_until((started + s.ctx.config.auth_failure_delay()).into()).await;
            return Reply::new(
                530,
                "Too many failed logins at this account from your address; try again later.",
            )
            .into();
        }
    };
    let user = match s.ctx.store.authenticate(&name, password).await {
        Ok(u) => u,
        Err(e) => {
            tracing::error!(error = %e, "user store unavailable");
            s.auth = AuthState::Fresh;
            return Reply::new(421, "Service not available, user database error.").into();
        }
    };
    let Some(user) = user else {
        s.login_failures += 1;
        s.auth = AuthState::Fresh;
        tracing::info!(user = name, failures = s.login_failures, "login failed");
        let banned = attempt.failed();
        tokio::time::sleep_until((started + s.ctx.config.auth_failure_delay()).into()).await;
        if banned {
            tracing::warn!(peer = %s.peer, "too many failures: address banned");
            return Next::Close(Reply::new(
                421,
                "Too many failed attempts from your address; banned for a while.",
            ));
        }
        if s.login_failures >= s.ctx.config.max_login_failures {
            return Next::Close(Reply::new(
                530,
                "Login incorrect. Too many failures, closing connection.",
            ));
        }
        return Reply::new(530, "Login incorrect.").into();
    };
    attempt.succeeded();
    complete_login(s, user, 230, "Login successful.").await
}

/// Opens the user's home as their jail and marks the session logged in.
pub(crate) async fn complete_login(
    s: &mut Session,
    user: ferry_store::User,
    code: u16,
    greeting: &str,
) -> Next {
    let name = user.name.clone();
    let Some(permit) = s.ctx.user_sessions.try_acquire(&name) else {
        tracing::info!(user = name, "login refused: too many sessions");
        s.auth = AuthState::Fresh;
        return Reply::new(
            530,
            format!(
                "Too many sessions for this user (at most {}); close one and try again.",
                s.ctx.config.max_connections_per_user
            ),
        )
        .into();
    };
    let home_path: PathBuf = s.ctx.config.home_of(&user);
    let (file_mode, dir_mode) = (s.ctx.config.file_mode, s.ctx.config.dir_mode);
    let home =
        match blocking(move || Ok(Home::open(&home_path)?.with_modes(file_mode, dir_mode))).await {
            Ok(h) => h,
            Err(e) => {
                tracing::error!(user = name, error = %e, "cannot open home directory");
                s.auth = AuthState::Fresh;
                return Reply::new(530, "Login refused: home directory unavailable.").into();
            }
        };
    tracing::Span::current().record("user", name.as_str());
    tracing::info!("login ok");
    s.auth = AuthState::LoggedIn(Box::new(Account {
        user,
        home,
        _permit: permit,
    }));
    s.cwd = VirtualPath::root();
    // Logged in: no longer counted among the address's connections waiting to log in.
    s.prelogin = None;
    Reply::new(code, greeting).into()
}
