//! One-shot MOs for the carrier simulator: `optgate sim mo` (or
//! [`super::Carrier::inject_mo`]) hands a text "from a phone" to the
//! simulator, which delivers it on one of its receiving binds and reports
//! the deliver_sm_resp status. The control port speaks one line each way:
//! `MO <from> <to> <text>` → `OK <status>` or `ERR <reason>`.

use std::collections::VecDeque;
use std::net::SocketAddr;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use tokio::io::{AsyncBufReadExt, AsyncWriteExt, BufReader};
use tokio::net::{TcpListener, TcpStream};
use tokio::sync::{oneshot, watch, Notify};

/// How long an MO waits for a receiving bind and its deliver_sm_resp.
pub const MO_WAIT: Duration = Duration::from_secs(10);

/// An MO waiting for a bind to carry it.
#[derive(Debug)]
pub(crate) struct Injected {
    pub from: String,
    pub to: String,
    pub text: String,
    /// Gets the deliver_sm_resp command_status.
    pub reply: oneshot::Sender<u32>,
}

/// MOs waiting for a receiving bind; a bound transceiver or receiver takes
/// them when notified.
#[derive(Debug, Default)]
pub(crate) struct Injector {
    queue: Mutex<VecDeque<Injected>>,
    pub notify: Notify,
}

impl Injector {
    /// Everything queued now.
    pub(crate) fn take_all(&self) -> Vec<Injected> {
        self.queue
            .lock()
            .map(|mut q| q.drain(..).collect())
            .unwrap_or_default()
    }

    /// Queues one MO and waits for its deliver_sm_resp status.
    pub(crate) async fn mo(&self, from: &str, to: &str, text: &str) -> Result<u32, String> {
        let (reply, answer) = oneshot::channel();
        if let Ok(mut q) = self.queue.lock() {
            q.push_back(Injected {
                from: from.to_owned(),
                to: to.to_owned(),
                text: text.to_owned(),
                reply,
            });
        }
        self.notify.notify_one();
        match tokio::time::timeout(MO_WAIT, answer).await {
            Ok(Ok(status)) => Ok(status),
            Ok(Err(_)) => Err("the bind carrying it closed before the answer".into()),
            Err(_) => Err(format!(
                "no receiving bind took it and answered within {MO_WAIT:?}"
            )),
        }
    }
}

/// Serves the control port until `stop` turns true.
pub(crate) async fn serve_control(
    listener: TcpListener,
    injector: Arc<Injector>,
    mut stop: watch::Receiver<bool>,
) {
    loop {
        tokio::select! {
            _ = stop.changed() => return,
            accepted = listener.accept() => {
                if let Ok((stream, _)) = accepted {
                    tokio::spawn(control_conn(stream, injector.clone()));
                }
            }
        }
    }
}

async fn control_conn(stream: TcpStream, injector: Arc<Injector>) {
    let (rd, mut wr) = stream.into_split();
    let mut lines = BufReader::new(rd).lines();
    while let Ok(Ok(Some(line))) = tokio::time::timeout(MO_WAIT, lines.next_line()).await {
        let answer = match parse(&line) {
            Some((from, to, text)) => match injector.mo(from, to, text).await {
                Ok(status) => format!("OK {status:#010x}\n"),
                Err(why) => format!("ERR {why}\n"),
            },
            None => "ERR expected: MO <from> <to> <text>\n".to_owned(),
        };
        if wr.write_all(answer.as_bytes()).await.is_err() {
            return;
        }
    }
}

fn parse(line: &str) -> Option<(&str, &str, &str)> {
    let rest = line.strip_prefix("MO ")?;
    let (from, rest) = rest.split_once(' ')?;
    let (to, text) = rest.split_once(' ')?;
    (!from.is_empty() && !to.is_empty() && !text.is_empty()).then_some((from, to, text))
}

/// `optgate sim mo`: asks the simulator at `control` to deliver one MO and
/// returns the deliver_sm_resp status optgate (or the platform) gave it.
pub async fn send_mo(control: SocketAddr, from: &str, to: &str, text: &str) -> Result<u32, String> {
    if [from, to].iter().any(|s| s.contains(char::is_whitespace)) || text.contains('\n') {
        return Err("numbers without spaces and a one-line text, please".into());
    }
    let stream = TcpStream::connect(control)
        .await
        .map_err(|e| format!("carrier simulator control port {control}: {e}"))?;
    let (rd, mut wr) = stream.into_split();
    wr.write_all(format!("MO {from} {to} {text}\n").as_bytes())
        .await
        .map_err(|e| e.to_string())?;
    let mut lines = BufReader::new(rd).lines();
    let line = tokio::time::timeout(MO_WAIT + Duration::from_secs(2), lines.next_line())
        .await
        .map_err(|_| "the simulator did not answer".to_owned())?
        .map_err(|e| e.to_string())?
        .ok_or("the simulator closed the control connection")?;
    if let Some(status) = line.strip_prefix("OK ") {
        let hex = status.trim().trim_start_matches("0x");
        u32::from_str_radix(hex, 16).map_err(|_| format!("bad answer {line:?}"))
    } else {
        Err(line.strip_prefix("ERR ").unwrap_or(&line).to_owned())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn control_lines_parse() {
        assert_eq!(
            parse("MO 14155550123 14155550100 STOP now"),
            Some(("14155550123", "14155550100", "STOP now"))
        );
        assert_eq!(parse("MO 1 2"), None);
        assert_eq!(parse("HELLO"), None);
    }
}
