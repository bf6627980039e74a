//! One carrier bind: connect, bind, pump requests and carrier PDUs, reconnect.

use crate::telemetry::{self, Direction, Side};
use std::collections::HashMap;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use bytes::Bytes;
use futures_util::{FutureExt, SinkExt, StreamExt};
use tokio::net::TcpStream;
use tokio::sync::mpsc;
use tokio::time::{sleep_until, timeout};
use tokio_util::codec::{FramedRead, FramedWrite};
use tracing::{debug, info, warn};

use super::tps::TokenBucket;
use super::CarrierEvents;
use crate::codec::{CodecError, Reseq, SmppCodec};
use crate::lifecycle::Phase;
use crate::pdu::{command as cmd, status, Bind, Body, DecodeError, Pdu};
use crate::route::{AckTo, Outgoing, Replies, ReplyTo, UpRequest};
use crate::stamped::Stamped;
use crate::transport::{ReadHalf, Stream, WriteHalf};
use crate::turn::{self, DRAIN_BUDGET};

/// What the carrier side needs to know, taken from `[upstream]`.
#[derive(Debug)]
pub struct UpstreamSettings {
    pub address: String,
    pub system_id: String,
    pub password: String,
    pub system_type: String,
    pub binds: usize,
    /// `bind = "transmitter_receiver"`: a transmitter and a receiver per bind.
    pub split_tx_rx: bool,
    pub window: usize,
    pub enquire_link_interval: Duration,
    pub response_timeout: Duration,
    pub reconnect_min: Duration,
    pub reconnect_max: Duration,
    pub max_pdu_len: usize,
    pub tps: TokenBucket,
    /// `[upstream.tls]`: bind over TLS with this configuration.
    pub tls: Option<crate::tls::ClientTls>,
}

/// The SMPP bind a carrier connection makes.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum BindRole {
    Transceiver,
    Transmitter,
    Receiver,
}

impl BindRole {
    fn command(self) -> u32 {
        match self {
            BindRole::Transceiver => cmd::BIND_TRANSCEIVER,
            BindRole::Transmitter => cmd::BIND_TRANSMITTER,
            BindRole::Receiver => cmd::BIND_RECEIVER,
        }
    }
}

/// The task of one carrier connection.
pub(super) struct BindTask<E> {
    pub index: usize,
    pub role: BindRole,
    pub settings: Arc<UpstreamSettings>,
    /// Where carrier MOs, receipts and accepted message ids go.
    pub events: Arc<E>,
    pub requests: mpsc::Receiver<UpRequest>,
    pub accepting: Arc<AtomicBool>,
    pub up: Arc<AtomicBool>,
    /// Shutdown phase 2: answer what is queued, drain, unbind.
    pub stop: Phase,
}

/// A request waiting for the carrier's answer.
struct InFlight {
    orig_seq: u32,
    reply: Arc<ReplyTo>,
    optgate_id: Option<Arc<str>>,
    unsuccess: Vec<crate::pdu::UnsuccessSme>,
    command_id: u32,
    /// The request asked for receipts, so its message id must be remembered.
    wants_receipt: bool,
    /// When optgate received the request from the platform, for
    /// `optgate_added_latency_seconds`.
    received: Instant,
    sent: Instant,
    deadline: Instant,
}

/// Requests in flight by the sequence number optgate gave them (foldhash:
/// the keys are our own counter, so no hash flooding to defend against).
type InFlightMap = HashMap<u32, InFlight, foldhash::fast::RandomState>;

type Reader = FramedRead<Stamped<ReadHalf>, SmppCodec>;
type Writer = FramedWrite<WriteHalf, SmppCodec>;

/// The state of one bound carrier connection.
struct State {
    inflight: InFlightMap,
    seq: SeqGen,
    last_rx: Instant,
    enquire_out: Option<Instant>,
    paused_until: Option<tokio::time::Instant>,
    ack_tx: mpsc::Sender<Pdu>,
    /// Carrier deliveries handed up and not answered yet (their store
    /// commit is on its way), so a shutdown can wait for their answers.
    acks_owed: usize,
    /// Metrics of this bind, published once per loop turn.
    tel: telemetry::Local,
    /// Carrier answers of this turn, handed to their sessions at its end.
    replies: Replies,
}

