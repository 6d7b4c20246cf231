//! MLST (RFC 3659 §7): the facts of one entry, over the control connection; the entry line
//! starts with a space and carries the full path name.

use ferry_proto::Reply;

use super::Next;
use crate::errors::NO_ACCESS;
use crate::session::{blocking, Session};

pub(crate) async fn handle(s: &mut Session, arg: Option<&str>) -> Next {
    let (home, path) = match s.target(arg.unwrap_or(".")) {
        Ok(t) => t,
        Err(r) => return r.into(),
    };
    let p = path.clone();
    match blocking(move || home.entry(&p)).await {
        Ok(mut entry) => {
            entry.name = path.display();
            let mut line = String::from(" ");
            entry.write_mlsx_line(&mut line);
            Reply::multi(
                250,
                vec![format!("Listing {}", path.display()), line, "End".into()],
            )
            .into()
        }
        Err(_) => Reply::new(550, NO_ACCESS).into(),
    }
}
