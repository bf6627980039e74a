//! The PostgreSQL backend's failure paths against a real server: a failing
//! request's savepoint, a statement failing outside one, connect failures,
//! the password from the environment.
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod common;

use std::time::{Duration, Instant};

use common::postgres::Postgres;
use optgate::policy::ConsentStatus;
use optgate::store::consent::{Event, Key};
use optgate::store::postgres::{consent as pc, ops, schema, PgConn};
use optgate::store::StoreError;

const T: Duration = Duration::from_secs(10);

fn open(url: &str) -> PgConn {
    let mut c = PgConn::connect(url, T).unwrap();
    schema::migrate(&mut c).unwrap();
    c
}

fn key(r: &str) -> Key {
    Key {
        campaign: "c1".into(),
        sender: "14155550100".into(),
        recipient: r.into(),
    }
}

#[test]
fn savepoint_failure_keeps_the_batch() {
    let pg = Postgres::start();
    let mut c = open(&pg.create_db());
    c.transaction(|tx| {
        pc::set_status(tx, &key("1"), ConsentStatus::Active, "START", "")?;
        // A failing request inside its savepoint: undone alone.
        let bad = tx.savepoint(|sp| {
            pc::set_status(sp, &key("2"), ConsentStatus::Active, "START", "")?;
            sp.batch("SELECT * FROM no_such_table")
        });
        assert!(matches!(bad, Err(StoreError::Database(_))), "{bad:?}");
        pc::set_status(tx, &key("3"), ConsentStatus::Refused, "STOP", "")?;
        Ok(())
    })
    .unwrap();
    let mut a = c.autocommit();
    assert_eq!(
        pc::get(&mut a, &key("1")).unwrap().status,
        ConsentStatus::Active
    );
    assert_eq!(
        pc::get(&mut a, &key("2")).unwrap().status,
        ConsentStatus::None
    );
    assert_eq!(
        pc::get(&mut a, &key("3")).unwrap().status,
        ConsentStatus::Refused
    );
}

#[test]
fn connect_failures_are_one_line_and_bounded() {
    let pg = Postgres::start();
    let url = pg.create_db();
    // Wrong password.
    let bad = url.replace(common::postgres::PASSWORD, "wrong");
    let err = PgConn::connect(&bad, T)
        .err()
        .expect("wrong password refused");
    let msg = err.to_string();
    assert!(matches!(err, StoreError::Connect { .. }), "{msg}");
    assert!(msg.contains("password"), "{msg}");
    assert!(!msg.contains("wrong"), "password shown: {msg}");
    assert!(!msg.contains('\n'), "{msg}");

    // Nothing listening: refused at once.
    let closed = format!("postgres://u:p@127.0.0.1:{}/db", common::free_port());
    let t0 = Instant::now();
    let err = PgConn::connect(&closed, T).err().expect("refused");
    assert!(err.is_unavailable(), "{err}");
    assert!(t0.elapsed() < T);

    // A server that accepts and never answers: the whole connect is bounded.
    let silent = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let url = format!(
        "postgres://u:p@127.0.0.1:{}/db",
        silent.local_addr().unwrap().port()
    );
    let t0 = Instant::now();
    let err = PgConn::connect(&url, Duration::from_millis(500))
        .err()
        .expect("silent server");
    assert!(err.to_string().contains("no answer within"), "{err}");
    assert!(t0.elapsed() < Duration::from_secs(3));

    // Not a connection string.
    let err = PgConn::connect("postgres://u@h:notaport/db", T)
        .err()
        .expect("bad url");
    assert!(err.to_string().starts_with("cannot connect"), "{err}");
}

#[test]
fn password_from_pgpassword_in_a_child_process() {
    // PGPASSWORD is read from the environment; set it only in a child so
    // parallel tests do not see it. The child is this test binary
    // re-running one helper test.
    if let Ok(url) = std::env::var("OPTGATE_TEST_PG_URL") {
        let mut c = PgConn::connect(&url, T).unwrap();
        ops::ping(&mut c.autocommit()).unwrap();
        return;
    }
    let pg = Postgres::start();
    pg.create_db();
    let url = pg.url_without_password("postgres");
    let exe = std::env::current_exe().unwrap();
    let run = |pw: Option<&str>| {
        let mut cmd = std::process::Command::new(&exe);
        cmd.args([
            "--exact",
            "password_from_pgpassword_in_a_child_process",
            "--test-threads=1",
        ])
        .env("OPTGATE_TEST_PG_URL", &url)
        .env("PGPASSFILE", "/nonexistent");
        match pw {
            Some(p) => cmd.env("PGPASSWORD", p),
            None => cmd.env_remove("PGPASSWORD"),
        };
        cmd.output().unwrap().status.success()
    };
    assert!(run(Some(common::postgres::PASSWORD)));
    assert!(!run(None), "no password must fail");
}

#[test]
fn a_statement_failing_outside_a_savepoint_fails_the_batch() {
    use optgate::store::postgres::PgBackend;
    use optgate::store::{Backend, StoreOptions};
    let pg = Postgres::start();
    let url = pg.create_db();
    let mut opts = StoreOptions::postgres(&url);
    opts.busy_timeout = Duration::from_millis(100);
    let mut backend = PgBackend::open(&opts).unwrap();

    // Requests in savepoints: a failing one spares the others.
    backend
        .run_batch(&mut |t| {
            t.savepoint()?;
            t.as_txn()
                .set_status(&key("1"), ConsentStatus::Active, "START", "")?;
            t.release()?;
            t.savepoint()?;
            assert!(t.as_txn().replace_held(1, b"x", 0).is_ok());
            t.rollback_to_savepoint()?;
            assert!(t.aborted().is_none());
            Ok(())
        })
        .unwrap();

    // Another session locks the consent table: a write outside any
    // savepoint times out, PostgreSQL aborts the whole transaction, and
    // the batch must fail (a COMMIT would silently roll it back).
    let mut locker = PgConn::connect(&url, T).unwrap();
    locker
        .client()
        .batch_execute("BEGIN; LOCK TABLE consent IN EXCLUSIVE MODE")
        .unwrap();
    let r = backend.run_batch(&mut |t| {
        t.savepoint()?;
        t.as_txn().insert_event(&Event {
            key: key("2"),
            kind: "blocked".into(),
            old_status: None,
            new_status: None,
            source: "t".into(),
            message_ids: String::new(),
        })?;
        t.release()?;
        let e = t
            .as_txn()
            .set_status(&key("2"), ConsentStatus::Refused, "STOP", "");
        assert!(e.is_err(), "the lock must time out");
        assert!(t.aborted().is_some(), "the transaction is gone");
        Ok(())
    });
    assert!(matches!(r, Err(StoreError::Commit(_))), "{r:?}");
    locker.client().batch_execute("ROLLBACK").unwrap();
    let mut c = open(&url);
    let mut a = c.autocommit();
    assert_eq!(
        pc::get(&mut a, &key("1")).unwrap().status,
        ConsentStatus::Active
    );
    assert!(
        pc::list_events(&mut a, Some("2"), None, 10)
            .unwrap()
            .is_empty(),
        "nothing of the failed batch is kept"
    );
    // The backend carries on.
    backend
        .run_batch(&mut |t| {
            t.as_txn()
                .set_status(&key("2"), ConsentStatus::Refused, "STOP", "")
                .map(drop)
        })
        .unwrap();
}
