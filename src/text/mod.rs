//! SMS text, pure (no I/O, no PDU types): bytes and plain parameters in,
//! text or bytes out.
//!
//! - [`gsm7`]: GSM 03.38 default alphabet + extension table, unpacked septets
//!   as SMPP carries them, and 7-bit pack/unpack.
//! - [`coding`]: `data_coding` → alphabet; decode / encode text.
//! - [`udh`]: User Data Header parse/build and concatenation info (UDH or SAR).
//! - [`reassembly`]: bounded reassembly of multipart messages.
//! - [`split`]: cutting optgate's own messages into parts; footer append.
//! - [`keywords`]: normal form for STOP / START / HELP matching.

pub mod coding;
pub mod gsm7;
pub mod keywords;
pub mod reassembly;
pub mod split;
pub mod udh;
