//! The one declaration of a PDU body: [`body!`] takes each body's fields in
//! wire order, each with its kind, and generates the struct, its decoder
//! ([`Decode`](super::decode::Decode)), exact length and writer
//! ([`Wire`](super::encode::Wire)) and its field checks
//! ([`Check`](super::validate::Check)), so no field is read, counted,
//! written or checked by hand (and none out of order).
//!
//! Field kinds (the Rust type in brackets):
//! - `u8`, `u32` [`u8`, `u32`]: big-endian integers.
//! - `cstr(n, STATUS)` [`Text`](super::Text): a C-string of at most `C(n)` (n counts the
//!   NUL); a longer one decodes, and `validate` answers `STATUS`.
//! - `time(STATUS)` [`Text`](super::Text): a time C-string, empty or 16 characters.
//! - `sm` [`Bytes`]: sm_length and short_message (at most 254 octets).
//! - `tlvs` [`Tlvs`](super::Tlvs): the TLVs up to the end of the body.
//! - `list(count, T)` / `list(count, T, range, STATUS)` [`Vec<T>`]: a u8
//!   `count` then that many `T`; the count must lie in `range`.
//! - `nested(T)` [`T`]: a group declared (or written) elsewhere.
//! - `opt(kind)` [`Option`]: absent when the body ends here; a `None` ends
//!   the body when encoding (fields after it are not written).
//!
//! This module holds only macros; `bodies.rs` holds the body declarations
//! and `mod.rs` the one list of PDUs ([`pdus!`]: variant, payload and
//! command_id).

/// The Rust type of a field kind.
macro_rules! field_ty {
    (u8) => { u8 };
    (u32) => { u32 };
    (cstr($($a:tt)*)) => { $crate::pdu::Text };
    (time($($a:tt)*)) => { $crate::pdu::Text };
    (sm) => { ::bytes::Bytes };
    (tlvs) => { $crate::pdu::tlv::Tlvs };
    (list($count:ident, $t:ty $(, $($a:tt)*)?)) => { Vec<$t> };
    (nested($t:ty)) => { $t };
    (opt($($inner:tt)*)) => { Option<field_ty!($($inner)*)> };
}

/// Reads one field of a kind; errors name the field.
macro_rules! field_get {
    ($r:ident, $f:ident, u8) => { $r.u8(stringify!($f))? };
    ($r:ident, $f:ident, u32) => { $r.u32(stringify!($f))? };
    ($r:ident, $f:ident, cstr($($a:tt)*)) => { $r.cstr(stringify!($f))? };
    ($r:ident, $f:ident, time($($a:tt)*)) => { $r.cstr(stringify!($f))? };
    ($r:ident, $f:ident, sm) => { $r.short_message()? };
    ($r:ident, $f:ident, tlvs) => { $r.tlvs()? };
    ($r:ident, $f:ident, list($count:ident, $t:ty $(, $($a:tt)*)?)) => {{
        let n = $r.u8(stringify!($count))?;
        (0..n)
            .map(|_| <$t as $crate::pdu::decode::Decode>::decode($r))
            .collect::<Result<Vec<_>, _>>()?
    }};
    ($r:ident, $f:ident, nested($t:ty)) => {
        <$t as $crate::pdu::decode::Decode>::decode($r)?
    };
    ($r:ident, $f:ident, opt($($inner:tt)*)) => {
        if $r.is_empty() {
            None
        } else {
            Some(field_get!($r, $f, $($inner)*))
        }
    };
}

/// The wire length of one (present) field of a kind.
macro_rules! field_len {
    ($v:expr, u8) => {
        1
    };
    ($v:expr, u32) => {
        4
    };
    ($v:expr, cstr($($a:tt)*)) => {
        $crate::pdu::encode::cstr_len(&$v)
    };
    ($v:expr, time($($a:tt)*)) => {
        $crate::pdu::encode::cstr_len(&$v)
    };
    ($v:expr, sm) => {
        $crate::pdu::encode::sm_len(&$v)
    };
    ($v:expr, tlvs) => {
        $crate::pdu::encode::Wire::wire_len(&$v)
    };
    ($v:expr, list($($a:tt)*)) => {
        1 + $v
            .iter()
            .take($crate::pdu::encode::MAX_U8_LEN)
            .map($crate::pdu::encode::Wire::wire_len)
            .sum::<usize>()
    };
    ($v:expr, nested($t:ty)) => {
        $crate::pdu::encode::Wire::wire_len(&$v)
    };
}

