//! The wire layout of every fixed-layout PDU body, declared once: the
//! [`wire!`] table below generates each body's decoder ([`Decode`]), exact
//! length and writer ([`Wire`]). Bodies with optional tails (the `_resp`
//! bodies, query_sm_resp) are written out in `decode.rs` / `encode.rs`.

use bytes::BufMut;

use super::bodies::*;
use super::decode::{dest_address, Decode, Reader};
use super::encode::{cstr_len, put_cstr, put_sm, sm_len, Wire, MAX_U8_LEN};
use super::error::DecodeErrorKind as Kind;

/// The wire length of one field of a kind (see [`wire!`]).
macro_rules! field_len {
    (u8, $v:expr) => {
        1
    };
    (cstr, $v:expr) => {
        cstr_len(&$v)
    };
    (sm, $v:expr) => {
        sm_len(&$v)
    };
    (tlvs, $v:expr) => {
        $v.wire_len()
    };
    (dests, $v:expr) => {
        1 + $v
            .iter()
            .take(MAX_U8_LEN)
            .map(Wire::wire_len)
            .sum::<usize>()
    };
}

/// Writes one field of a kind (see [`wire!`]).
macro_rules! field_put {
    (u8, $d:ident, $v:expr) => {
        $d.put_u8($v)
    };
    (cstr, $d:ident, $v:expr) => {
        put_cstr($d, &$v)
    };
    (sm, $d:ident, $v:expr) => {
        put_sm($d, &$v)
    };
    (tlvs, $d:ident, $v:expr) => {
        $v.put($d)
    };
    (dests, $d:ident, $v:expr) => {{
        $d.put_u8($v.len().min(MAX_U8_LEN) as u8);
        for x in $v.iter().take(MAX_U8_LEN) {
            x.put($d);
        }
    }};
}

/// Reads one field of a kind (see [`wire!`]); errors name the field.
macro_rules! field_get {
    (u8, $r:ident, $f:ident) => {
        $r.u8(stringify!($f))?
    };
    (cstr, $r:ident, $f:ident) => {
        $r.cstr(stringify!($f))?
    };
    (sm, $r:ident, $f:ident) => {
        $r.short_message()?
    };
    (tlvs, $r:ident, $f:ident) => {
        $r.tlvs()?
    };
    (dests, $r:ident, $f:ident) => {{
        let n = $r.u8("number_of_dests")?;
        (0..n)
            .map(|_| dest_address($r))
            .collect::<Result<Vec<_>, _>>()?
    }};
}

/// Declares a body's wire layout once, as `kind field` in wire order
/// (`u8`, `cstr` C-string, `sm` length-prefixed short_message, `dests`
/// counted destination list, `tlvs`); its decoder, its exact length and its
/// writer are generated from that one list, so no field is read, counted or
/// written by hand (and none out of order).
macro_rules! wire {
    ($($t:ty { $($kind:ident $field:ident),* $(,)? })*) => {$(
        impl Decode for $t {
            fn decode(r: &mut Reader<'_>) -> Result<$t, Kind> {
                Ok(Self { $($field: field_get!($kind, r, $field),)* })
            }
        }

        impl Wire for $t {
            fn wire_len(&self) -> usize {
                0 $(+ field_len!($kind, self.$field))*
            }
            fn put<B: BufMut>(&self, dst: &mut B) {
                $(field_put!($kind, dst, self.$field);)*
            }
        }
    )*};
}

wire! {
    Bind {
        cstr system_id, cstr password, cstr system_type, u8 interface_version,
        u8 addr_ton, u8 addr_npi, cstr address_range, tlvs tlvs,
    }
    Outbind { cstr system_id, cstr password, tlvs tlvs }
    Sm {
        cstr service_type, u8 source_addr_ton, u8 source_addr_npi, cstr source_addr,
        u8 dest_addr_ton, u8 dest_addr_npi, cstr destination_addr, u8 esm_class,
        u8 protocol_id, u8 priority_flag, cstr schedule_delivery_time,
        cstr validity_period, u8 registered_delivery, u8 replace_if_present_flag,
        u8 data_coding, u8 sm_default_msg_id, sm short_message, tlvs tlvs,
    }
    SubmitMulti {
        cstr service_type, u8 source_addr_ton, u8 source_addr_npi, cstr source_addr,
        dests dests, u8 esm_class, u8 protocol_id, u8 priority_flag,
        cstr schedule_delivery_time, cstr validity_period, u8 registered_delivery,
        u8 replace_if_present_flag, u8 data_coding, u8 sm_default_msg_id,
        sm short_message, tlvs tlvs,
    }
    DataSm {
        cstr service_type, u8 source_addr_ton, u8 source_addr_npi, cstr source_addr,
        u8 dest_addr_ton, u8 dest_addr_npi, cstr destination_addr, u8 esm_class,
        u8 registered_delivery, u8 data_coding, tlvs tlvs,
    }
    QuerySm { cstr message_id, u8 source_addr_ton, u8 source_addr_npi, cstr source_addr, tlvs tlvs }
    CancelSm {
        cstr service_type, cstr message_id, u8 source_addr_ton, u8 source_addr_npi,
        cstr source_addr, u8 dest_addr_ton, u8 dest_addr_npi, cstr destination_addr, tlvs tlvs,
    }
    ReplaceSm {
        cstr message_id, u8 source_addr_ton, u8 source_addr_npi, cstr source_addr,
        cstr schedule_delivery_time, cstr validity_period, u8 registered_delivery,
        u8 sm_default_msg_id, sm short_message, tlvs tlvs,
    }
    AlertNotification {
        u8 source_addr_ton, u8 source_addr_npi, cstr source_addr, u8 esme_addr_ton,
        u8 esme_addr_npi, cstr esme_addr, tlvs tlvs,
    }
}
