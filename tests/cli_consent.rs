//! The store commands of the real binary (`logs`, `events`, `consent
//! set/import/export`, `held`) against a temporary config and database.
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod common;

use std::path::{Path, PathBuf};
use std::process::{Command, Output};

use common::postgres::Backend;
use optgate::store::consent::{Key, NewHeld};
use optgate::store::{Database, StoreError};

/// A config with two campaigns: `alerts` (number scope, two numbers) and
/// `news` (campaign scope, one number); the store in the same tempdir.
struct Env {
    dir: tempfile::TempDir,
    config: PathBuf,
    /// The PostgreSQL URL of an environment on that backend (a database
    /// of the shared server).
    pg: Option<String>,
}

impl Env {
    fn new() -> Env {
        Self::new_on(Backend::Sqlite)
    }

    fn new_on(backend: Backend) -> Env {
        let dir = tempfile::tempdir().unwrap();
        let config = dir.path().join("optgate.toml");
        let text = format!(
            r#"
[server]
listen = "127.0.0.1:0"
[[server.accounts]]
system_id = "pbx"
password = "secret"
numbers = ["14155550100", "14155550101", "14155550200"]
[upstream]
address = "127.0.0.1:2776"
system_id = "optgate"
password = "secret"
[store]
path = "{}"
[admin]
listen = "127.0.0.1:0"
[numbers]
default_country_code = "1"
[[campaigns]]
id = "alerts"
status = "approved"
brand = "ACME"
numbers = ["14155550100", "+1 415 555 0101"]
consent_scope = "number"
[[campaigns]]
id = "news"
status = "approved"
brand = "ACME News"
numbers = ["14155550200"]
consent_scope = "campaign"
"#,
            dir.path().join("optgate.db").display()
        );
        let text = backend.toml(&text);
        let pg = (backend == Backend::Postgres).then(|| {
            let cfg = optgate::config::Config::from_toml_str(&text).unwrap();
            cfg.store.url
        });
        std::fs::write(&config, text).unwrap();
        Env { dir, config, pg }
    }

    fn run(&self, args: &[&str]) -> Output {
        let out = Command::new(env!("CARGO_BIN_EXE_optgate"))
            .args(args)
            .arg("-c")
            .arg(&self.config)
            .env_remove("OPTGATE_CONFIG")
            .output()
            .unwrap();
        out
    }

    /// Runs and insists on exit 0; returns stdout.
    fn ok(&self, args: &[&str]) -> String {
        let out = self.run(args);
        assert_eq!(
            out.status.code(),
            Some(0),
            "{args:?}: {}{}",
            String::from_utf8_lossy(&out.stdout),
            String::from_utf8_lossy(&out.stderr)
        );
        String::from_utf8(out.stdout).unwrap()
    }

    fn file(&self, name: &str, text: &str) -> String {
        let p = self.dir.path().join(name);
        std::fs::write(&p, text).unwrap();
        p.display().to_string()
    }

    /// Runs SQL on the store directly (a hand edit), whichever backend.
    fn sql(&self, sql: &str) {
        match &self.pg {
            Some(url) => ::postgres::Client::connect(url, ::postgres::NoTls)
                .unwrap()
                .batch_execute(sql)
                .unwrap(),
            None => {
                let db = self.db();
                rusqlite::Connection::open(self.dir.path().join("optgate.db"))
                    .unwrap()
                    .execute_batch(sql)
                    .unwrap();
                drop(db);
            }
        }
    }

    fn db(&self) -> Database {
        let path = self.dir.path().join("optgate.db");
        match &self.pg {
            Some(url) => {
                Database::open_postgres(url, std::time::Duration::from_secs(10), &path).unwrap()
            }
            None => Database::open(&path).unwrap(),
        }
    }
}

fn stderr(o: &Output) -> String {
    String::from_utf8_lossy(&o.stderr).into_owned()
}

fn lines(s: &str) -> Vec<&str> {
    s.lines().collect()
}

#[test]
fn set_then_logs_json_has_exactly_the_documented_keys() {
    set_then_logs_json_has_exactly_the_documented_keys_on(Backend::Sqlite);
}

