//! One platform connection: bind, requests to the carrier, deliveries from the
//! account's dispatcher, keep-alives and timeouts.

use crate::telemetry::{self, Direction, Side};
use std::collections::HashMap;
use std::net::SocketAddr;
use std::sync::atomic::Ordering;
use std::sync::Arc;
use std::time::{Duration, Instant};

use bytes::Bytes;
use futures_util::{FutureExt, SinkExt, StreamExt};
use tokio::sync::{mpsc, watch};
use tokio::time::timeout;
use tokio_util::codec::{FramedRead, FramedWrite};
use tracing::{debug, info, info_span, warn, Instrument};

use crate::telemetry::limit::platform_warnings;

use super::auth;
use super::ServerCtx;
use crate::codec::{FrameCodec, Received, SmppCodec};
use crate::consent::mt::{MtAction, MtQuick};
use crate::consent::multi::MultiAction;
use crate::deliver::{DispatchMsg, Dispatcher, SESSION_WINDOW};
use crate::pdu::{command as cmd, status, BindResp, Body, Pdu};
use crate::route::{Outgoing, ReplyTo, ToPlatform, UpRequest};
use crate::session::{BindKind, BindState, Verdict};
use crate::stamped::Stamped;
use crate::tls::PeerIdentity;
use crate::transport::{ReadHalf, Stream, WriteHalf};
use crate::turn::{self, DRAIN_BUDGET};
use crate::upstream::bind::SeqGen;

type Reader = FramedRead<Stamped<ReadHalf>, FrameCodec>;
type Writer = FramedWrite<WriteHalf, SmppCodec>;

/// A delivery handed to the platform, waiting for its deliver_sm_resp.
struct Delivering {
    id: u64,
    pdu: Pdu,
    sent: Instant,
}

/// The state of one platform connection.
pub(super) struct Session {
    ctx: Arc<ServerCtx>,
    peer: SocketAddr,
    /// Plain TCP or TLS, and the client certificate's names.
    identity: PeerIdentity,
    id: u64,
    reader: Reader,
    writer: Writer,
    shutdown: watch::Receiver<bool>,
    state: BindState,
    /// Set at bind: the account, and where carrier answers come back.
    link: Option<Arc<ReplyTo>>,
    dispatcher: Option<Dispatcher>,
    out_tx: mpsc::Sender<ToPlatform>,
    out_rx: mpsc::Receiver<ToPlatform>,
    /// Requests forwarded to the carrier and not answered yet.
    outstanding: usize,
    delivering: HashMap<u32, Delivering>,
    seq: SeqGen,
    connected: Instant,
    last_rx: Instant,
    enquire_out: Option<Instant>,
    /// Metrics of this session, published once per loop turn.
    tel: telemetry::Local,
    /// This session's part of `optgate_inflight_requests{side="platform"}`
    /// (`outstanding`, reported once per loop turn).
    inflight_share: telemetry::InflightShare,
    /// This session's copy of the accounts and the consent configuration
    /// (refreshed after a reload; see `crate::runtime`).
    runtime: crate::runtime::Cached,
    last_sender: Option<SenderMemo>,
}

/// The sender check of the last submit (see `Session::sender_allowed`).
struct SenderMemo {
    version: u64,
    ton: u8,
    addr: Bytes,
    allowed: bool,
}

/// One event while draining at shutdown.
enum Step {
    Out(ToPlatform),
    Request(Pdu),
    UnbindResp,
    Other,
    Gone,
}

