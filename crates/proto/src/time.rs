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
    let c = civil(unix);
    format!(
        "{:04}{:02}{:02}{:02}{:02}{:02}",
        c.year, c.month, c.day, c.hour, c.minute, c.second
    )
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
    let c = civil(unix);
    let month = MONTHS[(c.month - 1) as usize];
    const HALF_YEAR: i64 = 182 * 86_400;
    if unix > now - HALF_YEAR && unix <= now + 86_400 {
        format!("{month} {:02} {:02}:{:02}", c.day, c.hour, c.minute)
    } else {
        format!("{month} {:02}  {:04}", c.day, c.year)
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
    fn ls_dates_switch_to_year_after_six_months() {
        let now = 1_700_000_000; // 2023-11-14 22:13:20
        assert_eq!(format_ls_date(now - 3600, now), "Nov 14 21:13");
        assert_eq!(format_ls_date(now - 365 * 86_400, now), "Nov 14  2022");
    }
}