fn set_then_logs_json_has_exactly_the_documented_keys_on(backend: Backend) {
    let env = Env::new_on(backend);
    let said = env.ok(&[
        "consent",
        "set",
        "--campaign",
        "alerts",
        "--sender",
        "4155550100",
        "--recipient",
        "(415) 555-1001",
        "--status",
        "active",
        "--reason",
        "asked by phone",
    ]);
    assert_eq!(said.trim(), "alerts 14155550100 14155551001: none → active");
    let json = env.ok(&["logs", "--format", "json"]);
    let rows = lines(&json);
    assert_eq!(rows.len(), 1, "{json}");
    let prefix = r#"{"campaign":"alerts","sender":"14155550100","recipient":"14155551001","status":"active","updated_at":""#;
    let suffix = r#"","source":"cli: asked by phone"}"#;
    assert!(
        rows[0].starts_with(prefix) && rows[0].ends_with(suffix),
        "{json}"
    );
    let at = &rows[0][prefix.len()..rows[0].len() - suffix.len()];
    assert!(humantime::parse_rfc3339(at).is_ok(), "updated_at {at:?}");

    // Campaign scope: no sender needed, stored and printed empty.
    env.ok(&[
        "consent",
        "set",
        "--campaign",
        "news",
        "--recipient",
        "4155551002",
        "--status",
        "refused",
    ]);
    let csv = env.ok(&["logs", "--campaign", "news", "--format", "csv"]);
    let rows = lines(&csv);
    assert_eq!(
        rows[0],
        "campaign,sender,recipient,status,updated_at,source"
    );
    assert!(rows[1].starts_with("news,,14155551002,refused,"), "{csv}");
    assert!(rows[1].ends_with(",cli"), "{csv}");

    let table = env.ok(&["logs"]);
    assert!(table.starts_with("CAMPAIGN  SENDER"), "{table}");
    assert!(
        table.contains("Active") && table.contains("Refused"),
        "{table}"
    );
}

#[test]
fn set_none_forgets_the_key_and_records_the_change() {
    set_none_forgets_the_key_and_records_the_change_on(Backend::Sqlite);
}

fn set_none_forgets_the_key_and_records_the_change_on(backend: Backend) {
    let env = Env::new_on(backend);
    let key = [
        "--campaign",
        "alerts",
        "--sender",
        "14155550101",
        "--recipient",
        "4155551001",
    ];
    env.ok(&[&["consent", "set"][..], &key, &["--status", "refused"]].concat());
    let again = env.ok(&[&["consent", "set"][..], &key, &["--status", "refused"]].concat());
    assert!(again.contains("refused (unchanged)"), "{again}");
    let said = env.ok(&[&["consent", "set"][..], &key, &["--status", "none"]].concat());
    assert!(said.contains("refused → none"), "{said}");
    assert_eq!(env.ok(&["logs", "--format", "json"]), "");
    let events = env.ok(&["events", "--format", "csv"]);
    let rows = lines(&events);
    assert_eq!(
        rows.len(),
        3,
        "two changes, no event for the no-op: {events}"
    );
    assert!(
        rows[2].contains(",consent_change,refused,none,cli,"),
        "{events}"
    );
}

#[test]
fn set_rejects_what_the_config_does_not_allow() {
    set_rejects_what_the_config_does_not_allow_on(Backend::Sqlite);
}

fn set_rejects_what_the_config_does_not_allow_on(backend: Backend) {
    let env = Env::new_on(backend);
    let cases: &[(&[&str], &str)] = &[
        (
            &["--campaign", "nope", "--recipient", "4155551001"],
            "unknown campaign \"nope\"",
        ),
        (
            &["--campaign", "alerts", "--recipient", "4155551001"],
            "give --sender",
        ),
        (
            &[
                "--campaign",
                "alerts",
                "--sender",
                "14155550200",
                "--recipient",
                "4155551001",
            ],
            "not a number of campaign \"alerts\"",
        ),
        (
            &[
                "--campaign",
                "alerts",
                "--sender",
                "14155550100",
                "--recipient",
                "bob",
            ],
            "not a phone number",
        ),
    ];
    for (args, want) in cases {
        let out = env.run(&[&["consent", "set", "--status", "active"][..], args].concat());
        assert_eq!(out.status.code(), Some(64), "{args:?}");
        assert!(stderr(&out).contains(want), "{args:?}: {}", stderr(&out));
    }
    assert_eq!(env.ok(&["events", "--format", "json"]), "");
}

#[test]
fn carrier_opt_out_list_imports_as_refused_for_every_number() {
    carrier_opt_out_list_imports_as_refused_for_every_number_on(Backend::Sqlite);
}

