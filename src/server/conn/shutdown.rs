//! A platform session at shutdown: unbind it, relay the answers to what it
//! has in flight, refuse what it still sends.

use super::Session;
use crate::link::End;
use crate::pdu::{command as cmd, status, Body, Pdu};
use crate::route::ToPlatform;
use crate::session::BindState;

/// One event while draining at shutdown.
enum Step {
    Out(ToPlatform),
    Request(Pdu),
    UnbindResp,
    Other,
    Gone,
}

impl Session {
    /// Shutdown: tell the platform, relay the answers to what it has in
    /// flight (the carrier binds answer every request by the end of the
    /// grace period, with an error if they must), wait briefly for its
    /// unbind_resp (some clients never send one).
    pub(super) async fn unbind_for_shutdown(&mut self) -> End {
        // Requests being decided go on their way first (the binds may
        // refuse them now); one waiting behind them is refused like those
        // that come after the unbind.
        self.finish_decisions(self.ctx.settings.shutdown_grace)
            .await;
        if let Some(frame) = self.parked.take() {
            match Pdu::decode_ref(&frame) {
                Ok(p) if !cmd::is_response(p.command_id()) => self.refuse_at_shutdown(&p).await,
                Ok(_) => {}
                Err(bad) => {
                    let _ = self.feed(&bad.response()).await;
                }
            }
        }
        if matches!(self.state, BindState::Bound(_)) {
            self.state = BindState::Unbinding;
            let unbind = Pdu::new(self.link.next_seq(), Body::Unbind);
            let within = self.ctx.settings.response_timeout;
            if self.link.send(&unbind, within).await.is_err() {
                return End::Shutdown;
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
                    item = self.link.read() => match item.map(|frame| Pdu::decode_ref(&frame)) {
                        Ok(Ok(p)) if p.command_id() == cmd::UNBIND_RESP => Step::UnbindResp,
                        Ok(Ok(p)) if !cmd::is_response(p.command_id()) => Step::Request(p),
                        Ok(_) => Step::Other,
                        Err(_) => Step::Gone,
                    },
                }
            })
            .await;
            match step {
                Ok(Step::Out(out)) => {
                    if self.on_outgoing(out).await.is_err() {
                        break;
                    }
                    let _ = self.link.flush(self.ctx.settings.response_timeout).await;
                }
                Ok(Step::UnbindResp) => unbind_answered = true,
                Ok(Step::Request(p)) => {
                    self.refuse_at_shutdown(&p).await;
                    let _ = self.link.flush(self.ctx.settings.response_timeout).await;
                }
                Ok(Step::Other) => {}
                Ok(Step::Gone) | Err(_) => break,
            }
        }
        End::Shutdown
    }

    /// A request sent before the platform saw our unbind: answered with a
    /// temporary error so it is retried, never silently dropped.
    async fn refuse_at_shutdown(&mut self, p: &Pdu) {
        let code = if p.command_id() == cmd::ENQUIRE_LINK {
            status::ESME_ROK
        } else {
            status::ESME_RTHROTTLED
        };
        let _ = self
            .feed(&crate::route::answer(
                p.command_id(),
                code,
                p.sequence_number,
            ))
            .await;
    }
}
