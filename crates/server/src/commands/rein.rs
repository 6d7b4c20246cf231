//! REIN (RFC 959 §4.1.1): logs the user out and resets the session as if newly connected.

use ferry_proto::hash::HashAlgo;
use ferry_proto::{Reply, TransferType};
use ferry_vfs::VirtualPath;

use super::Next;
use crate::data::DataPlan;
use crate::session::{AuthState, Session};

pub(crate) fn handle(s: &mut Session) -> Next {
    s.auth = AuthState::Fresh;
    s.cwd = VirtualPath::root();
    s.rest = None;
    s.range = None;
    s.hash_algo = HashAlgo::Sha256;
    s.rename_from = None;
    s.transfer_type = TransferType::Image;
    s.data = DataPlan::None;
    s.epsv_all = false;
    Reply::new(220, "Service ready for new user.").into()
}
