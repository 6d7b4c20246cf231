//! Zero-copy file → socket transfer with `sendfile(2)`.

use std::fs::File;
use std::io;
use std::os::fd::AsFd;

/// Sends `file` from `offset` up to `len` over a blocking socket, calling `progress` with the
/// running total after each call. Returns the bytes sent (less than asked only if the file
/// shrank meanwhile).
pub fn send_file_blocking(
    sock: &impl AsFd,
    file: &File,
    offset: u64,
    len: u64,
    mut progress: impl FnMut(u64),
) -> io::Result<u64> {
    // Large requests keep syscalls few: the kernel returns as soon as the socket takes less.
    const CHUNK: usize = 64 << 20;
    let mut pos = offset;
    while pos < len {
        let want = usize::try_from(len - pos).unwrap_or(CHUNK).min(CHUNK);
        match rustix::fs::sendfile(sock, file, Some(&mut pos), want) {
            Ok(0) => break,
            Ok(_) => progress(pos - offset),
            Err(rustix::io::Errno::INTR) => continue,
            Err(e) => return Err(e.into()),
        }
    }
    Ok(pos - offset)
}
