//! Environment overrides `OPTGATE__SECTION__KEY`. Environment variables are
//! process-global, so this binary holds only these tests, serialised by a mutex.

use std::path::{Path, PathBuf};
use std::sync::Mutex;
use std::time::Duration;

use optgate::config::Config;

static ENV: Mutex<()> = Mutex::new(());

fn bundled() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("config/optgate.toml")
}

/// Runs `f` with `vars` set in the process environment, then removes them.
fn with_env<T>(vars: &[(&str, &str)], f: impl FnOnce() -> T) -> T {
    let _guard = ENV.lock().unwrap_or_else(|e| e.into_inner());
    for (k, v) in vars {
        std::env::set_var(k, v);
    }
    let out = f();
    for (k, _) in vars {
        std::env::remove_var(k);
    }
    out
}

#[test]
fn process_env_overrides_file_values() {
    let cfg = with_env(
        &[
            ("OPTGATE__SERVER__LISTEN", "127.0.0.1:0"),
            ("OPTGATE__STORE__PATH", "/tmp/x.db"),
            ("OPTGATE__SERVER__WINDOW", "7"),
            ("OPTGATE__SERVER__BIND_TIMEOUT", "3s"),
            ("OPTGATE__KEYWORDS__FORWARD_KEYWORDS", "false"),
            ("OPTGATE__STATUS_CODES__OPTED_OUT", "0x4ff"),
            ("OPTGATE__STORE__DURABILITY", "normal"),
        ],
        || Config::load(&bundled()),
    )
    .unwrap();
    assert_eq!(cfg.server.listen, "127.0.0.1:0");
    assert_eq!(cfg.store.path, "/tmp/x.db");
    assert_eq!(cfg.server.window, 7);
    assert_eq!(cfg.server.bind_timeout, Duration::from_secs(3));
    assert!(!cfg.keywords.forward_keywords);
    assert_eq!(cfg.status_codes.opted_out, 0x4ff);
    assert_eq!(cfg.store.durability.as_str(), "normal");
    // Untouched keys keep the file's values.
    assert_eq!(cfg.admin.listen, "127.0.0.1:9102");
}

#[test]
fn numeric_looking_strings_stay_strings() {
    // A password of digits must not become an integer (and lose its zeros).
    let cfg = with_env(&[("OPTGATE__UPSTREAM__PASSWORD", "0012")], || {
        Config::load(&bundled())
    })
    .unwrap();
    assert_eq!(cfg.upstream.password, "0012");
}

#[test]
fn bad_env_values_are_reported_like_file_values() {
    let err = with_env(&[("OPTGATE__SERVER__LISTEN", "127.0.0.1:99999")], || {
        Config::load(&bundled())
    })
    .unwrap_err();
    assert_eq!(
        err.to_string(),
        r#"server.listen: "127.0.0.1:99999": not a socket address (ip:port)"#
    );
    let err = with_env(&[("OPTGATE__SERVER__LISTN", "127.0.0.1:1")], || {
        Config::load(&bundled())
    })
    .unwrap_err();
    assert!(
        err.to_string().starts_with("server.listn: unknown key"),
        "{err}"
    );
}

#[test]
fn variables_without_the_double_underscore_prefix_are_ignored() {
    // OPTGATE_CONFIG names the file for the CLI; it is not a config key.
    let cfg = with_env(&[("OPTGATE_CONFIG", "/somewhere.toml")], || {
        Config::load(&bundled())
    });
    assert!(cfg.is_ok(), "{cfg:?}");
}

#[test]
fn injected_env_map_works_without_touching_the_process() {
    let env = [(
        "OPTGATE__ADMIN__LISTEN".to_owned(),
        "127.0.0.1:0".to_owned(),
    )];
    let cfg = Config::load_with_env(&bundled(), Some(env.into_iter().collect())).unwrap();
    assert_eq!(cfg.admin.listen, "127.0.0.1:0");
}
