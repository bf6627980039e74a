//! Phone number normal form (DESIGN.md §1): digits only, international, no `+`.
//!
//! Every sender and recipient is compared in this form. Whether digits are a
//! "possible" national number is judged from libphonenumber metadata (the
//! `phonenumber` crate), never from hand-written length tables.

use std::collections::HashMap;

use phonenumber::country;
use phonenumber::metadata::{Descriptors, DATABASE};
use phonenumber::Type;

/// TON 1: international.
pub const TON_INTERNATIONAL: u8 = 1;
/// TON 2: national.
pub const TON_NATIONAL: u8 = 2;
/// TON 5: alphanumeric.
pub const TON_ALPHANUMERIC: u8 = 5;

/// Most distinct (country code, digits) results remembered. Parsing costs
/// microseconds and the same few numbers recur on every message, so a small
/// cache pays; when it fills it is simply cleared, which keeps it bounded
/// without bookkeeping.
const CACHE_MAX: usize = 8192;

/// [`normalise`] of an SMPP address (its digits read as UTF-8, lossily).
pub fn of(a: &crate::pdu::Address, default_country_code: &str) -> String {
    normalise(
        &String::from_utf8_lossy(&a.addr),
        a.ton,
        default_country_code,
    )
}

/// Normal form of an SMPP address:
///
/// - Any letter in `addr`, or TON 5: alphanumeric — trimmed and lowercased.
/// - Otherwise digits only. A leading `+` or `00` marks the number as
///   international: it is stripped and the rest taken as is, as with TON 1.
/// - TON 0 (unknown) or 2 (national): if the digits are a possible national
///   number of `default_country_code` (national trunk prefix or the country
///   code itself in front allowed: `15550000001`, `5550000001` for `"1"`),
///   the result is country code + national number. Otherwise the digits are
///   kept as they are (whether or not they form a possible international
///   number such as `447700900123`, the design keeps them unchanged, so no
///   second check is made).
/// - Other TONs (network-specific, subscriber, abbreviated, …): digits as is.
///
/// An unknown `default_country_code` leaves national digits unchanged.
pub fn normalise(addr: &str, ton: u8, default_country_code: &str) -> String {
    let addr = addr.trim_matches(|c: char| c.is_whitespace() || c == '\0');
    if ton != TON_ALPHANUMERIC {
        // The usual case, digits with or without a '+': no scan for
        // letters, no copy character by character.
        let bare = addr.strip_prefix('+');
        let body = bare.unwrap_or(addr);
        if body.bytes().all(|b| b.is_ascii_digit()) {
            return of_digits(body, bare.is_some(), ton, default_country_code);
        }
    }
    if ton == TON_ALPHANUMERIC || addr.chars().any(char::is_alphabetic) {
        return addr.to_lowercase();
    }
    let plus = addr.starts_with('+');
    let digits: String = addr.chars().filter(char::is_ascii_digit).collect();
    of_digits(&digits, plus, ton, default_country_code)
}

/// [`normalise`] of an address reduced to its `digits`; `plus`: it was
/// written with a leading '+'.
fn of_digits(digits: &str, plus: bool, ton: u8, default_country_code: &str) -> String {
    if let Some(rest) = digits.strip_prefix("00") {
        return rest.to_owned();
    }
    if plus || !matches!(ton, 0 | TON_NATIONAL) {
        return digits.to_owned();
    }
    national_cached(digits, default_country_code).unwrap_or_else(|| digits.to_owned())
}

/// Whether `code` is a country calling code known to the metadata, spelled
/// canonically (`"1"`, `"44"`; not `"+1"` or `"001"`); for config validation
/// of `[numbers] default_country_code`.
pub fn is_known_country_code(code: &str) -> bool {
    region_for(code).is_some()
}

/// Per country code: digits → national normal form (None: not parseable).
type Cache = HashMap<String, HashMap<String, Option<String>, foldhash::fast::RandomState>>;

thread_local! {
    /// Per thread, so the message path takes no lock; a hit allocates only
    /// the returned string.
    static CACHE: std::cell::RefCell<Cache> = std::cell::RefCell::new(HashMap::new());
}

fn national_cached(digits: &str, cc: &str) -> Option<String> {
    let hit = CACHE.with(|c| c.borrow().get(cc).and_then(|m| m.get(digits)).cloned());
    if let Some(hit) = hit {
        return hit;
    }
    let result = national(digits, cc);
    CACHE.with(|c| {
        let mut c = c.borrow_mut();
        let map = c.entry(cc.to_owned()).or_default();
        if map.len() >= CACHE_MAX {
            map.clear();
        }
        map.insert(digits.to_owned(), result.clone());
    });
    result
}

/// The main region of a calling code, e.g. `"1"` → US, `"44"` → GB.
/// Only the canonical spelling counts: 1–3 digits, no `+`, no leading zero.
fn region_for(cc: &str) -> Option<(u16, country::Id)> {
    let canonical = (1..=3).contains(&cc.len())
        && cc.bytes().all(|b| b.is_ascii_digit())
        && !cc.starts_with('0');
    if !canonical {
        return None;
    }
    let code: u16 = cc.parse().ok()?;
    let regions = DATABASE.region(&code)?;
    let id = regions.first()?.parse().ok()?;
    Some((code, id))
}

/// `cc + national` when `digits` parse as a possible national number of `cc`.
fn national(digits: &str, cc: &str) -> Option<String> {
    let (code, id) = region_for(cc)?;
    let number = phonenumber::parse(Some(id), digits).ok()?;
    if number.code().value() != code || number.extension().is_some() {
        return None;
    }
    let national = number.national().to_string();
    let len = u16::try_from(national.len()).ok()?;
    let meta = DATABASE.by_id(id.as_ref())?;
    if !is_possible_length(meta.descriptors(), len) {
        return None;
    }
    Some(format!("{code}{national}"))
}

/// "Possible" as in libphonenumber's isPossibleNumber: the length of some
/// number type of the region. Local-only lengths do not count, since a 7-digit
/// US local number cannot be made international. The crate leaves the general
/// descriptor's lengths empty, so the union over the number types is taken, as
/// libphonenumber builds it.
fn is_possible_length(d: &Descriptors, len: u16) -> bool {
    const TYPES: [Type; 10] = [
        Type::FixedLine,
        Type::Mobile,
        Type::TollFree,
        Type::PremiumRate,
        Type::SharedCost,
        Type::PersonalNumber,
        Type::Voip,
        Type::Pager,
        Type::Uan,
        Type::Voicemail,
    ];
    d.general().possible_length().contains(&len)
        || TYPES
            .iter()
            .filter_map(|&t| d.get(t))
            .any(|desc| desc.possible_length().contains(&len))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn national_forms_for_nanp() {
        assert_eq!(normalise("5550000001", 0, "1"), "15550000001");
        assert_eq!(normalise("15550000001", 2, "1"), "15550000001");
        assert_eq!(normalise("555000", 2, "1"), "555000");
    }

    #[test]
    fn unknown_country_code_keeps_digits() {
        assert_eq!(normalise("4155550100", 2, "999"), "4155550100");
        assert_eq!(normalise("4155550100", 2, "x"), "4155550100");
        assert!(is_known_country_code("44"));
        assert!(!is_known_country_code("999"));
    }
}
