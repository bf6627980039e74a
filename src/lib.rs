//! optgate: an SMPP 3.4 consent gateway.
//!
//! # Layout
//! - [`pdu`]: pure SMPP 3.4 model — every PDU typed, nom decoders, `BufMut`
//!   encoders (each body declared once, field by field, and its struct,
//!   decoder, length, writer and checks generated from that), TLVs, command_status codes (one list), command ids (one
//!   table: the constants and [`pdu::CommandId`]). No tokio, no I/O.
//! - [`codec`]: the tokio-util `Decoder`/`Encoder` over [`pdu`]; checks
//!   `command_length` before anything is parsed.
//! - [`text`]: SMS text — GSM 03.38, Latin-1, IA5, UCS-2, UDH / SAR,
//!   multipart reassembly and splitting, keyword normalisation. Pure.
//! - [`config`]: serde structs, loading with the `config` crate, `validate()`.
//! - [`numbers`]: phone numbers in their one compared form.
//! - [`pgurl`]: PostgreSQL connection strings (parse, redact the password),
//!   below both [`config`] and [`store`] so neither imports the other back.
//! - [`store`]: durable state behind one backend-neutral interface:
//!   [`store::StoreTxn`] (what is read and written), [`store::Store`] (the
//!   store thread with group commit; `transact` runs a unit of work there,
//!   `read` an admin read, on PostgreSQL over the `readers` connections),
//!   [`store::Backend`] (what a database must provide), [`store::sqlite`]
//!   (the SQLite backend), [`store::postgres`] (the PostgreSQL backend),
//!   [`store::cache`] (the consent read cache).
//! - [`session`]: the pure bind-state machine (which PDU is allowed when).
//! - [`link`]: one SMPP connection under both loops — framing, the reader
//!   that stamps when bytes arrived, sequence numbers, last-read time,
//!   enquire_link state, flush with a deadline, the shape of one loop turn
//!   ([`link::turn`]) and why a link ended ([`link::End`], which side and why).
//! - [`server`]: the platform side — listener, per-bind session (its bind,
//!   requests and shutdown drain in `server::conn`'s submodules), auth.
//! - [`upstream`]: the carrier side, transport only — bind pool, connect and
//!   bind ([`upstream::BindError`]), reconnect, windows, seq maps; carrier
//!   deliveries go up through [`upstream::CarrierEvents`] and their commit
//!   waits ([`upstream::Commit`]) are answered in order.
//! - [`inbound`]: the one pipeline for carrier MOs and receipts — classify
//!   (account; campaign MO, plain MO or receipt), transact (store write
//!   queued in read order), dispatch, and the status the carrier is
//!   answered with after the commit.
//! - [`consent`]: the consent engine carrying out [`policy`] against the
//!   store (MT, the MO's consent work, settle, outbox).
//! - [`deliver`]: one dispatcher per account delivering MOs and receipts
//!   to its platform binds, straight through (the direct path) or from the
//!   store.
//! - [`receipts`]: carrier receipts — which messages need the id map
//!   (the rest are routed by address), the id cache (carrier id → account
//!   and optgate id) and when the store is asked instead, the receipt's
//!   `id:` parsed and rewritten (any case, deliver_sm and data_sm).
//! - [`present`]: times, statuses and held messages as the command line
//!   and the admin surface show them.
//! - [`route`]: the messages between tasks, and the [`route::Carrier`]
//!   handle optgate's own senders get instead of the bind pool.
//! - [`runtime`]: the configuration in force (accounts, routes, consent
//!   configuration) as one immutable value, swapped whole on reload; it
//!   imports none of the modules that read it.
//! - [`lifecycle`]: the two shutdown phases (platforms first, then the
//!   carrier binds) and the deadline the second one drains by.
//! - [`policy`]: pure consent decisions.
//! - [`sim`]: test tools — carrier simulator and load generator.
//! - [`admin`]: HTTP on `[admin] listen` — `/metrics`, `/healthz`, `/readyz`.
//! - [`webhook`]: every consent change POSTed, signed, to `[[webhooks]]`
//!   from a durable queue.
//! - [`telemetry`]: the Prometheus recorder and the list of every metric.
//! - [`tls`]: rustls configurations for both sides, certificate facts,
//!   handshake failure reasons; [`transport`]: plain or TLS stream halves
//!   under both connection loops.
//! - [`daemon`]: the wiring of a running optgate (start, reload, shutdown).
//! - [`cli`]: the command line and its subcommands; [`sdnotify`]: readiness
//!   for systemd.

pub mod admin;
pub mod cli;
pub mod codec;
pub mod config;
pub mod consent;
pub mod daemon;
pub mod deliver;
pub mod inbound;
pub mod lifecycle;
pub mod link;
pub mod numbers;
pub mod pdu;
pub mod pgurl;
pub mod policy;
pub mod present;
pub mod receipts;
pub mod route;
pub mod runtime;
pub mod sdnotify;
pub mod server;
pub mod session;
pub mod sim;
pub mod store;
pub mod telemetry;
pub mod text;
pub mod tls;
pub mod transport;
pub mod upstream;
pub mod webhook;
