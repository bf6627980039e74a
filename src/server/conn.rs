//! One platform connection: bind, requests to the carrier, deliveries from the
//! account's dispatcher, keep-alives and timeouts. The connection itself
//! (framing, sequence numbers, keep-alive state, flush) is a
//! [`crate::link::Link`]; binding, requests and the shutdown drain are in
//! the submodules.

mod bind;
mod order;
mod request;
mod shutdown;

use crate::telemetry::{self, Direction, Side};
use std::collections::HashMap;
use std::net::SocketAddr;
use std::sync::atomic::Ordering;
use std::sync::Arc;
use std::time::{Duration, Instant};

use bytes::Bytes;
use futures_util::StreamExt;
use tokio::sync::{mpsc, oneshot, watch};
use tracing::{debug, info, info_span, warn, Instrument};

use crate::telemetry::limit::platform_warnings;

use super::ServerCtx;
use crate::codec::{FrameCodec, Reseq, SmppCodec};
use crate::deliver::{Direct, DispatchMsg, Dispatcher, Window, SESSION_WINDOW};
use crate::link::turn::{self, DRAIN_BUDGET};
use crate::link::{End, Link};
use crate::pdu::{command as cmd, status, Body, CommandId, Pdu, SubmitHead};
use crate::route::{Answer, ReplyTo, ToPlatform};
use crate::session::{BindState, Verdict};
use crate::tls::PeerIdentity;
use crate::transport::Stream;

pub(super) use bind::bind_resp;

/// How the session loop goes on after one event: `Err` ends the session.
type Flow = Result<(), End>;

/// A delivery handed to the platform, waiting for its deliver_sm_resp.
struct Delivering {
    of: Delivered,
    sent: Instant,
}

/// What a delivery handed to the platform was.
enum Delivered {
    /// Stored row `id`, whose PDU is handed back for a retry unless the
    /// platform takes it.
    Row { id: u64, pdu: Pdu },
    /// A direct delivery: its waiter hears the answer, and stores the
    /// message itself if need be (the session keeps no copy).
    Direct(oneshot::Sender<Direct>),
}

/// The state of one platform connection.
pub(super) struct Session {
    ctx: Arc<ServerCtx>,
    peer: SocketAddr,
    /// Plain TCP or TLS, and the client certificate's names.
    identity: PeerIdentity,
    id: u64,
    /// The connection: requests come with their bytes as received.
    link: Link<FrameCodec>,
    shutdown: watch::Receiver<bool>,
    state: BindState,
    /// Set at bind: the account, and where carrier answers come back.
    reply_to: Option<Arc<ReplyTo>>,
    dispatcher: Option<Dispatcher>,
    out_tx: mpsc::Sender<ToPlatform>,
    out_rx: mpsc::Receiver<ToPlatform>,
    /// Requests forwarded to the carrier and not answered yet.
    outstanding: usize,
    delivering: HashMap<u32, Delivering>,
    /// What this session has outstanding of its account's deliveries
    /// (shared with the dispatcher, see [`Window`]).
    window: Window,
    connected: Instant,
    /// Metrics of this session, published once per loop turn.
    tel: telemetry::Local,
    /// This session's part of `optgate_inflight_requests{side="platform"}`
    /// (`outstanding`, reported once per loop turn).
    inflight_share: telemetry::InflightShare,
    /// This session's copy of the accounts and the consent configuration
    /// (refreshed after a reload; see `crate::runtime`).
    runtime: crate::runtime::Cached,
    last_sender: Option<request::SenderMemo>,
    /// Requests being decided in the store, in the order they came (see
    /// [`order`]).
    deciding: futures_util::stream::FuturesOrdered<order::Deciding>,
    /// A request waiting for every decision ahead of it (see [`order`]).
    parked: Option<Bytes>,
}