/// How the session loop goes on after one event.
enum Flow {
    Continue,
    Close,
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
        stream.set_nodelay();
        let (rd, wr) = stream.split();
        let max = ctx.settings.max_pdu_len;
        let id = ctx.next_session.fetch_add(1, Ordering::Relaxed);
        // Room for every answer to requests in flight plus the delivery window,
        // so carrier answers are never refused by a full queue.
        let (out_tx, out_rx) = mpsc::channel(ctx.settings.window + SESSION_WINDOW + 8);
        let now = Instant::now();
        let runtime = ctx.runtime_cache();
        Session {
            reader: FramedRead::with_capacity(
                Stamped::new(rd),
                FrameCodec(SmppCodec::new(max)),
                64 * 1024,
            ),
            writer: FramedWrite::new(wr, SmppCodec::new(max)),
            ctx,
            peer,
            identity,
            id,
            shutdown,
            state: BindState::Open,
            link: None,
            dispatcher: None,
            out_tx,
            out_rx,
            outstanding: 0,
            delivering: HashMap::new(),
            seq: SeqGen::new(1),
            // Set at accept: a TLS handshake counts against bind_timeout.
            connected,
            last_rx: now,
            tel: telemetry::Local::default(),
            inflight_share: telemetry::InflightShare::new(Side::Platform),
            runtime,
            last_sender: None,
            enquire_out: None,
        }
    }

    pub(super) async fn run(mut self) {
        let span = info_span!("session", peer = %self.peer, system_id = tracing::field::Empty);
        async {
            let reason = self.serve().await;
            debug!(reason, "platform session closing");
            self.finish().await;
        }
        .instrument(span)
        .await
    }

    async fn serve(&mut self) -> &'static str {
        let mut tick = tokio::time::interval(Duration::from_millis(250));
        self.writer.set_backpressure_boundary(256 * 1024);
        loop {
            let flow = tokio::select! {
                biased;
                _ = self.shutdown.changed() => return self.unbind_for_shutdown().await,
                Some(out) = self.out_rx.recv() => Ok(self.on_outgoing(out).await),
                item = self.reader.next() => self.on_item(item).await,
                _ = tick.tick() => Ok(self.on_tick().await),
            };
            match flow {
                Err(why) => return why,
                Ok(Flow::Close) => return "closed by protocol",
                Ok(Flow::Continue) => {}
            }
            // Take everything that is ready without waiting, then write it
            // all with one flush.
            let mut yielded = 0;
            for taken in 0..DRAIN_BUDGET {
                let flow = if let Some(item) = self.reader.next().now_or_never() {
                    self.on_item(item).await
                } else if let Ok(out) = self.out_rx.try_recv() {
                    Ok(self.on_outgoing(out).await)
                } else if turn::settle(taken, yielded, self.outstanding) {
                    yielded += 1;
                    tokio::task::yield_now().await;
                    continue;
                } else {
                    break;
                };
                match flow {
                    Err(why) => return why,
                    Ok(Flow::Close) => return "closed by protocol",
                    Ok(Flow::Continue) => {}
                }
            }
            self.tel.flush();
            self.inflight_share.report(self.outstanding);
            let flushed = timeout(
                self.ctx.settings.response_timeout,
                SinkExt::<&Pdu>::flush(&mut self.writer),
            )
            .await;
            if !matches!(flushed, Ok(Ok(()))) {
                return "write to platform failed or stalled";
            }
        }
    }

    /// One item from the platform's stream; `Err` ends the session.
    async fn on_item(
        &mut self,
        item: Option<Result<Received, crate::codec::CodecError>>,
    ) -> Result<Flow, &'static str> {
        match item {
            None => Err("platform closed the connection"),
            Some(Err(e)) => {
                // Framing is lost (bad command_length): nothing more can be read.
                if let Some(suppressed) = platform_warnings().allow(self.peer.ip()) {
                    warn!(error = %e, suppressed, "framing lost; closing");
                }
                let nack = Pdu::generic_nack(0, status::ESME_RINVCMDLEN);
                let _ = self.writer.send(&nack).await;
                Err("framing lost")
            }
            Some(Ok((Err(bad), _))) => {
                self.last_rx = self.reader.get_ref().last_read();
                if let Some(suppressed) = platform_warnings().allow(self.peer.ip()) {
                    warn!(error = %bad, suppressed, "malformed PDU answered");
                }
                Ok(self.feed(bad.response()).await)
            }
            Some(Ok((Ok(pdu), frame))) => {
                self.last_rx = self.reader.get_ref().last_read();
                Ok(self.on_pdu(pdu, frame).await)
            }
        }
    }

    async fn feed(&mut self, pdu: Pdu) -> Flow {
        let id = pdu.command_id();
        match self.writer.feed(&pdu).await {
            Ok(()) => {
                self.tel.pdu(Side::Platform, Direction::Out, id);
                Flow::Continue
            }
            Err(_) => Flow::Close,
        }
    }

    async fn on_outgoing(&mut self, out: ToPlatform) -> Flow {
        match out {
            ToPlatform::Response(pdu) => self.answer(pdu).await,
            ToPlatform::Responses(pdus) => {
                let mut flow = Flow::Continue;
                for pdu in pdus {
                    if let Flow::Close = self.answer(pdu).await {
                        flow = Flow::Close;
                    }
                }
                flow
            }
            ToPlatform::Deliver { id, mut pdu } => {
                let seq = self.seq.take();
                pdu.sequence_number = seq;
                let copy = pdu.clone();
                self.delivering.insert(
                    seq,
                    Delivering {
                        id,
                        pdu: copy,
                        sent: Instant::now(),
                    },
                );
                self.feed(pdu).await
            }
        }
    }

    /// The carrier's answer to one of this session's requests.
    async fn answer(&mut self, pdu: Pdu) -> Flow {
        self.outstanding = self.outstanding.saturating_sub(1);
        self.feed(pdu).await
    }

    async fn on_tick(&mut self) -> Flow {
        let now = Instant::now();
        let ctx = self.ctx.clone();
        let s = &ctx.settings;
        if self.state == BindState::Open && now.duration_since(self.connected) >= s.bind_timeout {
            info!("no bind within bind_timeout; closing");
            return Flow::Close;
        }
        if now.duration_since(self.last_rx) >= s.inactivity_timeout {
            info!("inactivity timeout; unbinding");
            let unbind = Pdu::new(self.seq.take(), Body::Unbind);
            let _ = self.feed(unbind).await;
            return Flow::Close;
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
            match self.enquire_out {
                Some(sent) if now.duration_since(sent) >= s.response_timeout => {
                    info!("enquire_link unanswered; closing");
                    return Flow::Close;
                }
                None if now.duration_since(self.last_rx) >= s.enquire_link_interval => {
                    self.enquire_out = Some(now);
                    let el = Pdu::new(self.seq.take(), Body::EnquireLink);
                    return self.feed(el).await;
                }
                _ => {}
            }
        }
        Flow::Continue
    }

    async fn report(&mut self, d: Delivering, code: u32) {
        if let Some(disp) = &self.dispatcher {
            let pdu = (code != status::ESME_ROK).then_some(d.pdu);
            disp.send(DispatchMsg::Answered {
                session: self.id,
                id: d.id,
                status: code,
                pdu,
            })
            .await;
        }
    }

    async fn on_pdu(&mut self, pdu: Pdu, frame: Bytes) -> Flow {
        let id = pdu.command_id();
        self.tel.pdu(Side::Platform, Direction::In, id);
        if let Verdict::Refuse(code) = self.state.check(id) {
            return self
                .feed(crate::route::answer(id, code, pdu.sequence_number))
                .await;
        }
        if cmd::is_response(id) {
            return self.on_response(pdu).await;
        }
        match id {
            cmd::BIND_TRANSMITTER | cmd::BIND_RECEIVER | cmd::BIND_TRANSCEIVER => {
                self.on_bind(pdu).await
            }
            cmd::ENQUIRE_LINK => {
                self.feed(Pdu::new(pdu.sequence_number, Body::EnquireLinkResp))
                    .await
            }
            cmd::UNBIND => {
                self.state = BindState::Unbinding;
                let _ = self
                    .feed(Pdu::new(pdu.sequence_number, Body::UnbindResp))
                    .await;
                Flow::Close
            }
            _ => self.on_request(pdu, frame).await,
        }
    }

    async fn on_response(&mut self, pdu: Pdu) -> Flow {
        match pdu.command_id() {
            cmd::ENQUIRE_LINK_RESP => self.enquire_out = None,
            cmd::UNBIND_RESP => return Flow::Close,
            cmd::DELIVER_SM_RESP | cmd::DATA_SM_RESP | cmd::GENERIC_NACK => {
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
            _ => debug!(
                command = pdu.command_id(),
                "unexpected response from platform ignored"
            ),
        }
        Flow::Continue
    }

    async fn on_bind(&mut self, pdu: Pdu) -> Flow {
        let seq = pdu.sequence_number;
        let cid = pdu.command_id();
        let Some(kind) = BindKind::from_bind_command(cid) else {
            return Flow::Continue;
        };
        let (Body::BindTransmitter(b) | Body::BindReceiver(b) | Body::BindTransceiver(b)) =
            &pdu.body
        else {
            return Flow::Continue;
        };
        let ip = self.peer.ip();
        let accounts = self.ctx.accounts();
        let verdict = if self.ctx.bind_blocked(ip) {
            if let Some(suppressed) = platform_warnings().allow(ip) {
                warn!(peer = %ip, suppressed, "bind refused: too many failed binds from this address");
            }
            Err(status::ESME_RBINDFAIL)
        } else {
            auth::authenticate(&accounts, &b.system_id, &b.password, ip)
                .and_then(|a| auth::transport_allowed(a, &self.identity).map(|()| a))
                .and_then(|a| {
                    if self.ctx.take_bind(a) {
                        Ok(a)
                    } else {
                        Err(status::ESME_RBINDFAIL)
                    }
                })
        };
        let account = match verdict {
            Ok(a) => a,
            Err(code) => {
                // Every refusal counts, also those of a blocked address (a
                // password guesser shows in the metric); only the others
                // extend the block.
                metrics::counter!("optgate_failed_binds_total").increment(1);
                if code != status::ESME_RBINDFAIL || !self.ctx.bind_blocked(ip) {
                    self.ctx.bind_failed(ip);
                }
                if let Some(suppressed) = platform_warnings().allow(ip) {
                    warn!(
                        status = status::status_name(code),
                        suppressed, "bind refused"
                    );
                }
                let _ = self.feed(bind_resp(cid, seq, code, false)).await;
                let _ = SinkExt::<&Pdu>::flush(&mut self.writer).await;
                return Flow::Close;
            }
        };
        let system_id = account.system_id.clone();
        tracing::Span::current().record("system_id", &*system_id);
        info!(bind = kind.as_str(), "platform bound");
        self.state = BindState::Bound(kind);
        self.link = Some(ReplyTo::new(self.out_tx.clone(), system_id.clone()));
        let dispatcher = self
            .ctx
            .inbound
            .routes()
            .dispatchers
            .get(&system_id)
            .cloned();
        let tlv_ok = b.interface_version >= 0x34;
        let flow = self
            .feed(bind_resp(cid, seq, status::ESME_ROK, tlv_ok))
            .await;
        if kind.can_receive() {
            if let Some(d) = &dispatcher {
                d.send(DispatchMsg::Register {
                    session: self.id,
                    tx: self.out_tx.clone(),
                })
                .await;
            }
        }
        self.dispatcher = dispatcher;
        flow
    }

    /// A request for the carrier; `frame` is its bytes as received.
    async fn on_request(&mut self, pdu: Pdu, frame: Bytes) -> Flow {
        // When the bytes of this request came off the socket (see `Stamped`).
        let received = self.last_rx;
        let seq = pdu.sequence_number;
        let cid = pdu.command_id();
        let Some(link) = self.link.clone() else {
            return self
                .feed(crate::route::answer(cid, status::ESME_RINVBNDSTS, seq))
                .await;
        };
        let account = &link.account;
        if !self.sender_allowed(account, &pdu) {
            debug!("submit from a sender the account does not own refused");
            return self
                .feed(crate::route::answer(cid, status::ESME_RINVSRCADR, seq))
                .await;
        }
        if self.outstanding >= self.ctx.settings.window {
            return self
                .feed(crate::route::answer(cid, status::ESME_RTHROTTLED, seq))
                .await;
        }
        let mut unsuccess = Vec::new();
        // Only a request that passes exactly as received goes out as its
        // original bytes; anything optgate decided on in the store, changed
        // or split is encoded again.
        let mut as_received = false;
        let pdu = match cid {
            cmd::SUBMIT_SM | cmd::DATA_SM => {
                match self
                    .ctx
                    .engine
                    .mt_quick(&self.runtime.load().engine, account, &pdu)
                {
                    MtQuick::Forward => {
                        as_received = true;
                        pdu
                    }
                    MtQuick::Reply(resp) => return self.feed(resp).await,
                    MtQuick::Store(prep) => {
                        match self.ctx.engine.mt_stored(account, prep, pdu).await {
                            MtAction::Forward(p) => p,
                            MtAction::Reply(resp) => return self.feed(resp).await,
                        }
                    }
                }
            }
            cmd::SUBMIT_MULTI => match self.ctx.engine.on_multi(account, pdu).await {
                MultiAction::Forward { pdu, unsuccess: u } => {
                    unsuccess = u;
                    pdu
                }
                MultiAction::Reply(resp) => return self.feed(resp).await,
            },
            cmd::QUERY_SM | cmd::CANCEL_SM | cmd::REPLACE_SM => {
                match self.ctx.engine.on_held_request(account, pdu).await {
                    Ok(resp) => return self.feed(resp).await,
                    Err(p) => p,
                }
            }
            _ => {
                as_received = true;
                pdu
            }
        };
        let request = if as_received {
            Outgoing::Frame {
                wants_receipt: crate::route::wants_receipt(&pdu),
                frame,
            }
        } else {
            Outgoing::Pdu(pdu)
        };
        let req = UpRequest {
            request,
            reply: link,
            optgate_id: None,
            unsuccess,
            received,
        };
        if self.ctx.pool.submit(req) {
            self.outstanding += 1;
            Flow::Continue
        } else {
            self.feed(crate::route::answer(cid, status::ESME_RTHROTTLED, seq))
                .await
        }
    }

    /// submit_sm, data_sm and submit_multi must come from one of the
    /// account's numbers unless it has `allow_any_sender` (see
    /// [`auth::Account::may_send_from`]); other requests pass.
    fn sender_allowed(&mut self, account: &str, pdu: &Pdu) -> bool {
        let (addr, ton) = match &pdu.body {
            Body::SubmitSm(s) => (&s.source_addr, s.source_addr_ton),
            Body::DataSm(d) => (&d.source_addr, d.source_addr_ton),
            Body::SubmitMulti(m) => (&m.source_addr, m.source_addr_ton),
            _ => return true,
        };
        // The session's copy, refreshed after a reload.
        let rt = self.runtime.load();
        let (version, accounts) = (rt.version, &rt.accounts);
        // Platforms send from the same few numbers: the last answer is kept
        // for as long as the sender and the accounts stay the same.
        if let Some(m) = &self.last_sender {
            if m.version == version && m.ton == ton && m.addr == addr {
                return m.allowed;
            }
        }
        // An account removed by a reload keeps its binds until they end.
        let allowed = accounts
            .get(account)
            .map_or(true, |a| a.may_send_from(addr, ton));
        self.last_sender = Some(SenderMemo {
            version,
            ton,
            // A copy: the address is a slice of the read buffer, which the
            // memo would keep alive for the life of the session.
            addr: Bytes::copy_from_slice(addr),
            allowed,
        });
        allowed
    }

    /// Shutdown: tell the platform, relay the answers to what it has in
    /// flight (the carrier binds answer every request by the end of the
    /// grace period, with an error if they must), wait briefly for its
    /// unbind_resp (some clients never send one).
    async fn unbind_for_shutdown(&mut self) -> &'static str {
        if matches!(self.state, BindState::Bound(_)) {
            self.state = BindState::Unbinding;
            let unbind = Pdu::new(self.seq.take(), Body::Unbind);
            if self.writer.send(&unbind).await.is_err() {
                return "shutdown";
            }
        }
        let now = tokio::time::Instant::now();
        let drained_by = now + self.ctx.settings.shutdown_grace;
        let unbind_by = now + self.ctx.settings.response_timeout;
        // Keep relaying carrier answers for requests in flight until they are all
        // answered, the platform goes, or time is up.
        let mut unbind_answered = self.state != BindState::Unbinding;
        while self.outstanding > 0 || !unbind_answered {
            let until = if self.outstanding > 0 {
                drained_by
            } else {
                unbind_by
            };
            let step = tokio::time::timeout_at(until, async {
                tokio::select! {
                    Some(out) = self.out_rx.recv() => Step::Out(out),
                    item = self.reader.next() => match item {
                        Some(Ok((Ok(p), _))) if p.command_id() == cmd::UNBIND_RESP => Step::UnbindResp,
                        Some(Ok((Ok(p), _))) if !cmd::is_response(p.command_id()) => Step::Request(p),
                        Some(Ok(_)) => Step::Other,
                        _ => Step::Gone,
                    },
                }
            })
            .await;
            match step {
                Ok(Step::Out(out)) => {
                    if let Flow::Close = self.on_outgoing(out).await {
                        break;
                    }
                    let _ = SinkExt::<&Pdu>::flush(&mut self.writer).await;
                }
                Ok(Step::UnbindResp) => unbind_answered = true,
                Ok(Step::Request(p)) => {
                    // Sent before the platform saw our unbind: answer it with a
                    // temporary error so it is retried, never silently dropped.
                    let code = if p.command_id() == cmd::ENQUIRE_LINK {
                        status::ESME_ROK
                    } else {
                        status::ESME_RTHROTTLED
                    };
                    let _ = self
                        .feed(crate::route::answer(
                            p.command_id(),
                            code,
                            p.sequence_number,
                        ))
                        .await;
                    let _ = SinkExt::<&Pdu>::flush(&mut self.writer).await;
                }
                Ok(Step::Other) => {}
                Ok(Step::Gone) | Err(_) => break,
            }
        }
        "shutdown"
    }

    /// Gives back everything this session held.
    async fn finish(&mut self) {
        // Bounded: a platform that stopped reading must not pin the session
        // (and its bind slot and deliveries) forever.
        let _ = timeout(
            self.ctx.settings.response_timeout,
            SinkExt::<&Pdu>::flush(&mut self.writer),
        )
        .await;
        if let Some(link) = &self.link {
            self.ctx.release_bind(&link.account);
        }
        // Answers still on their way find the queue closed and are dropped.
        self.outstanding = 0;
        self.inflight_share.report(0);
        // No more deliveries into this session: from now on the dispatcher's
        // sends fail and it keeps the rows itself.
        self.out_rx.close();
        if let Some(d) = self.dispatcher.take() {
            let mut returned: Vec<(u64, Pdu)> = self
                .delivering
                .drain()
                .map(|(_, d)| (d.id, d.pdu))
                .collect();
            // Deliveries queued for this session but never written go back too.
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

pub(super) fn bind_resp(command_id: u32, seq: u32, code: u32, with_version: bool) -> Pdu {
    // Clients bound with interface_version < 0x34 get no TLVs (SMPP 3.3 has none).
    let version = (with_version && code == status::ESME_ROK).then_some(0x34);
    let resp = BindResp::new(Bytes::from_static(b"optgate"), version);
    let body = match command_id {
        cmd::BIND_TRANSMITTER => Body::BindTransmitterResp(resp),
        cmd::BIND_RECEIVER => Body::BindReceiverResp(resp),
        _ => Body::BindTransceiverResp(resp),
    };
    let mut pdu = Pdu::new(seq, body);
    pdu.command_status = code;
    pdu
}
