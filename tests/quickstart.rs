//! The README's quick start, run as written: real `optgate` processes (the
//! carrier simulator, the daemon on the bundled config, the one-shot
//! platform and phone, the consent log), each command taken from the
//! README's first shell block. Only the addresses differ (free ports instead
//! of 2775/2776/2777/9102, so the test can run beside anything).
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod common;

use std::io::{Read, Write};
use std::path::Path;
use std::process::{Child, Command, Output, Stdio};
use std::time::{Duration, Instant};

const BIN: &str = env!("CARGO_BIN_EXE_optgate");

/// The `optgate …` lines of the README's quick start block, comments cut.
fn recipe() -> Vec<String> {
    let readme =
        std::fs::read_to_string(Path::new(env!("CARGO_MANIFEST_DIR")).join("README.md")).unwrap();
    let start = readme
        .find("## Quick start")
        .expect("a quick start section");
    let block = &readme[start..];
    let open = block.find("```sh\n").expect("a shell block") + 6;
    let close = open + block[open..].find("```").unwrap();
    block[open..close]
        .lines()
        .map(|l| l.split(" #").next().unwrap().trim().to_owned())
        .filter(|l| l.starts_with("optgate "))
        .collect()
}

struct Killed(Vec<Child>);

impl Drop for Killed {
    fn drop(&mut self) {
        for c in &mut self.0 {
            let _ = c.kill();
            let _ = c.wait();
        }
    }
}

fn ready(admin: u16) -> bool {
    let Ok(mut s) = std::net::TcpStream::connect(("127.0.0.1", admin)) else {
        return false;
    };
    let _ = s.set_read_timeout(Some(Duration::from_secs(2)));
    let _ = s.write_all(b"GET /readyz HTTP/1.0\r\nHost: x\r\n\r\n");
    let mut answer = String::new();
    let _ = s.read_to_string(&mut answer);
    answer.starts_with("HTTP/1.1 200") || answer.starts_with("HTTP/1.0 200")
}

#[test]
fn the_readme_quick_start_works() {
    let steps = recipe();
    let names: Vec<&str> = steps
        .iter()
        .map(|s| s.split_whitespace().take(3).collect::<Vec<_>>())
        .map(|w| match w[1] {
            "sim" => w[2],
            other => other,
        })
        .collect();
    assert_eq!(
        names,
        ["carrier", "run", "send", "mo", "send", "logs"],
        "the README's quick start changed: {steps:#?}"
    );

    let dir = tempfile::tempdir().unwrap();
    std::fs::create_dir(dir.path().join("config")).unwrap();
    std::fs::copy(
        Path::new(env!("CARGO_MANIFEST_DIR")).join("config/optgate.toml"),
        dir.path().join("config/optgate.toml"),
    )
    .unwrap();
    let [smpp, carrier, control, admin] = [(); 4].map(|_| common::free_port());
    let bin_dir = Path::new(BIN).parent().unwrap();
    let path = format!(
        "{}:{}",
        bin_dir.display(),
        std::env::var("PATH").unwrap_or_default()
    );
    // Each command as written, plus the addresses this test uses.
    let command = |line: &str| {
        let flags = match line {
            l if l.starts_with("optgate sim carrier") => {
                format!(" --listen 127.0.0.1:{carrier} --control 127.0.0.1:{control}")
            }
            l if l.starts_with("optgate sim send") => format!(" --target 127.0.0.1:{smpp}"),
            l if l.starts_with("optgate sim mo") => format!(" --control 127.0.0.1:{control}"),
            _ => String::new(),
        };
        let (line, background) = match line.strip_suffix('&') {
            Some(l) => (l.trim(), true),
            None => (line, false),
        };
        // Flags go before a redirection (`optgate run 2>optgate.log`).
        let line = match line.split_once(" 2>") {
            Some((cmd, redirect)) => format!("exec {cmd}{flags} 2>{redirect}"),
            None => format!("exec {line}{flags}"),
        };
        let mut c = Command::new("bash");
        c.arg("-c")
            .arg(&line)
            .current_dir(dir.path())
            .env("PATH", &path)
            .env("OPTGATE__SERVER__LISTEN", format!("127.0.0.1:{smpp}"))
            .env("OPTGATE__UPSTREAM__ADDRESS", format!("127.0.0.1:{carrier}"))
            .env("OPTGATE__ADMIN__LISTEN", format!("127.0.0.1:{admin}"))
            .env_remove("OPTGATE_CONFIG")
            .stdin(Stdio::null());
        (c, background)
    };

    let started = Instant::now();
    let mut background = Killed(Vec::new());
    let carrier_out = dir.path().join("carrier.out");
    let mut outputs: Vec<(String, Output)> = Vec::new();
    for line in &steps {
        let (mut c, in_background) = command(line);
        if in_background {
            if line.contains("sim carrier") {
                c.stdout(std::fs::File::create(&carrier_out).unwrap());
            } else {
                c.stdout(Stdio::null());
            }
            background.0.push(c.spawn().unwrap());
            if line.starts_with("optgate run") {
                // The README's `sleep 1`, made exact: optgate is ready when
                // its carrier bind is up.
                let deadline = Instant::now() + Duration::from_secs(20);
                while !ready(admin) {
                    assert!(
                        Instant::now() < deadline,
                        "optgate not ready; log:\n{}",
                        std::fs::read_to_string(dir.path().join("optgate.log")).unwrap_or_default()
                    );
                    std::thread::sleep(Duration::from_millis(50));
                }
            }
        } else {
            let out = c.output().unwrap();
            outputs.push((line.clone(), out));
        }
    }
    let text = |i: usize| String::from_utf8_lossy(&outputs[i].1.stdout).into_owned();
    let code = |i: usize| outputs[i].1.status.code();
    let all = format!("{outputs:#?}");

    assert_eq!(code(0), Some(0), "{all}");
    assert!(text(0).starts_with("accepted: message_id "), "{all}");
    assert_eq!(code(1), Some(0), "{all}");
    assert_eq!(
        text(1).trim(),
        "delivered: deliver_sm_resp 0x0 (ESME_ROK)",
        "{all}"
    );
    assert_eq!(code(2), Some(2), "{all}");
    assert_eq!(
        text(2).trim(),
        "refused: command_status 0x400 (opted_out)",
        "{all}"
    );
    assert_eq!(code(3), Some(0), "{all}");
    let logs = text(3);
    let row = logs
        .lines()
        .find(|l| l.contains("14155550123"))
        .unwrap_or_else(|| panic!("no row in\n{logs}"));
    let cols: Vec<&str> = row.split_whitespace().collect();
    assert_eq!(
        cols[..4],
        ["acme-support", "14155550100", "14155550123", "Refused"],
        "{logs}"
    );
    assert_eq!(cols.last(), Some(&"stop"), "{logs}");

    // What the simulated carrier printed, as the README says.
    drop(background);
    let printed = std::fs::read_to_string(&carrier_out).unwrap();
    for line in [
        "MT  14155550100 -> 14155550123: ACME: Reply START to receive messages from ACME.",
        "MO  14155550123 -> 14155550100: STOP",
        "MT  14155550100 -> 14155550123: ACME: You are now opted-out",
    ] {
        assert!(printed.contains(line), "no {line:?} in\n{printed}");
    }
    assert!(
        !printed.contains("Hello"),
        "a refused message reached the carrier:\n{printed}"
    );
    assert!(
        started.elapsed() < Duration::from_secs(60),
        "{:?}",
        started.elapsed()
    );
}
