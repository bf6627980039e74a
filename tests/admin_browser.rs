//! The consent log page in a real browser: headless Chromium loads the
//! page of a running daemon searched for one recipient, and the rendered
//! DOM must show that number as Refused and no other number. Also writes
//! `target/consent-log.png` (the README's screenshot is a copy of it), and
//! downloads a filtered page's CSV through its link.
//!
//! Needs Debian's `chromium` (`scripts/test` installs it); without it the
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
            "Chromium is missing: install it with `scripts/test` \
             (or `sudo apt-get install -y chromium chromium-driver`)"
        )
    })
}

/// Headless Chromium on `profile`, with the flags that keep it off the
/// network and quiet in a container.
fn chromium_command(profile: &Path) -> Command {
    let mut c = Command::new(chromium());
    c.args([
        "--headless",
        "--no-sandbox",
        "--disable-gpu",
        "--disable-quic",
        "--no-first-run",
        "--disable-background-networking",
        "--disable-component-update",
        "--disable-sync",
        "--disable-dev-shm-usage",
    ]);
    c.arg(format!("--user-data-dir={}", profile.display()));
    c
}

/// Runs headless Chromium with `args` and the page `url`, killing it after
/// [`BROWSER_WAIT`].
fn run_chromium(profile: &Path, args: &[&str], url: &str) -> Output {
    let mut child = chromium_command(profile)
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

    // The unfiltered first page is the console: the campaign overview, the
    // chart, the held messages, then the log.
    let url = format!("{base}/");
    let dom = tokio::task::spawn_blocking({
        let p = profile.path().to_owned();
        move || run_chromium(&p, &["--dump-dom"], &url)
    })
    .await
    .unwrap();
    let html = String::from_utf8_lossy(&dom.stdout);
    for part in [
        r#"<div class="card" data-campaign="alerts">"#,
        r#"<div class="card" data-campaign="news">"#,
        r#"<svg class="chart""#,
        r#"<section class="held">"#,
        "<h2>Consent log</h2>",
    ] {
        assert!(
            html.contains(part),
            "no {part:?} in the rendered page:\n{html}"
        );
    }

    // A page change: the Next link of a 2-row page, as the browser got it.
    let dump = |url: String| {
        let p = profile.path().to_owned();
        tokio::task::spawn_blocking(move || {
            let out = run_chromium(&p, &["--dump-dom"], &url);
            String::from_utf8_lossy(&out.stdout).into_owned()
        })
    };
    let first = dump(format!("{base}/?limit=2&campaign=alerts"))
        .await
        .unwrap();
    let at = first
        .find(r#"class="next" href=""#)
        .unwrap_or_else(|| panic!("no Next link:\n{first}"))
        + r#"class="next" href=""#.len();
    let next = first[at..at + first[at..].find('"').unwrap()].replace("&amp;", "&");
    let second = dump(format!("{base}{next}")).await.unwrap();
    assert!(second.contains("First page"), "{second}");
    // alerts has three rows in key order: the second page holds the third.
    assert!(
        second.contains(">14155550123</a>") && second.contains("START"),
        "{second}"
    );
    assert!(!second.contains("cli: asked by phone"), "{second}");

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
                &[&shot_arg, "--window-size=1200,1300", "--hide-scrollbars"],
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

    // The download: the CSV link of a filtered page, as the browser got it,
    // followed by Chromium, which saves the file.
    let filtered = dump(format!("{base}/?status=refused")).await.unwrap();
    let at = filtered
        .find(r#"href="/consent.csv"#)
        .unwrap_or_else(|| panic!("no download link:\n{filtered}"))
        + r#"href=""#.len();
    let link = filtered[at..at + filtered[at..].find('"').unwrap()].replace("&amp;", "&");
    assert!(link.contains("status=refused"), "{link}");
    let saved = tokio::task::spawn_blocking({
        let url = format!("{base}{link}");
        move || download_with_chromium(&url)
    })
    .await
    .unwrap();
    let mut lines: Vec<&str> = saved.lines().collect();
    assert_eq!(
        lines.remove(0),
        "campaign,sender,recipient,status,updated_at,source"
    );
    lines.sort_unstable();
    assert_eq!(lines.len(), 2, "{saved}");
    assert!(
        lines[0].starts_with("alerts,14155550100,14155550123,refused,"),
        "{saved}"
    );
    assert!(
        lines[1].starts_with("news,,14155550188,refused,"),
        "{saved}"
    );
    d.shutdown(Duration::from_secs(2)).await;
}

/// Opens `url` (a download) in headless Chromium with a profile whose
/// download directory is a temp dir, waits until the file is complete,
/// stops Chromium and returns the file's text.
fn download_with_chromium(url: &str) -> String {
    let profile = tempfile::tempdir().unwrap();
    let into = tempfile::tempdir().unwrap();
    std::fs::create_dir_all(profile.path().join("Default")).unwrap();
    let prefs = serde_json::json!({
        "download": {
            "default_directory": into.path(),
            "prompt_for_download": false,
            "directory_upgrade": true
        }
    });
    std::fs::write(
        profile.path().join("Default/Preferences"),
        prefs.to_string(),
    )
    .unwrap();
    let mut child = chromium_command(profile.path())
        .arg(url)
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .expect("start chromium");
    let start = Instant::now();
    let file = into.path().join("consent.csv");
    // Chromium writes `*.crdownload` first and renames it when complete.
    while !file.exists() {
        if start.elapsed() > BROWSER_WAIT {
            let _ = child.kill();
            let _ = child.wait();
            panic!("chromium saved no consent.csv within {BROWSER_WAIT:?}");
        }
        std::thread::sleep(Duration::from_millis(50));
    }
    let _ = child.kill();
    let _ = child.wait();
    std::fs::read_to_string(&file).unwrap()
}
