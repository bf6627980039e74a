//! One load-generator bind. A single task owns the socket: it fills the
//! window by copying pre-encoded templates into one output buffer (one
//! write per batch), reads with a 256 KiB buffer and handles every whole
//! frame of each read in place. Send times live in a ring indexed by
//! sequence number, so matching a response allocates nothing.

use std::collections::HashMap;
use std::net::SocketAddr;
use std::time::Duration;

use bytes::{BufMut, Bytes, BytesMut};
use tokio::io::AsyncWrite;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;
use tokio::time::{sleep_until, timeout, Instant};

use super::template::Templates;
use super::LoadError;
use crate::pdu::{
    command as c, status as s, Bind, Body, Header, Pdu, Text, ESM_CLASS_RECEIPT,
    ESM_CLASS_TYPE_MASK,
};
use crate::sim::hist::Histogram;
use crate::sim::wire::{self, Pacer, READ_BUF};
use crate::tls::ClientTls;
use crate::transport::{ReadHalf, Stream, WriteHalf};

/// What one bind did.
#[derive(Debug, Default)]
pub(super) struct BindResult {
    pub sent: u64,
    pub ok: u64,
    pub errors: HashMap<u32, u64>,
    pub unmatched: u64,
    pub lost: u64,
    pub receipts: u64,
    pub mos: u64,
    pub mo_stops: u64,
    pub disconnected: bool,
    pub last_resp: Option<Instant>,
    pub hist: Histogram,
}

/// What a bind is asked to do once bound.
pub(super) struct Plan {
    pub window: usize,
    /// Smallest refill of the window at an open throttle.
    pub refill: usize,
    pub quota: Option<u64>,
    pub rate: f64,
    pub deadline: Option<Instant>,
    pub drain: Duration,
    pub templates: Templates,
}

/// A bound connection, ready to send.
pub(super) struct Bound {
    rd: ReadHalf,
    wr: WriteHalf,
    /// TLS buffers what it encrypts: a finished write needs a flush.
    tls: bool,
    inbuf: BytesMut,
}

/// Connects (over TLS when `tls` is given) and binds as a transceiver
/// within `limit`.
pub(super) async fn connect(
    target: SocketAddr,
    tls: Option<&ClientTls>,
    system_id: &str,
    password: &str,
    limit: Duration,
) -> Result<Bound, LoadError> {
    let tcp = timeout(limit, TcpStream::connect(target))
        .await
        .map_err(|_| LoadError::Timeout("connect"))??;
    let _ = tcp.set_nodelay(true);
    let stream = match tls {
        None => Stream::from(tcp),
        Some(t) => {
            let peer = target.to_string();
            let s = timeout(limit, crate::tls::connect(t, tcp, &peer))
                .await
                .map_err(|_| LoadError::Timeout("TLS handshake"))??;
            Stream::from(s)
        }
    };
    let is_tls = tls.is_some();
    let (mut rd, mut wr) = stream.split();
    let bind = Bind {
        system_id: Text::copy_from_slice(system_id.as_bytes()),
        password: Text::copy_from_slice(password.as_bytes()),
        interface_version: 0x34,
        ..Bind::default()
    };
    wr.write_all(&Pdu::new(1, Body::BindTransceiver(Box::new(bind))).to_bytes())
        .await?;
    wr.flush().await?;
    let mut inbuf = BytesMut::with_capacity(READ_BUF);
    let status = timeout(limit, async {
        loop {
            if rd.read_buf(&mut inbuf).await? == 0 {
                return Err(LoadError::Closed);
            }
            let Some(h) = crate::pdu::peek_header(&inbuf) else {
                continue;
            };
            if inbuf.len() >= h.command_length as usize {
                bytes::Buf::advance(&mut inbuf, h.command_length as usize);
                return Ok(h.command_status);
            }
        }
    })
    .await
    .map_err(|_| LoadError::Timeout("bind"))??;
    if status != s::ESME_ROK {
        return Err(LoadError::BindRefused(crate::pdu::status_name(status)));
    }
    Ok(Bound {
        rd,
        wr,
        tls: is_tls,
        inbuf,
    })
}

/// Writes some of `out`, or, once it is empty, flushes what TLS still
/// holds. `Some(n)`: n bytes written; `None`: flushed.
pub(crate) async fn write_or_flush<W: AsyncWrite + Unpin>(
    wr: &mut W,
    out: &mut BytesMut,
) -> std::io::Result<Option<usize>> {
    if out.is_empty() {
        wr.flush().await.map(|()| None)
    } else {
        wr.write_buf(out).await.map(Some)
    }
}

