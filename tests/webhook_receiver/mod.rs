//! A real local HTTP receiver for webhook tests (axum on 127.0.0.1): it
//! records every POST (headers and raw body), answers with scripted
//! statuses (then 204), and checks signatures as a customer would.
#![allow(dead_code, clippy::unwrap_used, clippy::expect_used)]

use std::collections::VecDeque;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use axum::body::Bytes;
use axum::extract::State;
use axum::http::{HeaderMap, StatusCode};
use axum::routing::post;
use axum::Router;
use hmac::{Hmac, KeyInit, Mac};
use sha2::Sha256;

/// One POST as received.
#[derive(Debug, Clone)]
pub struct Hit {
    pub timestamp: String,
    pub signature: String,
    pub body: String,
    /// The status it was answered with.
    pub status: u16,
}

impl Hit {
    pub fn json(&self) -> serde_json::Value {
        serde_json::from_str(&self.body).unwrap()
    }

    /// Whether the signature is HMAC-SHA256(secret, timestamp "." body).
    pub fn signed_with(&self, secret: &str) -> bool {
        let mut mac = Hmac::<Sha256>::new_from_slice(secret.as_bytes()).unwrap();
        mac.update(self.timestamp.as_bytes());
        mac.update(b".");
        mac.update(self.body.as_bytes());
        let want: String = mac
            .finalize()
            .into_bytes()
            .iter()
            .map(|b| format!("{b:02x}"))
            .collect();
        self.signature == format!("sha256={want}")
    }
}

#[derive(Default)]
struct Shared {
    hits: Vec<Hit>,
    script: VecDeque<u16>,
    /// How long each answer is held back.
    delay: Duration,
}

/// The receiver; stops when dropped.
pub struct Receiver {
    pub addr: std::net::SocketAddr,
    shared: Arc<Mutex<Shared>>,
    task: tokio::task::JoinHandle<()>,
}

impl Receiver {
    /// Starts on `addr` (`127.0.0.1:0` for any port).
    pub async fn start_on(addr: &str) -> Receiver {
        let listener = tokio::net::TcpListener::bind(addr).await.unwrap();
        let addr = listener.local_addr().unwrap();
        let shared = Arc::new(Mutex::new(Shared::default()));
        let app = Router::new()
            .route("/hook", post(hook))
            .with_state(shared.clone());
        let task = tokio::spawn(async move {
            let _ = axum::serve(listener, app).await;
        });
        Receiver { addr, shared, task }
    }

    pub async fn start() -> Receiver {
        Self::start_on("127.0.0.1:0").await
    }

    pub fn url(&self) -> String {
        format!("http://{}/hook", self.addr)
    }

    /// The next answers, in order (204 after them).
    pub fn script(&self, statuses: &[u16]) {
        self.shared.lock().unwrap().script.extend(statuses);
    }

    /// Answers every later POST only after `d` (a slow receiver).
    pub fn slow(&self, d: Duration) {
        self.shared.lock().unwrap().delay = d;
    }

    pub fn hits(&self) -> Vec<Hit> {
        self.shared.lock().unwrap().hits.clone()
    }

    /// Waits (bounded) until `n` POSTs arrived.
    pub async fn wait_hits(&self, n: usize) -> Vec<Hit> {
        for _ in 0..500 {
            let h = self.hits();
            if h.len() >= n {
                return h;
            }
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
        panic!(
            "{} webhook POSTs, wanted {n}: {:?}",
            self.hits().len(),
            self.hits()
        );
    }
}

impl Drop for Receiver {
    fn drop(&mut self) {
        self.task.abort();
    }
}

async fn hook(State(s): State<Arc<Mutex<Shared>>>, headers: HeaderMap, body: Bytes) -> StatusCode {
    let get = |n: &str| {
        headers
            .get(n)
            .and_then(|v| v.to_str().ok())
            .unwrap_or_default()
            .to_owned()
    };
    let (status, delay) = record(&s, &body, get);
    tokio::time::sleep(delay).await;
    StatusCode::from_u16(status).unwrap()
}

fn record(s: &Mutex<Shared>, body: &Bytes, get: impl Fn(&str) -> String) -> (u16, Duration) {
    let mut s = s.lock().unwrap();
    let status = s.script.pop_front().unwrap_or(204);
    s.hits.push(Hit {
        timestamp: get("x-optgate-timestamp"),
        signature: get("x-optgate-signature"),
        body: String::from_utf8_lossy(body).into_owned(),
        status,
    });
    (status, s.delay)
}
