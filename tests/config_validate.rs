//! `Config::validate`: each rule reports one line naming key, value and why.

use optgate::config::Config;

const VALID: &str = r#"
[upstream]
address = "127.0.0.1:2776"
system_id = "optgate"

[[server.accounts]]
system_id = "pbx"
password = "secret"
numbers = ["14155550100"]

[[campaigns]]
id = "x"
brand = "ACME"
numbers = ["14155550100"]
"#;

/// Problem lines of `VALID` with `extra` appended (TOML tables may repeat
/// only as arrays, so `extra` uses keys not in `VALID` or whole new tables).
fn problems(extra: &str) -> Vec<String> {
    match Config::from_toml_str(&format!("{VALID}\n{extra}")) {
        Ok(_) => Vec::new(),
        Err(e) => e.problems.iter().map(ToString::to_string).collect(),
    }
}

/// Problem lines of a config built by replacing `from` with `to` in `VALID`.
fn problems_replacing(from: &str, to: &str) -> Vec<String> {
    assert!(VALID.contains(from), "{from} not in VALID");
    match Config::from_toml_str(&VALID.replacen(from, to, 1)) {
        Ok(_) => Vec::new(),
        Err(e) => e.problems.iter().map(ToString::to_string).collect(),
    }
}

fn assert_has(lines: &[String], want: &str) {
    assert!(
        lines.iter().any(|l| l == want),
        "missing {want:?} in {lines:#?}"
    );
}

#[test]
fn valid_base_has_no_problems() {
    assert!(problems("").is_empty(), "{:?}", problems(""));
}

#[test]
fn socket_addresses_must_parse() {
    let l = problems("[server]\nlisten = \"127.0.0.1:99999\"\n[admin]\nlisten = \"localhost\"\n");
    assert_has(
        &l,
        r#"server.listen: "127.0.0.1:99999": not a socket address (ip:port)"#,
    );
    assert_has(
        &l,
        r#"admin.listen: "localhost": not a socket address (ip:port)"#,
    );
}

#[test]
fn upstream_address_accepts_host_names_but_needs_a_port() {
    assert!(problems_replacing("127.0.0.1:2776", "smsc.carrier.example:2775").is_empty());
    let l = problems_replacing("127.0.0.1:2776", "smsc.carrier.example");
    assert_has(
        &l,
        r#"upstream.address: "smsc.carrier.example": not host:port"#,
    );
    let l = problems_replacing("address = \"127.0.0.1:2776\"", "");
    assert_has(
        &l,
        r#"upstream.address: "": required (host:port of the carrier SMSC)"#,
    );
}

#[test]
fn windows_and_counts_must_be_at_least_one() {
    let l = problems_replacing(
        "system_id = \"optgate\"",
        "system_id = \"optgate\"\nbinds = 0\nwindow = 0",
    );
    assert_has(&l, "upstream.binds: 0: must be at least 1");
    assert_has(&l, "upstream.window: 0: must be at least 1");
    let l = problems("[server]\nwindow = 0\n[store]\nbatch_max = 0\n");
    assert_has(&l, "server.window: 0: must be at least 1");
    assert_has(&l, "store.batch_max: 0: must be at least 1");
}

