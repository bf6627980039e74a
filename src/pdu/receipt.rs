//! The de-facto delivery receipt text format (SMPP 3.4 appendix B).

/// `YYMMDDhhmm` (UTC) for a Unix time, the date format of receipt text.
pub fn receipt_date(unix_secs: u64) -> [u8; 10] {
    let days = (unix_secs / 86_400) as i64;
    let secs = unix_secs % 86_400;
    let (y, m, d) = civil_from_days(days);
    let fields = [
        (y % 100) as u64,
        u64::from(m),
        u64::from(d),
        secs / 3600,
        secs % 3600 / 60,
    ];
    let mut out = [b'0'; 10];
    for (i, v) in fields.iter().enumerate() {
        out[2 * i] = b'0' + (v / 10 % 10) as u8;
        out[2 * i + 1] = b'0' + (v % 10) as u8;
    }
    out
}

/// Gregorian (year, month, day) of a day count since 1970-01-01
/// (Howard Hinnant's days-to-civil algorithm, written out from its description).
pub fn civil_from_days(z: i64) -> (i64, u32, u32) {
    let z = z + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z.rem_euclid(146_097);
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let d = (doy - (153 * mp + 2) / 5 + 1) as u32;
    let m = if mp < 10 { mp + 3 } else { mp - 9 } as u32;
    let y = yoe + era * 400 + i64::from(m <= 2);
    (y, m, d)
}
