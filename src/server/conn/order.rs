//! Requests whose consent decision needs the store, decided together and
//! handed on in the order they came.
//!
//! An MT whose recipient the consent cache does not know (a daemon's first
//! minutes, an entry that expired) is decided on the store thread. Awaited
//! in the session's loop, each such decision held up the session's whole
//! window for one store trip after another: 1,000 new recipients at
//! 50,000/s became a 25 ms stall of every session. Here the session reads on
//! while decisions are out: every store trip of a burst shares the store
//! thread's batches, and the requests still reach the carrier binds (or are
//! answered) in the order the platform sent them:
//! - while a decision is out, every later submit_sm / data_sm queues behind
//!   it, also one the cache or a pass-through would forward at once;
//! - any other request (unbind, submit_multi, query_sm, a bind...) waits,
//!   with the reading, until every decision ahead of it is done, so it
//!   acts on a session in the state the platform saw;
//! - answers to optgate's deliveries and enquire_links are taken at once:
//!   nothing depends on their order.
//!
//! A decision counts against the session's window like a request at the
//! carrier, so the queue is never longer than `[server] window`.

use std::future::Future;
use std::pin::Pin;
use std::sync::Arc;

use bytes::Bytes;
use futures_util::FutureExt;
use futures_util::StreamExt;

use super::{Flow, Session};
use crate::pdu::{command as cmd, peek_header, status, Pdu};
use crate::route::{Outgoing, ReplyTo, UpExtra};

/// A request being decided (a store trip, or already done).
pub(super) type Deciding = Pin<Box<dyn Future<Output = Decided> + Send>>;

/// A decided request, ready for its turn.
pub(super) struct Decided {
    pub cid: u32,
    pub seq: u32,
    pub link: Arc<ReplyTo>,
    pub by_address: bool,
    pub next: Next,
}

/// What becomes of a decided request.
pub(super) enum Next {
    /// Answered by optgate.
    Reply(Pdu),
    /// To the carrier binds.
    Up(Outgoing, Option<Box<UpExtra>>),
}

/// Whether a request with this command_id waits for the decisions ahead of
/// it (everything but the MTs that join the queue, enquire_link, and
/// answers).
fn waits_for_decisions(command_id: u32) -> bool {
    !(cmd::is_response(command_id)
        || command_id == cmd::SUBMIT_SM
        || command_id == cmd::DATA_SM
        || command_id == cmd::ENQUIRE_LINK)
}

impl Session {
    /// Whether requests are being decided: later MTs queue behind them.
    pub(super) fn deciding(&self) -> bool {
        !self.deciding.is_empty()
    }

    /// Requests counted against the window: at the carrier, or being decided.
    pub(super) fn in_window(&self) -> usize {
        self.outstanding + self.deciding.len()
    }

    /// Keeps `frame` for later when it must wait for the decisions ahead of
    /// it; `Some(frame)` back when it may be handled now.
    pub(super) fn park(&mut self, frame: Bytes) -> Option<Bytes> {
        if self.deciding() && peek_header(&frame).is_some_and(|h| waits_for_decisions(h.command_id))
        {
            self.parked = Some(frame);
            return None;
        }
        Some(frame)
    }

    /// Whether a frame is parked: nothing more is read until it was handled.
    pub(super) fn parked(&self) -> bool {
        self.parked.is_some()
    }

    /// A frame already received, unless one is parked (then nothing more
    /// is read until it was handled).
    pub(super) fn read_now(&mut self) -> Option<Result<Bytes, super::End>> {
        if self.parked() {
            return None;
        }
        self.link.read_now()
    }

    /// The parked frame, once every decision ahead of it is done.
    pub(super) fn unpark(&mut self) -> Option<Bytes> {
        if self.deciding() {
            return None;
        }
        self.parked.take()
    }

    /// Queues a request's decision.
    pub(super) fn queue(&mut self, deciding: Deciding) {
        self.deciding.push_back(deciding);
    }

    /// Queues a request decided already, behind those still being decided.
    pub(super) fn queue_decided(&mut self, decided: Decided) {
        self.queue(Box::pin(std::future::ready(decided)));
    }

    /// The oldest decision, if it is done.
    pub(super) fn decided_now(&mut self) -> Option<Decided> {
        if !self.deciding() {
            return None;
        }
        self.deciding.next().now_or_never().flatten()
    }

    /// Hands a decided request on in its turn: behind the requests being
    /// decided, if any (see the module's rules), else now. `Some` answer
    /// to write (optgate's own, or ESME_RTHROTTLED when no carrier bind
    /// could take it).
    pub(super) fn hand_on(&mut self, d: Decided) -> Option<Pdu> {
        if self.deciding() {
            self.queue_decided(d);
            return None;
        }
        self.hand_on_now(d)
    }

    /// Hands a request whose turn it is on: answered, or to the carrier
    /// binds (each session keeps to one carrier bind while it has room).
    fn hand_on_now(&mut self, d: Decided) -> Option<Pdu> {
        match d.next {
            Next::Reply(answer) => Some(answer),
            Next::Up(request, extra) => (!self.try_hand_up(d.link, request, extra, d.by_address))
                .then(|| crate::route::answer(d.cid, status::ESME_RTHROTTLED, d.seq)),
        }
    }

    /// The oldest decision once done, handed on.
    pub(super) async fn on_decided(&mut self, d: Decided) -> Flow {
        match self.hand_on_now(d) {
            Some(answer) => self.feed(&answer).await,
            None => Ok(()),
        }
    }

    /// Every decision still out, handed on (at shutdown, before the
    /// unbind), for at most `within`: what is not decided by then was
    /// never answered, and the platform sends it again.
    pub(super) async fn finish_decisions(&mut self, within: std::time::Duration) {
        let _ = tokio::time::timeout(within, async {
            while let Some(d) = self.deciding.next().await {
                let _ = self.on_decided(d).await;
            }
        })
        .await;
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_requests_that_depend_on_order_wait() {
        assert!(!waits_for_decisions(cmd::SUBMIT_SM));
        assert!(!waits_for_decisions(cmd::DATA_SM));
        assert!(!waits_for_decisions(cmd::ENQUIRE_LINK));
        assert!(!waits_for_decisions(cmd::DELIVER_SM_RESP));
        assert!(!waits_for_decisions(cmd::GENERIC_NACK));
        assert!(waits_for_decisions(cmd::UNBIND));
        assert!(waits_for_decisions(cmd::SUBMIT_MULTI));
        assert!(waits_for_decisions(cmd::QUERY_SM));
        assert!(waits_for_decisions(cmd::BIND_TRANSCEIVER));
    }
}
