//! STOU (RFC 959 §4.1.3, reply form of RFC 1123 §4.1.2.9): stores under a name unique in the
//! working directory and tells the client that name (`150 FILE: name`).

use std::io;

use super::Next;
use crate::errors::fs_error_reply;
use crate::session::{blocking, Session};

pub(crate) async fn handle(s: &mut Session, _hint: Option<&str>) -> io::Result<Next> {
    let (home, dir) = match s.target(".") {
        Ok(t) => t,
        Err(r) => return Ok(r.into()),
    };
    if let Some(r) = s.missing_data_plan() {
        return Ok(r.into());
    }
    match blocking(move || home.create_unique(&dir, "ftp.")).await {
        Ok((path, opened)) => {
            let name = path.file_name().unwrap_or_default().to_owned();
            let success = format!("Transfer complete (unique file name: {name}).");
            let opened = super::stor::OpenedForUpload::in_place(opened, path.clone(), false);
            super::stor::begin_upload(
                s,
                opened,
                None,
                "STOU",
                &path,
                format!("FILE: {name}"),
                success,
            )
            .await
        }
        Err(e) => Ok(fs_error_reply(&e).into()),
    }
}