/// Adds one field's length to `$n`; a `None` optional field returns `$n`.
macro_rules! field_len_add {
    ($n:ident, $v:expr, opt($($inner:tt)*)) => {
        match &$v {
            Some(x) => $n += field_len!(*x, $($inner)*),
            None => return $n,
        }
    };
    ($n:ident, $v:expr, $($kind:tt)*) => { $n += field_len!($v, $($kind)*) };
}

/// Writes one field of a kind; a `None` optional field ends the body.
macro_rules! field_put {
    ($d:ident, $v:expr, opt($($inner:tt)*)) => {
        let Some(x) = &$v else { return };
        field_put!($d, *x, $($inner)*);
    };
    ($d:ident, $v:expr, u8) => { $d.put_u8($v) };
    ($d:ident, $v:expr, u32) => { $d.put_u32($v) };
    ($d:ident, $v:expr, cstr($($a:tt)*)) => { $crate::pdu::encode::put_cstr($d, &$v) };
    ($d:ident, $v:expr, time($($a:tt)*)) => { $crate::pdu::encode::put_cstr($d, &$v) };
    ($d:ident, $v:expr, sm) => { $crate::pdu::encode::put_sm($d, &$v) };
    ($d:ident, $v:expr, tlvs) => { $crate::pdu::encode::Wire::put(&$v, $d) };
    ($d:ident, $v:expr, list($($a:tt)*)) => {{
        let max = $crate::pdu::encode::MAX_U8_LEN;
        $d.put_u8($v.len().min(max) as u8);
        for x in $v.iter().take(max) {
            $crate::pdu::encode::Wire::put(x, $d);
        }
    }};
    ($d:ident, $v:expr, nested($t:ty)) => { $crate::pdu::encode::Wire::put(&$v, $d) };
}

/// Checks one field of a kind against its SMPP 3.4 limit.
macro_rules! field_check {
    ($f:ident, $v:expr, opt($($inner:tt)*)) => {
        if let Some(x) = &$v {
            field_check!($f, *x, $($inner)*);
        }
    };
    ($f:ident, $v:expr, u8) => {};
    ($f:ident, $v:expr, u32) => {};
    ($f:ident, $v:expr, cstr($max:expr, $status:ident)) => {
        $crate::pdu::validate::cstr(
            stringify!($f),
            &$v,
            $max,
            $crate::pdu::status::$status,
        )?
    };
    ($f:ident, $v:expr, time($status:ident)) => {
        $crate::pdu::validate::time(stringify!($f), &$v, $crate::pdu::status::$status)?
    };
    ($f:ident, $v:expr, sm) => { $crate::pdu::validate::short_message(&$v)? };
    ($f:ident, $v:expr, tlvs) => { $crate::pdu::validate::tlvs(&$v)? };
    ($f:ident, $v:expr, list($count:ident, $t:ty $(, $range:expr, $status:ident)?)) => {
        $(
            if !($range).contains(&$v.len()) {
                return $crate::pdu::validate::fail(
                    stringify!($count),
                    concat!("must be ", stringify!($range)),
                    $crate::pdu::status::$status,
                );
            }
        )?
        for x in $v.iter() {
            $crate::pdu::validate::Check::check(x)?;
        }
    };
    ($f:ident, $v:expr, nested($t:ty)) => { $crate::pdu::validate::Check::check(&$v)? };
}

