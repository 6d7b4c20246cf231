//! Zero-copy file → socket transfer: `sendfile(2)` driven by tokio readiness, so a download
//! never copies through user space and never blocks a runtime thread on a full socket.

use std::fs::File;
use std::io;

use tokio::io::Interest;
use tokio::net::TcpStream;

/// Sends `file` from `offset` to its end (as of `len`) over `stream`, calling `progress` with
/// the running total after each chunk. Returns the bytes sent.
pub async fn send_file(
    stream: &TcpStream,
    file: &File,
    offset: u64,
    len: u64,
    mut progress: impl FnMut(u64),
) -> io::Result<u64> {
    // Large chunks keep syscalls few; the kernel caps each call at what the socket buffer takes.
    const CHUNK: usize = 16 << 20;
    let mut pos = offset;
    while pos < len {
        let want = usize::try_from(len - pos).unwrap_or(CHUNK).min(CHUNK);
        let n = stream
            .async_io(Interest::WRITABLE, || {
                rustix::fs::sendfile(stream, file, Some(&mut pos), want).map_err(io::Error::from)
            })
            .await?;
        if n == 0 {
            // The file shrank under us: send what exists, as a read() loop would.
            break;
        }
        progress(pos - offset);
    }
    Ok(pos - offset)
}