impl Session {
    pub(super) fn new(
        ctx: Arc<ServerCtx>,
        stream: Stream,
        identity: PeerIdentity,
        peer: SocketAddr,
        connected: Instant,
        shutdown: watch::Receiver<bool>,
    ) -> Session {
        let max = ctx.settings.max_pdu_len;
        let id = ctx.next_session.fetch_add(1, Ordering::Relaxed);
        // Room for every answer to requests in flight plus the delivery window,
        // so carrier answers are never refused by a full queue.
        let (out_tx, out_rx) = mpsc::channel(ctx.settings.window + SESSION_WINDOW + 8);
        let runtime = ctx.runtime_cache();
        let codec = FrameCodec(SmppCodec::new(max));
        Session {
            link: Link::new(Side::Platform, stream, codec, max, 1),
            ctx,
            peer,
            identity,
            id,
            shutdown,
            state: BindState::Open,
            reply_to: None,
            dispatcher: None,
            out_tx,
            out_rx,
            outstanding: 0,
            delivering: HashMap::new(),
            window: Window::default(),
            // Set at accept: a TLS handshake counts against bind_timeout.
            connected,
            tel: telemetry::Local::default(),
            inflight_share: telemetry::InflightShare::new(Side::Platform),
            runtime,
            last_sender: None,
            deciding: Default::default(),
            parked: None,
        }
    }

    pub(super) async fn run(mut self) {
        let span = info_span!("session", peer = %self.peer, system_id = tracing::field::Empty);
        async {
            let end = self.serve().await;
            debug!(reason = %end, "platform session closing");
            self.finish().await;
        }
        .instrument(span)
        .await
    }

    async fn serve(&mut self) -> End {
        let mut tick = tokio::time::interval(Duration::from_millis(250));
        loop {
            let can_read = !self.parked();
            let flow = tokio::select! {
                biased;
                _ = self.shutdown.changed() => return self.unbind_for_shutdown().await,
                Some(out) = self.out_rx.recv() => self.on_outgoing(out).await,
                Some(d) = self.deciding.next(), if self.deciding() => self.on_decided(d).await,
                item = self.link.read(), if can_read => self.on_item(item).await,
                _ = tick.tick() => self.on_tick().await,
            };
            if let Err(end) = flow {
                return end;
            }
            // Take everything that is ready without waiting, then write it
            // all with one flush.
            let mut yielded = 0;
            for taken in 0..DRAIN_BUDGET {
                let flow = if let Some(d) = self.decided_now() {
                    self.on_decided(d).await
                } else if let Some(frame) = self.unpark() {
                    self.on_item(Ok(frame)).await
                } else if let Some(item) = self.read_now() {
                    self.on_item(item).await
                } else if let Ok(out) = self.out_rx.try_recv() {
                    self.on_outgoing(out).await
                } else if turn::settle(taken, yielded, self.in_window()) {
                    yielded += 1;
                    tokio::task::yield_now().await;
                    continue;
                } else {
                    break;
                };
                if let Err(end) = flow {
                    return end;
                }
            }
            self.tel.flush();
            self.inflight_share.report(self.outstanding);
            if let Err(end) = self.link.flush(self.ctx.settings.response_timeout).await {
                return end;
            }
        }
    }

    /// One frame from the platform's stream; `Err` ends the session.
    async fn on_item(&mut self, item: Result<Bytes, End>) -> Flow {
        let frame = match item {
            Err(end @ End::Framing { .. }) => {
                // Framing is lost (bad command_length): nothing more can be read.
                if let Some(suppressed) = platform_warnings().allow(self.peer.ip()) {
                    warn!(error = %end, suppressed, "framing lost; closing");
                }
                let nack = Pdu::generic_nack(0, status::ESME_RINVCMDLEN);
                let within = self.ctx.settings.response_timeout;
                let _ = self.link.send(&nack, within).await;
                return Err(end);
            }
            Err(end) => return Err(end),
            Ok(frame) => frame,
        };
        // Behind requests being decided, some requests wait their turn.
        let Some(frame) = self.park(frame) else {
            return Ok(());
        };
        // Most frames are submit_sm: read as far as a pass-through needs.
        if let Some(head) = SubmitHead::read(&frame) {
            return self.on_submit_head(head, frame).await;
        }
        match Pdu::decode_ref(&frame) {
            Err(bad) => {
                if let Some(suppressed) = platform_warnings().allow(self.peer.ip()) {
                    warn!(error = %bad, suppressed, "malformed PDU answered");
                }
                self.feed(&bad.response()).await
            }
            Ok(pdu) => self.on_pdu(pdu, frame).await,
        }
    }

    async fn feed(&mut self, pdu: &Pdu) -> Flow {
        let id = pdu.command_id();
        self.link.feed(pdu).await?;
        self.tel.pdu(Side::Platform, Direction::Out, id);
        Ok(())
    }