/// Declares PDU bodies (or groups inside them) once: `Name { field: kind,
/// … }` with the fields in wire order (kinds in the module docs). Doc
/// comments on the body and on each field are kept.
macro_rules! body {
    ($(
        $(#[$doc:meta])*
        $name:ident {
            $( $(#[$fdoc:meta])* $field:ident : $kind:ident $(( $($arg:tt)* ))? ),* $(,)?
        }
    )*) => {$(
        $(#[$doc])*
        #[derive(Debug, Clone, Default, PartialEq, Eq, Hash)]
        pub struct $name {
            $( $(#[$fdoc])* pub $field: field_ty!($kind $(($($arg)*))?), )*
        }

        impl $crate::pdu::decode::Decode for $name {
            fn decode(
                r: &mut $crate::pdu::decode::Reader<'_>,
            ) -> Result<$name, $crate::pdu::error::DecodeErrorKind> {
                Ok($name { $($field: field_get!(r, $field, $kind $(($($arg)*))?),)* })
            }
        }

        impl $crate::pdu::encode::Wire for $name {
            #[allow(unused_mut, clippy::needless_return)]
            fn wire_len(&self) -> usize {
                let mut n = 0usize;
                $( field_len_add!(n, self.$field, $kind $(($($arg)*))?); )*
                n
            }
            #[allow(clippy::needless_return)]
            fn put<B: ::bytes::BufMut>(&self, dst: &mut B) {
                $( field_put!(dst, self.$field, $kind $(($($arg)*))?); )*
            }
        }

        impl $crate::pdu::validate::Check for $name {
            fn check(&self) -> Result<(), $crate::pdu::validate::ValidationError> {
                $( field_check!($field, self.$field, $kind $(($($arg)*))?); )*
                Ok(())
            }
        }
    )*};
}

/// Declares the [`Body`](super::Body) enum once, as `Variant(Payload) =
/// COMMAND_ID` (or `Variant = COMMAND_ID` for a header-only PDU), and
/// generates its `command_id()`, the decoder dispatch on command_id
/// (`decode_body`), and the length, writer and checks that go through to
/// the payload.
macro_rules! pdus {
    ($( $(#[$doc:meta])* $variant:ident $(($t:ty))? = $id:ident, )*) => {
        /// Every SMPP 3.4 PDU type with its body.
        #[derive(Debug, Clone, PartialEq, Eq, Hash)]
        pub enum Body {
            $( $(#[$doc])* $variant $(($t))?, )*
        }

        impl Body {
            /// The command_id of this body.
            pub fn command_id(&self) -> u32 {
                match self {
                    $( pdus!(@pat $variant $(($t))?, _b) => $crate::pdu::command::$id, )*
                }
            }
        }

        /// Decodes the body of `command_id` from `r`, consuming all of it.
        fn decode_body(
            command_id: u32,
            r: &mut $crate::pdu::decode::Reader<'_>,
        ) -> Result<Body, $crate::pdu::error::DecodeErrorKind> {
            Ok(match command_id {
                $( $crate::pdu::command::$id => pdus!(@decode r, $variant $(($t))?), )*
                other => return Err($crate::pdu::error::DecodeErrorKind::UnknownCommand(other)),
            })
        }

        /// Header-only bodies have length 0 and write nothing.
        impl $crate::pdu::encode::Wire for Body {
            fn wire_len(&self) -> usize {
                match self {
                    $( pdus!(@pat $variant $(($t))?, b) => pdus!(@pick $(($t))?, b.wire_len(), 0), )*
                }
            }
            fn put<B: ::bytes::BufMut>(&self, dst: &mut B) {
                match self {
                    $( pdus!(@pat $variant $(($t))?, b) => pdus!(@pick $(($t))?, b.put(dst), ()), )*
                }
            }
        }

        /// Header-only bodies have nothing to check.
        impl $crate::pdu::validate::Check for Body {
            fn check(&self) -> Result<(), $crate::pdu::validate::ValidationError> {
                match self {
                    $( pdus!(@pat $variant $(($t))?, b) => pdus!(@pick $(($t))?, b.check(), Ok(())), )*
                }
            }
        }
    };
    (@pat $v:ident ($t:ty), $b:ident) => { Body::$v($b) };
    (@pat $v:ident, $b:ident) => { Body::$v };
    (@pick ($t:ty), $some:expr, $none:expr) => { $some };
    (@pick, $some:expr, $none:expr) => { $none };
    (@decode $r:ident, $v:ident ($t:ty)) => {
        Body::$v(<$t as $crate::pdu::decode::Decode>::decode($r)?)
    };
    (@decode $r:ident, $v:ident) => { $r.header_only(Body::$v)? };
}
