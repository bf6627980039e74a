//! Carrier delivery receipts: which messages' receipts need the id map
//! ([`routed_by_address`]), which message a receipt is about, who that
//! message belongs to (and when the store must be asked: [`MapHorizon`]), and the receipt rewritten for a platform that knows
//! the message by optgate's id. One place for the receipt text's `id:` field
//! (case-insensitive, as carriers write it either way), for deliver_sm and
//! data_sm alike. Writing receipt texts of optgate's own is
//! [`crate::pdu::receipt`]'s job.

use std::collections::HashMap;
use std::sync::Arc;

use bytes::Bytes;

use crate::pdu::{tags, Body, Pdu, Text, Tlvs};

/// Who a carrier message id belongs to: the account, and the optgate id its
/// platform knows it by (released held messages).
pub type Owner = (Arc<str>, Option<Arc<str>>);

/// One generation of the id cache: an owner from the id map, or `None` for
/// a message known to be routed by address (see [`MapHorizon`]).
pub type Generation = HashMap<Text, Option<Owner>, foldhash::fast::RandomState>;

/// A generation the cache dropped, and whether it held id map entries
/// (whose receipts must now be looked up in the store).
pub struct Retired {
    pub ids: Generation,
    pub mapped: bool,
}

/// Recent carrier message ids → owner, in memory in front of the store:
/// two generations of at most `cap / 2` ids each; when the current one is
/// full it becomes the old one and the old one is dropped (cheaper per
/// insert than evicting one id at a time).
pub struct IdCache {
    cur: Generation,
    old: Generation,
    /// Whether `cur` / `old` hold an entry with an owner.
    cur_mapped: bool,
    old_mapped: bool,
    cap: usize,
}

impl IdCache {
    /// A cache of about `cap` ids.
    pub fn new(cap: usize) -> IdCache {
        IdCache {
            cur: HashMap::default(),
            old: HashMap::default(),
            cur_mapped: false,
            old_mapped: false,
            cap: (cap / 2).max(1),
        }
    }

    /// Inserts; returns the generation to drop (outside the lock).
    ///
    /// A generation is sized for all its ids when it starts (at the first
    /// insert, so a cache never used takes no memory): growing a table of
    /// tens of thousands of ids rehashes them all, on a carrier bind's
    /// task and under the lock every bind shares, a stall of milliseconds
    /// each time the table doubles.
    #[must_use]
    pub fn insert(&mut self, id: Text, owner: Option<Owner>) -> Option<Retired> {
        let mut retired = None;
        if self.cur.len() >= self.cap {
            let fresh = Generation::with_capacity_and_hasher(self.cap, Default::default());
            let full = std::mem::replace(&mut self.cur, fresh);
            let ids = std::mem::replace(&mut self.old, full);
            let mapped = std::mem::replace(&mut self.old_mapped, self.cur_mapped);
            self.cur_mapped = false;
            retired = (!ids.is_empty()).then_some(Retired { ids, mapped });
        } else if self.cur.capacity() == 0 {
            self.cur.reserve(self.cap);
        }
        self.cur_mapped |= owner.is_some();
        self.cur.insert(id, owner);
        retired
    }

    /// What memory knows of carrier id `id`: `Some(Some(owner))` mapped,
    /// `Some(None)` routed by address, `None` not in memory.
    pub fn get(&self, id: &[u8]) -> Option<&Option<Owner>> {
        self.cur.get(id).or_else(|| self.old.get(id))
    }
}

