//! The one place where file-system errors become FTP replies.
//!
//! Not found, outside the home and permission denied all read the same (PROTOCOL.md): a user
//! must not learn what exists outside the jail from the wording of a refusal.

use std::io;

use ferry_proto::Reply;
use ferry_vfs::Refusal;

use crate::transfer::Failure;

pub(crate) const NO_ACCESS: &str = "No such file or directory, or permission denied.";

pub(crate) fn fs_error_reply(e: &io::Error) -> Reply {
    match Refusal::of(e) {
        Some(Refusal::RestartBeyondEnd) => {
            return Reply::new(554, "Restart offset is beyond the end of the file.")
        }
        Some(Refusal::NotARegularFile) => return Reply::new(550, "Not a regular file."),
        Some(Refusal::NotADirectory) => return Reply::new(550, "Not a directory."),
        Some(Refusal::IsADirectory) => return Reply::new(550, "Is a directory."),
        Some(Refusal::IntoItself) => {
            return Reply::new(550, "Cannot move a directory into itself.")
        }
        Some(Refusal::HomeItself) => {
            return Reply::new(550, "Not permitted on the home directory itself.")
        }
        None => {}
    }
    if crate::upload::is_fs_quota(e) {
        return Reply::new(552, "Exceeded storage allocation (file system quota).");
    }
    use io::ErrorKind::*;
    match e.kind() {
        AlreadyExists => Reply::new(550, "File or directory already exists."),
        DirectoryNotEmpty => Reply::new(550, "Directory not empty."),
        StorageFull => disk_full(),
        IsADirectory => Reply::new(550, "Is a directory."),
        _ => Reply::new(550, NO_ACCESS),
    }
}

/// A path argument the resolver rejects (a NUL byte, or longer than PATH_MAX).
pub(crate) fn bad_path_reply() -> Reply {
    Reply::new(553, "File name not allowed.")
}

/// The store (the quota ledger) refused a write: `452` when its disk is full, else `451`.
/// Nothing was changed either way (each ledger step is one transaction).
pub(crate) fn store_error_reply(e: &ferry_store::StoreError) -> Reply {
    if e.is_disk_full() {
        tracing::error!(error = %e, "the store's disk is full");
        disk_full()
    } else {
        tracing::error!(error = %e, "quota ledger unavailable");
        Reply::new(451, "Local error in processing: quota ledger unavailable.")
    }
}

fn disk_full() -> Reply {
    Reply::new(452, "Insufficient storage space on the server's disk.")
}

fn over_quota() -> Reply {
    Reply::new(
        552,
        "Requested file action aborted. Exceeded storage allocation.",
    )
}

/// A transfer's failure as its final reply, and the word its log line carries.
pub(crate) fn transfer_failure_reply(failure: &Failure) -> (Reply, &'static str) {
    match failure {
        Failure::Aborted => (Reply::new(426, "Transfer aborted."), "aborted"),
        Failure::Data(e) => (
            Reply::new(
                426,
                format!("Data connection closed; transfer aborted ({}).", e.kind()),
            ),
            "data-error",
        ),
        Failure::Quota => (over_quota(), "over-quota"),
        Failure::Tls(why) => (
            Reply::new(522, format!("TLS on the data connection failed: {why}.")),
            "tls-error",
        ),
        Failure::Local(e) => {
            tracing::warn!(error = %e, "transfer failed on the server side");
            if crate::upload::is_fs_quota(e) {
                (over_quota(), "over-quota")
            } else if e.kind() == io::ErrorKind::StorageFull {
                (disk_full(), "disk-full")
            } else {
                (
                    Reply::new(451, "Local error in processing; transfer aborted."),
                    "local-error",
                )
            }
        }
    }
}