/// Queues `item` (a `&Pdu`, or a received frame under a new sequence
/// number) on the writer: written at the next flush, or earlier when the
/// buffer is large.
async fn feed<I>(writer: &mut Writer, item: I) -> Result<(), End>
where
    SmppCodec: tokio_util::codec::Encoder<I, Error = CodecError>,
{
    writer
        .feed(item)
        .await
        .map_err(|e| End::Lost(format!("write failed: {e}")))
}

/// Why a connected session ended.
enum End {
    Shutdown,
    Lost(String),
}

impl<E: CarrierEvents> BindTask<E> {
    /// Runs until shutdown: connect, bind, serve, back off, again.
    pub async fn run(mut self) {
        let mut backoff = self.settings.reconnect_min;
        loop {
            if self.stop.has_begun() {
                self.refuse_queued();
                return;
            }
            match self.connect_and_bind().await {
                Ok((reader, writer)) => {
                    backoff = self.settings.reconnect_min;
                    info!(bind = self.index, role = ?self.role, "carrier bind up");
                    self.up.store(true, Ordering::Release);
                    metrics::gauge!("optgate_upstream_up", "bind" => self.index.to_string())
                        .set(1.0);
                    self.accepting
                        .store(self.role != BindRole::Receiver, Ordering::Release);
                    let end = self.serve(reader, writer).await;
                    self.accepting.store(false, Ordering::Release);
                    self.up.store(false, Ordering::Release);
                    metrics::gauge!("optgate_upstream_up", "bind" => self.index.to_string())
                        .set(0.0);
                    match end {
                        End::Shutdown => return self.refuse_queued(),
                        End::Lost(why) => warn!(bind = self.index, %why, "carrier bind lost"),
                    }
                }
                Err(why) => warn!(bind = self.index, %why, "carrier bind failed"),
            }
            let wait = jitter(backoff);
            backoff = (backoff * 2).min(self.settings.reconnect_max);
            if self.refuse_while_waiting(wait).await {
                return self.refuse_queued();
            }
        }
    }

    /// Shutdown: no more requests come in (the pool's `submit` fails and its
    /// caller answers ESME_RTHROTTLED); those already queued are answered
    /// ESME_RTHROTTLED here, so the platform retries them elsewhere rather
    /// than wait for an answer that never comes.
    fn refuse_queued(&mut self) {
        self.accepting.store(false, Ordering::Release);
        self.requests.close();
        while let Ok(req) = self.requests.try_recv() {
            let r = &req.request;
            req.reply
                .refuse(r.command_id(), status::ESME_RTHROTTLED, r.sequence_number());
        }
    }

    /// While down: answer anything queued with ESME_RTHROTTLED so no platform
    /// request hangs. Returns true on shutdown.
    async fn refuse_while_waiting(&mut self, wait: Duration) -> bool {
        let until = tokio::time::Instant::now() + wait;
        loop {
            tokio::select! {
                _ = sleep_until(until) => return false,
                _ = self.stop.begun() => return true,
                Some(req) = self.requests.recv() => {
                    let r = &req.request;
                    req.reply.refuse(r.command_id(), status::ESME_RTHROTTLED, r.sequence_number());
                }
            }
        }
    }