    async fn on_outgoing(&mut self, out: ToPlatform) -> Flow {
        match out {
            ToPlatform::Response(pdu) => self.answer(pdu).await,
            ToPlatform::Responses(pdus) => {
                // Every answer counts off `outstanding`, also after a failed write.
                let mut flow = Ok(());
                for pdu in pdus {
                    let r = self.answer(pdu).await;
                    if flow.is_ok() {
                        flow = r;
                    }
                }
                flow
            }
            ToPlatform::Deliver { id, mut pdu } => {
                let seq = self.link.next_seq();
                pdu.sequence_number = seq;
                let fed = self.feed(&pdu).await;
                // Recorded also when the write failed: the session's end
                // hands a stored row back (the PDU itself, no copy).
                self.delivering.insert(
                    seq,
                    Delivering {
                        of: Delivered::Row { id, pdu },
                        sent: Instant::now(),
                    },
                );
                fed
            }
            ToPlatform::Direct { frame, done } => {
                let seq = self.link.next_seq();
                let fed = self.feed_frame(&frame, seq).await;
                // Recorded also when the write failed: the session's end
                // drops `done`, and the waiter stores its copy.
                self.delivering.insert(
                    seq,
                    Delivering {
                        of: Delivered::Direct(done),
                        sent: Instant::now(),
                    },
                );
                fed
            }
        }
    }

    /// The carrier's answer to one of this session's requests.
    async fn answer(&mut self, answer: Answer) -> Flow {
        self.outstanding = self.outstanding.saturating_sub(1);
        match answer {
            Answer::Pdu(pdu) => self.feed(&pdu).await,
            Answer::Frame {
                frame,
                sequence_number,
            } => self.feed_frame(&frame, sequence_number).await,
        }
    }

    /// Writes a frame optgate passes on (a carrier's answer or delivery)
    /// under this session's `sequence_number`.
    async fn feed_frame(&mut self, frame: &Bytes, sequence_number: u32) -> Flow {
        self.link
            .feed(Reseq {
                frame,
                sequence_number,
            })
            .await?;
        if let Some(h) = crate::pdu::peek_header(frame) {
            self.tel.pdu(Side::Platform, Direction::Out, h.command_id);
        }
        Ok(())
    }

    async fn on_tick(&mut self) -> Flow {
        let now = Instant::now();
        let ctx = self.ctx.clone();
        let s = &ctx.settings;
        if self.state == BindState::Open && now.duration_since(self.connected) >= s.bind_timeout {
            info!("no bind within bind_timeout; closing");
            return Err(End::BindTimeout(Side::Platform));
        }
        if now.duration_since(self.link.last_rx()) >= s.inactivity_timeout {
            info!("inactivity timeout; unbinding");
            let unbind = Pdu::new(self.link.next_seq(), Body::Unbind);
            let _ = self.feed(&unbind).await;
            return Err(End::Inactive(Side::Platform));
        }
        // Deliveries the platform never answered go back to the dispatcher.
        let late: Vec<u32> = self
            .delivering
            .iter()
            .filter(|(_, d)| now.duration_since(d.sent) >= s.response_timeout)
            .map(|(k, _)| *k)
            .collect();
        for seq in late {
            if let Some(d) = self.delivering.remove(&seq) {
                self.report(d, status::ESME_RX_T_APPN).await;
            }
        }
        if matches!(self.state, BindState::Bound(_)) {
            let kept = self
                .link
                .keep_alive(now, s.enquire_link_interval, s.response_timeout)
                .await;
            if let Err(End::KeepAlive(_)) = &kept {
                info!("enquire_link unanswered; closing");
            }
            return kept;
        }
        Ok(())
    }

    /// The platform's answer `code` to delivery `d`: a direct delivery's
    /// waiter hears it at once (the dispatcher only when this session's
    /// full window has room again); a stored row's goes to the dispatcher.
    async fn report(&mut self, d: Delivering, code: u32) {
        let (id, pdu) = match d.of {
            Delivered::Direct(done) => {
                let how = Direct::from_status(code);
                if how == Direct::Delivered {
                    self.tel.delivered_direct += 1;
                }
                let _ = done.send(how);
                if self.window.answered() {
                    if let Some(disp) = &self.dispatcher {
                        disp.try_send(DispatchMsg::Room);
                    }
                }
                return;
            }
            Delivered::Row { id, pdu } => (id, pdu),
        };
        if let Some(disp) = &self.dispatcher {
            let pdu = (code != status::ESME_ROK).then_some(pdu);
            disp.send(DispatchMsg::Answered {
                session: self.id,
                id,
                status: code,
                pdu,
            })
            .await;
        }
    }

