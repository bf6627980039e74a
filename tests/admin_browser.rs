//! The consent log page in a real browser: headless Chromium loads the
//! page of a running daemon searched for one recipient, and the rendered
//! DOM must show that number as Refused and no other number. Also writes
//! `target/consent-log.png` (the README's screenshot is a copy of it).
//!
//! Needs Debian's `chromium` (CI installs it in `.ci/run`); without it the
//! test fails and says how to install it.
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod common;

use std::path::{Path, PathBuf};
use std::process::{Command, Output, Stdio};
use std::time::{Duration, Instant};

use common::{config, FakeCarrier};
use optgate::daemon::Daemon;
use optgate::policy::ConsentStatus;
use optgate::store::consent::Key;
use optgate::store::{Durable, StoreTxn};

/// Upper bound for one Chromium run.
const BROWSER_WAIT: Duration = Duration::from_secs(60);

const CAMPAIGNS: &str = r#"
[[server.accounts]]
system_id = "pbx"
password = "secret"
numbers = ["14155550100", "14155550101", "14155550200"]

[[campaigns]]
id = "alerts"
brand = "ACME"
numbers = ["14155550100", "14155550101"]

[[campaigns]]
id = "news"
brand = "ACME News"
numbers = ["14155550200"]
consent_scope = "campaign"
"#;

fn chromium() -> PathBuf {
    let found = ["/usr/bin/chromium", "/usr/bin/chromium-browser"]
        .iter()
        .map(PathBuf::from)
        .find(|p| p.exists());
    found.unwrap_or_else(|| {
        panic!(
            "Chromium is not installed: this test drives the consent log page in a real \
             browser. Install it with `sudo apt-get install -y chromium chromium-driver` \
             (Debian; .ci/run does this) and run the tests again."
        )
    })
}

/// Runs headless Chromium with `args` and the page `url`, killing it after
/// [`BROWSER_WAIT`].
fn run_chromium(profile: &Path, args: &[&str], url: &str) -> Output {
    let mut child = Command::new(chromium())
        .args([
            "--headless",
            "--no-sandbox",
            "--disable-gpu",
            "--disable-quic",
            "--no-first-run",
            "--disable-background-networking",
            "--disable-component-update",
            "--disable-sync",
            "--disable-dev-shm-usage",
        ])
        .arg(format!("--user-data-dir={}", profile.display()))
        .args(args)
        .arg(url)
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("start chromium");
    let start = Instant::now();
    while child.try_wait().expect("poll chromium").is_none() {
        if start.elapsed() > BROWSER_WAIT {
            let _ = child.kill();
            panic!("chromium did not finish within {BROWSER_WAIT:?}");
        }
        std::thread::sleep(Duration::from_millis(50));
    }
    child.wait_with_output().expect("chromium output")
}

async fn seed(d: &Daemon, rows: &[(&str, &str, &str, ConsentStatus, &str)]) {
    let rows: Vec<(Key, ConsentStatus, String)> = rows
        .iter()
        .map(|(c, s, r, st, src)| {
            let key = Key {
                campaign: (*c).into(),
                sender: (*s).into(),
                recipient: (*r).into(),
            };
            (key, *st, (*src).to_owned())
        })
        .collect();
    d.store()
        .transact(move |env| {
            for (key, st, src) in &rows {
                if *st == ConsentStatus::Active {
                    // Show a history: pending first, then active.
                    env.set_status(key, ConsentStatus::Pending, "opt-in request", "")?;
                }
                env.set_status(key, *st, src, "")?;
            }
            Ok(((), Durable::AfterCommit))
        })
        .await
        .unwrap();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn chromium_renders_the_searched_recipient_as_refused() {
    let browser = chromium();
    let carrier = FakeCarrier::start().await;
    let dir = tempfile::tempdir().unwrap();
    let cfg = config(&carrier.address(), dir.path(), CAMPAIGNS);
    let d = Daemon::start(&cfg, None).await.expect("daemon starts");
    seed(
        &d,
        &[
            (
                "alerts",
                "14155550100",
                "14155550123",
                ConsentStatus::Refused,
                "STOP",
            ),
            (
                "alerts",
                "14155550101",
                "14155550123",
                ConsentStatus::Active,
                "START",
            ),
            (
                "alerts",
                "14155550100",
                "14155550177",
                ConsentStatus::Active,
                "cli: asked by phone",
            ),
            (
                "news",
                "",
                "14155550123",
                ConsentStatus::Pending,
                "opt-in request",
            ),
            (
                "news",
                "",
                "14155550188",
                ConsentStatus::Refused,
                "api: <b>complaint</b>",
            ),
        ],
    )
    .await;
    let base = format!("http://{}", d.admin_addr());
    let profile = tempfile::tempdir().unwrap();

    let url = format!("{base}/?recipient=%2B1%20415%20555%200123&status=refused");
    let dom = tokio::task::spawn_blocking({
        let p = profile.path().to_owned();
        move || run_chromium(&p, &["--dump-dom"], &url)
    })
    .await
    .unwrap();
    let html = String::from_utf8_lossy(&dom.stdout);
    assert!(
        dom.status.success() && html.contains("</html>"),
        "{} failed: {}\n{html}",
        browser.display(),
        String::from_utf8_lossy(&dom.stderr)
    );
    assert!(html.contains(">14155550123</a>"), "{html}");
    assert!(
        html.contains(r#"<span class="badge refused">Refused</span>"#),
        "{html}"
    );
    assert!(
        !html.contains(">Active</span>") && !html.contains(">Pending</span>"),
        "{html}"
    );
    for other in ["14155550177", "14155550188"] {
        assert!(
            !html.contains(other),
            "{other} should be filtered out: {html}"
        );
    }

    // A screenshot of the unfiltered log, for the README.
    let png = Path::new(env!("CARGO_MANIFEST_DIR")).join("target/consent-log.png");
    std::fs::create_dir_all(png.parent().unwrap()).unwrap();
    let _ = std::fs::remove_file(&png);
    let shot_arg = format!("--screenshot={}", png.display());
    let url = format!("{base}/");
    let shot = tokio::task::spawn_blocking({
        let p = profile.path().to_owned();
        move || {
            run_chromium(
                &p,
                &[&shot_arg, "--window-size=1200,700", "--hide-scrollbars"],
                &url,
            )
        }
    })
    .await
    .unwrap();
    let bytes = std::fs::read(&png).unwrap_or_else(|e| {
        panic!(
            "no screenshot ({e}): {}",
            String::from_utf8_lossy(&shot.stderr)
        )
    });
    assert!(
        bytes.starts_with(b"\x89PNG\r\n\x1a\n") && bytes.len() > 10_000,
        "not a PNG"
    );
    d.shutdown(Duration::from_secs(2)).await;
}