    async fn connect_and_bind(&mut self) -> Result<(Reader, Writer), String> {
        let s = &self.settings;
        let stream = timeout(s.response_timeout, TcpStream::connect(&s.address))
            .await
            .map_err(|_| format!("connect to {} timed out", s.address))?
            .map_err(|e| format!("connect to {}: {e}", s.address))?;
        let stream: Stream = match &s.tls {
            None => stream.into(),
            Some(tls) => timeout(
                s.response_timeout,
                crate::tls::connect(tls, stream, &s.address),
            )
            .await
            .map_err(|_| {
                let e = std::io::Error::new(std::io::ErrorKind::TimedOut, "TLS handshake");
                crate::tls::handshake_failed("carrier", &s.address, &e);
                format!("TLS handshake with {} timed out", s.address)
            })?
            .map_err(|e| format!("TLS handshake with {}: {e}", s.address))?
            .into(),
        };
        stream.set_nodelay();
        let (rd, wr) = stream.split();
        let mut reader =
            FramedRead::with_capacity(Stamped::new(rd), SmppCodec::new(s.max_pdu_len), 64 * 1024);
        let mut writer = FramedWrite::new(wr, SmppCodec::new(s.max_pdu_len));
        let bind = Bind {
            system_id: Bytes::from(s.system_id.clone()),
            password: Bytes::from(s.password.clone()),
            system_type: Bytes::from(s.system_type.clone()),
            interface_version: 0x34,
            addr_ton: 0,
            addr_npi: 0,
            address_range: Bytes::new(),
            tlvs: Default::default(),
        };
        let body = match self.role {
            BindRole::Transceiver => Body::BindTransceiver(Box::new(bind)),
            BindRole::Transmitter => Body::BindTransmitter(Box::new(bind)),
            BindRole::Receiver => Body::BindReceiver(Box::new(bind)),
        };
        let req = Pdu::new(1, body);
        timeout(s.response_timeout, writer.send(&req))
            .await
            .map_err(|_| "bind write timed out".to_string())?
            .map_err(|e| format!("bind write: {e}"))?;
        let resp = timeout(s.response_timeout, reader.next())
            .await
            .map_err(|_| "no bind_resp within response_timeout".to_string())?
            .ok_or_else(|| "carrier closed during bind".to_string())?
            .map_err(|e| format!("bind read: {e}"))?
            .map_err(|e| format!("bad bind_resp: {e}"))?;
        if resp.command_id() != (self.role.command() | 0x8000_0000) {
            return Err(format!(
                "unexpected answer to bind: {:#010x}",
                resp.command_id()
            ));
        }
        if resp.command_status != status::ESME_ROK {
            return Err(format!(
                "carrier refused bind: {} ({:#x})",
                status::status_name(resp.command_status),
                resp.command_status
            ));
        }
        Ok((reader, writer))
    }

    /// Serves one bound connection until it is lost or optgate shuts down.
    ///
    /// Each turn waits for one event, then takes every event that is ready
    /// without waiting (buffered carrier PDUs, queued acks and requests, up
    /// to a budget) before one flush: under load many PDUs share a syscall.
    async fn serve(&mut self, mut reader: Reader, mut writer: Writer) -> End {
        let s = self.settings.clone();
        writer.set_backpressure_boundary(256 * 1024);
        let (ack_tx, mut ack_rx) = mpsc::channel::<Pdu>(s.window.max(16) * 2);
        let mut st = State {
            inflight: InFlightMap::with_capacity_and_hasher(s.window, Default::default()),
            seq: SeqGen::new(2),
            last_rx: Instant::now(),
            enquire_out: None,
            paused_until: None,
            ack_tx,
            acks_owed: 0,
            tel: telemetry::Local::default(),
            replies: Replies::default(),
        };
        let mut tick = tokio::time::interval(Duration::from_millis(100));
        let mut inflight_share = telemetry::InflightShare::new(Side::Carrier);
        let end = loop {
            let can_take = st.inflight.len() < s.window && st.paused_until.is_none();
            let paused = st.paused_until;
            let step = tokio::select! {
                biased;
                _ = self.stop.begun() => Err(End::Shutdown),
                item = reader.next() => {
                    st.last_rx = reader.get_ref().last_read();
                    self.on_item(item, &mut st, &mut writer).await
                }
                Some(ack) = ack_rx.recv() => {
                    st.acks_owed = st.acks_owed.saturating_sub(1);
                    feed(&mut writer, &ack).await
                }
                Some(req) = self.requests.recv(), if can_take => self.forward(req, &mut st, &mut writer).await,
                _ = async { if let Some(t) = paused { sleep_until(t).await } else { std::future::pending::<()>().await } } => {
                    st.paused_until = None;
                    self.accepting.store(self.role != BindRole::Receiver, Ordering::Release);
                    Ok(())
                }
                _ = tick.tick() => self.on_tick(&mut st, &mut writer).await,
            };
            let step = match step {
                Ok(()) => {
                    self.drain(&mut reader, &mut ack_rx, &mut st, &mut writer)
                        .await
                }
                Err(e) => Err(e),
            };
            // Answers collected this turn go to their sessions now, also
            // when the connection just ended.
            st.replies.send_all();
            if let Err(e) = step {
                break e;
            }
            inflight_share.report(st.inflight.len());
            st.tel.flush();
            let flushed = timeout(s.response_timeout, SinkExt::<&Pdu>::flush(&mut writer)).await;
            if !matches!(flushed, Ok(Ok(()))) {
                break End::Lost("write to carrier failed or stalled".into());
            }
        };
        if let End::Shutdown = end {
            // Queued requests first: their answers need not wait for the
            // carrier's.
            self.refuse_queued();
            self.unbind(&mut reader, &mut writer, &mut st, &mut ack_rx)
                .await;
        }
        fail_all(&mut st.inflight, status::ESME_RSYSERR).await;
        // `inflight_share` leaves the gauge as it drops.
        end
    }

