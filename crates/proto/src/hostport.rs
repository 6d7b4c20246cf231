//! Host-port encodings for data connections: `PORT`/`227` (RFC 959 §4.1.2) and
//! `EPRT`/`229` (RFC 2428).

use std::net::{IpAddr, Ipv4Addr, SocketAddr, SocketAddrV4};

/// `h1,h2,h3,h4,p1,p2` → address. Also used by clients to read a `227` reply.
pub fn parse_port(arg: &str) -> Option<SocketAddrV4> {
    let mut nums = [0u8; 6];
    let mut parts = arg.trim().split(',');
    for n in nums.iter_mut() {
        *n = parts.next()?.trim().parse().ok()?;
    }
    if parts.next().is_some() {
        return None;
    }
    let ip = Ipv4Addr::new(nums[0], nums[1], nums[2], nums[3]);
    Some(SocketAddrV4::new(
        ip,
        u16::from(nums[4]) << 8 | u16::from(nums[5]),
    ))
}

pub fn format_port(addr: SocketAddrV4) -> String {
    let [a, b, c, d] = addr.ip().octets();
    let p = addr.port();
    format!("{a},{b},{c},{d},{},{}", p >> 8, p & 0xff)
}

/// The text of a `227` reply for this passive address.
pub fn pasv_reply_text(addr: SocketAddrV4) -> String {
    format!("Entering Passive Mode ({}).", format_port(addr))
}

/// Finds the `h1,h2,h3,h4,p1,p2` group in a `227` reply text, wherever the server put it.
pub fn parse_pasv_reply(text: &str) -> Option<SocketAddrV4> {
    let start = text.find(|c: char| c.is_ascii_digit())?;
    let rest = &text[start..];
    let end = rest
        .find(|c: char| !(c.is_ascii_digit() || c == ','))
        .unwrap_or(rest.len());
    parse_port(&rest[..end])
}

/// `|1|132.235.1.2|6275|` or `|2|::1|5282|`; the delimiter is the first character (RFC 2428 §2).
pub fn parse_eprt(arg: &str) -> Option<SocketAddr> {
    let arg = arg.trim();
    let delim = arg.chars().next()?;
    if !(33..=126).contains(&(delim as u32)) || delim.is_ascii_digit() {
        return None;
    }
    let fields: Vec<&str> = arg.split(delim).collect();
    if fields.len() != 5 || !fields[0].is_empty() || !fields[4].is_empty() {
        return None;
    }
    let ip: IpAddr = match fields[1] {
        "1" => IpAddr::V4(fields[2].parse().ok()?),
        "2" => IpAddr::V6(fields[2].parse().ok()?),
        _ => return None,
    };
    let port: u16 = fields[3].parse().ok()?;
    Some(SocketAddr::new(ip, port))
}

pub fn format_eprt(addr: SocketAddr) -> String {
    let proto = if addr.is_ipv4() { 1 } else { 2 };
    format!("|{proto}|{}|{}|", addr.ip(), addr.port())
}

/// The text of a `229` reply for this port.
pub fn epsv_reply_text(port: u16) -> String {
    format!("Entering Extended Passive Mode (|||{port}|)")
}

/// The port in a `229` reply text: `... (|||6446|)`.
pub fn parse_epsv_reply(text: &str) -> Option<u16> {
    let open = text.find('(')?;
    let close = text[open..].find(')')? + open;
    let inner = &text[open + 1..close];
    let delim = inner.chars().next()?;
    let fields: Vec<&str> = inner.split(delim).collect();
    if fields.len() != 5 {
        return None;
    }
    fields[3].parse().ok()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn port_round_trips() {
        let a = parse_port("127,0,0,1,195,80").unwrap();
        assert_eq!(a, "127.0.0.1:50000".parse().unwrap());
        assert_eq!(format_port(a), "127,0,0,1,195,80");
        assert!(parse_port("127,0,0,1,256,0").is_none());
        assert!(parse_port("127,0,0,1,1").is_none());
        assert!(parse_port("127,0,0,1,1,2,3").is_none());
        assert_eq!(
            parse_pasv_reply("Entering Passive Mode (127,0,0,1,195,80).").unwrap(),
            a
        );
        assert_eq!(parse_pasv_reply("=127,0,0,1,195,80").unwrap(), a);
    }

    #[test]
    fn eprt_round_trips() {
        let a = parse_eprt("|2|::1|5282|").unwrap();
        assert_eq!(a, "[::1]:5282".parse().unwrap());
        assert_eq!(format_eprt(a), "|2|::1|5282|");
        assert_eq!(
            parse_eprt("!1!10.0.0.1!21!").unwrap(),
            "10.0.0.1:21".parse().unwrap()
        );
        assert!(parse_eprt("|1|::1|5282|").is_none());
        assert!(parse_eprt("|3|x|1|").is_none());
        assert!(parse_eprt("|1|1.2.3.4|99999|").is_none());
        assert_eq!(parse_epsv_reply(&epsv_reply_text(6446)), Some(6446));
    }
}
