//! USER (RFC 959 §4.1.1): names the account; every name gets `331`, so USER never reveals
//! which accounts exist. When TLS is required (globally, or by the account's own setting),
//! USER before AUTH TLS is refused, before the password could cross in clear. A client whose
//! verified certificate (`tls_client_ca`) names the account is logged in at once (`232`).

use ferry_proto::Reply;

use super::Next;
use crate::config::TlsMode;
use crate::session::{AuthState, Session};

pub(crate) async fn handle(s: &mut Session, name: &str) -> Next {
    if s.is_logged_in() {
        return Reply::new(
            530,
            "Already logged in; send REIN to log in as another user.",
        )
        .into();
    }
    let global = s.ctx.config.tls_mode() == TlsMode::Required;
    // Only accounts with an override differ from the global policy (documented: this tells
    // such an account apart from others, a price paid to keep its password off the wire).
    let required = match s.ctx.store.user(name).await {
        Ok(Some(u)) => u.require_tls.unwrap_or(global),
        _ => global,
    };
    if s.tls_config.is_some() {
        s.tls_required = required;
    }
    if s.tls_required && !s.ctrl.is_tls() {
        return Reply::new(530, "TLS required: send AUTH TLS before logging in.").into();
    }
    if s.ctrl.client_certificate_name().as_deref() == Some(name) {
        // Its certificate, verified against tls_client_ca in the handshake, names this user.
        if let Ok(Some(user)) = s.ctx.store.user(name).await {
            if user.enabled {
                tracing::info!(user = name, "login by client certificate");
                return super::pass::complete_login(
                    s,
                    user,
                    232,
                    "User logged in, authorized by security data exchange.",
                )
                .await;
            }
        }
    }
    s.auth = AuthState::UserGiven(name.to_owned());
    Reply::new(331, "Password required.").into()
}
