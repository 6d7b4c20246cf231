//! Timestamps on the wire: `YYYYMMDDHHMMSS` (RFC 3659 MDTM/MLSD, MFMT) and the `ls -l` dates of
//! `LIST`. Civil-date arithmetic after Howard Hinnant's `days_from_civil`, kept here so the
//! wire crate has no clock or time-zone dependency: everything is UTC.

const MONTHS: [&str; 12] = [
    "Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec",
];

/// (year, month 1-12, day 1-31) for days since 1970-01-01.
fn civil_from_days(z: i64) -> (i64, u32, u32) {
    let z = z + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z.rem_euclid(146_097);
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let y = yoe + era * 400;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let d = (doy - (153 * mp + 2) / 5 + 1) as u32;
    let m = if mp < 10 { mp + 3 } else { mp - 9 } as u32;
    (if m <= 2 { y + 1 } else { y }, m, d)
}

fn days_from_civil(y: i64, m: u32, d: u32) -> i64 {
    let y = if m <= 2 { y - 1 } else { y };
    let era = y.div_euclid(400);
    let yoe = y.rem_euclid(400);
    let mp = i64::from(if m > 2 { m - 3 } else { m + 9 });
    let doy = (153 * mp + 2) / 5 + i64::from(d) - 1;
    let doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
    era * 146_097 + doe - 719_468
}

struct Civil {
    year: i64,
    month: u32,
    day: u32,
    hour: i64,
    minute: i64,
    second: i64,
}

fn civil(unix: i64) -> Civil {
    let days = unix.div_euclid(86_400);
    let secs = unix.rem_euclid(86_400);
    let (year, month, day) = civil_from_days(days);
    Civil {
        year,
        month,
        day,
        hour: secs / 3600,
        minute: secs / 60 % 60,
        second: secs % 60,
    }
}

/// `YYYYMMDDHHMMSS` in UTC.
pub fn format_mdtm(unix: i64) -> String {
    let mut out = String::with_capacity(14);
    write_mdtm(unix, &mut out);
    out
}

/// Appends `YYYYMMDDHHMMSS` (UTC) to `out`: a listing writes one per entry, without the
/// formatting machinery.
pub fn write_mdtm(unix: i64, out: &mut String) {
    let c = civil(unix);
    push_digits(out, c.year.clamp(0, 9999) as u64, 4);
    for n in [
        i64::from(c.month),
        i64::from(c.day),
        c.hour,
        c.minute,
        c.second,
    ] {
        push_digits(out, n as u64, 2);
    }
}

/// Appends `n` in decimal, zero-padded to `width` digits.
pub(crate) fn push_digits(out: &mut String, mut n: u64, width: usize) {
    let mut buf = [b'0'; 20];
    let mut at = buf.len();
    while n > 0 || at == buf.len() {
        at -= 1;
        buf[at] = b'0' + (n % 10) as u8;
        n /= 10;
    }
    let start = at.min(buf.len() - width.min(buf.len()));
    // Only ASCII digits were written.
    out.push_str(std::str::from_utf8(&buf[start..]).unwrap_or_default());
}

/// Parses `YYYYMMDDHHMMSS[.sss]` (UTC) into Unix seconds; fractions are ignored.
pub fn parse_mdtm(s: &str) -> Option<i64> {
    let s = s.split('.').next()?;
    if s.len() != 14 || !s.bytes().all(|b| b.is_ascii_digit()) {
        return None;
    }
    let num = |r: std::ops::Range<usize>| s[r].parse::<u32>().ok();
    let (y, mo, d, h, mi, se) = (
        num(0..4)?,
        num(4..6)?,
        num(6..8)?,
        num(8..10)?,
        num(10..12)?,
        num(12..14)?,
    );
    if !(1..=12).contains(&mo) || !(1..=31).contains(&d) || h > 23 || mi > 59 || se > 60 {
        return None;
    }
    let days = days_from_civil(i64::from(y), mo, d);
    Some(days * 86_400 + i64::from(h) * 3600 + i64::from(mi) * 60 + i64::from(se))
}

/// The date column of `ls -l`: `Nov 29 16:09` within six months of `now`, `Nov 29  2025` otherwise
/// (the format vsftpd prints, which lftp, curl and FileZilla parse).
pub fn format_ls_date(unix: i64, now: i64) -> String {
    let mut out = String::with_capacity(12);
    write_ls_date(unix, now, &mut out);
    out
}

/// Appends [`format_ls_date`]'s text to `out`.
pub fn write_ls_date(unix: i64, now: i64, out: &mut String) {
    let c = civil(unix);
    out.push_str(MONTHS[(c.month - 1) as usize]);
    out.push(' ');
    push_digits(out, u64::from(c.day), 2);
    const HALF_YEAR: i64 = 182 * 86_400;
    // Saturating: `now` and `unix` come from clocks and file systems, any i64 at all.
    if unix > now.saturating_sub(HALF_YEAR) && unix <= now.saturating_add(86_400) {
        out.push(' ');
        push_digits(out, c.hour as u64, 2);
        out.push(':');
        push_digits(out, c.minute as u64, 2);
    } else {
        out.push_str("  ");
        push_digits(out, c.year.clamp(0, 9999) as u64, 4);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn mdtm_round_trips() {
        assert_eq!(format_mdtm(0), "19700101000000");
        assert_eq!(format_mdtm(1_577_934_245), "20200102030405");
        assert_eq!(parse_mdtm("20200102030405"), Some(1_577_934_245));
        assert_eq!(parse_mdtm("20200102030405.123"), Some(1_577_934_245));
        assert_eq!(parse_mdtm("2020010203040"), None);
        assert_eq!(parse_mdtm("20201302030405"), None);
        for t in [0, 951_782_400, 1_700_000_000, 4_102_444_800] {
            assert_eq!(parse_mdtm(&format_mdtm(t)), Some(t));
        }
    }

    #[test]
    fn extreme_times_format_without_overflow() {
        for (t, now) in [
            (i64::MIN, i64::MIN),
            (i64::MAX, i64::MAX),
            (i64::MIN, i64::MAX),
            (i64::MAX, 0),
        ] {
            assert_eq!(format_mdtm(t).len(), 14);
            assert!(format_ls_date(t, now).len() >= 12);
        }
    }

    #[test]
    fn ls_dates_switch_to_year_after_six_months() {
        let now = 1_700_000_000; // 2023-11-14 22:13:20
        assert_eq!(format_ls_date(now - 3600, now), "Nov 14 21:13");
        assert_eq!(format_ls_date(now - 365 * 86_400, now), "Nov 14  2022");
    }
}
