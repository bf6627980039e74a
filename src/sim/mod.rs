//! Test tools that ship with optgate: a carrier simulator (an SMSC), a load
//! generator (an ESME) and the shared pieces they use. Both are built to
//! stay far ahead of optgate itself: one task per connection, one write
//! per batch of PDUs, big reads parsed in place, templates patched instead
//! of PDUs encoded.
//!
//! - [`carrier`]: `optgate sim carrier`, [`carrier::Carrier::start`].
//! - [`load`]: `optgate sim load`, [`load::run`].
//! - [`hist`]: the latency histogram.
//! - [`send`]: `optgate sim send`, one message from a platform.
//! - [`carrier::inject`]: `optgate sim mo`, one MO from a phone.
//! - [`certs`]: `optgate sim certs`, test certificates for TLS runs.
//! - [`args`]: the command-line arguments.

pub mod args;
pub mod carrier;
pub mod certs;
pub mod hist;
pub mod load;
pub mod send;
pub mod wire;
