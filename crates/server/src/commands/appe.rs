//! APPE (RFC 959 §4.1.3): appends the data to the file, creating it if absent.

use std::io;

use ferry_vfs::WriteMode;

use super::Next;
use crate::errors::fs_error_reply;
use crate::session::{blocking, Session};

pub(crate) async fn handle(s: &mut Session, arg: &str) -> io::Result<Next> {
    let (home, path) = match s.target(arg) {
        Ok(t) => t,
        Err(r) => return Ok(r.into()),
    };
    if let Some(r) = s.missing_data_plan() {
        return Ok(r.into());
    }
    let p = path.clone();
    match blocking(move || home.open_write(&p, WriteMode::Append)).await {
        Ok(opened) => {
            super::stor::begin_upload(
                s,
                super::stor::OpenedForUpload::in_place(opened, path.clone(), false),
                None,
                "APPE",
                &path,
                "Ok to send data.".into(),
                "Transfer complete.".into(),
            )
            .await
        }
        Err(e) => Ok(fs_error_reply(&e).into()),
    }
}
