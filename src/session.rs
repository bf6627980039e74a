//! The pure bind-state machine of a platform session: which PDU is allowed in
//! which state. No I/O; the server asks [`BindState::check`] for every request
//! and answers a refusal with the `_resp` carrying the returned status.

use crate::pdu::command as cmd;
use crate::pdu::status;

/// What a platform bound as.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum BindKind {
    Transmitter,
    Receiver,
    Transceiver,
}

impl BindKind {
    /// The bind kind a bind request asks for, or `None` if `command_id` is no bind.
    pub fn from_bind_command(command_id: u32) -> Option<BindKind> {
        match command_id {
            cmd::BIND_TRANSMITTER => Some(BindKind::Transmitter),
            cmd::BIND_RECEIVER => Some(BindKind::Receiver),
            cmd::BIND_TRANSCEIVER => Some(BindKind::Transceiver),
            _ => None,
        }
    }

    /// May this bind submit messages (MT)?
    pub fn can_send(self) -> bool {
        matches!(self, BindKind::Transmitter | BindKind::Transceiver)
    }

    /// May this bind be given MOs and receipts?
    pub fn can_receive(self) -> bool {
        matches!(self, BindKind::Receiver | BindKind::Transceiver)
    }

    /// Label used in logs and metrics.
    pub fn as_str(self) -> &'static str {
        match self {
            BindKind::Transmitter => "transmitter",
            BindKind::Receiver => "receiver",
            BindKind::Transceiver => "transceiver",
        }
    }
}

/// The state of one platform session.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum BindState {
    /// Connected, not bound yet.
    Open,
    /// Bound.
    Bound(BindKind),
    /// Unbind sent or received: only responses and the unbind handshake remain.
    Unbinding,
}

/// What the session should do with an incoming request.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Verdict {
    /// Handle it.
    Allow,
    /// Refuse it with its `_resp` carrying this status.
    Refuse(u32),
}

impl BindState {
    /// Decides whether a request PDU with `command_id`, received from the
    /// platform, is allowed in this state. Responses are always allowed (they
    /// answer something optgate sent); unknown commands are not judged here.
    pub fn check(self, command_id: u32) -> Verdict {
        if cmd::is_response(command_id) {
            return Verdict::Allow;
        }
        let is_bind = BindKind::from_bind_command(command_id).is_some();
        match self {
            BindState::Open => match command_id {
                _ if is_bind => Verdict::Allow,
                // Lenient, as SMPP 5.0 allows and most SMSCs do: a keep-alive
                // before bind does no harm.
                cmd::ENQUIRE_LINK => Verdict::Allow,
                _ => Verdict::Refuse(status::ESME_RINVBNDSTS),
            },
            BindState::Bound(kind) => match command_id {
                _ if is_bind => Verdict::Refuse(status::ESME_RALYBND),
                cmd::ENQUIRE_LINK | cmd::UNBIND => Verdict::Allow,
                cmd::SUBMIT_SM
                | cmd::SUBMIT_MULTI
                | cmd::DATA_SM
                | cmd::QUERY_SM
                | cmd::CANCEL_SM
                | cmd::REPLACE_SM
                    if kind.can_send() =>
                {
                    Verdict::Allow
                }
                _ => Verdict::Refuse(status::ESME_RINVBNDSTS),
            },
            BindState::Unbinding => match command_id {
                cmd::ENQUIRE_LINK | cmd::UNBIND => Verdict::Allow,
                _ => Verdict::Refuse(status::ESME_RINVBNDSTS),
            },
        }
    }

    /// True when optgate may deliver MOs / receipts to this session.
    pub fn can_receive(self) -> bool {
        matches!(self, BindState::Bound(k) if k.can_receive())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const SENDS: [u32; 6] = [
        cmd::SUBMIT_SM,
        cmd::SUBMIT_MULTI,
        cmd::DATA_SM,
        cmd::QUERY_SM,
        cmd::CANCEL_SM,
        cmd::REPLACE_SM,
    ];

    #[test]
    fn open_allows_only_bind_and_enquire_link() {
        let s = BindState::Open;
        for b in [
            cmd::BIND_TRANSMITTER,
            cmd::BIND_RECEIVER,
            cmd::BIND_TRANSCEIVER,
        ] {
            assert_eq!(s.check(b), Verdict::Allow);
        }
        assert_eq!(s.check(cmd::ENQUIRE_LINK), Verdict::Allow);
        for c in SENDS.iter().chain([cmd::UNBIND].iter()) {
            assert_eq!(
                s.check(*c),
                Verdict::Refuse(status::ESME_RINVBNDSTS),
                "{c:#x}"
            );
        }
    }

    #[test]
    fn bound_matrix() {
        for kind in [
            BindKind::Transmitter,
            BindKind::Receiver,
            BindKind::Transceiver,
        ] {
            let s = BindState::Bound(kind);
            for c in SENDS {
                let want = if kind == BindKind::Receiver {
                    Verdict::Refuse(status::ESME_RINVBNDSTS)
                } else {
                    Verdict::Allow
                };
                assert_eq!(s.check(c), want, "{kind:?} {c:#x}");
            }
            assert_eq!(
                s.check(cmd::BIND_TRANSCEIVER),
                Verdict::Refuse(status::ESME_RALYBND)
            );
            assert_eq!(s.check(cmd::ENQUIRE_LINK), Verdict::Allow);
            assert_eq!(s.check(cmd::UNBIND), Verdict::Allow);
            // deliver_sm is a carrier-to-platform request: a platform may not send it.
            assert_eq!(
                s.check(cmd::DELIVER_SM),
                Verdict::Refuse(status::ESME_RINVBNDSTS)
            );
            assert_eq!(s.can_receive(), kind != BindKind::Transmitter);
        }
    }

    #[test]
    fn responses_always_pass_and_unbinding_refuses_new_work() {
        assert_eq!(BindState::Open.check(cmd::DELIVER_SM_RESP), Verdict::Allow);
        let s = BindState::Unbinding;
        assert_eq!(
            s.check(cmd::SUBMIT_SM),
            Verdict::Refuse(status::ESME_RINVBNDSTS)
        );
        assert_eq!(s.check(cmd::UNBIND), Verdict::Allow);
        assert!(!s.can_receive());
    }
}
