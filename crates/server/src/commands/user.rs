//! USER (RFC 959 §4.1.1): names the account; every name gets `331`, so USER never reveals
//! which accounts exist.

use ferry_proto::Reply;

use super::Next;
use crate::session::{AuthState, Session};

pub(crate) fn handle(s: &mut Session, name: &str) -> Next {
    if s.is_logged_in() {
        return Reply::new(
            530,
            "Already logged in; send REIN to log in as another user.",
        )
        .into();
    }
    s.auth = AuthState::UserGiven(name.to_owned());
    Reply::new(331, "Password required.").into()
}
