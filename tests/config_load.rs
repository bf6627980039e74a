//! Loading the configuration: the bundled file, defaults, parse errors.

use std::time::Duration;

use optgate::config::{Config, Durability, OutboundUnknown, UpstreamBind};

const BUNDLED: &str = include_str!("../config/optgate.toml");

/// The smallest valid config: only what has no default.
const MINIMAL: &str = r#"
[upstream]
address = "smsc.example.net:2775"
system_id = "optgate"
"#;

fn lines(text: &str) -> Vec<String> {
    match Config::from_toml_str(text) {
        Ok(_) => Vec::new(),
        Err(e) => e.to_string().lines().map(str::to_owned).collect(),
    }
}

#[test]
fn bundled_file_loads_with_the_documented_values() {
    let cfg = Config::from_toml_str(BUNDLED).unwrap();
    assert_eq!(cfg.server.listen, "127.0.0.1:2775");
    assert_eq!(cfg.admin.listen, "127.0.0.1:9102");
    assert_eq!(cfg.upstream.address, "127.0.0.1:2776");
    assert_eq!(cfg.store.path, "data/optgate.db");
    assert_eq!(cfg.server.accounts.len(), 1);
    assert_eq!(cfg.server.accounts[0].numbers, ["14155550100"]);
    assert_eq!(cfg.campaigns.len(), 1);
    assert_eq!(cfg.campaigns[0].id, "acme-support");
    assert_eq!(cfg.status_codes.opted_out, 0x400);
    assert_eq!(cfg.status_codes.prevented, 0x401);
    assert_eq!(cfg.status_codes.unassigned_sender, 0x402);
}

#[test]
fn bundled_file_loads_from_disk_through_load() {
    let path = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("config/optgate.toml");
    let cfg = Config::load_with_env(&path, Some(Default::default())).unwrap();
    assert_eq!(cfg.server.listen_addr().unwrap().port(), 2775);
}

#[test]
fn bundled_file_states_every_default() {
    // The bundled file documents each default: loading it must equal the
    // built-in defaults apart from the example account, campaign and upstream.
    let bundled = Config::from_toml_str(BUNDLED).unwrap();
    let minimal = Config::from_toml_str(MINIMAL).unwrap();
    assert_eq!(bundled.server.window, minimal.server.window);
    assert_eq!(bundled.store, minimal.store);
    assert_eq!(bundled.admin, minimal.admin);
    assert_eq!(bundled.keywords, minimal.keywords);
    assert_eq!(bundled.status_codes, minimal.status_codes);
    assert_eq!(bundled.text, minimal.text);
    assert_eq!(bundled.policy, minimal.policy);
    assert_eq!(bundled.numbers, minimal.numbers);
    let (mut a, mut b) = (bundled.server.clone(), minimal.server.clone());
    a.accounts.clear();
    b.accounts.clear();
    assert_eq!(a, b);
    let (mut a, mut b) = (bundled.upstream.clone(), minimal.upstream.clone());
    (a.address, a.system_id, a.password) = Default::default();
    (b.address, b.system_id, b.password) = Default::default();
    assert_eq!(a, b);
}

#[test]
fn defaults_match_the_design() {
    let cfg = Config::from_toml_str(MINIMAL).unwrap();
    assert_eq!(cfg.server.max_connections, 1000);
    assert_eq!(cfg.server.bind_timeout, Duration::from_secs(10));
    assert_eq!(cfg.server.inactivity_timeout, Duration::from_secs(120));
    assert_eq!(cfg.server.max_pdu_len, 70_000);
    assert_eq!(cfg.server.failed_bind_limit, 5);
    assert_eq!(cfg.server.shutdown_grace, Duration::from_secs(10));
    assert_eq!(cfg.upstream.bind, UpstreamBind::Transceiver);
    assert_eq!(cfg.upstream.reconnect_max, Duration::from_secs(60));
    assert_eq!(cfg.upstream.id_map_ttl, Duration::from_secs(72 * 3600));
    assert_eq!(cfg.store.durability, Durability::Full);
    assert_eq!(cfg.store.max_stored_deliveries, 100_000);
    assert_eq!(cfg.store.batch_max, 512);
    assert!(cfg.keywords.forward_keywords);
    assert!(cfg.keywords.opt_out.iter().any(|k| k == "OPT OUT"));
    assert!(cfg.campaigns.is_empty());
}

