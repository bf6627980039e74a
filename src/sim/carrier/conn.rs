//! One carrier-side connection. A single task owns the socket, a 256 KiB
//! read buffer and one output buffer: every whole frame of a read is
//! answered into the output buffer, which goes out in one write. The hot
//! path (submit_sm → submit_sm_resp) reads only the header (and, with
//! receipts on, the registered_delivery octet) and writes the response
//! straight into the buffer: no decode, no allocation.

use std::collections::VecDeque;
use std::sync::Arc;
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use bytes::{BufMut, Bytes, BytesMut};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::sync::watch;
use tokio::time::{sleep_until, Instant};

use super::fast;
use super::inject::Injector;
use super::{make, CarrierOpts, CarrierStats, Counters};
use crate::pdu::{command as c, status as s, BindResp, Body, Header, Pdu};
use crate::sim::load::write_or_flush;
use crate::sim::wire::{self, Pacer, READ_BUF};
use crate::transport::Stream;

/// Sequence numbers we originate: bit 0 tells an MO (1) from a receipt (0).
const MO_BIT: u32 = 1;
/// How long a connection waits for the peer to close after unbind.
const UNBIND_LINGER: Duration = Duration::from_secs(5);

/// A response held back by the configured delay.
struct Delayed {
    due: Instant,
    resp_id: u32,
    status: u32,
    seq: u32,
    id: Option<[u8; 16]>,
    /// The encoded receipt that goes out right after the response.
    receipt: Option<Bytes>,
}

struct Conn {
    opts: Arc<CarrierOpts>,
    conn_id: u64,
    next_id: u64,
    /// Bound, and whether deliver_sm may be sent on this bind.
    bound: Option<bool>,
    unbound_at: Option<Instant>,
    throttle_acc: f64,
    out: BytesMut,
    delayed: VecDeque<Delayed>,
    delta: CarrierStats,
    next_seq: u32,
    mo_pacer: Option<Pacer>,
    mo_n: u64,
    stop_acc: f64,
    unix_secs: u64,
    /// `unix_secs` as a receipt date (YYMMDDhhmm).
    date: [u8; 10],
    /// One-shot MOs sent and not yet answered, by sequence number.
    injected: std::collections::HashMap<u32, tokio::sync::oneshot::Sender<u32>>,
}

/// Serves one connection until the peer closes, an I/O error, a bad
/// frame length, or a drop signal.
pub(super) async fn serve(
    stream: Stream,
    opts: Arc<CarrierOpts>,
    counters: Arc<Counters>,
    injector: Arc<Injector>,
    mut drops: watch::Receiver<u64>,
    conn_id: u64,
) {
    // Plain TCP writes straight to the socket; only TLS ever needs a flush.
    let tls = matches!(stream, Stream::Tls(_));
    let mut unflushed = false;
    let (mut rd, mut wr) = stream.split();
    let mut inbuf = BytesMut::with_capacity(READ_BUF);
    let mut conn = Conn::new(opts, conn_id);
    let far = Instant::now() + Duration::from_secs(86_400 * 365);
    loop {
        if inbuf.capacity() - inbuf.len() < READ_BUF / 4 {
            inbuf.reserve(READ_BUF);
        }
        let wake = conn.next_wake();
        tokio::select! {
            biased;
            _ = drops.changed() => break,
            // Reads first: everything already received is answered in one
            // write (a partial read clears readiness, so the next poll
            // costs no system call). Always read: with MOs piling up for a
            // slow reader, submits must still be answered.
            r = rd.read_buf(&mut inbuf) => {
                if !matches!(r, Ok(n) if n > 0) { break; }
                let now = Instant::now();
                let framed = wire::for_each_frame(&mut inbuf, |h, f| conn.on_frame(h, f, now));
                if framed.is_err() {
                    // Framing lost: say so and close, as an SMSC would.
                    wire::put_empty(&mut conn.out, c::GENERIC_NACK, s::ESME_RINVCMDLEN, 0);
                    let _ = wr.write_all(&conn.out).await;
                    let _ = wr.flush().await;
                    break;
                }
            }
            w = write_or_flush(&mut wr, &mut conn.out), if !conn.out.is_empty() || unflushed => {
                match w {
                    Ok(Some(n)) if n > 0 => unflushed = tls,
                    Ok(None) => unflushed = false,
                    _ => break,
                }
            }
            _ = injector.notify.notified(), if conn.bound == Some(true) => {
                for mo in injector.take_all() {
                    conn.send_injected(mo);
                }
            }
            _ = sleep_until(wake.unwrap_or(far)), if wake.is_some() => {
                if conn.unbound_at.is_some_and(|t| t + UNBIND_LINGER <= Instant::now()) {
                    break;
                }
            }
        }
        let now = Instant::now();
        conn.release_delayed(now);
        conn.inject_mos(now);
        counters.add(&std::mem::take(&mut conn.delta));
    }
    counters.add(&conn.delta);
}