struct State {
    out: BytesMut,
    ring: Vec<(u32, Instant)>,
    mask: usize,
    outstanding: usize,
    next_seq: u32,
    unbind_seq: u32,
    unbound: bool,
    peer_unbound: bool,
    r: BindResult,
}

impl State {
    fn seq(&mut self) -> u32 {
        self.next_seq = self.next_seq.wrapping_add(1) & 0x7FFF_FFFF;
        self.next_seq = self.next_seq.max(2);
        self.next_seq
    }

    fn fill(&mut self, plan: &mut Plan, pacer: &mut Pacer, now: Instant) {
        let room = plan.window.saturating_sub(self.outstanding) as u64;
        // Open throttle: refill in batches of at least `refill` submits
        // (fewer, larger writes), never leaving the window empty.
        if !pacer.limited() && self.outstanding > 0 && room < plan.refill as u64 {
            return;
        }
        let left = plan.quota.map_or(u64::MAX, |q| q - self.r.sent);
        let n = room.min(left).min(pacer.due(now));
        for _ in 0..n {
            let seq = self.seq();
            plan.templates.put_next(&mut self.out, seq);
            if let Some(slot) = self.ring.get_mut(seq as usize & self.mask) {
                // An older request still parked here never got an answer.
                *slot = (seq, now);
            }
        }
        self.outstanding += n as usize;
        self.r.sent += n;
        pacer.take(n);
    }

    fn on_frame(&mut self, h: Header, frame: &[u8], now: Instant) {
        let seq = h.sequence_number;
        match h.command_id {
            c::SUBMIT_SM_RESP | c::GENERIC_NACK => {
                let slot = self.ring.get_mut(seq as usize & self.mask);
                let Some(slot) = slot.filter(|s| s.0 == seq) else {
                    self.r.unmatched += 1;
                    return;
                };
                let nanos = now.saturating_duration_since(slot.1).as_nanos();
                slot.0 = 0;
                self.r.hist.record(u64::try_from(nanos).unwrap_or(u64::MAX));
                self.outstanding = self.outstanding.saturating_sub(1);
                self.r.last_resp = Some(now);
                match h.command_status {
                    s::ESME_ROK => self.r.ok += 1,
                    st => *self.r.errors.entry(st).or_default() += 1,
                }
            }
            c::DELIVER_SM => {
                self.count_deliver(frame);
                wire::put_header(&mut self.out, 1, c::DELIVER_SM_RESP, 0, seq);
                self.out.put_u8(0);
            }
            c::ENQUIRE_LINK => wire::put_empty(&mut self.out, c::ENQUIRE_LINK_RESP, 0, seq),
            c::UNBIND => {
                wire::put_empty(&mut self.out, c::UNBIND_RESP, 0, seq);
                self.peer_unbound = true;
            }
            c::UNBIND_RESP if seq == self.unbind_seq => self.unbound = true,
            id if !c::is_response(id) => {
                wire::put_empty(&mut self.out, c::GENERIC_NACK, s::ESME_RINVCMDID, seq)
            }
            _ => {}
        }
    }

    fn count_deliver(&mut self, frame: &[u8]) {
        // Receipts are the bulk: classify them from esm_class alone.
        let esm_class = wire::sm_flags(frame).map_or(0, |(e, _)| e);
        if esm_class & ESM_CLASS_TYPE_MASK == ESM_CLASS_RECEIPT {
            self.r.receipts += 1;
            return;
        }
        let Ok(p) = Pdu::decode(Bytes::copy_from_slice(frame)) else {
            return;
        };
        let Body::DeliverSm(sm) = &p.body else { return };
        if sm.is_receipt() {
            self.r.receipts += 1;
        } else {
            self.r.mos += 1;
            if sm
                .message_bytes()
                .trim_ascii()
                .eq_ignore_ascii_case(b"STOP")
            {
                self.r.mo_stops += 1;
            }
        }
    }
}

