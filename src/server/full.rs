//! A full gateway says so at once. Over `[server] max_connections` a new
//! connection is still accepted, so it does not wait unanswered in the listen
//! backlog: a bind it sends within [`BIND_WAIT`] is answered
//! `ESME_RBINDFAIL`, then the connection is closed. A platform with a second
//! gateway address can fail over at once instead of taking a full gateway
//! for a slow one.

use std::net::SocketAddr;
use std::sync::{Arc, LazyLock};
use std::time::Duration;

use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;
use tokio::sync::Semaphore;
use tokio::time::timeout;
use tracing::warn;

use crate::pdu::{command as cmd, peek_header, status, HEADER_LEN};
use crate::telemetry::limit::LogLimiter;

/// How long a refused connection may take to send its bind.
pub const BIND_WAIT: Duration = Duration::from_millis(500);

/// Refused connections answered at the same time; past it, further ones
/// are closed without an answer, so a flood costs no more than this.
pub const MAX_ANSWERING: usize = 64;

/// Largest bind read from a refused connection (a bind is under 100 bytes).
const MAX_BIND_LEN: u32 = 512;

/// At most one "gateway full" line per second, whoever connects.
static FULL_LOG: LazyLock<LogLimiter<()>> =
    LazyLock::new(|| LogLimiter::new(Duration::from_secs(1)));

/// Refuses `stream`: counts it, logs (rate-limited), and answers its bind
/// in a task of its own when fewer than [`MAX_ANSWERING`] are being answered.
pub(super) fn refuse(
    stream: TcpStream,
    peer: SocketAddr,
    max_connections: usize,
    answering: &Arc<Semaphore>,
) {
    metrics::counter!("optgate_connections_refused_total", "reason" => "max_connections")
        .increment(1);
    if let Some(suppressed) = FULL_LOG.allow(()) {
        warn!(
            %peer,
            max_connections,
            suppressed,
            "gateway full: connection refused (ESME_RBINDFAIL to its bind)"
        );
    }
    match answering.clone().try_acquire_owned() {
        Ok(permit) => {
            tokio::spawn(async move {
                answer_bind(stream).await;
                drop(permit);
            });
        }
        Err(_) => drop(stream),
    }
}

/// Reads one bind within [`BIND_WAIT`] and answers it `ESME_RBINDFAIL`;
/// anything else (or nothing) gets the connection closed.
async fn answer_bind(mut stream: TcpStream) {
    let answered = timeout(BIND_WAIT, async {
        let mut head = [0u8; HEADER_LEN];
        stream.read_exact(&mut head).await.ok()?;
        let h = peek_header(&head)?;
        let is_bind = matches!(
            h.command_id,
            cmd::BIND_TRANSMITTER | cmd::BIND_RECEIVER | cmd::BIND_TRANSCEIVER
        );
        if !is_bind || !(HEADER_LEN as u32..=MAX_BIND_LEN).contains(&h.command_length) {
            return None;
        }
        // The whole bind is read first: closing a socket with unread data
        // sends a reset, which can destroy the answer before it is read.
        let mut body = vec![0u8; h.command_length as usize - HEADER_LEN];
        stream.read_exact(&mut body).await.ok()?;
        let resp = super::conn::bind_resp(
            h.command_id,
            h.sequence_number,
            status::ESME_RBINDFAIL,
            false,
        );
        stream.write_all(&resp.to_bytes()).await.ok()?;
        stream.shutdown().await.ok()
    })
    .await;
    if matches!(answered, Ok(Some(()))) {
        // Let the platform read the answer and close first (it normally
        // does at once); whatever it still sends is read and dropped.
        let mut sink = [0u8; 256];
        let _ = timeout(BIND_WAIT, async {
            while matches!(stream.read(&mut sink).await, Ok(n) if n > 0) {}
        })
        .await;
    }
}