/// Whether the receipts of an MT that `account` submits from `addr` (TON
/// `ton`) are routed right by their destination address alone, so its
/// carrier id need not go in the id map. A receipt's destination is the MT's
/// sender, and [`crate::runtime::Routes::account_for`] gives the one account
/// listing that number (a number is in at most one account's `numbers`;
/// `check-config` refuses it twice). That is the submitting account exactly
/// when the sender check tied the sender to it:
///
/// - the account has no `allow_any_sender` (such an account may send from
///   anyone's number, or no one's);
/// - the sender is a number, not alphanumeric (TON 5 or letters: carriers
///   rewrite or drop those in receipts);
/// - the normalised sender routes to this very account.
///
/// Optgate's own messages and released held messages never come here: they
/// are always mapped (the one absorbed, the other rewritten). With
/// `[upstream] id_map_always` nothing is routed by address alone.
pub fn routed_by_address(
    rt: &crate::runtime::Runtime,
    account: &str,
    addr: &[u8],
    ton: u8,
) -> bool {
    let Some(acc) = rt.accounts.get(account) else {
        return false;
    };
    if rt.routes.id_map_always || acc.senders.is_none() || ton == crate::numbers::TON_ALPHANUMERIC {
        return false;
    }
    let Ok(addr) = std::str::from_utf8(addr) else {
        return false;
    };
    if addr.chars().any(char::is_alphabetic) {
        return false;
    }
    let n = crate::numbers::normalise(addr, ton, &rt.routes.country_code);
    rt.routes.numbers.get(&n).is_some_and(|a| &**a == account)
}

/// Until when a receipt whose carrier id is not in memory must still be
/// looked up in the store: while the store may hold mappings the in-memory
/// cache does not (written before this start, retired from the cache, or
/// written by another instance sharing the store). Meanwhile messages
/// routed by address are remembered in memory as such, so their receipts
/// skip the look-up. Past it, a receipt not in memory is for an MT that was
/// never mapped and goes by its address at once, without a store round
/// trip, and nothing is remembered for such MTs.
pub struct MapHorizon {
    /// Unix seconds; `i64::MAX`: always look up (the start value).
    until: std::sync::atomic::AtomicI64,
    /// `id_map_ttl` in seconds: how long a mapping the cache lost is kept
    /// in the store.
    ttl: std::sync::atomic::AtomicI64,
}

impl Default for MapHorizon {
    fn default() -> MapHorizon {
        MapHorizon {
            until: std::sync::atomic::AtomicI64::new(i64::MAX),
            ttl: std::sync::atomic::AtomicI64::new(i64::MAX),
        }
    }
}

impl MapHorizon {
    /// Sets the horizon at start: `newest` is the newest mapping in the
    /// store (Unix seconds), `shared` a store other instances write to too
    /// (always look up).
    pub fn start(&self, newest: Option<i64>, ttl: std::time::Duration, shared: bool) {
        use std::sync::atomic::Ordering::Relaxed;
        let ttl = i64::try_from(ttl.as_secs()).unwrap_or(i64::MAX);
        self.ttl.store(ttl, Relaxed);
        let until = match (shared, newest) {
            (true, _) => i64::MAX,
            (false, None) => 0,
            (false, Some(t)) => t.saturating_add(ttl),
        };
        self.until.store(until, Relaxed);
    }

    /// The cache dropped mappings at `now`: they stay in the store one TTL.
    pub fn lost(&self, now: i64) {
        use std::sync::atomic::Ordering::Relaxed;
        let until = now.saturating_add(self.ttl.load(Relaxed));
        self.until.fetch_max(until, Relaxed);
    }

    /// Whether a carrier id not in memory must be looked up in the store.
    pub fn look_up(&self, now: i64) -> bool {
        now < self.until.load(std::sync::atomic::Ordering::Relaxed)
    }
}

/// True for a delivery receipt (never scanned for keywords).
pub fn is_receipt(pdu: &Pdu) -> bool {
    match &pdu.body {
        Body::DeliverSm(sm) => sm.is_receipt(),
        Body::DataSm(sm) => sm.is_receipt(),
        _ => false,
    }
}

/// The carrier message id a receipt is about: the receipted_message_id TLV,
/// else the `id:` field of the receipt text.
pub fn receipt_id(pdu: &Pdu) -> Option<Text> {
    let (tlvs, text) = match &pdu.body {
        Body::DeliverSm(sm) => (&sm.tlvs, sm.message_bytes()),
        Body::DataSm(sm) => (&sm.tlvs, sm.message_bytes()),
        _ => return None,
    };
    // Borrowed, then copied inline: no reference count on the frame.
    if let Some(id) = tlvs
        .cstring_ref(tags::RECEIPTED_MESSAGE_ID)
        .filter(|id| !id.is_empty())
    {
        return Some(Text::copy_from_slice(id));
    }
    text_id(text)
}