#[test]
fn campaign_defaults_apply_per_table() {
    let text = format!("{MINIMAL}\n[[campaigns]]\nid = \"c\"\nbrand = \"B\"\n");
    let cfg = Config::from_toml_str(&text).unwrap();
    let c = &cfg.campaigns[0];
    assert_eq!(c.outbound_unknown, OutboundUnknown::RequireOptIn);
    assert_eq!(c.start_word, "START");
    assert_eq!(c.hold_ttl, Duration::from_secs(24 * 3600));
    assert_eq!(c.max_held_per_recipient, 20);
    assert_eq!(c.footer, "Reply STOP to opt out.");
    assert_eq!(
        c.render(&c.opt_in_message),
        "B: Reply START to receive messages from B. Msg & data rates may apply. Reply HELP for help, STOP to opt out."
    );
}

#[test]
fn mandatory_keywords_are_kept_when_a_list_omits_them() {
    let text = format!(
        "{MINIMAL}\n[keywords]\nopt_out = [\"UNSUBSCRIBE\"]\nopt_in = [\"yes\"]\nhelp = [\"help\"]\n"
    );
    let cfg = Config::from_toml_str(&text).unwrap();
    assert_eq!(cfg.keywords.opt_out, ["STOP", "UNSUBSCRIBE"]);
    assert_eq!(cfg.keywords.opt_in, ["START", "yes"]);
    // Already present in another case: not added twice.
    assert_eq!(cfg.keywords.help, ["help"]);
}

#[test]
fn hex_status_codes_are_accepted() {
    let text = format!("{MINIMAL}\n[status_codes]\nopted_out = 0x4ff\nprevented = 1100\n");
    let cfg = Config::from_toml_str(&text).unwrap();
    assert_eq!(cfg.status_codes.opted_out, 0x4ff);
    assert_eq!(cfg.status_codes.prevented, 1100);
}

#[test]
fn unknown_key_is_named() {
    let l = lines(&format!("{MINIMAL}\n[server]\nlistn = \"127.0.0.1:1\"\n"));
    assert_eq!(l.len(), 1, "{l:?}");
    assert!(l[0].starts_with("server.listn: unknown key"), "{l:?}");
    let l = lines(&format!(
        "{MINIMAL}\n[[campaigns]]\nid = \"c\"\nbrand = \"B\"\nfoter = \"x\"\n"
    ));
    assert!(l[0].starts_with("campaigns[0].foter: unknown key"), "{l:?}");
    let l = lines(&format!("{MINIMAL}\n[servr]\n"));
    assert!(l[0].starts_with("servr: unknown key"), "{l:?}");
}

#[test]
fn bad_enum_value_names_key_value_and_choices() {
    let l = lines(&format!("{MINIMAL}\n[store]\ndurability = \"fulll\"\n"));
    assert_eq!(
        l,
        ["store.durability: unknown variant `fulll`, expected `full` or `normal`"]
    );
}

#[test]
fn bad_duration_and_bad_number_name_the_key() {
    let l = lines(&format!(
        "{MINIMAL}\n[server]\nbind_timeout = \"10 parsecs\"\n"
    ));
    assert!(l[0].starts_with("server.bind_timeout: "), "{l:?}");
    assert!(l[0].contains("10 parsecs"), "{l:?}");
    let l = lines(&format!("{MINIMAL}\n[server]\nwindow = -1\n"));
    assert!(
        l[0].starts_with("server.window: ") && l[0].contains("-1"),
        "{l:?}"
    );
    let l = lines(&format!("{MINIMAL}\n[status_codes]\nopted_out = -3\n"));
    assert!(l[0].starts_with("status_codes.opted_out: "), "{l:?}");
}

#[test]
fn bad_toml_is_one_line_with_its_position() {
    let l = lines("[server\nlisten = 1\n");
    assert_eq!(l.len(), 1, "{l:?}");
    assert!(l[0].contains("line 1"), "{l:?}");
}

#[test]
fn missing_file_is_reported() {
    let err = Config::load(std::path::Path::new("/nonexistent/optgate.toml")).unwrap_err();
    assert!(err.to_string().contains("/nonexistent/optgate.toml"));
    assert!(err.to_string().contains("cannot read"));
}
