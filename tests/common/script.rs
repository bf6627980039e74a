//! A peer program (python smpplib, node-smpp) run as a child process that
//! prints one JSON object per line; the test reads them as events.

use std::io::{BufRead, BufReader, Read};
use std::process::{Child, Command, Stdio};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use serde_json::Value;
use tokio::sync::mpsc;

use super::WAIT;

/// The running script: its JSON lines arrive on `events`. Killed on drop.
pub struct Script {
    label: &'static str,
    child: Child,
    events: mpsc::UnboundedReceiver<Value>,
    stderr: Arc<Mutex<String>>,
}

impl Script {
    /// Spawns `cmd` with its stdout and stderr piped to the test.
    pub fn spawn(label: &'static str, mut cmd: Command) -> Script {
        let mut child = cmd
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .unwrap_or_else(|e| panic!("start the {label} script: {e}"));
        let (tx, events) = mpsc::unbounded_channel();
        let out = child.stdout.take().unwrap();
        std::thread::spawn(move || {
            for line in BufReader::new(out).lines().map_while(Result::ok) {
                let v: Value = serde_json::from_str(&line)
                    .unwrap_or_else(|e| panic!("script printed {line:?}: {e}"));
                if tx.send(v).is_err() {
                    return;
                }
            }
        });
        let stderr = Arc::new(Mutex::new(String::new()));
        let (mut err, sink) = (child.stderr.take().unwrap(), stderr.clone());
        std::thread::spawn(move || {
            let mut s = String::new();
            let _ = err.read_to_string(&mut s);
            sink.lock().unwrap().push_str(&s);
        });
        Script {
            label,
            child,
            events,
            stderr,
        }
    }

    /// The next event; fails with the script's stderr when it errs or stalls.
    pub async fn next(&mut self) -> Value {
        match tokio::time::timeout(WAIT, self.events.recv()).await {
            Ok(Some(v)) if v["event"] != "error" => v,
            other => {
                // Give the stderr reader a moment to collect the traceback.
                tokio::time::sleep(Duration::from_millis(200)).await;
                panic!(
                    "{} script: {other:?}\nstderr:\n{}",
                    self.label,
                    self.stderr.lock().unwrap()
                )
            }
        }
    }

    /// Events up to and including the first `event == name`.
    pub async fn until(&mut self, name: &str) -> Vec<Value> {
        let mut seen = Vec::new();
        loop {
            let v = self.next().await;
            let done = v["event"] == name;
            seen.push(v);
            if done {
                return seen;
            }
        }
    }

    /// The child process (to signal it or wait for it).
    pub fn child(&mut self) -> &mut Child {
        &mut self.child
    }
}

impl Drop for Script {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}
