//! LIST (RFC 959 §4.1.3): `ls -l` lines, as vsftpd prints them, over the data connection.
//! `ls` options (`-la`) are ignored; a wildcard in the last component filters the directory
//! (what `mget` relies on). [`resolve_listing`] is shared with NLST and STAT.

use std::io;

use ferry_vfs::VirtualPath;

use super::Next;
use crate::errors::NO_ACCESS;
use crate::listing::{ListFormat, ListJob, ListTarget};
use crate::session::{blocking, Session};
use ferry_proto::glob::is_pattern;
use ferry_proto::Reply;

pub(crate) async fn handle(s: &mut Session, arg: Option<&str>) -> io::Result<Next> {
    start(s, arg, ListFormat::Long, "LIST").await
}

/// The common body of LIST and NLST.
pub(crate) async fn start(
    s: &mut Session,
    arg: Option<&str>,
    format: ListFormat,
    verb: &'static str,
) -> io::Result<Next> {
    if let Some(r) = s.missing_data_plan() {
        return Ok(r.into());
    }
    match resolve_listing(s, arg, format).await {
        Ok((job, path)) => {
            s.start_transfer(
                crate::transfer::TransferKind::List(job),
                verb,
                &path,
                "Here comes the directory listing.".into(),
                "Directory send OK.".into(),
            )
            .await
        }
        Err(r) => Ok(r.into()),
    }
}

/// What a listing argument names: a directory, one file, or a wildcard within a directory.
pub(crate) async fn resolve_listing(
    s: &Session,
    arg: Option<&str>,
    format: ListFormat,
) -> Result<(ListJob, VirtualPath), Reply> {
    let (home, path) = s.target(arg.unwrap_or("."))?;
    let h = home.clone();
    let p = path.clone();
    let target = blocking(move || {
        if let Ok(m) = h.metadata(&p) {
            return Ok(if m.is_dir() {
                ListTarget::Dir {
                    dir: p,
                    pattern: None,
                }
            } else {
                ListTarget::Single(h.entry(&p)?)
            });
        }
        match p.file_name() {
            Some(name) if is_pattern(name) && h.is_dir(&p.parent()) => Ok(ListTarget::Dir {
                dir: p.parent(),
                pattern: Some(name.to_owned()),
            }),
            _ => Err(io::Error::from(io::ErrorKind::NotFound)),
        }
    })
    .await
    .map_err(|_| Reply::new(550, NO_ACCESS))?;
    Ok((
        ListJob {
            home,
            target,
            format,
        },
        path,
    ))
}
