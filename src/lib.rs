//! optgate: an SMPP 3.4 consent gateway.
//!
//! # Layout
//! - [`pdu`]: pure SMPP 3.4 model — every PDU typed, nom decoders, `BufMut`
//!   encoders, TLVs, command_status codes. No tokio, no I/O.
//! - [`codec`]: the tokio-util `Decoder`/`Encoder` over [`pdu`]; checks
//!   `command_length` before anything is parsed.
//! - [`text`]: SMS text — GSM 03.38, Latin-1, IA5, UCS-2, UDH / SAR,
//!   multipart reassembly and splitting, keyword normalisation. Pure.
//! - [`config`]: serde structs, loading with the `config` crate, `validate()`.
//! - [`store`]: durable state behind one backend-neutral interface:
//!   [`store::StoreTxn`] (what is read and written), [`store::Store`] (the
//!   store thread with group commit; `transact` runs a unit of work there),
//!   [`store::Backend`] (what a database must provide), [`store::sqlite`]
//!   (the SQLite backend), [`store::postgres`] (the PostgreSQL backend),
//!   [`store::cache`] (the consent read cache).
//! - [`session`]: the pure bind-state machine (which PDU is allowed when).
//! - [`server`]: the platform side — listener, per-bind task, auth.
//! - [`upstream`]: the carrier side — bind pool, reconnect, windows, seq maps.
//! - [`policy`]: pure consent decisions.
//! - [`sim`]: test tools — carrier simulator and load generator.
//! - [`admin`]: HTTP on `[admin] listen` — `/metrics`, `/healthz`, `/readyz`.
//! - [`telemetry`]: the Prometheus recorder and the list of every metric.

pub mod admin;
pub mod cli;
pub mod codec;
pub mod config;
pub mod consent;
pub mod daemon;
pub mod deliver;
pub mod inbound;
pub mod numbers;
pub mod pdu;
pub mod policy;
pub mod route;
pub mod sdnotify;
pub mod server;
pub mod session;
pub mod sim;
pub mod stamped;
pub mod store;
pub mod telemetry;
pub mod text;
pub mod turn;
pub mod upstream;
pub mod versioned;