impl Conn {
    fn new(opts: Arc<CarrierOpts>, conn_id: u64) -> Conn {
        Conn {
            opts,
            conn_id,
            next_id: 0,
            bound: None,
            unbound_at: None,
            throttle_acc: 0.0,
            out: BytesMut::with_capacity(READ_BUF),
            delayed: VecDeque::new(),
            delta: CarrierStats::default(),
            next_seq: 0,
            mo_pacer: None,
            mo_n: 0,
            stop_acc: 0.0,
            unix_secs: 0,
            date: [0; 10],
            injected: std::collections::HashMap::new(),
        }
    }

    /// The earliest timer this connection needs: a delayed response, the
    /// next MO, or the end of the post-unbind linger.
    fn next_wake(&self) -> Option<Instant> {
        let delayed = self.delayed.front().map(|d| d.due);
        let mo = self.mo_pacer.as_ref().map(Pacer::next_at);
        let linger = self.unbound_at.map(|t| t + UNBIND_LINGER);
        [delayed, mo, linger].into_iter().flatten().min()
    }

    fn our_seq(&mut self, kind: u32) -> u32 {
        self.next_seq = (self.next_seq + 1) & 0x3FFF_FFFF;
        self.next_seq = self.next_seq.max(1);
        (self.next_seq << 1) | kind
    }

    fn on_frame(&mut self, h: Header, frame: &[u8], now: Instant) {
        match h.command_id {
            c::SUBMIT_SM | c::DATA_SM | c::SUBMIT_MULTI => self.on_submit(h, frame, now),
            c::DELIVER_SM_RESP => {
                if !self.injected.is_empty() {
                    if let Some(reply) = self.injected.remove(&h.sequence_number) {
                        let _ = reply.send(h.command_status);
                    }
                }
                let ok = h.command_status == s::ESME_ROK;
                let mo = h.sequence_number & MO_BIT != 0;
                match (ok, mo) {
                    (true, true) => self.delta.mos_acked += 1,
                    (true, false) => self.delta.receipts_acked += 1,
                    (false, _) => self.delta.deliver_errors += 1,
                }
            }
            c::ENQUIRE_LINK => {
                wire::put_empty(&mut self.out, c::ENQUIRE_LINK_RESP, 0, h.sequence_number)
            }
            c::BIND_TRANSMITTER | c::BIND_RECEIVER | c::BIND_TRANSCEIVER => self.on_bind(frame),
            c::UNBIND => {
                // Everything owed goes out before the unbind_resp.
                self.release_delayed(Instant::now() + Duration::from_secs(86_400));
                wire::put_empty(&mut self.out, c::UNBIND_RESP, 0, h.sequence_number);
                self.bound = None;
                self.mo_pacer = None;
                self.unbound_at = Some(now);
            }
            id if c::is_response(id) => {}
            id => {
                let status = if Body::resp_for(id).is_some() {
                    s::ESME_ROK
                } else {
                    s::ESME_RINVCMDID
                };
                let resp = Body::resp_for(id).map_or(c::GENERIC_NACK, |b| b.command_id());
                wire::put_empty(&mut self.out, resp, status, h.sequence_number);
            }
        }
    }

