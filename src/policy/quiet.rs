//! Quiet hours (47 CFR 64.1200(c)(1) and stricter state rules): whether an
//! MT may reach its recipient now, in the recipient's local time, and when
//! it may next. Pure: the time is passed in.
//!
//! The recipient's zones come from the NANP prefix table
//! `src/policy/nanp_zones.tsv` (libphonenumber's time zone map and geocoding,
//! extracted by `scripts/nanp_zones.py`): the longest matching prefix
//! gives one or more IANA zones and the area code's state or province. A
//! number with several zones is quiet when it is quiet in any of them (the
//! strictest). A number the table does not know (non-NANP, or an unknown
//! area code) uses the campaign's `zone`; without one it is not restricted.

use std::collections::HashMap;
use std::sync::OnceLock;

use jiff::civil::{Date, DateTime, Time};
use jiff::tz::TimeZone;
use jiff::Timestamp;

/// A daily quiet period in local time, minutes after midnight: from
/// `start` (included) to `end` (excluded), over midnight when start > end.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Window {
    /// First quiet minute.
    pub start: u16,
    /// First minute no longer quiet.
    pub end: u16,
}

impl Window {
    /// `"21:00"`, `"08:00"` → the window; `Err` says what is wrong.
    pub fn parse(start: &str, end: &str) -> Result<Window, String> {
        let w = Window {
            start: hhmm(start)?,
            end: hhmm(end)?,
        };
        if w.start == w.end {
            return Err("start and end are equal (an empty or a whole-day window)".into());
        }
        Ok(w)
    }

    /// Whether local minute-of-day `m` is quiet.
    pub fn contains(self, m: u16) -> bool {
        if self.start < self.end {
            m >= self.start && m < self.end
        } else {
            m >= self.start || m < self.end
        }
    }
}

/// `"HH:MM"` (24-hour) → minutes after midnight.
pub fn hhmm(s: &str) -> Result<u16, String> {
    let bad = || format!("{s:?} is not a time of day \"HH:MM\" (00:00 to 23:59)");
    let (h, m) = s.split_once(':').ok_or_else(bad)?;
    if h.len() != 2 || m.len() != 2 {
        return Err(bad());
    }
    let h: u16 = h.parse().map_err(|_| bad())?;
    let m: u16 = m.parse().map_err(|_| bad())?;
    if h > 23 || m > 59 {
        return Err(bad());
    }
    Ok(h * 60 + m)
}

/// What a campaign does with an MT in quiet hours.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum QuietAction {
    /// Hold it (answered with an optgate id) until the window opens.
    Hold,
    /// Answer the platform with this `command_status`.
    Reject(u32),
}

/// One campaign's quiet hours.
#[derive(Debug, Clone)]
pub struct QuietRule {
    /// The campaign's quiet period.
    pub window: Window,
    /// Hold or reject.
    pub action: QuietAction,
    /// Zone of numbers the NANP table does not know.
    pub zone: Option<TimeZone>,
}

/// Every campaign's quiet hours and the override tables.
#[derive(Debug, Clone, Default)]
pub struct Quiet {
    /// By campaign id; a campaign not here has no quiet hours.
    pub rules: HashMap<String, QuietRule>,
    /// Extra quiet periods by state / province code (`FL`).
    pub states: HashMap<String, Window>,
    /// Extra quiet periods by NANP area code (`"305"`).
    pub area_codes: HashMap<String, Window>,
}

/// An MT that may not go now.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Closed {
    /// What the campaign does with it.
    pub action: QuietAction,
    /// When the window opens again (ms since the Unix epoch).
    pub opens_at_ms: i64,
}

impl Quiet {
    /// Whether any campaign has quiet hours.
    pub fn is_empty(&self) -> bool {
        self.rules.is_empty()
    }

