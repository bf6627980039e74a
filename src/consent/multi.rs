//! submit_multi through the consent engine: each destination is decided as
//! a submit_sm to it would be; refused ones are listed in `unsuccess_sme`
//! with their code, held ones are accepted (their receipts will carry the
//! optgate id), and only the rest go to the carrier.

use std::sync::Arc;

use super::mt::MtAction;
use super::Engine;
use crate::pdu::{Body, DestAddress, Pdu, Sm, SubmitMulti, SubmitMultiResp, Text, UnsuccessSme};
use crate::policy::Lookup;

/// What the session does with a submit_multi.
#[derive(Debug)]
pub enum MultiAction {
    /// Send this (possibly shortened) submit_multi; add `unsuccess` to the
    /// carrier's answer.
    Forward {
        pdu: Pdu,
        unsuccess: Vec<UnsuccessSme>,
    },
    /// Answer the platform with this; nothing goes upstream.
    Reply(Pdu),
}

impl Engine {
    /// Decides every destination of a submit_multi from `account`.
    pub async fn on_multi(&self, account: &Arc<str>, pdu: Pdu) -> MultiAction {
        let Body::SubmitMulti(m) = &pdu.body else {
            return MultiAction::Forward {
                pdu,
                unsuccess: Vec::new(),
            };
        };
        let cfg = self.config();
        let sender = crate::numbers::normalise(
            &String::from_utf8_lossy(&m.source_addr),
            m.source_addr_ton,
            &cfg.country_code,
        );
        let enforced = matches!(cfg.campaigns.lookup(&sender), Lookup::Enforce(_));
        let mut keep = Vec::new();
        let mut unsuccess = Vec::new();
        let mut held_id = None;
        for dest in &m.dests {
            match dest {
                DestAddress::Sme { ton, npi, addr } => match self
                    .on_mt(account, single(m, *ton, *npi, addr, pdu.sequence_number))
                    .await
                {
                    MtAction::Forward(_) => keep.push(dest.clone()),
                    MtAction::Reply(r) if r.command_status == 0 => {
                        held_id = held_id.or_else(|| message_id(&r))
                    }
                    MtAction::Reply(r) => unsuccess.push(UnsuccessSme {
                        dest_addr_ton: *ton,
                        dest_addr_npi: *npi,
                        destination_addr: addr.clone(),
                        error_status_code: r.command_status,
                    }),
                },
                // The members of a distribution list are unknown here, so no
                // consent can be checked for them.
                DestAddress::DistributionList(name) if enforced => unsuccess.push(UnsuccessSme {
                    dest_addr_ton: 0,
                    dest_addr_npi: 0,
                    destination_addr: name.clone(),
                    error_status_code: cfg.codes.prevented,
                }),
                DestAddress::DistributionList(_) => keep.push(dest.clone()),
            }
        }
        if keep.is_empty() {
            let body = SubmitMultiResp {
                message_id: Some(held_id.unwrap_or_default()),
                unsuccess_smes: Some(unsuccess),
                tlvs: Default::default(),
            };
            return MultiAction::Reply(Pdu::new(
                pdu.sequence_number,
                Body::SubmitMultiResp(Box::new(body)),
            ));
        }
        let mut out = pdu.clone();
        if let Body::SubmitMulti(m) = &mut out.body {
            m.dests = keep;
        }
        MultiAction::Forward {
            pdu: out,
            unsuccess,
        }
    }
}

/// The submit_sm a submit_multi means for one destination.
fn single(m: &SubmitMulti, ton: u8, npi: u8, addr: &Text, seq: u32) -> Pdu {
    let sm = Sm {
        service_type: m.service_type.clone(),
        source_addr_ton: m.source_addr_ton,
        source_addr_npi: m.source_addr_npi,
        source_addr: m.source_addr.clone(),
        dest_addr_ton: ton,
        dest_addr_npi: npi,
        destination_addr: addr.clone(),
        esm_class: m.esm_class,
        protocol_id: m.protocol_id,
        priority_flag: m.priority_flag,
        schedule_delivery_time: m.schedule_delivery_time.clone(),
        validity_period: m.validity_period.clone(),
        registered_delivery: m.registered_delivery,
        replace_if_present_flag: m.replace_if_present_flag,
        data_coding: m.data_coding,
        sm_default_msg_id: m.sm_default_msg_id,
        short_message: m.short_message.clone(),
        tlvs: m.tlvs.clone(),
    };
    Pdu::new(seq, Body::SubmitSm(Box::new(sm)))
}

fn message_id(p: &Pdu) -> Option<Text> {
    match &p.body {
        Body::SubmitSmResp(r) => r.message_id.clone(),
        _ => None,
    }
}
