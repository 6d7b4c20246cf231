//! TYPE A (RFC 959 §3.1.1.1): the wire carries CRLF line ends, the disk LF.

/// Appends `raw` to `wire` with every LF preceded by CR.
pub fn lf_to_crlf(raw: &[u8], wire: &mut Vec<u8>) {
    for &b in raw {
        if b == b'\n' {
            wire.push(b'\r');
        }
        wire.push(b);
    }
}

/// Converts CRLF to LF in place. Returns the new length, and true when the buffer ended in a
/// CR that may begin a CRLF split across reads (it is dropped and must be re-inserted before
/// the next chunk).
pub fn crlf_to_lf(buf: &mut [u8], eof: bool) -> (usize, bool) {
    let mut w = 0;
    let mut r = 0;
    let n = buf.len();
    while r < n {
        let b = buf[r];
        if b == b'\r' {
            if r + 1 == n {
                if !eof {
                    return (w, true);
                }
            } else if buf[r + 1] == b'\n' {
                r += 1;
                continue;
            }
        }
        buf[w] = b;
        w += 1;
        r += 1;
    }
    (w, false)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn crlf_conversion_handles_splits() {
        let mut a = *b"a\r\nb\r";
        assert_eq!(crlf_to_lf(&mut a, false), (3, true));
        assert_eq!(&a[..3], b"a\nb");
        let mut b = *b"\r\nc\rd";
        assert_eq!(crlf_to_lf(&mut b, true), (4, false));
        assert_eq!(&b[..4], b"\nc\rd");
        let mut c = *b"x\r";
        assert_eq!(crlf_to_lf(&mut c, true), (2, false));
        assert_eq!(&c, b"x\r");
    }

    #[test]
    fn lf_becomes_crlf() {
        let mut wire = Vec::new();
        lf_to_crlf(b"a\nb\n\n", &mut wire);
        assert_eq!(wire, b"a\r\nb\r\n\r\n");
    }
}
