//! The load generator against the carrier simulator on 127.0.0.1:0:
//! exact counts, receipts, throttling, MOs, and a carrier outage.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::time::Duration;

use optgate::sim::carrier::{Carrier, CarrierOpts};
use optgate::sim::load::{self, LoadOpts, MixKind};

async fn carrier(opts: CarrierOpts) -> Carrier {
    let listen = "127.0.0.1:0".parse().unwrap();
    Carrier::start(CarrierOpts { listen, ..opts })
        .await
        .unwrap()
}

fn load_opts(c: &Carrier, count: u64) -> LoadOpts {
    LoadOpts {
        target: c.addr(),
        binds: 2,
        window: 50,
        count: Some(count),
        ..LoadOpts::default()
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn counts_are_exact_and_receipts_are_acked() {
    let c = carrier(CarrierOpts {
        receipts: true,
        ..CarrierOpts::default()
    })
    .await;
    let opts = LoadOpts {
        mix: vec![MixKind::Gsm7, MixKind::Ucs2, MixKind::Multipart],
        registered_delivery: true,
        ..load_opts(&c, 2000)
    };
    let r = load::run(&opts).await.unwrap();
    assert_eq!(r.binds, 2);
    assert_eq!(r.sent, 2000);
    assert_eq!(r.ok, 2000);
    assert_eq!(r.errors_total(), 0);
    assert_eq!((r.lost, r.unmatched, r.disconnects), (0, 0, 0));
    assert_eq!(r.latency.count(), 2000);
    assert_eq!(r.receipts, 2000);
    let s = c.stats();
    assert_eq!(s.binds, 2);
    assert_eq!(s.submits, 2000);
    assert_eq!(s.receipts_sent, 2000);
    assert_eq!(s.receipts_acked, 2000, "every receipt acked before unbind");
    c.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn no_receipts_unless_asked() {
    let c = carrier(CarrierOpts {
        receipts: true,
        ..CarrierOpts::default()
    })
    .await;
    let r = load::run(&load_opts(&c, 500)).await.unwrap();
    assert_eq!(r.ok, 500);
    assert_eq!(r.receipts, 0);
    assert_eq!(c.stats().receipts_sent, 0);
    c.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn throttle_share_is_counted_by_name() {
    let c = carrier(CarrierOpts {
        throttle_share: 0.25,
        ..CarrierOpts::default()
    })
    .await;
    let opts = LoadOpts {
        binds: 1,
        ..load_opts(&c, 2000)
    };
    let r = load::run(&opts).await.unwrap();
    assert_eq!(r.errors.get("ESME_RTHROTTLED"), Some(&500));
    assert_eq!(r.errors.len(), 1);
    assert_eq!(r.ok, 1500);
    assert_eq!(r.sent, r.ok + r.errors_total());
    assert_eq!(c.stats().throttled, 500);
    c.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn mos_are_injected_and_acked() {
    let c = carrier(CarrierOpts {
        mo_rate: 2000.0,
        mo_stop_share: 1.0,
        ..CarrierOpts::default()
    })
    .await;
    let r = load::run(&load_opts(&c, 2000)).await.unwrap();
    assert_eq!(r.ok, 2000);
    // The first MO goes right after each bind, so at least one per bind.
    assert!(r.mos >= 2, "{r}");
    assert_eq!(r.mo_stops, r.mos, "every MO says STOP at share 1.0");
    let s = c.stats();
    assert_eq!(s.mos_sent, r.mos);
    assert_eq!(s.mos_acked, s.mos_sent);
    assert_eq!(s.mo_stops, s.mos_sent);
    c.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn delayed_answers_keep_the_pipeline_full() {
    let c = carrier(CarrierOpts {
        delay: Duration::from_millis(20),
        ..CarrierOpts::default()
    })
    .await;
    let r = load::run(&load_opts(&c, 1000)).await.unwrap();
    assert_eq!(r.ok, 1000);
    // Every answer waited for the delay.
    assert!(r.latency_at(0.0) >= Duration::from_millis(19), "{r}");
    c.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn dropped_connections_end_the_run_with_disconnects() {
    let c = carrier(CarrierOpts::default()).await;
    let opts = LoadOpts {
        count: None,
        duration: Some(Duration::from_secs(600)),
        ..load_opts(&c, 0)
    };
    let run = tokio::spawn(async move { load::run(&opts).await });
    while c.stats().submits < 1000 {
        tokio::time::sleep(Duration::from_millis(5)).await;
    }
    c.drop_connections();
    let r = tokio::time::timeout(Duration::from_secs(30), run)
        .await
        .expect("the run ends instead of hanging")
        .unwrap()
        .unwrap();
    assert_eq!(r.disconnects, 2);
    assert!(r.sent >= 1000);
    assert_eq!(r.sent, r.ok + r.errors_total() + r.lost);
    c.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn wrong_credentials_fail_the_bind() {
    let c = carrier(CarrierOpts {
        credentials: Some(("pbx".into(), "right".into())),
        ..CarrierOpts::default()
    })
    .await;
    let err = load::run(&load_opts(&c, 10)).await.unwrap_err();
    assert!(err.to_string().contains("ESME_RINVPASWD"), "{err}");
    let ok = LoadOpts {
        password: "right".into(),
        ..load_opts(&c, 10)
    };
    assert_eq!(load::run(&ok).await.unwrap().ok, 10);
    c.shutdown().await;
}

/// `sim load --tls-ca` against `sim carrier --tls-cert/--tls-key`, with
/// certificates from `sim certs`: every submit answered, receipts over TLS
/// too; a plain load is refused by the TLS carrier, and a client trusting
/// another CA never binds.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn load_over_tls_against_a_tls_carrier() {
    let dir = tempfile::tempdir().unwrap();
    optgate::sim::certs::write(dir.path()).unwrap();
    let p = |n: &str| dir.path().join(n).display().to_string();
    let server = optgate::tls::server_config(&p("server.pem"), &p("server.key"), "").unwrap();
    let c = carrier(CarrierOpts {
        receipts: true,
        tls: Some(server.config),
        ..CarrierOpts::default()
    })
    .await;
    let client = optgate::tls::client_config(&p("ca.pem"), "localhost", "", "", "").unwrap();
    let opts = LoadOpts {
        mix: vec![MixKind::Gsm7, MixKind::Multipart],
        registered_delivery: true,
        tls: Some(client),
        ..load_opts(&c, 500)
    };
    let r = load::run(&opts).await.unwrap();
    assert_eq!((r.sent, r.ok, r.lost, r.errors_total()), (500, 500, 0, 0));
    assert_eq!(r.receipts, 500);
    assert_eq!(r.disconnects, 0);
    assert_eq!(c.stats().submits, 500);

    let plain = LoadOpts {
        tls: None,
        connect_timeout: Duration::from_secs(2),
        ..load_opts(&c, 10)
    };
    assert!(
        load::run(&plain).await.is_err(),
        "plain SMPP to a TLS carrier"
    );

    let other = tempfile::tempdir().unwrap();
    optgate::sim::certs::write(other.path()).unwrap();
    let ca = other.path().join("ca.pem").display().to_string();
    let wrong = LoadOpts {
        tls: Some(optgate::tls::client_config(&ca, "localhost", "", "", "").unwrap()),
        ..load_opts(&c, 10)
    };
    let e = load::run(&wrong).await.err().map(|e| e.to_string());
    let e = e.expect("a client trusting another CA must not bind");
    // Both CAs share a name, so rustls finds the issuer and the signature fails.
    assert!(e.contains("invalid peer certificate"), "{e}");
    c.shutdown().await;
}
