//! A platform's bind: authentication, the bind slot, the bind_resp, and the
//! session's registration with its account's dispatcher.

use bytes::Bytes;
use tracing::{info, warn};

use super::{Flow, Session};
use crate::deliver::DispatchMsg;
use crate::link::End;
use crate::pdu::{command as cmd, status, BindResp, Body, Pdu};
use crate::route::ReplyTo;
use crate::server::auth;
use crate::session::{BindKind, BindState};
use crate::telemetry::limit::platform_warnings;
use crate::telemetry::Side;

impl Session {
    pub(super) async fn on_bind(&mut self, pdu: Pdu) -> Flow {
        let seq = pdu.sequence_number;
        let cid = pdu.command_id();
        let Some(kind) = BindKind::from_bind_command(cid) else {
            return Ok(());
        };
        let (Body::BindTransmitter(b) | Body::BindReceiver(b) | Body::BindTransceiver(b)) =
            &pdu.body
        else {
            return Ok(());
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
                let _ = self.feed(&bind_resp(cid, seq, code, false)).await;
                let _ = self.link.flush(self.ctx.settings.response_timeout).await;
                return Err(End::BindRefused(Side::Platform));
            }
        };
        let system_id = account.system_id.clone();
        tracing::Span::current().record("system_id", &*system_id);
        info!(bind = kind.as_str(), "platform bound");
        self.state = BindState::Bound(kind);
        self.reply_to = Some(ReplyTo::new(self.out_tx.clone(), system_id.clone()));
        let dispatcher = self
            .ctx
            .inbound
            .routes()
            .dispatchers
            .get(&system_id)
            .cloned();
        let tlv_ok = b.interface_version >= 0x34;
        let flow = self
            .feed(&bind_resp(cid, seq, status::ESME_ROK, tlv_ok))
            .await;
        if kind.can_receive() {
            if let Some(d) = &dispatcher {
                d.send(DispatchMsg::Register {
                    session: self.id,
                    tx: self.out_tx.clone(),
                    window: self.window.clone(),
                })
                .await;
            }
        }
        self.dispatcher = dispatcher;
        flow
    }
}

pub(in crate::server) fn bind_resp(
    command_id: u32,
    seq: u32,
    code: u32,
    with_version: bool,
) -> Pdu {
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