    /// Takes whatever is ready right now, without waiting.
    async fn drain(
        &mut self,
        reader: &mut Reader,
        acks: &mut mpsc::Receiver<Pdu>,
        st: &mut State,
        writer: &mut Writer,
    ) -> Result<(), End> {
        let mut yielded = 0;
        for taken in 0..DRAIN_BUDGET {
            if let Some(item) = reader.next().now_or_never() {
                st.last_rx = reader.get_ref().last_read();
                self.on_item(item, st, writer).await?;
                continue;
            }
            if let Ok(ack) = acks.try_recv() {
                st.acks_owed = st.acks_owed.saturating_sub(1);
                feed(writer, &ack).await?;
                continue;
            }
            if st.inflight.len() < self.settings.window && st.paused_until.is_none() {
                if let Ok(req) = self.requests.try_recv() {
                    self.forward(req, st, writer).await?;
                    continue;
                }
            }
            if turn::settle(taken, yielded, st.inflight.len()) {
                yielded += 1;
                tokio::task::yield_now().await;
                continue;
            }
            break;
        }
        Ok(())
    }

    /// One item from the carrier's stream.
    async fn on_item(
        &self,
        item: Option<Result<Result<Pdu, DecodeError>, CodecError>>,
        st: &mut State,
        writer: &mut Writer,
    ) -> Result<(), End> {
        let pdu = match item {
            None => return Err(End::Lost("carrier closed the connection".into())),
            Some(Err(e)) => return Err(End::Lost(format!("framing lost: {e}"))),
            Some(Ok(Err(bad))) => {
                if let Some(suppressed) = telemetry::limit::carrier_warnings().allow(self.index) {
                    warn!(bind = self.index, error = %bad, suppressed, "malformed PDU from carrier");
                }
                return feed(writer, &bad.response()).await;
            }
            Some(Ok(Ok(pdu))) => pdu,
        };
        st.tel.pdu(Side::Carrier, Direction::In, pdu.command_id());
        self.on_carrier_pdu(pdu, st, writer).await
    }

    /// Sends a platform request to the carrier under a new sequence number.
    async fn forward(
        &self,
        req: UpRequest,
        st: &mut State,
        writer: &mut Writer,
    ) -> Result<(), End> {
        let s = &self.settings;
        let now = Instant::now();
        if let Err(wait) = s.tps.take(now) {
            st.paused_until = Some(tokio::time::Instant::now() + wait);
            self.accepting.store(false, Ordering::Release);
        }
        let up_seq = st.seq.take();
        let command_id = req.request.command_id();
        st.inflight.insert(
            up_seq,
            InFlight {
                orig_seq: req.request.sequence_number(),
                command_id,
                wants_receipt: req.request.wants_receipt(),
                reply: req.reply,
                optgate_id: req.optgate_id,
                unsuccess: req.unsuccess,
                received: req.received,
                sent: now,
                deadline: now + s.response_timeout,
            },
        );
        st.tel.pdu(Side::Carrier, Direction::Out, command_id);
        match req.request {
            Outgoing::Pdu(mut pdu) => {
                pdu.sequence_number = up_seq;
                feed(writer, &pdu).await
            }
            Outgoing::Frame { frame, .. } => {
                let reseq = Reseq {
                    frame: &frame,
                    sequence_number: up_seq,
                };
                feed(writer, reseq).await
            }
        }
    }

    /// Timeouts and keep-alive.
    async fn on_tick(&self, st: &mut State, writer: &mut Writer) -> Result<(), End> {
        let now = Instant::now();
        expire(&mut st.inflight, now).await;
        if let Some(sent) = st.enquire_out {
            if now.duration_since(sent) > self.settings.response_timeout {
                return Err(End::Lost("enquire_link unanswered".into()));
            }
        } else if now.duration_since(st.last_rx) >= self.settings.enquire_link_interval {
            let el = Pdu::new(st.seq.take(), Body::EnquireLink);
            st.enquire_out = Some(now);
            return feed(writer, &el).await;
        }
        Ok(())
    }