    /// `None` when an MT of `campaign` to `recipient` (normal form, E.164
    /// digits) may go at `now_ms`; otherwise what to do and until when.
    pub fn check(&self, campaign: &str, recipient: &str, now_ms: i64) -> Option<Closed> {
        let rule = self.rules.get(campaign)?;
        let found = lookup(recipient);
        let zones: Vec<TimeZone> = match found {
            Some(e) => e.zones.clone(),
            None => vec![rule.zone.clone()?],
        };
        let mut windows = vec![rule.window];
        if let Some(e) = found {
            windows.extend(self.states.get(&e.region).copied());
        }
        if let Some(ac) = area_code(recipient) {
            windows.extend(self.area_codes.get(ac).copied());
        }
        let now = Timestamp::from_millisecond(now_ms).ok()?;
        if !quiet_at(&zones, &windows, now) {
            return None;
        }
        Some(Closed {
            action: rule.action,
            opens_at_ms: opens_at(&zones, &windows, now),
        })
    }
}

/// Whether `t` is quiet in any zone under any window.
fn quiet_at(zones: &[TimeZone], windows: &[Window], t: Timestamp) -> bool {
    zones.iter().any(|z| {
        let local = t.to_zoned(z.clone());
        let m = local.hour() as u16 * 60 + local.minute() as u16;
        windows.iter().any(|w| w.contains(m))
    })
}

/// The first window end (in any zone) after `now` at which nothing is quiet.
fn opens_at(zones: &[TimeZone], windows: &[Window], now: Timestamp) -> i64 {
    let mut ends: Vec<Timestamp> = Vec::new();
    for z in zones {
        let today: Date = now.to_zoned(z.clone()).date();
        for w in windows {
            let t = Time::constant((w.end / 60) as i8, (w.end % 60) as i8, 0, 0);
            for d in [today.yesterday(), Ok(today), today.tomorrow()] {
                let Ok(d) = d else { continue };
                let dt = DateTime::from_parts(d, t);
                if let Ok(zd) = z.to_ambiguous_zoned(dt).compatible() {
                    if zd.timestamp() > now {
                        ends.push(zd.timestamp());
                    }
                }
            }
        }
    }
    ends.sort();
    ends.into_iter()
        .find(|t| !quiet_at(zones, windows, *t))
        // Quiet all day in some zone combination: look again in an hour.
        .map_or(now.as_millisecond() + 3_600_000, |t| t.as_millisecond())
}

/// The three-digit area code of a NANP number (`1` + 10 digits).
fn area_code(recipient: &str) -> Option<&str> {
    (recipient.len() == 11 && recipient.starts_with('1')).then(|| &recipient[1..4])
}

/// One prefix of the table.
#[derive(Debug)]
struct Entry {
    zones: Vec<TimeZone>,
    /// The area code's state or province code (empty when unknown).
    region: String,
}

/// The NANP table, as shipped.
pub const TABLE: &str = include_str!("nanp_zones.tsv");

fn table() -> &'static HashMap<String, Entry> {
    static T: OnceLock<HashMap<String, Entry>> = OnceLock::new();
    T.get_or_init(|| parse_table(TABLE))
}

fn parse_table(text: &str) -> HashMap<String, Entry> {
    let mut regions: HashMap<String, String> = HashMap::new();
    let mut out = HashMap::new();
    for line in text
        .lines()
        .filter(|l| !l.starts_with('#') && !l.is_empty())
    {
        let mut f = line.split('\t');
        let (Some(prefix), Some(zones)) = (f.next(), f.next()) else {
            continue;
        };
        let region = f.next().unwrap_or_default();
        if prefix.len() == 4 {
            regions.insert(prefix.to_owned(), region.to_owned());
        }
        let zones = zones
            .split(',')
            .filter_map(|z| jiff::tz::db().get(z).ok())
            .collect::<Vec<_>>();
        if !zones.is_empty() {
            out.insert(
                prefix.to_owned(),
                Entry {
                    zones,
                    region: String::new(),
                },
            );
        }
    }
    // A longer prefix lies in its area code's state.
    for (prefix, e) in out.iter_mut() {
        if let Some(r) = prefix.get(..4).and_then(|ac| regions.get(ac)) {
            e.region = r.clone();
        }
    }
    out
}

