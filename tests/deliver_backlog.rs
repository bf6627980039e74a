//! A dispatcher whose in-memory queue overflows (more than 10,000 rows
//! waiting for one account while its platform is slow) falls back to paging
//! from the store, and still delivers every row, once, in order.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::sync::Arc;
use std::time::Duration;

use optgate::deliver::{DispatchMsg, Dispatcher};
use optgate::pdu::Pdu;
use optgate::route::ToPlatform;
use optgate::store::{DeliveryKind, Store, StoreOptions};

mod common;

const ROWS: usize = 12_500;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_overflowing_queue_is_paged_from_the_store_and_fully_delivered() {
    let dir = tempfile::tempdir().unwrap();
    let mut opts = StoreOptions::new(dir.path().join("o.db"));
    opts.max_stored_deliveries = 100_000;
    let store = Store::open(opts).await.unwrap();
    let account: Arc<str> = Arc::from("pbx");
    let dispatcher = Dispatcher::spawn(
        account.clone(),
        store.clone(),
        &tokio_util::task::TaskTracker::new(),
        tokio_util::sync::CancellationToken::new(),
    );

    // A platform session that takes deliveries but does not answer yet.
    let (tx, mut rx) = tokio::sync::mpsc::channel::<ToPlatform>(4096);
    dispatcher
        .send(DispatchMsg::Register {
            session: 1,
            tx,
            window: Default::default(),
        })
        .await;

    // Store the rows (commits shared in batches) and tell the dispatcher, as
    // the inbound path does.
    let pdu = common::mo("15550001111", "14155550100", "hello");
    let bytes = pdu.to_bytes().to_vec();
    let mut pending = Vec::with_capacity(ROWS);
    for _ in 0..ROWS {
        pending.push(
            store
                .enqueue_delivery_queued(account.to_string(), bytes.clone(), DeliveryKind::Mo)
                .await
                .unwrap(),
        );
    }
    for rx in pending {
        let id = rx.await.unwrap().unwrap();
        dispatcher.try_send(DispatchMsg::Stored {
            id,
            pdu: pdu.clone(),
        });
    }

    // Now answer every delivery; all must arrive, each once, in id order.
    let mut seen: Vec<u64> = Vec::with_capacity(ROWS);
    let deadline = tokio::time::Instant::now() + Duration::from_secs(60);
    while seen.len() < ROWS {
        let msg = tokio::time::timeout_at(deadline, rx.recv())
            .await
            .unwrap_or_else(|_| panic!("stalled after {} of {ROWS} deliveries", seen.len()))
            .unwrap();
        let ToPlatform::Deliver { id, .. } = msg else {
            continue;
        };
        seen.push(id);
        dispatcher
            .send(DispatchMsg::Answered {
                session: 1,
                id,
                status: 0,
                pdu: None::<Pdu>,
            })
            .await;
    }
    let mut sorted = seen.clone();
    sorted.sort_unstable();
    sorted.dedup();
    assert_eq!(sorted.len(), ROWS, "no duplicates");
    assert!(
        seen.windows(2).all(|w| w[0] < w[1]),
        "delivered in store order"
    );
    // Every delivered row is deleted (write-behind: wait for it).
    for _ in 0..100 {
        if store.count_deliveries().await.unwrap() == 0 {
            break;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    assert_eq!(store.count_deliveries().await.unwrap(), 0);
    store.close().await.unwrap();
}