    /// Handles one PDU from the carrier.
    async fn on_carrier_pdu(
        &self,
        pdu: Pdu,
        st: &mut State,
        writer: &mut Writer,
    ) -> Result<(), End> {
        let id = pdu.command_id();
        let seq = pdu.sequence_number;
        if cmd::is_response(id) {
            if id == cmd::ENQUIRE_LINK_RESP {
                st.enquire_out = None;
                return Ok(());
            }
            let Some(entry) = st.inflight.remove(&seq) else {
                debug!(
                    bind = self.index,
                    seq, "late or unknown response from carrier dropped"
                );
                return Ok(());
            };
            if pdu.command_status == status::ESME_RTHROTTLED {
                // The carrier is pushing back: pause this bind for a moment.
                st.paused_until = Some(tokio::time::Instant::now() + Duration::from_millis(500));
                self.accepting.store(false, Ordering::Release);
            }
            // When the bytes of this answer were read (see `Stamped`).
            let now = st.last_rx;
            st.tel
                .upstream_response
                .record(now.saturating_duration_since(entry.sent));
            self.answer_platform(entry, pdu, now, &mut st.tel.added_latency, &mut st.replies)
                .await;
            return Ok(());
        }
        match id {
            cmd::ENQUIRE_LINK => feed(writer, &Pdu::new(seq, Body::EnquireLinkResp)).await,
            cmd::UNBIND => {
                let _ = writer.send(&Pdu::new(seq, Body::UnbindResp)).await;
                Err(End::Lost("carrier unbound".into()))
            }
            cmd::DELIVER_SM | cmd::DATA_SM => {
                let ack = AckTo {
                    tx: st.ack_tx.clone(),
                    sequence_number: seq,
                    command_id: id,
                };
                st.acks_owed += 1;
                self.events.deliver(pdu, ack).await;
                Ok(())
            }
            cmd::ALERT_NOTIFICATION | cmd::OUTBIND => {
                debug!(bind = self.index, command = id, "ignored carrier PDU");
                Ok(())
            }
            _ => feed(writer, &Pdu::generic_nack(seq, status::ESME_RINVCMDID)).await,
        }
    }

    /// Routes a carrier answer back to the platform that asked.
    async fn answer_platform(
        &self,
        entry: InFlight,
        mut pdu: Pdu,
        now: Instant,
        added_latency: &mut telemetry::LocalHist,
        replies: &mut Replies,
    ) {
        // What optgate added: the platform's whole wait minus the carrier's share.
        let added = now
            .saturating_duration_since(entry.received)
            .saturating_sub(now.saturating_duration_since(entry.sent));
        added_latency.record(added);
        pdu.sequence_number = entry.orig_seq;
        if pdu.command_status == status::ESME_ROK {
            // Only messages that asked for receipts will get one: the id map
            // is only for them.
            if let (true, Some(mid)) = (entry.wants_receipt, message_id_of(&pdu)) {
                self.events
                    .submitted(mid, entry.reply.account.clone(), entry.optgate_id.clone())
                    .await;
            }
        }
        if !entry.unsuccess.is_empty() {
            if let Body::SubmitMultiResp(r) = &mut pdu.body {
                r.unsuccess_smes
                    .get_or_insert_with(Vec::new)
                    .extend(entry.unsuccess);
                r.message_id.get_or_insert_with(Bytes::new);
            }
        }
        replies.push(entry.reply, pdu);
    }

