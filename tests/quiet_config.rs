//! `check-config` of quiet hours: every problem names its key.

use optgate::config::Config;

const BASE: &str = r#"
[upstream]
address = "127.0.0.1:2776"
system_id = "optgate"

[[server.accounts]]
system_id = "pbx"
password = "secret"
numbers = ["14155550100"]
"#;

fn problems(extra: &str) -> Vec<String> {
    match Config::from_toml_str(&format!("{BASE}\n{extra}")) {
        Ok(_) => Vec::new(),
        Err(e) => e.problems.iter().map(ToString::to_string).collect(),
    }
}

fn has(lines: &[String], key_and_value: &str) -> bool {
    lines.iter().any(|l| l.starts_with(key_and_value))
}

#[test]
fn a_valid_quiet_hours_config_has_no_problems() {
    let p = problems(
        r#"
[[campaigns]]
id = "x"
brand = "ACME"
numbers = ["14155550100"]
quiet_hours = { start = "21:00", end = "08:00", action = "reject", status = 0x460, zone = "Europe/London" }

[quiet_hours.states]
FL = { start = "20:00", end = "08:00" }

[quiet_hours.area_codes]
"305" = { start = "20:00", end = "09:00" }
"#,
    );
    assert!(p.is_empty(), "{p:?}");
}

#[test]
fn bad_times_zones_states_and_area_codes_name_their_keys() {
    let p = problems(
        r#"
[[campaigns]]
id = "x"
brand = "ACME"
numbers = ["14155550100"]
quiet_hours = { start = "9pm", end = "08:00", zone = "Mars/Olympus" }

[quiet_hours.states]
Florida = { start = "20:00", end = "20:00" }

[quiet_hours.area_codes]
"30" = { start = "20:00", end = "08:00" }
"#,
    );
    assert!(has(&p, "campaigns[0].quiet_hours: \"9pm-08:00\""), "{p:#?}");
    assert!(
        has(&p, "campaigns[0].quiet_hours.zone: \"Mars/Olympus\""),
        "{p:#?}"
    );
    assert!(has(&p, "quiet_hours.states.Florida: \"Florida\""), "{p:#?}");
    assert!(
        has(&p, "quiet_hours.states.Florida: \"20:00-20:00\""),
        "{p:#?}"
    );
    assert!(has(&p, "quiet_hours.area_codes.30: \"30\""), "{p:#?}");
}

#[test]
fn an_unknown_action_is_refused() {
    let p = problems(
        r#"
[[campaigns]]
id = "x"
brand = "ACME"
numbers = ["14155550100"]
quiet_hours = { start = "21:00", end = "08:00", action = "drop" }
"#,
    );
    assert!(!p.is_empty());
    assert!(p.iter().any(|l| l.contains("drop")), "{p:#?}");
}
