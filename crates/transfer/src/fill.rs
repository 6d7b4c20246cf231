//! The read step of every copy loop: read until the buffer is full (fewer, larger writes:
//! under TLS each read yields one record of at most 16 KiB) or just once (the bytes go on at
//! once, to a hashing thread that takes any size).

use std::io::{self, Read};

/// How much to read before the bytes are written.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Fill {
    /// Until the buffer is full or the source ends.
    Whole,
    /// One successful read.
    Once,
}

/// What one step read: `len` bytes (0 only at the end of the source, or when `error` is
/// set), and the error that stopped it. Bytes read before an error are in the buffer and
/// must still be written: a resumed transfer starts after them.
#[derive(Debug)]
pub struct Filled {
    pub len: usize,
    pub error: Option<io::Error>,
}

/// Reads from `src` into `buf` as `fill` says, calling `on_read` with the size of each read.
pub fn fill<R: Read + ?Sized>(
    src: &mut R,
    buf: &mut [u8],
    fill: Fill,
    mut on_read: impl FnMut(usize),
) -> Filled {
    let mut len = 0;
    while len < buf.len() && !(fill == Fill::Once && len > 0) {
        match src.read(&mut buf[len..]) {
            Ok(0) => break,
            Ok(n) => {
                len += n;
                on_read(n);
            }
            Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
            Err(e) => {
                return Filled {
                    len,
                    error: Some(e),
                }
            }
        }
    }
    Filled { len, error: None }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Yields its bytes in pieces of at most `piece`, then fails if `fail` is set.
    struct Trickle<'a> {
        data: &'a [u8],
        piece: usize,
        fail: bool,
    }

    impl Read for Trickle<'_> {
        fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
            if self.data.is_empty() && self.fail {
                return Err(io::ErrorKind::ConnectionReset.into());
            }
            let n = buf.len().min(self.piece).min(self.data.len());
            buf[..n].copy_from_slice(&self.data[..n]);
            self.data = &self.data[n..];
            Ok(n)
        }
    }

    #[test]
    fn whole_fills_the_buffer_across_small_reads() {
        let data = [9u8; 100];
        let mut src = Trickle {
            data: &data,
            piece: 7,
            fail: false,
        };
        let mut buf = [0u8; 64];
        let mut reads = 0;
        let f = fill(&mut src, &mut buf, Fill::Whole, |_| reads += 1);
        assert_eq!((f.len, f.error.is_none(), reads), (64, true, 10));
        let f = fill(&mut src, &mut buf, Fill::Whole, |_| {});
        assert_eq!(f.len, 36);
        assert_eq!(fill(&mut src, &mut buf, Fill::Whole, |_| {}).len, 0);
    }

    #[test]
    fn once_takes_a_single_read() {
        let data = [1u8; 100];
        let mut src = Trickle {
            data: &data,
            piece: 7,
            fail: false,
        };
        let mut buf = [0u8; 64];
        assert_eq!(fill(&mut src, &mut buf, Fill::Once, |_| {}).len, 7);
    }

    #[test]
    fn an_error_keeps_what_was_read_before_it() {
        let data = [3u8; 10];
        let mut src = Trickle {
            data: &data,
            piece: 4,
            fail: true,
        };
        let mut buf = [0u8; 64];
        let f = fill(&mut src, &mut buf, Fill::Whole, |_| {});
        assert_eq!(f.len, 10);
        assert_eq!(
            f.error.map(|e| e.kind()),
            Some(io::ErrorKind::ConnectionReset)
        );
    }
}