    /// Graceful end: relay the carrier's answers to what is in flight until
    /// the shutdown deadline, unbind, wait briefly; the caller refuses
    /// whatever is still unanswered after that.
    async fn unbind(
        &mut self,
        reader: &mut Reader,
        writer: &mut Writer,
        st: &mut State,
        acks: &mut mpsc::Receiver<Pdu>,
    ) {
        let deadline = self
            .stop
            .bound(tokio::time::Instant::now() + self.settings.response_timeout);
        // Give in-flight submits a chance to be answered, and answer the
        // carrier's deliveries whose commits finish meanwhile (unanswered,
        // the carrier would send them again after the restart).
        while !st.inflight.is_empty() || st.acks_owed > 0 {
            let event = tokio::time::timeout_at(deadline, async {
                tokio::select! {
                    item = reader.next() => Ok(item),
                    Some(ack) = acks.recv() => Err(ack),
                }
            })
            .await;
            let item = match event {
                Err(_) => break,
                Ok(Err(ack)) => {
                    st.acks_owed = st.acks_owed.saturating_sub(1);
                    let sent = timeout(self.settings.response_timeout, writer.send(&ack)).await;
                    if !matches!(sent, Ok(Ok(()))) {
                        break;
                    }
                    continue;
                }
                Ok(Ok(item)) => item,
            };
            match item {
                Some(Ok(Ok(pdu))) if cmd::is_response(pdu.command_id()) => {
                    if let Some(entry) = st.inflight.remove(&pdu.sequence_number) {
                        let mut added = telemetry::ADDED_LATENCY.local();
                        let mut replies = Replies::default();
                        self.answer_platform(entry, pdu, Instant::now(), &mut added, &mut replies)
                            .await;
                        replies.send_all();
                    }
                }
                // New deliveries are not taken now: the carrier sends them again.
                Some(Ok(Ok(_))) => {}
                _ => break,
            }
        }
        let unbind = Pdu::new(st.seq.take(), Body::Unbind);
        let unbind_by = self
            .stop
            .bound(tokio::time::Instant::now() + Duration::from_secs(2))
            .max(tokio::time::Instant::now() + Duration::from_millis(100));
        if let Ok(Ok(())) = tokio::time::timeout_at(unbind_by, writer.send(&unbind)).await {
            let _ = tokio::time::timeout_at(unbind_by, async {
                while let Some(Ok(Ok(pdu))) = reader.next().await {
                    if pdu.command_id() == cmd::UNBIND_RESP {
                        break;
                    }
                }
            })
            .await;
        }
    }
}

/// Carrier message id out of a submit_sm_resp / data_sm_resp.
fn message_id_of(pdu: &Pdu) -> Option<Bytes> {
    match &pdu.body {
        Body::SubmitSmResp(r) => r.message_id.clone().filter(|m| !m.is_empty()),
        Body::DataSmResp(r) => r.message_id.clone().filter(|m| !m.is_empty()),
        _ => None,
    }
}

/// Answers every request whose deadline passed with a temporary error.
async fn expire(inflight: &mut InFlightMap, now: Instant) {
    let late: Vec<u32> = inflight
        .iter()
        .filter(|(_, e)| e.deadline <= now)
        .map(|(k, _)| *k)
        .collect();
    for seq in late {
        if let Some(e) = inflight.remove(&seq) {
            warn!(seq, "carrier response timeout");
            e.reply
                .refuse(e.command_id, status::ESME_RSYSERR, e.orig_seq);
        }
    }
}

/// Answers every outstanding request with `code` (the connection is gone).
async fn fail_all(inflight: &mut InFlightMap, code: u32) {
    for (_, e) in inflight.drain() {
        e.reply.refuse(e.command_id, code, e.orig_seq);
    }
}

/// Sequence numbers 1..=0x7FFFFFFF, wrapping.
pub struct SeqGen(u32);

impl SeqGen {
    pub fn new(first: u32) -> SeqGen {
        SeqGen(first.clamp(1, 0x7FFF_FFFF))
    }
    pub fn take(&mut self) -> u32 {
        let v = self.0;
        self.0 = if v >= 0x7FFF_FFFF { 1 } else { v + 1 };
        v
    }
}

/// Full jitter on the lower half: wait between d/2 and d.
fn jitter(d: Duration) -> Duration {
    let nanos = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|t| t.subsec_nanos())
        .unwrap_or(0);
    let frac = f64::from(nanos % 1000) / 1000.0;
    d.mul_f64(0.5 + 0.5 * frac)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn seq_wraps_to_one() {
        let mut s = SeqGen::new(0x7FFF_FFFE);
        assert_eq!(s.take(), 0x7FFF_FFFE);
        assert_eq!(s.take(), 0x7FFF_FFFF);
        assert_eq!(s.take(), 1);
        assert_eq!(SeqGen::new(0).take(), 1);
    }

    #[test]
    fn jitter_stays_within_half_to_full() {
        for _ in 0..100 {
            let j = jitter(Duration::from_secs(2));
            assert!(j >= Duration::from_secs(1) && j <= Duration::from_secs(2));
        }
    }
}
