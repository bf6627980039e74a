//! Test tools that ship with optgate: a carrier simulator (an SMSC), a load
//! generator (an ESME) and the shared pieces they use. Both are built to
//! stay far ahead of optgate itself: one task per connection, one write
//! per batch of PDUs, big reads parsed in place, templates patched instead
//! of PDUs encoded.
//!
//! - [`carrier`]: `optgate sim carrier`, [`carrier::Carrier::start`].
//! - [`load`]: `optgate sim load`, [`load::run`].
//! - [`hist`]: the latency histogram.
//! - [`args`]: the command-line arguments of both.

pub mod args;
pub mod carrier;
pub mod hist;
pub mod load;
pub mod wire;
