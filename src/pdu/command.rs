//! SMPP 3.4 `command_id` values (SMPP34.md §1): the constants, the
//! [`CommandId`] enum, the names and the list of all ids, generated from one
//! table so they can not drift apart.

/// Bit 31 of a command_id: set on every response.
pub const RESPONSE_BIT: u32 = 0x8000_0000;

/// Declares, from one `Variant = CONSTANT = value, "name";` list, the
/// `u32` constants, the [`CommandId`] enum and its conversions, [`ALL`]
/// and [`command_name`].
macro_rules! commands {
    ($($variant:ident = $name:ident = $value:expr, $text:literal;)*) => {
        $(#[doc = concat!("`", $text, "`.")] pub const $name: u32 = $value;)*

        /// A command_id as a type: every SMPP 3.4 command, and
        /// `Unknown` for any other value (kept, so it can be answered).
        /// A `match` on it must name every command or say `_` on purpose.
        #[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
        pub enum CommandId {
            $(#[doc = concat!("`", $text, "`.")] $variant,)*
            /// A value SMPP 3.4 does not define.
            Unknown(u32),
        }

        impl From<u32> for CommandId {
            fn from(id: u32) -> CommandId {
                match id {
                    $($name => CommandId::$variant,)*
                    other => CommandId::Unknown(other),
                }
            }
        }

        impl From<CommandId> for u32 {
            fn from(id: CommandId) -> u32 {
                match id {
                    $(CommandId::$variant => $name,)*
                    CommandId::Unknown(other) => other,
                }
            }
        }

        /// Every SMPP 3.4 command id, requests and responses.
        pub const ALL: [u32; [$($name),*].len()] = [$($name),*];

        /// The SMPP name of a command id (`"submit_sm"`), or `"unknown"` for ids
        /// SMPP 3.4 does not define. Meant for logs and metric labels (bounded set).
        pub fn command_name(command_id: u32) -> &'static str {
            match command_id {
                $($name => $text,)*
                _ => "unknown",
            }
        }
    };
}

commands! {
    GenericNack = GENERIC_NACK = 0x8000_0000, "generic_nack";
    BindReceiver = BIND_RECEIVER = 0x0000_0001, "bind_receiver";
    BindReceiverResp = BIND_RECEIVER_RESP = 0x8000_0001, "bind_receiver_resp";
    BindTransmitter = BIND_TRANSMITTER = 0x0000_0002, "bind_transmitter";
    BindTransmitterResp = BIND_TRANSMITTER_RESP = 0x8000_0002, "bind_transmitter_resp";
    QuerySm = QUERY_SM = 0x0000_0003, "query_sm";
    QuerySmResp = QUERY_SM_RESP = 0x8000_0003, "query_sm_resp";
    SubmitSm = SUBMIT_SM = 0x0000_0004, "submit_sm";
    SubmitSmResp = SUBMIT_SM_RESP = 0x8000_0004, "submit_sm_resp";
    DeliverSm = DELIVER_SM = 0x0000_0005, "deliver_sm";
    DeliverSmResp = DELIVER_SM_RESP = 0x8000_0005, "deliver_sm_resp";
    Unbind = UNBIND = 0x0000_0006, "unbind";
    UnbindResp = UNBIND_RESP = 0x8000_0006, "unbind_resp";
    ReplaceSm = REPLACE_SM = 0x0000_0007, "replace_sm";
    ReplaceSmResp = REPLACE_SM_RESP = 0x8000_0007, "replace_sm_resp";
    CancelSm = CANCEL_SM = 0x0000_0008, "cancel_sm";
    CancelSmResp = CANCEL_SM_RESP = 0x8000_0008, "cancel_sm_resp";
    BindTransceiver = BIND_TRANSCEIVER = 0x0000_0009, "bind_transceiver";
    BindTransceiverResp = BIND_TRANSCEIVER_RESP = 0x8000_0009, "bind_transceiver_resp";
    Outbind = OUTBIND = 0x0000_000B, "outbind";
    EnquireLink = ENQUIRE_LINK = 0x0000_0015, "enquire_link";
    EnquireLinkResp = ENQUIRE_LINK_RESP = 0x8000_0015, "enquire_link_resp";
    SubmitMulti = SUBMIT_MULTI = 0x0000_0021, "submit_multi";
    SubmitMultiResp = SUBMIT_MULTI_RESP = 0x8000_0021, "submit_multi_resp";
    AlertNotification = ALERT_NOTIFICATION = 0x0000_0102, "alert_notification";
    DataSm = DATA_SM = 0x0000_0103, "data_sm";
    DataSmResp = DATA_SM_RESP = 0x8000_0103, "data_sm_resp";
}

impl CommandId {
    /// Whether this is a response (bit 31 set; generic_nack included).
    pub fn is_response(self) -> bool {
        is_response(u32::from(self))
    }
}

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

    #[test]
    fn command_ids_convert_both_ways_and_keep_unknown_values() {
        assert_eq!(ALL.len(), 27);
        for id in ALL {
            let typed = CommandId::from(id);
            assert!(!matches!(typed, CommandId::Unknown(_)), "{id:#x}");
            assert_eq!(u32::from(typed), id);
        }
        assert_eq!(CommandId::from(SUBMIT_SM), CommandId::SubmitSm);
        assert_eq!(CommandId::from(0x99), CommandId::Unknown(0x99));
        assert_eq!(u32::from(CommandId::Unknown(0x99)), 0x99);
        assert!(CommandId::DeliverSmResp.is_response());
        assert!(!CommandId::DeliverSm.is_response());
    }
}