    fn on_bind(&mut self, frame: &[u8]) {
        let Ok(req) = Pdu::decode(Bytes::copy_from_slice(frame)) else {
            let seq = crate::pdu::peek_header(frame).map_or(0, |h| h.sequence_number);
            wire::put_empty(&mut self.out, c::GENERIC_NACK, s::ESME_RINVCMDLEN, seq);
            return;
        };
        let (Body::BindTransmitter(b) | Body::BindReceiver(b) | Body::BindTransceiver(b)) =
            &req.body
        else {
            return;
        };
        let status = match (&self.opts.credentials, self.bound) {
            (_, Some(_)) => s::ESME_RALYBND,
            (Some((id, _)), _) if b.system_id[..] != *id.as_bytes() => s::ESME_RINVSYSID,
            (Some((_, pw)), _) if b.password[..] != *pw.as_bytes() => s::ESME_RINVPASWD,
            _ => s::ESME_ROK,
        };
        let body = match Body::resp_for(req.command_id()) {
            Some(Body::BindTransmitterResp(_)) => Body::BindTransmitterResp,
            Some(Body::BindReceiverResp(_)) => Body::BindReceiverResp,
            _ => Body::BindTransceiverResp,
        }(BindResp::new("optgate-sim", Some(0x34)));
        Pdu::response_to(&req, status, body).encode(&mut self.out);
        if status == s::ESME_ROK {
            let receives = req.command_id() != c::BIND_TRANSMITTER;
            self.bound = Some(receives);
            self.delta.binds += 1;
            if receives && self.opts.mo_rate > 0.0 {
                self.mo_pacer = Some(Pacer::new(self.opts.mo_rate));
            }
        }
    }

    /// Sends a one-shot MO; its answer goes to its sender.
    fn send_injected(&mut self, mo: super::inject::Injected) {
        let seq = self.our_seq(MO_BIT);
        make::mo_text(&mo.from, &mo.to, &mo.text, seq).encode(&mut self.out);
        if self.opts.print {
            println!("MO  {} -> {}: {}", mo.from, mo.to, mo.text);
        }
        self.delta.mos_sent += 1;
        self.injected.insert(seq, mo.reply);
    }

    /// `--print`: one line per submitted message.
    fn print_submit(frame: &[u8]) {
        let Ok(Pdu {
            body: Body::SubmitSm(sm),
            ..
        }) = Pdu::decode(Bytes::copy_from_slice(frame))
        else {
            return;
        };
        let text = crate::text::coding::decode(
            sm.data_coding,
            sm.message_bytes(),
            crate::text::coding::DefaultAlphabet::Gsm7,
        )
        .unwrap_or_else(|| "(binary)".into());
        println!(
            "MT  {} -> {}: {text}",
            String::from_utf8_lossy(&sm.source_addr),
            String::from_utf8_lossy(&sm.destination_addr)
        );
    }

    fn on_submit(&mut self, h: Header, frame: &[u8], now: Instant) {
        let resp_id = h.command_id | c::RESPONSE_BIT;
        let seq = h.sequence_number;
        let Some(receives) = self.bound else {
            wire::put_empty(&mut self.out, resp_id, s::ESME_RINVBNDSTS, seq);
            return;
        };
        if self.opts.print {
            Self::print_submit(frame);
        }
        self.delta.submits += 1;
        self.throttle_acc += self.opts.throttle_share;
        let (status, id) = if self.throttle_acc >= 1.0 - 1e-9 {
            self.throttle_acc -= 1.0;
            self.delta.throttled += 1;
            (s::ESME_RTHROTTLED, None)
        } else {
            self.next_id += 1;
            (
                s::ESME_ROK,
                Some(wire::hex_id(self.conn_id << 40 | self.next_id)),
            )
        };
        let wants = receives && id.is_some() && self.wants_receipt(h, frame);
        let d = Delayed {
            due: now + self.opts.delay,
            resp_id,
            status,
            seq,
            id,
            receipt: None,
        };
        if self.opts.delay.is_zero() {
            // The hot path: response and receipt written in place.
            self.emit(d);
            if let (true, Some(id)) = (wants, id) {
                let mut out = std::mem::take(&mut self.out);
                if self.put_receipt(&mut out, frame, &id) {
                    self.delta.receipts_sent += 1;
                }
                self.out = out;
            }
        } else {
            let mut receipt = BytesMut::new();
            let made = match id {
                Some(id) if wants => self.put_receipt(&mut receipt, frame, &id),
                _ => false,
            };
            self.delayed.push_back(Delayed {
                receipt: made.then(|| receipt.freeze()),
                ..d
            });
        }
    }