fn carrier_opt_out_list_imports_as_refused_for_every_number_on(backend: Backend) {
    let env = Env::new_on(backend);
    let file = env.file(
        "carrier.csv",
        "Recipient\r\n4155552001\r\n\r\n+1 415 555 2002\r\n",
    );
    let said = env.ok(&["consent", "import", "--campaign", "alerts", &file]);
    // Number scope, no sender column: each row refuses both campaign numbers.
    assert!(
        said.contains("2 rows into campaign alerts: 4 changed, 0 unchanged"),
        "{said}"
    );
    let refused = env.ok(&["logs", "--status", "refused", "--format", "csv"]);
    let keys: Vec<String> = lines(&refused)[1..]
        .iter()
        .map(|l| l.split(',').take(3).collect::<Vec<_>>().join(","))
        .collect();
    assert_eq!(
        keys,
        [
            "alerts,14155550100,14155552001",
            "alerts,14155550100,14155552002",
            "alerts,14155550101,14155552001",
            "alerts,14155550101,14155552002",
        ]
    );
    assert_eq!(
        env.ok(&["logs", "--status", "active", "--format", "json"]),
        ""
    );
    let events = env.ok(&["events", "--recipient", "4155552001", "--format", "json"]);
    assert_eq!(lines(&events).len(), 2, "{events}");
    assert!(
        events.lines().all(|l| l.contains(r#""source":"import""#)),
        "{events}"
    );
    // Importing the same list again changes nothing.
    let again = env.ok(&["consent", "import", "--campaign", "alerts", &file]);
    assert!(again.contains("0 changed, 4 unchanged"), "{again}");
}

#[test]
fn an_invalid_row_aborts_the_whole_import() {
    an_invalid_row_aborts_the_whole_import_on(Backend::Sqlite);
}

fn an_invalid_row_aborts_the_whole_import_on(backend: Backend) {
    let env = Env::new_on(backend);
    let file = env.file(
        "bad.csv",
        "recipient,status\n4155553001,refused\n4155553002,maybe\n4155553003,active\nnot-a-number,refused\n",
    );
    let out = env.run(&["consent", "import", "--campaign", "news", &file]);
    assert_eq!(out.status.code(), Some(65), "{}", stderr(&out));
    let err = stderr(&out);
    assert!(err.contains("bad.csv: line 3: status \"maybe\""), "{err}");
    assert!(
        err.contains("bad.csv: line 5: \"not-a-number\" is not a phone number"),
        "{err}"
    );
    assert!(err.contains("nothing was changed"), "{err}");
    assert_eq!(env.ok(&["logs", "--format", "json"]), "");
    assert_eq!(env.ok(&["events", "--format", "json"]), "");

    let unknown = env.file("typo.csv", "recipient,stauts\n4155553001,active\n");
    let out = env.run(&["consent", "import", "--campaign", "news", &unknown]);
    assert_eq!(out.status.code(), Some(65));
    assert!(
        stderr(&out).contains("line 1: unknown column \"stauts\""),
        "{}",
        stderr(&out)
    );
}

#[test]
fn export_round_trips_what_import_wrote() {
    export_round_trips_what_import_wrote_on(Backend::Sqlite);
}

fn export_round_trips_what_import_wrote_on(backend: Backend) {
    let env = Env::new_on(backend);
    let file = env.file(
        "in.csv",
        "recipient,status,sender,updated_at,source\n\
         4155554001,active,4155550100,2024-05-01T12:00:00.250Z,web form\n\
         4155554002,refused,,2024-05-02T08:30:00Z,\"STOP, said twice\"\n",
    );
    env.ok(&["consent", "import", "--campaign", "alerts", &file]);
    let exported = env.ok(&["consent", "export", "--campaign", "alerts", "-"]);
    assert_eq!(
        exported,
        "recipient,status,sender,updated_at,source\n\
         14155554001,active,14155550100,2024-05-01T12:00:00.250Z,web form\n\
         14155554002,refused,14155550100,2024-05-02T08:30:00.000Z,\"STOP, said twice\"\n\
         14155554002,refused,14155550101,2024-05-02T08:30:00.000Z,\"STOP, said twice\"\n"
    );
    // Into a fresh store and out again: the same bytes.
    let other = Env::new();
    let path = other.file("from-env.csv", &exported);
    other.ok(&["consent", "import", "--campaign", "alerts", &path]);
    let out_file = other.dir.path().join("out.csv");
    other.ok(&[
        "consent",
        "export",
        "--campaign",
        "alerts",
        out_file.to_str().unwrap(),
    ]);
    assert_eq!(std::fs::read_to_string(&out_file).unwrap(), exported);
}

#[test]
fn held_lists_messages_with_their_parts() {
    held_lists_messages_with_their_parts_on(Backend::Sqlite);
}

fn held_lists_messages_with_their_parts_on(backend: Backend) {
    let env = Env::new_on(backend);
    let key = |r: &str| Key {
        campaign: "alerts".into(),
        sender: "14155550100".into(),
        recipient: r.into(),
    };
    let mut db = env.db();
    let (first, single) = db
        .write(|t| -> Result<_, StoreError> {
            let mut hold = |r: &str, group_id, registered_delivery, pdu: &[u8]| {
                t.hold(&NewHeld {
                    key: &key(r),
                    account: "pbx",
                    group_id,
                    ttl_ms: 60_000,
                    registered_delivery,
                    pdu,
                })
            };
            let first = hold("14155555001", None, 1, b"p1")?;
            let single = hold("14155555002", None, 0, b"s")?;
            hold("14155555001", Some(first), 1, b"p2")?;
            Ok((first, single))
        })
        .unwrap();
    drop(db);

    let json = env.ok(&["held", "--format", "json"]);
    let rows = lines(&json);
    assert_eq!(rows.len(), 2, "{json}");
    assert!(rows[0].starts_with(&format!(
        r#"{{"id":{first},"campaign":"alerts","sender":"14155550100","recipient":"14155555001","account":"pbx","held_at":""#
    )), "{json}");
    assert!(rows[0].ends_with(r#","parts":2}"#), "{json}");
    assert!(
        rows[1].starts_with(&format!(r#"{{"id":{single},"#)),
        "{json}"
    );
    assert!(rows[1].ends_with(r#","parts":1}"#), "{json}");

    let one = env.ok(&["held", "--recipient", "415 555 5002", "--format", "csv"]);
    assert_eq!(lines(&one).len(), 2, "{one}");
    assert!(one.contains(",14155555002,pbx,"), "{one}");
}

#[test]
fn events_since_filters_by_time() {
    events_since_filters_by_time_on(Backend::Sqlite);
}

fn events_since_filters_by_time_on(backend: Backend) {
    let env = Env::new_on(backend);
    for r in ["4155556001", "4155556002"] {
        env.ok(&[
            "consent",
            "set",
            "--campaign",
            "news",
            "--recipient",
            r,
            "--status",
            "active",
        ]);
    }
    // Pin the event times so the filter is tested without the clock.
    env.sql(
        "UPDATE events SET at = 1714564800000 WHERE recipient = '14155556001';
         UPDATE events SET at = 1714651200000 WHERE recipient = '14155556002';",
    );
    let csv = env.ok(&[
        "events",
        "--since",
        "2024-05-02T00:00:00Z",
        "--format",
        "csv",
    ]);
    let rows = lines(&csv);
    assert_eq!(rows.len(), 2, "{csv}");
    assert!(
        rows[1].contains(
            ",2024-05-02T12:00:00.000Z,news,,14155556002,consent_change,none,active,cli,"
        ),
        "{csv}"
    );
    assert_eq!(
        lines(&env.ok(&["events", "--since", "2024-05-01", "--format", "csv"])).len(),
        3
    );
    let bad = env.run(&["events", "--since", "last tuesday"]);
    assert_eq!(bad.status.code(), Some(64));
}

#[test]
fn a_store_that_cannot_be_opened_exits_74() {
    let env = Env::new();
    let text = std::fs::read_to_string(&env.config).unwrap();
    let blocked = env.file("not-a-dir", "");
    let db = Path::new(&blocked).join("optgate.db");
    let text = text.replace(
        &env.dir.path().join("optgate.db").display().to_string(),
        &db.display().to_string(),
    );
    std::fs::write(&env.config, text).unwrap();
    let out = env.run(&["logs"]);
    assert_eq!(out.status.code(), Some(74), "{}", stderr(&out));
    assert!(
        stderr(&out).contains("cannot open the store"),
        "{}",
        stderr(&out)
    );
}

/// The same commands on the PostgreSQL backend (the file-permission test
/// is SQLite's own).
mod on_postgres {
    use super::Backend::Postgres;

    #[test]
    fn set_then_logs_json_has_exactly_the_documented_keys() {
        super::set_then_logs_json_has_exactly_the_documented_keys_on(Postgres);
    }

    #[test]
    fn set_none_forgets_the_key_and_records_the_change() {
        super::set_none_forgets_the_key_and_records_the_change_on(Postgres);
    }

    #[test]
    fn set_rejects_what_the_config_does_not_allow() {
        super::set_rejects_what_the_config_does_not_allow_on(Postgres);
    }

    #[test]
    fn carrier_opt_out_list_imports_as_refused_for_every_number() {
        super::carrier_opt_out_list_imports_as_refused_for_every_number_on(Postgres);
    }

    #[test]
    fn an_invalid_row_aborts_the_whole_import() {
        super::an_invalid_row_aborts_the_whole_import_on(Postgres);
    }

    #[test]
    fn export_round_trips_what_import_wrote() {
        super::export_round_trips_what_import_wrote_on(Postgres);
    }

    #[test]
    fn held_lists_messages_with_their_parts() {
        super::held_lists_messages_with_their_parts_on(Postgres);
    }

    #[test]
    fn events_since_filters_by_time() {
        super::events_since_filters_by_time_on(Postgres);
    }
}
