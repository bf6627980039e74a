//! SMPP 3.4 `command_id` values (SMPP34.md §1).

/// Bit 31 of a command_id: set on every response.
pub const RESPONSE_BIT: u32 = 0x8000_0000;

/// generic_nack (a response without a request).
pub const GENERIC_NACK: u32 = 0x8000_0000;
/// bind_receiver.
pub const BIND_RECEIVER: u32 = 0x0000_0001;
/// bind_receiver_resp.
pub const BIND_RECEIVER_RESP: u32 = 0x8000_0001;
/// bind_transmitter.
pub const BIND_TRANSMITTER: u32 = 0x0000_0002;
/// bind_transmitter_resp.
pub const BIND_TRANSMITTER_RESP: u32 = 0x8000_0002;
/// query_sm.
pub const QUERY_SM: u32 = 0x0000_0003;
/// query_sm_resp.
pub const QUERY_SM_RESP: u32 = 0x8000_0003;
/// submit_sm.
pub const SUBMIT_SM: u32 = 0x0000_0004;
/// submit_sm_resp.
pub const SUBMIT_SM_RESP: u32 = 0x8000_0004;
/// deliver_sm.
pub const DELIVER_SM: u32 = 0x0000_0005;
/// deliver_sm_resp.
pub const DELIVER_SM_RESP: u32 = 0x8000_0005;
/// unbind.
pub const UNBIND: u32 = 0x0000_0006;
/// unbind_resp.
pub const UNBIND_RESP: u32 = 0x8000_0006;
/// replace_sm.
pub const REPLACE_SM: u32 = 0x0000_0007;
/// replace_sm_resp.
pub const REPLACE_SM_RESP: u32 = 0x8000_0007;
/// cancel_sm.
pub const CANCEL_SM: u32 = 0x0000_0008;
/// cancel_sm_resp.
pub const CANCEL_SM_RESP: u32 = 0x8000_0008;
/// bind_transceiver.
pub const BIND_TRANSCEIVER: u32 = 0x0000_0009;
/// bind_transceiver_resp.
pub const BIND_TRANSCEIVER_RESP: u32 = 0x8000_0009;
/// outbind (no response PDU).
pub const OUTBIND: u32 = 0x0000_000B;
/// enquire_link.
pub const ENQUIRE_LINK: u32 = 0x0000_0015;
/// enquire_link_resp.
pub const ENQUIRE_LINK_RESP: u32 = 0x8000_0015;
/// submit_multi.
pub const SUBMIT_MULTI: u32 = 0x0000_0021;
/// submit_multi_resp.
pub const SUBMIT_MULTI_RESP: u32 = 0x8000_0021;
/// alert_notification (no response PDU).
pub const ALERT_NOTIFICATION: u32 = 0x0000_0102;
/// data_sm.
pub const DATA_SM: u32 = 0x0000_0103;
/// data_sm_resp.
pub const DATA_SM_RESP: u32 = 0x8000_0103;

/// Every SMPP 3.4 command id, requests and responses.
pub const ALL: [u32; 27] = [
    GENERIC_NACK,
    BIND_RECEIVER,
    BIND_RECEIVER_RESP,
    BIND_TRANSMITTER,
    BIND_TRANSMITTER_RESP,
    QUERY_SM,
    QUERY_SM_RESP,
    SUBMIT_SM,
    SUBMIT_SM_RESP,
    DELIVER_SM,
    DELIVER_SM_RESP,
    UNBIND,
    UNBIND_RESP,
    REPLACE_SM,
    REPLACE_SM_RESP,
    CANCEL_SM,
    CANCEL_SM_RESP,
    BIND_TRANSCEIVER,
    BIND_TRANSCEIVER_RESP,
    OUTBIND,
    ENQUIRE_LINK,
    ENQUIRE_LINK_RESP,
    SUBMIT_MULTI,
    SUBMIT_MULTI_RESP,
    ALERT_NOTIFICATION,
    DATA_SM,
    DATA_SM_RESP,
];

/// True when bit 31 is set, i.e. the id names a response (or generic_nack).
pub fn is_response(command_id: u32) -> bool {
    command_id & RESPONSE_BIT != 0
}

/// True for the SMPP 3.4 requests that have a `_resp`: every request except
/// outbind and alert_notification.
pub fn expects_response(command_id: u32) -> bool {
    matches!(
        command_id,
        BIND_RECEIVER
            | BIND_TRANSMITTER
            | QUERY_SM
            | SUBMIT_SM
            | DELIVER_SM
            | UNBIND
            | REPLACE_SM
            | CANCEL_SM
            | BIND_TRANSCEIVER
            | ENQUIRE_LINK
            | SUBMIT_MULTI
            | DATA_SM
    )
}

/// The SMPP name of a command id (`"submit_sm"`), or `"unknown"` for ids
/// SMPP 3.4 does not define. Meant for logs and metric labels (bounded set).
pub fn command_name(command_id: u32) -> &'static str {
    match command_id {
        GENERIC_NACK => "generic_nack",
        BIND_RECEIVER => "bind_receiver",
        BIND_RECEIVER_RESP => "bind_receiver_resp",
        BIND_TRANSMITTER => "bind_transmitter",
        BIND_TRANSMITTER_RESP => "bind_transmitter_resp",
        QUERY_SM => "query_sm",
        QUERY_SM_RESP => "query_sm_resp",
        SUBMIT_SM => "submit_sm",
        SUBMIT_SM_RESP => "submit_sm_resp",
        DELIVER_SM => "deliver_sm",
        DELIVER_SM_RESP => "deliver_sm_resp",
        UNBIND => "unbind",
        UNBIND_RESP => "unbind_resp",
        REPLACE_SM => "replace_sm",
        REPLACE_SM_RESP => "replace_sm_resp",
        CANCEL_SM => "cancel_sm",
        CANCEL_SM_RESP => "cancel_sm_resp",
        BIND_TRANSCEIVER => "bind_transceiver",
        BIND_TRANSCEIVER_RESP => "bind_transceiver_resp",
        OUTBIND => "outbind",
        ENQUIRE_LINK => "enquire_link",
        ENQUIRE_LINK_RESP => "enquire_link_resp",
        SUBMIT_MULTI => "submit_multi",
        SUBMIT_MULTI_RESP => "submit_multi_resp",
        ALERT_NOTIFICATION => "alert_notification",
        DATA_SM => "data_sm",
        DATA_SM_RESP => "data_sm_resp",
        _ => "unknown",
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn response_bit_and_expectations() {
        assert!(is_response(SUBMIT_SM_RESP));
        assert!(is_response(GENERIC_NACK));
        assert!(!is_response(SUBMIT_SM));
        assert!(expects_response(ENQUIRE_LINK));
        assert!(!expects_response(OUTBIND));
        assert!(!expects_response(ALERT_NOTIFICATION));
        assert!(!expects_response(SUBMIT_SM_RESP));
        assert_eq!(command_name(DATA_SM_RESP), "data_sm_resp");
        assert_eq!(command_name(0x99), "unknown");
    }
}
