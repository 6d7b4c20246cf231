//! Human sizes for quotas and reports: `10MiB`, `1G`, `500k`, `unlimited`.

/// Parses a size. Binary (`KiB`, `MiB`, ...) and decimal-looking (`K`, `M`, `G`) suffixes are
/// both taken as powers of 1024, as quota tools (and `ls -h`) do; a bare number is bytes.
/// Returns `Ok(None)` for `unlimited`/`none`.
pub fn parse_size(s: &str) -> Result<Option<u64>, String> {
    let t = s.trim();
    if t.eq_ignore_ascii_case("unlimited") || t.eq_ignore_ascii_case("none") {
        return Ok(None);
    }
    let split = t
        .find(|c: char| !(c.is_ascii_digit() || c == '.'))
        .unwrap_or(t.len());
    let (num, unit) = t.split_at(split);
    let unit = unit.trim().to_ascii_lowercase();
    let mult: u64 = match unit.as_str() {
        "" | "b" => 1,
        "k" | "kb" | "kib" => 1 << 10,
        "m" | "mb" | "mib" => 1 << 20,
        "g" | "gb" | "gib" => 1 << 30,
        "t" | "tb" | "tib" => 1 << 40,
        _ => {
            return Err(format!(
                "unknown size unit {unit:?} in {s:?} (use B, KiB, MiB, GiB, TiB or unlimited)"
            ))
        }
    };
    let value: f64 = num.parse().map_err(|_| format!("not a size: {s:?}"))?;
    let bytes = value * mult as f64;
    if !bytes.is_finite() || bytes < 0.0 || bytes > u64::MAX as f64 {
        return Err(format!("size out of range: {s:?}"));
    }
    Ok(Some(bytes.round() as u64))
}

/// `1536` → `1.5 KiB`.
pub fn format_size(bytes: u64) -> String {
    const UNITS: [&str; 5] = ["B", "KiB", "MiB", "GiB", "TiB"];
    let mut v = bytes as f64;
    let mut i = 0;
    while v >= 1024.0 && i < UNITS.len() - 1 {
        v /= 1024.0;
        i += 1;
    }
    if i == 0 {
        format!("{bytes} B")
    } else {
        format!("{v:.1} {}", UNITS[i])
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sizes_parse() {
        assert_eq!(parse_size("10MiB"), Ok(Some(10 << 20)));
        assert_eq!(parse_size("1G"), Ok(Some(1 << 30)));
        assert_eq!(parse_size("512"), Ok(Some(512)));
        assert_eq!(parse_size("1.5k"), Ok(Some(1536)));
        assert_eq!(parse_size("unlimited"), Ok(None));
        assert!(parse_size("12 parsecs").is_err());
        assert!(parse_size("").is_err());
        assert_eq!(format_size(1536), "1.5 KiB");
        assert_eq!(format_size(10), "10 B");
    }
}