#[test]
fn durations_must_be_positive() {
    let l = problems("[server]\nbind_timeout = \"0s\"\n");
    assert_has(&l, r#"server.bind_timeout: "0s": must be longer than zero"#);
}

#[test]
fn reconnect_min_must_not_exceed_max() {
    let l = problems_replacing(
        "system_id = \"optgate\"",
        "system_id = \"optgate\"\nreconnect_min = \"2m\"\nreconnect_max = \"30s\"",
    );
    assert_has(
        &l,
        r#"upstream.reconnect_min: "2m": greater than upstream.reconnect_max (30s)"#,
    );
}

#[test]
fn smpp_string_limits() {
    let l = problems_replacing(
        "system_id = \"pbx\"\npassword = \"secret\"",
        "system_id = \"abcdefghijklmnop\"\npassword = \"123456789\"",
    );
    assert_has(
        &l,
        r#"server.accounts[0].system_id: "abcdefghijklmnop": longer than 15 characters (SMPP limit)"#,
    );
    assert_has(
        &l,
        r#"server.accounts[0].password: "123456789": longer than 8 characters (SMPP limit)"#,
    );
    // 15 and 8 characters are fine.
    assert!(problems_replacing(
        "system_id = \"pbx\"\npassword = \"secret\"",
        "system_id = \"abcdefghijklmno\"\npassword = \"12345678\""
    )
    .is_empty());
}

#[test]
fn system_ids_are_unique_and_numbers_belong_to_one_account() {
    let l = problems("[[server.accounts]]\nsystem_id = \"pbx\"\npassword = \"p\"\nnumbers = [\"+1 415 555 0100\"]\n");
    assert_has(
        &l,
        r#"server.accounts[1].system_id: "pbx": already used by server.accounts[0]"#,
    );
    let l = problems("[[server.accounts]]\nsystem_id = \"crm\"\npassword = \"p\"\nnumbers = [\"14155550199\", \"+14155550100\"]\n");
    assert_has(
        &l,
        r#"server.accounts[1].numbers[1]: "+14155550100": also in account "pbx""#,
    );
}

#[test]
fn campaign_ids_unique_and_numbers_in_one_campaign() {
    let l = problems(
        "[[campaigns]]\nid = \"x\"\nbrand = \"B\"\nnumbers = [\"14155550101\", \"14155550100\"]\n",
    );
    assert_has(&l, r#"campaigns[1].id: "x": already used by campaigns[0]"#);
    let l = problems(
        "[[campaigns]]\nid = \"y\"\nbrand = \"B\"\nnumbers = [\"14155550101\", \"14155550100\"]\n",
    );
    assert_has(
        &l,
        r#"campaigns[1].numbers[1]: "14155550100": also in campaign "x""#,
    );
}

#[test]
fn templates_allow_only_known_placeholders() {
    let l = problems("[[campaigns]]\nid = \"y\"\nbrand = \"B\"\nfooter = \"Reply {stop_word}\"\nhelp_response = \"{brand: help\"\n");
    assert_has(
        &l,
        r#"campaigns[1].footer: "Reply {stop_word}": unknown placeholder {stop_word} (allowed: {brand}, {start_word})"#,
    );
    assert_has(
        &l,
        r#"campaigns[1].help_response: "{brand: help": unclosed { in template"#,
    );
}

#[test]
fn brand_must_not_be_empty() {
    let l = problems_replacing("brand = \"ACME\"", "brand = \" \"");
    assert_has(&l, r#"campaigns[0].brand: " ": must not be empty"#);
}

#[test]
fn start_word_must_not_be_an_opt_out_keyword() {
    let l = problems_replacing(
        "brand = \"ACME\"",
        "brand = \"ACME\"\nstart_word = \"opt-out\"",
    );
    assert_has(
        &l,
        r#"campaigns[0].start_word: "opt-out": is also an opt-out keyword"#,
    );
}

#[test]
fn a_keyword_in_two_lists_is_reported() {
    let l = problems("[keywords]\nopt_in = [\"START\", \"stop\"]\n");
    assert_has(
        &l,
        r#"keywords.opt_in[1]: "stop": also in keywords.opt_out"#,
    );
}

#[test]
fn block_codes_must_be_permanent() {
    for code in ["0x08", "0x14", "0x58", "0"] {
        let l = problems(&format!("[status_codes]\nprevented = {code}\n"));
        assert_eq!(l.len(), 1, "{l:?}");
        assert!(l[0].starts_with("status_codes.prevented: 0x"), "{l:?}");
        assert!(l[0].contains("platforms would retry"), "{l:?}");
    }
}

#[test]
fn allowed_ips_and_country_code_are_checked() {
    let l = problems_replacing(
        "password = \"secret\"",
        "password = \"secret\"\nallowed_ips = [\"10.0.0.0/8\", \"10.0.0.0/33\"]",
    );
    assert_has(
        &l,
        r#"server.accounts[0].allowed_ips[1]: "10.0.0.0/33": not an IP address or network (addr/len)"#,
    );
    let l = problems("[numbers]\ndefault_country_code = \"+1\"\n");
    assert_has(
        &l,
        r#"numbers.default_country_code: "+1": not a country calling code (1 to 3 digits, no +)"#,
    );
}

#[test]
fn every_problem_is_reported_at_once() {
    let l = problems("[server]\nlisten = \"nope\"\nwindow = 0\n[store]\nbatch_max = 0\n");
    assert_eq!(l.len(), 3, "{l:#?}");
}

#[test]
fn ip_allow_list_matching() {
    let cfg = Config::from_toml_str(&VALID.replacen(
        "password = \"secret\"",
        "password = \"secret\"\nallowed_ips = [\"10.1.0.0/16\", \"::1\"]",
        1,
    ))
    .unwrap();
    let a = cfg.account("pbx").unwrap();
    assert!(a.ip_allowed("10.1.200.3".parse().unwrap()));
    assert!(!a.ip_allowed("10.2.0.1".parse().unwrap()));
    assert!(a.ip_allowed("::1".parse().unwrap()));
    assert!(!a.ip_allowed("127.0.0.1".parse().unwrap()));
}

#[test]
fn validate_with_uses_the_given_number_key() {
    let text = VALID.replacen(
        "numbers = [\"14155550100\"]\n\n[[campaigns]]",
        "numbers = [\"4155550100\"]\n\n[[campaigns]]",
        1,
    );
    let cfg = Config::from_toml_str(&text).unwrap();
    // With a normaliser that adds the country code, the two entries clash
    // only in campaigns/accounts separately, so still valid; make two accounts clash:
    let mut cfg2 = cfg.clone();
    let mut other = cfg2.server.accounts[0].clone();
    other.system_id = "crm".into();
    other.numbers = vec!["14155550100".into()];
    cfg2.server.accounts.push(other);
    assert!(cfg2.validate().is_ok());
    let add_cc = |n: &str| {
        if n.len() == 10 {
            format!("1{n}")
        } else {
            n.to_owned()
        }
    };
    let err = cfg2.validate_with(&add_cc).unwrap_err();
    assert!(
        err.to_string()
            .contains(r#"server.accounts[1].numbers[0]: "14155550100": also in account "pbx""#),
        "{err}"
    );
}

#[test]
fn store_backend_url_and_pool_size() {
    assert!(problems("[store]\nbackend = \"sqlite\"").is_empty());
    let ok = "[store]\nbackend = \"postgres\"\nurl = \"postgres://optgate@db.example/optgate\"";
    assert!(problems(ok).is_empty(), "{:?}", problems(ok));
    let kv = "[store]\nbackend = \"postgres\"\nurl = \"host=db user=optgate dbname=optgate\"";
    assert!(problems(kv).is_empty(), "{:?}", problems(kv));
    // The SQLite path is not needed by the postgres backend.
    let no_path = "[store]\nbackend = \"postgres\"\npath = \"\"\nurl = \"postgres://u@h/d\"";
    assert!(problems(no_path).is_empty(), "{:?}", problems(no_path));

    assert_has(
        &problems("[store]\nbackend = \"postgres\""),
        "store.url: \"\": not a PostgreSQL connection string: empty; set a postgres:// URL or libpq key=value string",
    );
    // The password is never echoed.
    let bad = problems(
        "[store]\nbackend = \"postgres\"\nurl = \"postgres://u:hunter2@h:99999/d\"\npool_size = 0",
    );
    assert_eq!(bad.len(), 2, "{bad:?}");
    assert!(
        bad[0].starts_with(
            "store.url: \"postgres://u:***@h:99999/d\": not a PostgreSQL connection string: "
        ),
        "{bad:?}"
    );
    assert!(!bad.iter().any(|l| l.contains("hunter2")), "{bad:?}");
    assert_has(&bad, "store.pool_size: 0: must be at least 1");
    let typo = problems("[store]\nbackend = \"pg\"");
    assert!(
        typo.iter()
            .any(|l| l.contains("store.backend") && l.contains("sqlite") && l.contains("postgres")),
        "{typo:?}"
    );
}