    fn wants_receipt(&self, h: Header, frame: &[u8]) -> bool {
        self.opts.receipts
            && h.command_id == c::SUBMIT_SM
            && wire::sm_flags(frame).is_some_and(|(_, r)| r & 0x03 == 0x01)
    }

    /// Appends a receipt for the submit in `frame` to `dst`: written
    /// straight from the frame ([`fast`]), or decoded and encoded when its
    /// text is in a TLV. False when the frame does not decode.
    fn put_receipt(&mut self, dst: &mut BytesMut, frame: &[u8], id: &[u8; 16]) -> bool {
        if self.unix_secs == 0 {
            self.unix_secs = SystemTime::now()
                .duration_since(UNIX_EPOCH)
                .map_or(0, |d| d.as_secs());
            self.date = wire::receipt_date(self.unix_secs);
        }
        let seq = self.our_seq(0);
        if fast::put_receipt(dst, frame, id, &self.date, seq) {
            return true;
        }
        let Ok(req) = Pdu::decode(Bytes::copy_from_slice(frame)) else {
            return false;
        };
        let Body::SubmitSm(sm) = &req.body else {
            return false;
        };
        make::receipt(sm, id, self.unix_secs, seq).encode(dst);
        true
    }

    fn emit(&mut self, d: Delayed) {
        let extra = usize::from(d.resp_id == c::SUBMIT_MULTI_RESP);
        match d.id {
            Some(id) => {
                wire::put_header(
                    &mut self.out,
                    id.len() + 1 + extra,
                    d.resp_id,
                    d.status,
                    d.seq,
                );
                self.out.put_slice(&id);
                self.out.put_u8(0);
                if extra == 1 {
                    self.out.put_u8(0); // no_unsuccess
                }
            }
            None => wire::put_empty(&mut self.out, d.resp_id, d.status, d.seq),
        }
        if let Some(r) = d.receipt {
            self.out.put_slice(&r);
            self.delta.receipts_sent += 1;
        }
    }

    /// Sends every delayed response due by `now`, in arrival order.
    fn release_delayed(&mut self, now: Instant) {
        while self.delayed.front().is_some_and(|d| d.due <= now) {
            if let Some(d) = self.delayed.pop_front() {
                self.emit(d);
            }
        }
        // Refresh the receipt clock at most once per batch.
        self.unix_secs = 0;
    }

    fn inject_mos(&mut self, now: Instant) {
        let Some(pacer) = self.mo_pacer.as_mut() else {
            return;
        };
        // Bound the burst after a stall so one batch stays small.
        let n = pacer.due(now).min(1000);
        pacer.take(n);
        for _ in 0..n {
            self.stop_acc += self.opts.mo_stop_share;
            let stop = self.stop_acc >= 1.0 - 1e-9;
            if stop {
                self.stop_acc -= 1.0;
                self.delta.mo_stops += 1;
            }
            let seq = self.our_seq(MO_BIT);
            let o = &self.opts;
            let from = o.mo_from + self.mo_n % o.mo_senders.max(1);
            let pdu = make::mo(from, &o.mo_to, &o.mo_texts, self.mo_n, stop, seq);
            pdu.encode(&mut self.out);
            self.mo_n += 1;
            self.delta.mos_sent += 1;
        }
    }
}
