//! Conformance of quiet holds (issue 17, quiet hours): held PDUs waiting
//! for the recipient's window, due by time, taken in the order held, and
//! kept out of the consent settling while they wait.

use optgate::policy::ConsentStatus;
use optgate::store::consent::NewHeld;
use optgate::store::StoreTxn;

use super::{commit, key, read, Setup};

pub async fn quiet_holds_wait_fall_due_and_are_taken_in_order(s: &impl Setup) {
    let store = s.open().await;
    let (k, k2) = (key("news", "1", "4101"), key("news", "1", "4102"));
    let (g1, g2) = commit(&store, {
        let (k, k2) = (k.clone(), k2.clone());
        move |t| {
            let h = |key, pdu| NewHeld {
                key,
                account: "pbx",
                group_id: None,
                ttl_ms: 86_400_000,
                registered_delivery: 0,
                pdu,
            };
            let g1 = t.hold(&h(&k, b"one"))?;
            let g2 = t.hold(&h(&k, b"two"))?;
            t.hold(&h(&k2, b"consent"))?;
            t.set_held_quiet(g1, 1000)?;
            t.set_held_quiet(g2, 2000)?;
            t.set_status(&k, ConsentStatus::Active, "start", "")?;
            t.set_status(&k2, ConsentStatus::Active, "start", "")?;
            Ok((g1, g2))
        }
    })
    .await
    .unwrap();
    assert!(read(&store, |t| t.due_quiet_keys(999, 10)).await.is_empty());
    assert_eq!(
        read(&store, |t| t.due_quiet_keys(1000, 10)).await,
        std::slice::from_ref(&k)
    );
    // An opted-in key whose holds all wait for quiet hours is not settled;
    // one with a consent hold is.
    let settled = read(&store, |t| t.settled_held_keys(10)).await;
    assert_eq!(settled, [(k2.clone(), ConsentStatus::Active)]);
    // Deferred: only the quiet holds move (k2 has none).
    commit(&store, {
        let (k, k2) = (k.clone(), k2.clone());
        move |t| {
            t.defer_held(&k, 5000, false)?;
            t.defer_held(&k2, 3000, false)
        }
    })
    .await
    .unwrap();
    assert!(read(&store, |t| t.due_quiet_keys(4999, 10))
        .await
        .is_empty());
    assert_eq!(
        read(&store, |t| t.due_quiet_keys(5000, 10)).await,
        std::slice::from_ref(&k)
    );
    // With `all`, k2's consent hold becomes a quiet hold.
    commit(&store, {
        let k2 = k2.clone();
        move |t| t.defer_held(&k2, 3000, true)
    })
    .await
    .unwrap();
    assert!(read(&store, |t| t.settled_held_keys(10)).await.is_empty());
    let due = read(&store, |t| t.due_quiet_keys(5000, 10)).await;
    assert_eq!(due.len(), 2);
    // Taken in the order held; nothing of another key.
    let taken = commit(&store, {
        let k = k.clone();
        move |t| t.take_quiet(&k)
    })
    .await
    .unwrap();
    let got: Vec<_> = taken.iter().map(|r| (r.group_id, r.pdu.clone())).collect();
    assert_eq!(got, [(g1, b"one".to_vec()), (g2, b"two".to_vec())]);
    let left = read(&store, |t| t.count_held()).await;
    assert_eq!(left, 1);
    store.close().await.unwrap();
}