/// `XXXX` of `id:XXXX` in a receipt's text (key in any case, value up to a
/// space).
pub fn text_id(text: &[u8]) -> Option<Text> {
    id_span(text).map(|(start, end)| Text::copy_from_slice(&text[start..end]))
}

/// Where the value of the text's `id:` field starts and ends; `None` when
/// there is no such field or its value is empty.
fn id_span(text: &[u8]) -> Option<(usize, usize)> {
    let pos = text
        .windows(3)
        .position(|w| w.eq_ignore_ascii_case(b"id:"))?;
    let start = pos + 3;
    let len = text[start..]
        .iter()
        .position(|&b| b == b' ')
        .unwrap_or(text.len() - start);
    (len > 0).then_some((start, start + len))
}

/// `pdu` (a carrier receipt for `carrier_id`) carrying `optgate_id`
/// instead, in the receipted_message_id TLV if it has one and in the text's
/// `id:` field (whose key keeps the carrier's spelling). For released held
/// messages, whose platform only knows the optgate id.
pub fn rewrite(pdu: &Pdu, carrier_id: &[u8], optgate_id: &str) -> Pdu {
    let mut out = pdu.clone();
    match &mut out.body {
        Body::DeliverSm(sm) => {
            rewrite_tlv(&mut sm.tlvs, optgate_id);
            if sm.tlvs.message_payload().is_some() {
                rewrite_payload(&mut sm.tlvs, carrier_id, optgate_id);
            } else if let Some(text) = replace_id(&sm.short_message, carrier_id, optgate_id) {
                sm.short_message = text;
            }
        }
        Body::DataSm(sm) => {
            rewrite_tlv(&mut sm.tlvs, optgate_id);
            rewrite_payload(&mut sm.tlvs, carrier_id, optgate_id);
        }
        _ => {}
    }
    out
}

fn rewrite_tlv(tlvs: &mut Tlvs, optgate_id: &str) {
    if tlvs.receipted_message_id().is_some() {
        tlvs.set_cstring(tags::RECEIPTED_MESSAGE_ID, optgate_id.as_bytes());
    }
}

fn rewrite_payload(tlvs: &mut Tlvs, carrier_id: &[u8], optgate_id: &str) {
    let new = tlvs
        .message_payload()
        .and_then(|text| replace_id(text, carrier_id, optgate_id));
    if let Some(text) = new {
        tlvs.set(tags::MESSAGE_PAYLOAD, text);
    }
}

