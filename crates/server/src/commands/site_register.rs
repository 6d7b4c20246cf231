//! SITE REGISTER (Ferry's own; off by default): creates an account over FTP.
//!
//! `SITE REGISTER <user> <token>` (`invite` mode) or `SITE REGISTER <user>` (`open` mode) is
//! answered `331`; the new password follows with `PASS`, and success logs the new user in
//! (`230`). Over a plaintext control connection it is refused when TLS is available (the
//! password would cross in clear) unless `registration_allow_plaintext`. Failures count toward
//! the per-address ban shared with failed logins; every attempt leaves an audit log line.

use ferry_proto::Reply;
use ferry_store::{validate_username, NewUser, StoreError};

use super::Next;
use crate::config::RegistrationMode;
use crate::session::{AuthState, Session};

/// A registration accepted so far, waiting for its password.
#[derive(Debug, Clone)]
pub(crate) struct Registration {
    name: String,
    token: Option<String>,
}

/// Names nobody may register: system accounts and names that suggest authority.
const RESERVED: &[&str] = &[
    "root",
    "admin",
    "administrator",
    "ftp",
    "anonymous",
    "ferry",
    "ferryd",
    "daemon",
    "bin",
    "sys",
    "nobody",
    "postmaster",
    "webmaster",
    "hostmaster",
    "support",
    "security",
    "operator",
    "www-data",
    "mail",
    "guest",
];

/// The shortest password a registration accepts.
const MIN_PASSWORD: usize = 8;

fn audit(s: &Session, name: &str, result: &str) {
    tracing::info!(target: "ferry::audit", event = "register", user = name, peer = %s.peer, result, "registration attempt");
}

/// Refuses, counts the failure toward the address's ban, and logs it.
fn refuse(s: &mut Session, name: &str, result: &str, reply: Reply) -> Next {
    audit(s, name, result);
    s.auth = AuthState::Fresh;
    if s.ctx
        .defender
        .record(s.peer.ip(), crate::defender::Offence::RegistrationFailed)
    {
        return Next::Close(Reply::new(
            421,
            "Too many failed attempts from your address; try again later.",
        ));
    }
    reply.into()
}

pub(crate) async fn start(s: &mut Session, arg: &str) -> Next {
    let mode = s.ctx.config.registration;
    let mut words = arg.split_whitespace();
    let name = words.next().unwrap_or("").to_owned();
    let token = words.next().map(str::to_owned);
    if mode == RegistrationMode::Off {
        audit(s, &name, "disabled");
        return Reply::new(530, "Registration is disabled on this server.").into();
    }
    if s.is_logged_in() {
        return Reply::new(503, "Already logged in.").into();
    }
    if s.tls_config.is_some() && !s.ctrl.is_tls() && !s.ctx.config.registration_allow_plaintext {
        audit(s, &name, "plaintext-refused");
        return Reply::new(530, "Registration requires TLS here: send AUTH TLS first (your password would travel in clear).").into();
    }
    if name.is_empty() {
        return Reply::new(501, "Usage: SITE REGISTER <user> [invitation token]").into();
    }
    if validate_username(&name).is_err() || RESERVED.contains(&name.as_str()) {
        audit(s, &name, "bad-name");
        return Reply::new(550, "Name not allowed: use 1-32 of a-z 0-9 . _ -, not starting with . or -, and not a reserved name.").into();
    }
    if mode == RegistrationMode::Invite {
        let valid = match &token {
            Some(t) => matches!(s.ctx.store.find_invite(t).await, Ok(Some(_))),
            None => false,
        };
        if !valid {
            return refuse(
                s,
                &name,
                "bad-token",
                Reply::new(
                    530,
                    "Registration refused: invalid, expired or used-up invitation.",
                ),
            );
        }
    }
    // Checked after the token, so without a valid invitation nothing is learnt about names.
    if matches!(s.ctx.store.user(&name).await, Ok(Some(_))) {
        return refuse(
            s,
            &name,
            "name-taken",
            Reply::new(550, "Name not available."),
        );
    }
    s.auth = AuthState::Registering(Registration {
        name,
        token: if mode == RegistrationMode::Invite {
            token
        } else {
            None
        },
    });
    Reply::new(
        331,
        format!("Send the new account's password with PASS (at least {MIN_PASSWORD} characters)."),
    )
    .into()
}

pub(crate) async fn finish(s: &mut Session, password: &str) -> Next {
    let AuthState::Registering(reg) = std::mem::replace(&mut s.auth, AuthState::Fresh) else {
        return Reply::new(503, "Login with USER first.").into();
    };
    if password.chars().count() < MIN_PASSWORD {
        audit(s, &reg.name, "weak-password");
        return Reply::new(
            530,
            format!("Registration refused: the password needs at least {MIN_PASSWORD} characters."),
        )
        .into();
    }
    let invite = match &reg.token {
        Some(token) => match s.ctx.store.redeem_invite(token).await {
            Ok(Some(i)) => Some(i),
            _ => {
                return refuse(
                    s,
                    &reg.name,
                    "bad-token",
                    Reply::new(
                        530,
                        "Registration refused: invalid, expired or used-up invitation.",
                    ),
                )
            }
        },
        None => None,
    };
    let quota_bytes = invite
        .as_ref()
        .and_then(|i| i.quota_bytes)
        .or(s.ctx.config.default_quota);
    let created = s
        .ctx
        .store
        .add_user(NewUser {
            name: &reg.name,
            password,
            home: None,
            quota_bytes,
            quota_files: None,
        })
        .await;
    let user = match created {
        Ok(u) => u,
        Err(e) => {
            if let Some(i) = &invite {
                let _ = s.ctx.store.return_invite_use(i.id).await;
            }
            return match e {
                StoreError::UserExists(_) => refuse(
                    s,
                    &reg.name,
                    "name-taken",
                    Reply::new(550, "Name not available."),
                ),
                other => {
                    tracing::error!(error = %other, "registration failed");
                    audit(s, &reg.name, "error");
                    Reply::new(451, "Registration failed on the server; try again later.").into()
                }
            };
        }
    };
    audit(s, &reg.name, "created");
    super::pass::complete_login(s, user, 230, "Registered and logged in.").await
}