/// The longest prefix of `recipient` in the table (7 digits down to 4).
fn lookup(recipient: &str) -> Option<&'static Entry> {
    area_code(recipient)?;
    let t = table();
    (4..=7).rev().find_map(|n| t.get(&recipient[..n]))
}

/// The zones and state the table gives a number (for tests and the README).
pub fn zones_of(recipient: &str) -> Option<(Vec<String>, String)> {
    lookup(recipient).map(|e| {
        let names = e
            .zones
            .iter()
            .map(|z| z.iana_name().unwrap_or_default().to_owned())
            .collect();
        (names, e.region.clone())
    })
}

/// Every state / province code the table knows (check-config).
pub fn known_regions() -> Vec<String> {
    let mut v: Vec<String> = table()
        .values()
        .map(|e| e.region.clone())
        .filter(|r| !r.is_empty())
        .collect();
    v.sort();
    v.dedup();
    v
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ms(s: &str) -> i64 {
        s.parse::<Timestamp>().unwrap().as_millisecond()
    }

    fn quiet(w: Window) -> Quiet {
        let mut q = Quiet::default();
        q.rules.insert(
            "c".into(),
            QuietRule {
                window: w,
                action: QuietAction::Hold,
                zone: None,
            },
        );
        q
    }

    #[test]
    fn windows_over_midnight() {
        let w = Window::parse("21:00", "08:00").unwrap();
        assert!(w.contains(21 * 60) && w.contains(0) && w.contains(479));
        assert!(!w.contains(480) && !w.contains(20 * 60 + 59));
        assert!(Window::parse("8:00", "09:00").is_err());
        assert!(Window::parse("24:00", "09:00").is_err());
        assert!(Window::parse("09:00", "09:00").is_err());
    }

    #[test]
    fn new_york_at_night_opens_at_eight_local() {
        let q = quiet(Window::parse("21:00", "08:00").unwrap());
        // 03:00 in New York (EST, UTC-5) on a winter day.
        let c = q
            .check("c", "12125550100", ms("2026-01-15T08:00:00Z"))
            .unwrap();
        assert_eq!(c.opens_at_ms, ms("2026-01-15T13:00:00Z"));
        assert_eq!(
            q.check("c", "12125550100", ms("2026-01-15T13:00:00Z")),
            None
        );
        // Summer time: 08:00 EDT is 12:00 UTC.
        let c = q
            .check("c", "12125550100", ms("2026-07-15T08:00:00Z"))
            .unwrap();
        assert_eq!(c.opens_at_ms, ms("2026-07-15T12:00:00Z"));
        // No campaign rule, or a number the table does not know: open.
        assert_eq!(
            q.check("x", "12125550100", ms("2026-01-15T08:00:00Z")),
            None
        );
        assert_eq!(
            q.check("c", "447700900123", ms("2026-01-15T08:00:00Z")),
            None
        );
    }

    #[test]
    fn several_zones_use_the_strictest() {
        let (zones, region) = zones_of("12085550100").unwrap();
        assert!(zones.len() > 1, "{zones:?}");
        assert_eq!(region, "ID");
        let q = quiet(Window::parse("21:00", "08:00").unwrap());
        // 07:30 in Denver is 06:30 in Los Angeles: quiet until 08:00 Pacific.
        let c = q
            .check("c", "12085550100", ms("2026-01-15T14:30:00Z"))
            .unwrap();
        assert_eq!(c.opens_at_ms, ms("2026-01-15T16:00:00Z"));
    }

    #[test]
    fn state_override_adds_quiet_time() {
        let mut q = quiet(Window::parse("21:00", "08:00").unwrap());
        q.states
            .insert("FL".into(), Window::parse("20:00", "08:00").unwrap());
        // 20:30 EST in Miami (305, FL): quiet; in New York: not.
        let t = ms("2026-01-16T01:30:00Z");
        assert!(q.check("c", "13055550100", t).is_some());
        assert_eq!(q.check("c", "12125550100", t), None);
        assert!(known_regions().contains(&"FL".to_string()));
    }
}