    /// Counts a PDU in, and whether the bind's state allows it: `Some`
    /// answer when it does not.
    fn check_state(&mut self, id: u32, seq: u32) -> Option<Pdu> {
        self.tel.pdu(Side::Platform, Direction::In, id);
        match self.state.check(id) {
            Verdict::Refuse(code) => Some(crate::route::answer(id, code, seq)),
            Verdict::Allow => None,
        }
    }

    async fn on_pdu(&mut self, pdu: Pdu, frame: Bytes) -> Flow {
        let id = pdu.command_id();
        if let Some(refusal) = self.check_state(id, pdu.sequence_number) {
            return self.feed(&refusal).await;
        }
        use CommandId as C;
        match pdu.command() {
            C::BindTransmitter | C::BindReceiver | C::BindTransceiver => self.on_bind(pdu).await,
            C::EnquireLink => {
                self.feed(&Pdu::new(pdu.sequence_number, Body::EnquireLinkResp))
                    .await
            }
            C::Unbind => {
                self.state = BindState::Unbinding;
                let _ = self
                    .feed(&Pdu::new(pdu.sequence_number, Body::UnbindResp))
                    .await;
                Err(End::Unbound(Side::Platform))
            }
            C::SubmitSm
            | C::DataSm
            | C::SubmitMulti
            | C::QuerySm
            | C::CancelSm
            | C::ReplaceSm
            | C::DeliverSm
            | C::Outbind
            | C::AlertNotification => self.on_request(pdu, frame).await,
            C::Unknown(id) if !cmd::is_response(id) => self.on_request(pdu, frame).await,
            C::EnquireLinkResp => {
                self.link.enquire_answered();
                Ok(())
            }
            C::UnbindResp => Err(End::Unbound(Side::Platform)),
            C::DeliverSmResp | C::DataSmResp | C::GenericNack => {
                self.on_delivered(pdu).await;
                Ok(())
            }
            C::SubmitSmResp
            | C::SubmitMultiResp
            | C::QuerySmResp
            | C::CancelSmResp
            | C::ReplaceSmResp
            | C::BindReceiverResp
            | C::BindTransmitterResp
            | C::BindTransceiverResp
            | C::Unknown(_) => {
                debug!(command = id, "unexpected response from platform ignored");
                Ok(())
            }
        }
    }

    /// The platform's answer to a delivery: reported to the dispatcher.
    async fn on_delivered(&mut self, pdu: Pdu) {
        if let Some(d) = self.delivering.remove(&pdu.sequence_number) {
            let code = if pdu.command_id() == cmd::GENERIC_NACK
                && pdu.command_status == status::ESME_ROK
            {
                status::ESME_RX_T_APPN
            } else {
                pdu.command_status
            };
            self.report(d, code).await;
        }
    }

    /// Gives back everything this session held.
    async fn finish(&mut self) {
        // Bounded: a platform that stopped reading must not pin the session
        // (and its bind slot and deliveries) forever.
        let _ = self.link.flush(self.ctx.settings.response_timeout).await;
        if let Some(reply_to) = &self.reply_to {
            self.ctx.release_bind(&reply_to.account);
        }
        // Answers still on their way find the queue closed and are dropped.
        self.outstanding = 0;
        self.inflight_share.report(0);
        // No more deliveries into this session: from now on the dispatcher's
        // sends fail and it keeps the rows itself.
        self.out_rx.close();
        if let Some(d) = self.dispatcher.take() {
            // Stored rows go back; direct deliveries' waiters find their
            // senders dropped (Fallback: they store their own copies).
            let mut returned: Vec<(u64, Pdu)> = self
                .delivering
                .drain()
                .filter_map(|(_, d)| match d.of {
                    Delivered::Row { id, pdu } => Some((id, pdu)),
                    Delivered::Direct(_) => None,
                })
                .collect();
            // Deliveries queued for this session but never written go back
            // too (direct ones' waiters find `done` dropped).
            while let Ok(out) = self.out_rx.try_recv() {
                if let ToPlatform::Deliver { id, pdu } = out {
                    returned.push((id, pdu));
                }
            }
            d.send(DispatchMsg::Unregister {
                session: self.id,
                returned,
            })
            .await;
        }
    }
}