/// The text with its `id:` value replaced, when that value is `carrier_id`.
fn replace_id(text: &[u8], carrier_id: &[u8], optgate_id: &str) -> Option<Bytes> {
    let (start, end) = id_span(text)?;
    if &text[start..end] != carrier_id {
        return None;
    }
    let mut out = Vec::with_capacity(text.len() + optgate_id.len());
    out.extend_from_slice(&text[..start]);
    out.extend_from_slice(optgate_id.as_bytes());
    out.extend_from_slice(&text[end..]);
    Some(Bytes::from(out))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::pdu::{DataSm, Sm};

    const TEXT: &[u8] = b"id:c9 sub:001 dlvrd:001 stat:DELIVRD err:000 text:hi";

    fn deliver(text: &'static [u8], tlv: bool) -> Pdu {
        let mut sm = Sm {
            esm_class: 4,
            short_message: Bytes::from_static(text),
            ..Default::default()
        };
        if tlv {
            sm.tlvs.set_cstring(tags::RECEIPTED_MESSAGE_ID, b"c9");
        }
        Pdu::new(1, Body::DeliverSm(Box::new(sm)))
    }

    fn data_sm(text: &'static [u8]) -> Pdu {
        let mut d = DataSm {
            esm_class: 4,
            ..Default::default()
        };
        d.tlvs.set(tags::MESSAGE_PAYLOAD, Bytes::from_static(text));
        Pdu::new(1, Body::DataSm(Box::new(d)))
    }

    fn text_and_tlv(p: &Pdu) -> (Vec<u8>, Option<Bytes>) {
        match &p.body {
            Body::DeliverSm(s) => (s.message_bytes().to_vec(), s.tlvs.receipted_message_id()),
            Body::DataSm(s) => (s.message_bytes().to_vec(), s.tlvs.receipted_message_id()),
            _ => panic!("not a receipt"),
        }
    }

    #[test]
    fn the_text_id_is_found_in_any_case() {
        let t = Bytes::from_static(TEXT);
        assert_eq!(text_id(&t).as_deref(), Some(&b"c9"[..]));
        assert_eq!(text_id(&Bytes::from_static(b"hello")), None);
        assert_eq!(
            text_id(&Bytes::from_static(b"ID:77")).as_deref(),
            Some(&b"77"[..])
        );
        assert_eq!(text_id(&Bytes::from_static(b"id: x")), None, "empty value");
        assert_eq!(
            receipt_id(&data_sm(b"Id:d1 stat:DELIVRD")).as_deref(),
            Some(&b"d1"[..])
        );
    }

    #[test]
    fn a_deliver_sm_is_rewritten_in_text_and_tlv() {
        let r = rewrite(&deliver(TEXT, true), b"c9", "7000000000000005");
        let (text, tlv) = text_and_tlv(&r);
        assert_eq!(
            &text[..],
            b"id:7000000000000005 sub:001 dlvrd:001 stat:DELIVRD err:000 text:hi"
        );
        assert_eq!(tlv.as_deref(), Some(&b"7000000000000005"[..]));
    }

    #[test]
    fn an_upper_case_key_is_rewritten_and_keeps_its_case() {
        let r = rewrite(&deliver(b"ID:c9 stat:DELIVRD", false), b"c9", "70");
        assert_eq!(text_and_tlv(&r), (b"ID:70 stat:DELIVRD".to_vec(), None));
    }

    #[test]
    fn a_data_sm_payload_is_rewritten() {
        let r = rewrite(&data_sm(b"id:c9 stat:DELIVRD"), b"c9", "70");
        assert_eq!(text_and_tlv(&r), (b"id:70 stat:DELIVRD".to_vec(), None));
    }

    #[test]
    fn a_text_about_another_id_is_left_alone() {
        let p = deliver(b"id:c8 stat:DELIVRD", true);
        let r = rewrite(&p, b"c9", "70");
        assert_eq!(text_and_tlv(&r).0, b"id:c8 stat:DELIVRD".to_vec());
        assert_eq!(
            text_and_tlv(&r).1.as_deref(),
            Some(&b"70"[..]),
            "the TLV names the message"
        );
    }

    fn runtime(any_sender: bool, always: bool) -> crate::runtime::Runtime {
        use std::collections::{HashMap, HashSet};
        let account = crate::runtime::Account {
            system_id: Arc::from("pbx"),
            password: String::new(),
            max_binds: 1,
            allowed_ips: Vec::new(),
            senders: (!any_sender).then(|| {
                Arc::new(HashSet::from([
                    "14155550100".to_string(),
                    "acme".to_string(),
                ]))
            }),
            country_code: Arc::from("1"),
            require_tls: false,
            tls_client_name: None,
        };
        let mut routes = crate::runtime::Routes {
            country_code: "1".into(),
            id_map_always: always,
            ..Default::default()
        };
        for n in ["14155550100", "acme"] {
            routes.numbers.insert(n.into(), Arc::from("pbx"));
        }
        routes
            .numbers
            .insert("14155550200".into(), Arc::from("crm"));
        let cfg = crate::config::Config::default();
        crate::runtime::Runtime {
            version: 0,
            accounts: Arc::new(HashMap::from([("pbx".to_string(), account)])),
            routes: Arc::new(routes),
            engine: Arc::new(crate::consent::EngineConfig::from_config(&cfg).unwrap()),
        }
    }

    #[test]
    fn only_a_listed_number_routing_to_its_account_goes_by_address() {
        let rt = runtime(false, false);
        // Its own number, in any spelling the sender check accepts.
        assert!(routed_by_address(&rt, "pbx", b"14155550100", 1));
        assert!(routed_by_address(&rt, "pbx", b"4155550100", 0));
        // Alphanumeric, even when listed.
        assert!(!routed_by_address(&rt, "pbx", b"ACME", 5));
        assert!(!routed_by_address(&rt, "pbx", b"acme", 0));
        // A number routing elsewhere; an account the runtime does not know.
        assert!(!routed_by_address(&rt, "pbx", b"14155550200", 1));
        assert!(!routed_by_address(&rt, "crm", b"14155550200", 1));
        // allow_any_sender, and id_map_always.
        assert!(!routed_by_address(
            &runtime(true, false),
            "pbx",
            b"14155550100",
            1
        ));
        assert!(!routed_by_address(
            &runtime(false, true),
            "pbx",
            b"14155550100",
            1
        ));
    }

    #[test]
    fn the_store_is_asked_while_it_may_hold_what_memory_does_not() {
        let ttl = std::time::Duration::from_secs(100);
        let h = MapHorizon::default();
        assert!(h.look_up(0), "before start: always");
        h.start(None, ttl, false);
        assert!(!h.look_up(1_000), "an empty map: never");
        h.start(Some(1_000), ttl, false);
        assert!(
            h.look_up(1_099) && !h.look_up(1_100),
            "rows before the start, one TTL"
        );
        h.lost(2_000);
        assert!(
            h.look_up(2_099) && !h.look_up(2_100),
            "ids retired from memory, one TTL"
        );
        h.start(None, ttl, true);
        assert!(h.look_up(i64::MAX - 1), "a shared store: always");
    }

    #[test]
    fn a_dropped_generation_says_whether_it_held_mappings() {
        let mut c = IdCache::new(4);
        let owner = || Some((Arc::<str>::from("pbx"), None));
        assert!(c.insert(Text::from_static(b"a"), None).is_none());
        assert!(c.insert(Text::from_static(b"b"), owner()).is_none());
        // cur {a, b} (mapped) becomes old; nothing dropped yet.
        assert!(c.insert(Text::from_static(b"c"), None).is_none());
        assert!(c.insert(Text::from_static(b"d"), None).is_none());
        assert_eq!(c.get(b"a"), Some(&None), "known to go by address");
        assert_eq!(
            c.get(b"b").cloned().flatten().map(|o| o.0),
            Some(Arc::from("pbx"))
        );
        let r = c
            .insert(Text::from_static(b"e"), None)
            .expect("a, b dropped");
        assert!(r.mapped && r.ids.len() == 2);
        let r = c.insert(Text::from_static(b"f"), None);
        assert!(r.is_none());
        let r = c
            .insert(Text::from_static(b"g"), None)
            .expect("c, d dropped");
        assert!(!r.mapped, "only address-routed ids");
        assert_eq!(c.get(b"zz"), None);
    }

    #[test]
    fn a_generation_is_sized_once_and_never_rehashed() {
        let mut c = IdCache::new(2_000);
        assert_eq!(c.cur.capacity(), 0, "no memory until used");
        let id = |i: usize| Text::from(i.to_string());
        assert!(c.insert(id(0), None).is_none());
        let sized = c.cur.capacity();
        assert!(sized >= 1_000);
        for i in 1..1_000 {
            assert!(c.insert(id(i), None).is_none());
            assert_eq!(c.cur.capacity(), sized, "grown at insert {i}");
        }
        // The next insert starts a generation, sized at once.
        assert!(c.insert(id(1_000), None).is_none());
        assert_eq!((c.cur.len(), c.old.len()), (1, 1_000));
        assert!(c.cur.capacity() >= 1_000);
        assert_eq!(c.get(b"999"), Some(&None));
    }
}
