//! One carrier bind: connect, bind, pump requests and carrier PDUs, reconnect.
//!
//! The bind is transport: requests go out under its own sequence numbers and
//! their answers back to the sessions that asked; carrier deliveries go up
//! through [`CarrierEvents`], whose commit waits the bind keeps in order
//! (at most its window of them) and answers as they finish.

use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use bytes::Bytes;
use futures_util::{FutureExt, StreamExt};
use tokio::sync::mpsc;
use tokio::time::{sleep_until, timeout};
use tracing::{debug, info, warn};

use super::connect::{connect_and_bind, jitter, BindRole, CarrierLink, UpstreamSettings};
use super::inflight::{expire, fail_all, Answered, InFlight, InFlightMap, Owed, OwedQueue};
use super::CarrierEvents;
use crate::codec::Reseq;
use crate::lifecycle::Phase;
use crate::link::turn::{self, DRAIN_BUDGET};
use crate::link::End;
use crate::pdu::{command as cmd, peek_header, status, Body, CommandId, Pdu, SubmitRespHead, Text};
use crate::route::{Answer, Outgoing, Replies, UpRequest};
use crate::telemetry::{self, Direction, Side};

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

/// The state of one bound carrier connection.
struct State {
    link: CarrierLink,
    inflight: InFlightMap,
    paused_until: Option<tokio::time::Instant>,
    /// Carrier deliveries whose commits are on their way, in the order
    /// they came: their answers go out in that order.
    owed: OwedQueue,
    /// Most deliveries owed an answer before the bind stops reading.
    max_owed: usize,
    /// Metrics of this bind, published once per loop turn.
    tel: telemetry::Local,
    /// Carrier answers of this turn, handed to their sessions at its end.
    replies: Replies,
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
            match connect_and_bind(&self.settings, self.role).await {
                Ok(link) => {
                    backoff = self.settings.reconnect_min;
                    info!(bind = self.index, role = ?self.role, "carrier bind up");
                    self.set_up(true);
                    let end = self.serve(link).await;
                    self.set_up(false);
                    match end {
                        End::Shutdown => return self.refuse_queued(),
                        why => warn!(bind = self.index, %why, "carrier bind lost"),
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

    fn set_up(&self, up: bool) {
        self.up.store(up, Ordering::Release);
        metrics::gauge!("optgate_upstream_up", "bind" => self.index.to_string()).set(if up {
            1.0
        } else {
            0.0
        });
        self.accepting
            .store(up && self.role != BindRole::Receiver, Ordering::Release);
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

    /// Serves one bound connection until it is lost or optgate shuts down.
    ///
    /// Each turn waits for one event, then takes every event that is ready
    /// without waiting (buffered carrier PDUs, finished commits and
    /// requests, up to a budget) before one flush: under load many PDUs
    /// share a syscall.
    async fn serve(&mut self, link: CarrierLink) -> End {
        let s = self.settings.clone();
        let mut st = State {
            link,
            inflight: InFlightMap::new(s.window),
            paused_until: None,
            owed: OwedQueue::default(),
            max_owed: s.window.max(16) * 2,
            tel: telemetry::Local::default(),
            replies: Replies::default(),
        };
        let mut tick = tokio::time::interval(Duration::from_millis(100));
        // First in the loop's order: after a stall it fires once, not once
        // for every tick missed.
        tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
        let mut inflight_share = telemetry::InflightShare::new(Side::Carrier);
        let end = loop {
            let can_take = st.inflight.len() < s.window && st.paused_until.is_none();
            let can_read = st.owed.len() < st.max_owed;
            let owing = !st.owed.is_empty();
            let paused = st.paused_until;
            let step = tokio::select! {
                biased;
                _ = self.stop.begun() => Err(End::Shutdown),
                // Before the traffic: under a steady load something is
                // always ready, and the timer (timeouts, keep-alive, the
                // owed answers' sweep) must still run.
                _ = tick.tick() => self.on_tick(&mut st).await,
                item = st.link.read(), if can_read => match item {
                    Ok(item) => self.on_item(item, &mut st).await,
                    Err(e) => Err(e),
                },
                Some(ack) = st.owed.next(), if owing => st.link.feed(&ack).await,
                Some(req) = self.requests.recv(), if can_take => self.forward(req, &mut st).await,
                _ = async { if let Some(t) = paused { sleep_until(t).await } else { std::future::pending::<()>().await } } => {
                    st.paused_until = None;
                    self.accepting.store(self.role != BindRole::Receiver, Ordering::Release);
                    Ok(())
                }
            };
            let step = match step {
                Ok(()) => self.drain(&mut st).await,
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
            if let Err(e) = st.link.flush(s.response_timeout).await {
                break e;
            }
        };
        if let End::Shutdown = end {
            // Queued requests first: their answers need not wait for the
            // carrier's.
            self.refuse_queued();
            self.unbind(&mut st).await;
        }
        // Commits still on their way finish (their rows reach the
        // dispatcher); with the link gone their answers have nowhere to go
        // and the carrier delivers again.
        let _ = timeout(s.response_timeout, async {
            while st.owed.next().await.is_some() {}
        })
        .await;
        fail_all(&mut st.inflight, status::ESME_RSYSERR);
        // `inflight_share` leaves the gauge as it drops.
        end
    }

    /// Takes whatever is ready right now, without waiting.
    async fn drain(&mut self, st: &mut State) -> Result<(), End> {
        let mut yielded = 0;
        for taken in 0..DRAIN_BUDGET {
            if st.owed.len() < st.max_owed {
                if let Some(item) = st.link.read_now() {
                    self.on_item(item?, st).await?;
                    continue;
                }
            }
            if !st.owed.is_empty() {
                if let Some(Some(ack)) = st.owed.next().now_or_never() {
                    st.link.feed(&ack).await?;
                    continue;
                }
            }
            if st.inflight.len() < self.settings.window && st.paused_until.is_none() {
                if let Ok(req) = self.requests.try_recv() {
                    self.forward(req, st).await?;
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

    /// One frame from the carrier's stream, as received.
    async fn on_item(&self, frame: Bytes, st: &mut State) -> Result<(), End> {
        // Most frames are submit_sm_resps: read as far as routing needs.
        if let Some(head) = SubmitRespHead::read(&frame) {
            st.tel
                .pdu(Side::Carrier, Direction::In, cmd::SUBMIT_SM_RESP);
            let submitted = self.on_answer(Answered::Head(head, frame), st);
            self.remember(submitted).await;
            return Ok(());
        }
        let pdu = match Pdu::decode_ref(&frame) {
            Err(bad) => {
                if let Some(suppressed) = telemetry::limit::carrier_warnings().allow(self.index) {
                    warn!(bind = self.index, error = %bad, suppressed, "malformed PDU from carrier");
                }
                return st.link.feed(&bad.response()).await;
            }
            Ok(pdu) => pdu,
        };
        st.tel.pdu(Side::Carrier, Direction::In, pdu.command_id());
        self.on_carrier_pdu(pdu, frame, st).await
    }

    /// Sends a platform request to the carrier under a new sequence number.
    async fn forward(&self, req: UpRequest, st: &mut State) -> Result<(), End> {
        let s = &self.settings;
        let now = Instant::now();
        if let Err(wait) = s.tps.take(now) {
            st.paused_until = Some(tokio::time::Instant::now() + wait);
            self.accepting.store(false, Ordering::Release);
        }
        let up_seq = st.link.next_seq();
        let command_id = req.request.command_id();
        st.inflight.insert(
            up_seq,
            InFlight {
                orig_seq: req.request.sequence_number(),
                command_id,
                wants_receipt: req.request.wants_receipt(),
                id_map: req.id_map,
                reply: req.reply,
                extra: req.extra,
                received: req.received,
                sent: now,
            },
        );
        st.tel.pdu(Side::Carrier, Direction::Out, command_id);
        match req.request {
            Outgoing::Pdu(mut pdu) => {
                pdu.sequence_number = up_seq;
                st.link.feed(&*pdu).await
            }
            Outgoing::Frame { frame, .. } => {
                let reseq = Reseq {
                    frame: &frame,
                    sequence_number: up_seq,
                };
                st.link.feed(reseq).await
            }
        }
    }

    /// Timeouts, keep-alive, and the commits owed behind the oldest.
    async fn on_tick(&self, st: &mut State) -> Result<(), End> {
        std::future::poll_fn(|cx| {
            st.owed.sweep(cx);
            std::task::Poll::Ready(())
        })
        .await;
        let now = Instant::now();
        expire(&mut st.inflight, now, self.settings.response_timeout);
        let s = &self.settings;
        st.link
            .keep_alive(now, s.enquire_link_interval, s.response_timeout)
            .await
    }

    /// Handles one PDU from the carrier (`frame`: its bytes as received).
    async fn on_carrier_pdu(&self, pdu: Pdu, frame: Bytes, st: &mut State) -> Result<(), End> {
        use CommandId as C;
        let seq = pdu.sequence_number;
        match pdu.command() {
            C::EnquireLinkResp => {
                st.link.enquire_answered();
                Ok(())
            }
            C::GenericNack
            | C::SubmitSmResp
            | C::DataSmResp
            | C::SubmitMultiResp
            | C::QuerySmResp
            | C::CancelSmResp
            | C::ReplaceSmResp
            | C::DeliverSmResp
            | C::UnbindResp
            | C::BindReceiverResp
            | C::BindTransmitterResp
            | C::BindTransceiverResp => {
                let submitted = self.on_answer(Answered::Pdu(pdu), st);
                self.remember(submitted).await;
                Ok(())
            }
            C::Unknown(id) if cmd::is_response(id) => {
                let submitted = self.on_answer(Answered::Pdu(pdu), st);
                self.remember(submitted).await;
                Ok(())
            }
            C::EnquireLink => st.link.feed(&Pdu::new(seq, Body::EnquireLinkResp)).await,
            C::Unbind => {
                let resp = Pdu::new(seq, Body::UnbindResp);
                let _ = st.link.send(&resp, self.settings.response_timeout).await;
                Err(End::Unbound(Side::Carrier))
            }
            command @ (C::DeliverSm | C::DataSm) => {
                let commit = self.events.deliver(pdu, frame).await;
                st.owed.push_back(Owed::new(commit, seq, command.into()));
                Ok(())
            }
            command @ (C::AlertNotification | C::Outbind) => {
                debug!(bind = self.index, ?command, "ignored carrier PDU");
                Ok(())
            }
            // Requests a carrier has no business sending to an ESME.
            C::BindReceiver
            | C::BindTransmitter
            | C::BindTransceiver
            | C::SubmitSm
            | C::SubmitMulti
            | C::QuerySm
            | C::CancelSm
            | C::ReplaceSm
            | C::Unknown(_) => {
                st.link
                    .feed(&Pdu::generic_nack(seq, status::ESME_RINVCMDID))
                    .await
            }
        }
    }

    /// The carrier's answer to one of the requests in flight; what it
    /// leaves to remember, see [`BindTask::answer_platform`].
    fn on_answer(&self, answered: Answered, st: &mut State) -> Option<Submitted> {
        let seq = answered.sequence_number();
        let Some(entry) = st.inflight.remove(seq) else {
            debug!(
                bind = self.index,
                seq, "late or unknown response from carrier dropped"
            );
            return None;
        };
        if answered.command_status() == status::ESME_RTHROTTLED {
            // The carrier is pushing back: pause this bind for a moment.
            st.paused_until = Some(tokio::time::Instant::now() + Duration::from_millis(500));
            self.accepting.store(false, Ordering::Release);
        }
        // When the bytes of this answer were read (see `Stamped`).
        let now = st.link.last_rx();
        st.tel
            .upstream_response
            .record(now.saturating_duration_since(entry.sent));
        answer_platform(
            entry,
            answered,
            now,
            &mut st.tel.added_latency,
            &mut st.replies,
        )
    }

    /// Remembers the carrier's id of a message that asked for a receipt
    /// (see [`CarrierEvents::submitted`]), before its answer reaches the
    /// platform (answers go at the end of the bind's turn).
    async fn remember(&self, submitted: Option<Submitted>) {
        if let Some(s) = submitted {
            self.events
                .submitted(s.carrier_id, &s.account, &s.optgate_id, s.id_map)
                .await;
        }
    }

    /// Graceful end: relay the carrier's answers to what is in flight until
    /// the shutdown deadline, unbind, wait briefly; the caller refuses
    /// whatever is still unanswered after that.
    async fn unbind(&mut self, st: &mut State) {
        let wait = self.settings.response_timeout;
        let deadline = self.stop.bound(tokio::time::Instant::now() + wait);
        // Give in-flight submits a chance to be answered, and answer the
        // carrier's deliveries whose commits finish meanwhile (unanswered,
        // the carrier would send them again after the restart).
        while !st.inflight.is_empty() || !st.owed.is_empty() {
            let owing = !st.owed.is_empty();
            let event = tokio::time::timeout_at(deadline, async {
                tokio::select! {
                    item = st.link.read() => Ok(item),
                    Some(ack) = st.owed.next(), if owing => Err(ack),
                }
            })
            .await;
            let item = match event {
                Err(_) => break,
                Ok(Err(ack)) => {
                    if st.link.send(&ack, wait).await.is_err() {
                        break;
                    }
                    continue;
                }
                Ok(Ok(item)) => item,
            };
            match item.map(|frame| Pdu::decode_ref(&frame)) {
                Ok(Ok(pdu)) if cmd::is_response(pdu.command_id()) => {
                    if let Some(entry) = st.inflight.remove(pdu.sequence_number) {
                        let mut added = telemetry::ADDED_LATENCY.local();
                        let mut replies = Replies::default();
                        let answered = Answered::Pdu(pdu);
                        let submitted = answer_platform(
                            entry,
                            answered,
                            Instant::now(),
                            &mut added,
                            &mut replies,
                        );
                        self.remember(submitted).await;
                        replies.send_all();
                    }
                }
                // New deliveries are not taken now: the carrier sends them again.
                Ok(_) => {}
                Err(_) => break,
            }
        }
        let unbind = Pdu::new(st.link.next_seq(), Body::Unbind);
        let now = tokio::time::Instant::now();
        let unbind_by = self
            .stop
            .bound(now + Duration::from_secs(2))
            .max(now + Duration::from_millis(100));
        let within = unbind_by.saturating_duration_since(now);
        if st.link.send(&unbind, within).await.is_ok() {
            let _ = tokio::time::timeout_at(unbind_by, async {
                while let Ok(frame) = st.link.read().await {
                    if peek_header(&frame).map(|h| h.command_id) == Some(cmd::UNBIND_RESP) {
                        break;
                    }
                }
            })
            .await;
        }
    }
}

/// A submitted message that asked for a receipt: its carrier id, for
/// [`CarrierEvents::submitted`].
struct Submitted {
    carrier_id: Text,
    account: Arc<str>,
    optgate_id: Option<Arc<str>>,
    id_map: bool,
}

/// Routes a carrier answer back to the platform that asked (into
/// `replies`); the carrier id to remember when the message asked for a
/// receipt and the carrier took it.
fn answer_platform(
    entry: InFlight,
    answered: Answered,
    now: Instant,
    added_latency: &mut telemetry::LocalHist,
    replies: &mut Replies,
) -> Option<Submitted> {
    // What optgate added: the platform's whole wait minus the carrier's share.
    let added = now
        .saturating_duration_since(entry.received)
        .saturating_sub(now.saturating_duration_since(entry.sent));
    added_latency.record(added);
    // Only messages that asked for receipts will get one: the id map is
    // only for them.
    let submitted = (answered.command_status() == status::ESME_ROK && entry.wants_receipt)
        .then(|| answered.message_id())
        .flatten()
        .map(|carrier_id| Submitted {
            carrier_id,
            account: entry.reply.account.clone(),
            optgate_id: entry.extra.as_ref().and_then(|x| x.optgate_id.clone()),
            id_map: entry.id_map,
        });
    let answer = match answered {
        Answered::Head(_, frame) => Answer::Frame {
            frame,
            sequence_number: entry.orig_seq,
        },
        Answered::Pdu(mut pdu) => {
            pdu.sequence_number = entry.orig_seq;
            if let Some(extra) = entry.extra.filter(|x| !x.unsuccess.is_empty()) {
                if let Body::SubmitMultiResp(r) = &mut pdu.body {
                    r.unsuccess_smes
                        .get_or_insert_with(Vec::new)
                        .extend(extra.unsuccess);
                    r.message_id.get_or_insert_with(Text::new);
                }
            }
            Answer::Pdu(pdu)
        }
    };
    replies.push(entry.reply, answer);
    submitted
}
