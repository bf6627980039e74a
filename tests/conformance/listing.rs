//! The consent listing under every filter shape and page cursor: byte
//! order (SQLite's), the same rows page by page as in one listing.

use optgate::policy::ConsentStatus;
use optgate::policy::ConsentStatus::{Active, Pending, Refused};
use optgate::store::consent::{ConsentFilter, Key};
use optgate::store::StoreTxn;

use super::{commit, key, read, Setup};

/// Rows in two cases of campaign and sender (byte order puts upper case
/// first, most collations do not), three statuses; every filter shape
/// paged two rows at a time gives what one listing gives.
pub async fn consent_pages_in_byte_order_under_every_filter(s: &impl Setup) {
    let store = s.open().await;
    let campaigns = ["Zeta", "alpha", "b-c", "bc"];
    let senders = ["", "A1", "a1"];
    let statuses = [Active, Refused, Pending];
    let mut keys = Vec::new();
    for (i, c) in campaigns.iter().enumerate() {
        for (j, snd) in senders.iter().enumerate() {
            for r in 0..3 {
                let st = statuses[(i + j + r) % 3];
                keys.push((key(c, snd, &format!("1415555{r:04}")), st));
            }
        }
    }
    let rows = keys.clone();
    commit(&store, move |t| {
        for (k, st) in &rows {
            t.set_status(k, *st, "api", "")?;
        }
        Ok(())
    })
    .await
    .unwrap();

    let mut sorted: Vec<Key> = keys.iter().map(|(k, _)| k.clone()).collect();
    sorted.sort_by(|a, b| {
        (
            a.campaign.as_bytes(),
            a.sender.as_bytes(),
            a.recipient.as_bytes(),
        )
            .cmp(&(
                b.campaign.as_bytes(),
                b.sender.as_bytes(),
                b.recipient.as_bytes(),
            ))
    });
    let all = list(&store, ConsentFilter::default(), None, 1000).await;
    assert_eq!(all, sorted, "byte order");

    let filters = [
        (Some("alpha"), None, None, None),
        (Some("alpha"), Some("a1"), None, None),
        (Some("Zeta"), Some(""), None, Some(Refused)),
        (None, Some("A1"), None, None),
        (None, None, Some("14155550001"), None),
        (None, None, None, Some(Pending)),
        (Some("bc"), None, Some("14155550002"), Some(Active)),
    ];
    for (c, snd, r, st) in filters {
        let f = ConsentFilter {
            campaign: c.map(Into::into),
            sender: snd.map(Into::into),
            recipient: r.map(Into::into),
            status: st,
        };
        let want: Vec<Key> = sorted
            .iter()
            .filter(|k| {
                c.map_or(true, |c| k.campaign == c)
                    && snd.map_or(true, |s| k.sender == s)
                    && r.map_or(true, |r| k.recipient == r)
                    && st.map_or(true, |st| status_of(&keys, k) == st)
            })
            .cloned()
            .collect();
        assert!(!want.is_empty(), "{f:?} matches rows");
        assert_eq!(list(&store, f.clone(), None, 1000).await, want, "{f:?}");
        let mut paged = Vec::new();
        let mut after = None;
        loop {
            let page = list(&store, f.clone(), after.clone(), 2).await;
            paged.extend(page.iter().cloned());
            if page.len() < 2 {
                break;
            }
            after = page.last().cloned();
        }
        assert_eq!(paged, want, "{f:?} page by page");
    }
    store.close().await.unwrap();
}

fn status_of(keys: &[(Key, ConsentStatus)], k: &Key) -> ConsentStatus {
    keys.iter().find(|(x, _)| x == k).map(|(_, s)| *s).unwrap()
}

async fn list(
    store: &optgate::store::Store,
    f: ConsentFilter,
    after: Option<Key>,
    n: u32,
) -> Vec<Key> {
    read(store, move |t| t.list_consent(&f, after.as_ref(), n))
        .await
        .into_iter()
        .map(|r| r.key)
        .collect()
}
