//! The `optgate check-config` binary: exit codes and output.

use std::path::{Path, PathBuf};
use std::process::Command;

use optgate::cli::{resolve_config_path, LOCAL_CONFIG, SYSTEM_CONFIG};

fn optgate() -> Command {
    let mut cmd = Command::new(env!("CARGO_BIN_EXE_optgate"));
    cmd.current_dir(env!("CARGO_MANIFEST_DIR"));
    // Keep the caller's environment from changing what is loaded.
    cmd.env_remove("OPTGATE_CONFIG");
    cmd
}

#[test]
fn check_config_accepts_the_bundled_file() {
    let out = optgate().args(["check-config"]).output().unwrap();
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert_eq!(
        out.status.code(),
        Some(0),
        "{stdout}{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(stdout.contains("127.0.0.1:2775"), "{stdout}");
    assert!(stdout.contains("accounts:     1"), "{stdout}");
    assert!(stdout.contains("campaigns:    1 (1 approved)"), "{stdout}");
    assert!(stdout.contains("127.0.0.1:2776"), "{stdout}");
}

#[test]
fn check_config_exits_64_with_one_line_per_problem() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("bad.toml");
    std::fs::write(&path, "[server]\nlisten = \"nope\"\nwindow = 0\n").unwrap();
    let out = optgate()
        .arg("check-config")
        .arg("-c")
        .arg(&path)
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(64));
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(
        stderr.contains(r#"server.listen: "nope": not a socket address"#),
        "{stderr}"
    );
    assert!(
        stderr.contains("server.window: 0: must be at least 1"),
        "{stderr}"
    );
    assert!(
        stderr.contains(r#"upstream.address: "": required"#),
        "{stderr}"
    );
}

#[test]
fn check_config_reads_optgate_config_env() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("bad.toml");
    std::fs::write(&path, "[servr]\n").unwrap();
    let out = optgate()
        .arg("check-config")
        .env("OPTGATE_CONFIG", &path)
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(64));
    assert!(String::from_utf8_lossy(&out.stderr).contains("servr: unknown key"));
}

#[test]
fn run_with_a_bad_config_exits_64() {
    let out = optgate()
        .args(["run", "-c", "/nonexistent.toml"])
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(64));
}

#[test]
fn config_path_resolution_order() {
    let yes = |_: &Path| true;
    let no = |_: &Path| false;
    let p = |s: &str| Some(PathBuf::from(s));
    assert_eq!(
        resolve_config_path(p("a.toml"), p("env.toml"), yes),
        PathBuf::from("a.toml")
    );
    assert_eq!(
        resolve_config_path(None, p("env.toml"), yes),
        PathBuf::from("env.toml")
    );
    assert_eq!(
        resolve_config_path(None, None, yes),
        PathBuf::from(LOCAL_CONFIG)
    );
    assert_eq!(
        resolve_config_path(None, None, no),
        PathBuf::from(SYSTEM_CONFIG)
    );
}