/// Sends the plan's load on a bound connection, then unbinds.
pub(super) async fn drive(bound: Bound, mut plan: Plan) -> BindResult {
    let Bound {
        mut rd,
        mut wr,
        tls,
        mut inbuf,
    } = bound;
    // Plain TCP writes straight to the socket; only TLS ever needs a flush.
    let mut unflushed = false;
    // A slot is reused after ring_len later sends: an answer later than that
    // would count as unmatched (and its request as lost). At 150,000/s per
    // bind, 64 Ki slots (1 MiB) give an answer about 400 ms, so a pause of a
    // loaded machine does not read as lost messages.
    let ring_len = (plan.window.max(1) * 16).max(1 << 16).next_power_of_two();
    let mut st = State {
        out: BytesMut::with_capacity(READ_BUF),
        ring: vec![(0, Instant::now()); ring_len],
        mask: ring_len - 1,
        outstanding: 0,
        next_seq: 1,
        unbind_seq: 0,
        unbound: false,
        peer_unbound: false,
        r: BindResult::default(),
    };
    let mut pacer = Pacer::new(plan.rate);
    let mut drain_until: Option<Instant> = None;
    // A frame already read with the bind_resp is handled first.
    let _ = wire::for_each_frame(&mut inbuf, |h, f| st.on_frame(h, f, Instant::now()));
    loop {
        let now = Instant::now();
        if drain_until.is_none() {
            let quota_done = plan.quota.is_some_and(|q| st.r.sent >= q);
            if quota_done || plan.deadline.is_some_and(|d| now >= d) || st.peer_unbound {
                drain_until = Some(now + plan.drain);
            } else {
                st.fill(&mut plan, &mut pacer, now);
            }
        }
        if drain_until.is_some() && st.outstanding == 0 && st.out.is_empty() {
            break;
        }
        if st.peer_unbound && st.out.is_empty() {
            st.r.disconnected = true;
            break;
        }
        let pace = (drain_until.is_none() && pacer.limited() && st.outstanding < plan.window)
            .then(|| pacer.next_at());
        let wake = [pace, drain_until.or(plan.deadline)]
            .into_iter()
            .flatten()
            .min();
        if inbuf.capacity() - inbuf.len() < READ_BUF / 4 {
            inbuf.reserve(READ_BUF);
        }
        tokio::select! {
            biased;
            // Reads first, so that every answer already received is taken
            // (and the window refilled) before one write; a partial read
            // clears readiness, so the next poll costs no system call.
            r = rd.read_buf(&mut inbuf), if st.out.len() < wire::GATHER_LIMIT => {
                if !matches!(r, Ok(n) if n > 0) { st.r.disconnected = true; break; }
                let now = Instant::now();
                if wire::for_each_frame(&mut inbuf, |h, f| st.on_frame(h, f, now)).is_err() {
                    st.r.disconnected = true;
                    break;
                }
            }
            w = write_or_flush(&mut wr, &mut st.out), if !st.out.is_empty() || unflushed => {
                match w {
                    Ok(Some(n)) if n > 0 => unflushed = tls,
                    Ok(None) => unflushed = false,
                    _ => { st.r.disconnected = true; break; }
                }
            }
            _ = sleep_until(wake.unwrap_or(now)), if wake.is_some() => {
                if drain_until.is_some_and(|d| Instant::now() >= d) { break; }
            }
        }
    }
    st.r.lost = st.outstanding as u64;
    if !st.r.disconnected {
        unbind(&mut rd, &mut wr, &mut inbuf, &mut st).await;
    }
    st.r
}

/// Unbinds, acking any deliver_sm that arrives before unbind_resp, then
/// closes and waits (briefly) for the peer to close too, so everything we
/// sent has been read by it when the run returns.
async fn unbind(rd: &mut ReadHalf, wr: &mut WriteHalf, inbuf: &mut BytesMut, st: &mut State) {
    st.unbind_seq = st.seq();
    wire::put_empty(&mut st.out, c::UNBIND, 0, st.unbind_seq);
    let handshake = async {
        while !(st.unbound && st.out.is_empty()) {
            if !st.out.is_empty() {
                wr.write_all(&st.out).await?;
                wr.flush().await?;
                st.out.clear();
                continue;
            }
            if rd.read_buf(inbuf).await? == 0 {
                return Err(std::io::ErrorKind::UnexpectedEof.into());
            }
            let now = Instant::now();
            let framed = wire::for_each_frame(inbuf, |h, f| st.on_frame(h, f, now));
            framed.map_err(|e| std::io::Error::new(std::io::ErrorKind::InvalidData, e))?;
        }
        wr.shutdown().await?;
        let mut sink = [0u8; 4096];
        while rd.read(&mut sink).await? > 0 {}
        Ok::<(), std::io::Error>(())
    };
    if !matches!(timeout(Duration::from_secs(5), handshake).await, Ok(Ok(()))) {
        st.r.disconnected = !st.unbound;
    }
}
