//! Advisory lock numbers every instance agrees on (DESIGN.md §7): the
//! transaction-scoped lock of a consent scope key, and the session-level
//! claims of `instance.rs` (an instance name, `deliver:ACCOUNT`, `outbox`).

use postgres::GenericClient;

use super::{Pg, StoreError};
use crate::store::consent::Key;

/// FNV-1a over `parts`, each followed by 0x1f: stable across builds and
/// machines, as every instance must compute the same number.
fn fnv(parts: &[&str]) -> i64 {
    let mut h: u64 = 0xcbf2_9ce4_8422_2325;
    for part in parts {
        for b in part.bytes().chain(std::iter::once(0x1f)) {
            h ^= u64::from(b);
            h = h.wrapping_mul(0x0100_0000_01b3);
        }
    }
    // Same bits as a signed number (the lock functions take a bigint).
    i64::from_ne_bytes(h.to_ne_bytes())
}

/// The advisory lock number of consent scope `key`.
pub fn key_lock_id(key: &Key) -> i64 {
    fnv(&[&key.campaign, &key.sender, &key.recipient])
}

/// The advisory lock number of a claim (`what`: an instance name,
/// `deliver:ACCOUNT`, `outbox`); a prefix keeps it apart from the keys'.
pub fn claim_lock_id(what: &str) -> i64 {
    fnv(&["optgate-claim", what])
}

/// Takes the transaction-scoped lock of `key`, so decisions on one key
/// serialise across instances: a second transaction wanting the key waits
/// here until the first commits or rolls back. Run before the key is read,
/// as its own statement, so the read's snapshot (READ COMMITTED: one per
/// statement) sees what the previous holder committed.
pub fn lock_key<C: GenericClient>(pg: &mut Pg<'_, C>, key: &Key) -> Result<(), StoreError> {
    pg.execute("SELECT pg_advisory_xact_lock($1)", &[&key_lock_id(key)])?;
    Ok(())
}
