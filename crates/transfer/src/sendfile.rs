//! Zero-copy file → socket transfer with `sendfile(2)`: the one loop, for blocking sockets
//! (a download's copy thread) and non-blocking ones (a small file sent straight from the
//! transfer task).

use std::fs::File;
use std::io;
use std::os::fd::AsFd;

/// Sends `file` from `*offset` up to `end` over `sock`, advancing `*offset` and calling
/// `progress` with the bytes sent so far after each call. Stops early, without error, if the
/// file shrank meanwhile.
///
/// A non-blocking socket that is full gives `WouldBlock` with `*offset` where the socket
/// stopped taking bytes; on a blocking socket the same error means its send timeout passed.
pub fn send_file(
    sock: &impl AsFd,
    file: &File,
    offset: &mut u64,
    end: u64,
    mut progress: impl FnMut(u64),
) -> io::Result<()> {
    // Large requests keep syscalls few: the kernel returns as soon as the socket takes less.
    const CHUNK: usize = 64 << 20;
    let start = *offset;
    while *offset < end {
        let want = usize::try_from(end - *offset).unwrap_or(CHUNK).min(CHUNK);
        match rustix::fs::sendfile(sock, file, Some(offset), want) {
            Ok(0) => break,
            Ok(_) => progress(*offset - start),
            Err(rustix::io::Errno::INTR) => continue,
            Err(e) => return Err(e.into()),
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::io::{Read, Write};
    use std::net::{TcpListener, TcpStream};

    fn pair() -> (TcpStream, TcpStream) {
        let l = TcpListener::bind("127.0.0.1:0").expect("bind");
        let a = TcpStream::connect(l.local_addr().expect("addr")).expect("connect");
        let (b, _) = l.accept().expect("accept");
        (a, b)
    }

    fn file_of(data: &[u8]) -> File {
        let mut f = tempfile::tempfile().expect("temp file");
        f.write_all(data).expect("write");
        f
    }

    #[test]
    fn sends_a_range_and_reports_progress() {
        let data: Vec<u8> = (0..3_000_000u32).map(|i| (i % 253) as u8).collect();
        let file = file_of(&data);
        let (tx, mut rx) = pair();
        let reader = std::thread::spawn(move || {
            let mut got = Vec::new();
            rx.read_to_end(&mut got).expect("read");
            got
        });
        let mut offset = 1000;
        let mut last = 0;
        send_file(&tx, &file, &mut offset, data.len() as u64, |n| last = n).expect("send");
        drop(tx);
        assert_eq!(offset, data.len() as u64);
        assert_eq!(last, data.len() as u64 - 1000);
        assert_eq!(reader.join().expect("reader"), &data[1000..]);
    }

    #[test]
    fn a_full_non_blocking_socket_stops_with_would_block_and_the_offset_kept() {
        let data = vec![7u8; 32 << 20];
        let file = file_of(&data);
        let (tx, mut rx) = pair();
        tx.set_nonblocking(true).expect("nonblocking");
        let mut offset = 0;
        let err = send_file(&tx, &file, &mut offset, data.len() as u64, |_| {})
            .expect_err("nobody reads: the socket fills");
        assert_eq!(err.kind(), io::ErrorKind::WouldBlock);
        assert!(offset > 0 && offset < data.len() as u64, "{offset}");
        // The rest follows from where it stopped.
        tx.set_nonblocking(false).expect("blocking");
        let sent_first = offset as usize;
        let reader = std::thread::spawn(move || {
            let mut got = Vec::new();
            rx.read_to_end(&mut got).expect("read");
            got.len()
        });
        send_file(&tx, &file, &mut offset, data.len() as u64, |_| {}).expect("rest");
        drop(tx);
        assert_eq!(reader.join().expect("reader"), data.len());
        assert!(sent_first < data.len());
    }

    #[test]
    fn a_file_that_shrank_ends_the_send_early() {
        let file = file_of(b"short");
        let (tx, mut rx) = pair();
        let mut offset = 0;
        send_file(&tx, &file, &mut offset, 100, |_| {}).expect("send");
        drop(tx);
        let mut got = Vec::new();
        rx.read_to_end(&mut got).expect("read");
        assert_eq!((offset, &got[..]), (5, &b"short"[..]));
    }
}
