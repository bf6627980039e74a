//! Metrics set-up: the one place that installs the Prometheus recorder and
//! names every metric optgate emits (DESIGN.md §6).
//!
//! # Naming scheme
//! `optgate_<noun>[_<unit>]`: counters end in `_total`, durations are
//! histograms in `_seconds`, everything else is a gauge of a current count,
//! except the time left until an expiry, a gauge in `_expiry_seconds`.
//! Labels are bounded: never a phone number, message text or message id.
//!
//! | metric | kind | labels (bound) |
//! |---|---|---|
//! | `optgate_binds` | gauge | `side` (platform), `account` (configured system_ids) |
//! | `optgate_pdus_total` | counter | `side` (platform, carrier), `direction` (in, out), `command` (SMPP command names) |
//! | `optgate_mt_total` | counter | `outcome` (forwarded, blocked, held, released, expired, purged, failed) |
//! | `optgate_keywords_total` | counter | `class` (opt_out, opt_in, help, probable_opt_out) |
//! | `optgate_consent_changes_total` | counter | `to` (active, pending, refused, none) |
//! | `optgate_responses_sent_total` | counter | `kind` (opt_in_request, help, opt_out, footer) |
//! | `optgate_responses_uncertain_total` | counter | `kind` (as above): at-most-once messages that may have reached the carrier and are not sent again |
//! | `optgate_retention_purged_total` | counter | `what` (events, deliveries) |
//! | `optgate_webhook_deliveries_total` | counter | `outcome` (delivered, retried, rejected, expired) |
//! | `optgate_responses_missed_total` | counter | `kind` (opt_out_response): confirmations not sent because `opt_out_confirmation_deadline` passed |
//! | `optgate_tls_handshake_failures_total` | counter | `side` (platform, carrier), `reason` (timeout, not_tls, no_client_certificate, expired, not_yet_valid, unknown_ca, wrong_name, bad_certificate, alert_received, incompatible, closed, io, other) |
//! | `optgate_tls_certificate_expiry_seconds` | gauge | `side` (platform, carrier), `role` (server, client) |
//! | `optgate_held_messages` | gauge | — |
//! | `optgate_stored_deliveries` | gauge | — |
//! | `optgate_upstream_up` | gauge | `bind` (0 .. `[upstream] binds`) |
//! | `optgate_inflight_requests` | gauge | `side` (platform, carrier) |
//! | `optgate_failed_binds_total` | counter | — |
//! | `optgate_unroutable_total` | counter | — |
//! | `optgate_upstream_response_seconds` | histogram | — |
//! | `optgate_added_latency_seconds` | histogram | — |
//! | `optgate_store_commit_seconds` | histogram | — |
//! | `optgate_connections_refused_total` | counter | `reason` (max_connections) |
//! | `optgate_instance_info` | gauge | `instance` (this instance's name: one series) |
//!
//! Every series whose label values are known in advance is exported with 0
//! from the first scrape ([`export_known`]), so dashboards and `increase()`
//! alerts see the first event of a series.
//!
//! Call sites use the `metrics` macros with the names above; [`METRICS`] is
//! the list of record, checked against the source by a test.

mod known;
pub mod limit;

pub use known::{export_known, labels};

use std::sync::OnceLock;

use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Duration;

use metrics::{Counter, Gauge};

use metrics::Unit;
use metrics_exporter_prometheus::{PrometheusBuilder, PrometheusHandle};

/// The kind of a metric.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Kind {
    /// Monotonic count, name ends in `_total`.
    Counter,
    /// Current value that goes up and down.
    Gauge,
    /// Distribution of durations in seconds, name ends in `_seconds`.
    Histogram,
}

/// One metric: name, kind, and its HELP text.
#[derive(Debug, Clone, Copy)]
pub struct MetricDef {
    /// Full Prometheus name.
    pub name: &'static str,
    /// Counter, gauge or histogram.
    pub kind: Kind,
    /// The HELP line.
    pub help: &'static str,
}

const fn def(name: &'static str, kind: Kind, help: &'static str) -> MetricDef {
    MetricDef { name, kind, help }
}

/// Every metric optgate emits.
pub const METRICS: &[MetricDef] = &[
    def(
        "optgate_instance_info",
        Kind::Gauge,
        "1, labelled with this instance's name ([store] instance).",
    ),
    def(
        "optgate_binds",
        Kind::Gauge,
        "Bound SMPP sessions per side and account.",
    ),
    def(
        "optgate_pdus_total",
        Kind::Counter,
        "SMPP PDUs by side (platform, carrier), direction (in, out) and command.",
    ),
    def(
        "optgate_mt_total",
        Kind::Counter,
        "Platform MT messages by consent outcome.",
    ),
    def(
        "optgate_keywords_total",
        Kind::Counter,
        "Keyword MOs recognised, by class.",
    ),
    def(
        "optgate_consent_changes_total",
        Kind::Counter,
        "Consent status changes, by new status.",
    ),
    def(
        "optgate_responses_sent_total",
        Kind::Counter,
        "Automatic responses optgate sent, by kind.",
    ),
    def(
        "optgate_responses_uncertain_total",
        Kind::Counter,
        "Opt-out confirmations that may have reached the carrier (handed to a bind before a crash, or no answer came) and are not sent again.",
    ),
    def(
        "optgate_retention_purged_total",
        Kind::Counter,
        "Rows deleted by the retention purge: events (older than store.retention.events) and stored deliveries (older than store.retention.message_bodies).",
    ),
    def(
        "optgate_webhook_deliveries_total",
        Kind::Counter,
        "Webhook tries of consent changes: delivered (2xx), retried (no answer, 5xx, 429), rejected (other 4xx, not retried), expired (undelivered for 24 h).",
    ),
    def(
        "optgate_responses_missed_total",
        Kind::Counter,
        "Opt-out confirmations not sent because [policy] opt_out_confirmation_deadline passed before the carrier could take them.",
    ),
    def(
        "optgate_tls_handshake_failures_total",
        Kind::Counter,
        "TLS handshakes that failed, by side and bounded reason.",
    ),
    def(
        "optgate_tls_certificate_expiry_seconds",
        Kind::Gauge,
        "Seconds until a TLS certificate expires: side platform (optgate's serving certificate) or carrier (the carrier's server certificate, optgate's client certificate).",
    ),
    def(
        "optgate_held_messages",
        Kind::Gauge,
        "MT messages held waiting for opt-in.",
    ),
    def(
        "optgate_stored_deliveries",
        Kind::Gauge,
        "MOs and receipts stored until their platform binds.",
    ),
    def(
        "optgate_upstream_up",
        Kind::Gauge,
        "1 while the carrier bind with this index is bound, else 0.",
    ),
    def(
        "optgate_inflight_requests",
        Kind::Gauge,
        "Requests waiting for the carrier's answer: side=platform counts platform sessions' windows, side=carrier the carrier binds' windows.",
    ),
    def(
        "optgate_failed_binds_total",
        Kind::Counter,
        "Platform bind attempts refused (bad credentials, source IP, limits).",
    ),
    def(
        "optgate_unroutable_total",
        Kind::Counter,
        "Carrier MOs and receipts that matched no account.",
    ),
    def(
        "optgate_upstream_response_seconds",
        Kind::Histogram,
        "Time the carrier took to answer a request.",
    ),
    def(
        "optgate_added_latency_seconds",
        Kind::Histogram,
        "Time optgate added to a platform request, carrier time excluded.",
    ),
    def(
        "optgate_store_commit_seconds",
        Kind::Histogram,
        "Time of one store commit batch.",
    ),
    def(
        "optgate_connections_refused_total",
        Kind::Counter,
        "Platform connections refused at accept, by reason (max_connections).",
    ),
];

/// Histogram buckets in seconds: 50 µs to 10 s, roughly 1-2.5-5 per decade.
pub const LATENCY_BUCKETS: &[f64] = &[
    0.000_05, 0.000_1, 0.000_25, 0.000_5, 0.001, 0.002_5, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5,
    1.0, 2.5, 5.0, 10.0,
];

static HANDLE: OnceLock<PrometheusHandle> = OnceLock::new();

/// Installs the global Prometheus recorder (first call only) and returns the
/// handle that renders `/metrics`. Later calls return the same handle, so
/// several daemons in one process (tests) share one registry. If another
/// recorder was installed first, the handle renders only descriptions and
/// a warning is logged; optgate keeps running.
pub fn install() -> PrometheusHandle {
    HANDLE.get_or_init(build_and_install).clone()
}

fn build_and_install() -> PrometheusHandle {
    let builder = PrometheusBuilder::new();
    // set_buckets fails only on an empty list; fall back to summaries then.
    let builder = builder
        .set_buckets(LATENCY_BUCKETS)
        .unwrap_or_else(|_| PrometheusBuilder::new());
    let recorder = builder.build_recorder();
    let handle = recorder.handle();
    if let Err(e) = metrics::set_global_recorder(recorder) {
        tracing::warn!(error = %e, "a metrics recorder was already installed; /metrics will be empty");
    }
    describe();
    handle
}

/// Registers the HELP text (and unit) of every metric in [`METRICS`].
fn describe() {
    for m in METRICS
        .iter()
        .filter(|m| !OWN.iter().any(|h| h.name == m.name))
    {
        match m.kind {
            Kind::Counter => metrics::describe_counter!(m.name, Unit::Count, m.help),
            Kind::Gauge => metrics::describe_gauge!(m.name, m.help),
            Kind::Histogram => metrics::describe_histogram!(m.name, Unit::Seconds, m.help),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_follow_the_scheme() {
        for m in METRICS {
            assert!(m.name.starts_with("optgate_"), "{}", m.name);
            match m.kind {
                Kind::Counter => assert!(m.name.ends_with("_total"), "{}", m.name),
                Kind::Histogram => assert!(m.name.ends_with("_seconds"), "{}", m.name),
                // A gauge is a current count, or a time left in seconds
                // (optgate_tls_certificate_expiry_seconds, named by DESIGN.md §6).
                Kind::Gauge => assert!(
                    !m.name.ends_with("_total")
                        && (!m.name.ends_with("_seconds") || m.name.contains("_expiry_")),
                    "{}",
                    m.name
                ),
            }
            assert!(!m.help.is_empty());
        }
    }

    #[test]
    fn names_are_unique() {
        let mut names: Vec<_> = METRICS.iter().map(|m| m.name).collect();
        names.sort_unstable();
        names.dedup();
        assert_eq!(names.len(), METRICS.len());
    }

    #[test]
    fn buckets_ascend_from_50us_to_10s() {
        assert!(LATENCY_BUCKETS.windows(2).all(|w| w[0] < w[1]));
        assert_eq!(LATENCY_BUCKETS.first(), Some(&0.000_05));
        assert_eq!(LATENCY_BUCKETS.last(), Some(&10.0));
    }

    #[test]
    fn install_is_idempotent_and_renders_histogram_buckets() {
        let first = install();
        let second = install();
        // Recorded through the global recorder, rendered by the first handle:
        // both handles are the one registry.
        metrics::histogram!("optgate_telemetry_test_seconds").record(0.003);
        metrics::histogram!("optgate_store_commit_seconds").record(0.0);
        let text = first.render();
        assert!(
            text.contains("optgate_telemetry_test_seconds_bucket{le=\"0.0025\"} 0"),
            "{text}"
        );
        assert!(
            text.contains("optgate_telemetry_test_seconds_bucket{le=\"0.005\"} 1"),
            "{text}"
        );
        assert!(
            text.contains("# HELP optgate_store_commit_seconds Time of one store commit batch."),
            "{text}"
        );
        drop(second);
    }
}

/// Which end of optgate a PDU crossed.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Side {
    /// A platform (ESME) session.
    Platform,
    /// A carrier bind.
    Carrier,
}

/// Whether optgate received or sent a PDU.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Direction {
    /// Received.
    In,
    /// Sent.
    Out,
}

/// Commands of the message path whose `optgate_pdus_total` counters are
/// resolved once (the rest go through the registry on each use).
const HOT_COMMANDS: [u32; 9] = {
    use crate::pdu::command as c;
    [
        c::SUBMIT_SM,
        c::SUBMIT_SM_RESP,
        c::DELIVER_SM,
        c::DELIVER_SM_RESP,
        c::DATA_SM,
        c::DATA_SM_RESP,
        c::ENQUIRE_LINK,
        c::ENQUIRE_LINK_RESP,
        c::GENERIC_NACK,
    ]
};

/// Metric handles of the per-message path, resolved once: a `metrics`
/// macro call looks its key up in the registry (hashing the labels) every
/// time, which was a sixth of optgate's CPU time at 300,000 messages/s.
pub struct Hot {
    /// `[command][side * 2 + direction]`, commands as in `HOT_COMMANDS`.
    pdus: Vec<[Counter; 4]>,
    /// `optgate_mt_total{outcome="forwarded"}`.
    pub mt_forwarded: Counter,
    /// `optgate_inflight_requests{side="platform"}`.
    pub inflight_platform: Gauge,
}

impl std::fmt::Debug for Hot {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("Hot")
    }
}

static HOT: OnceLock<Hot> = OnceLock::new();

fn side_name(s: Side) -> &'static str {
    match s {
        Side::Platform => "platform",
        Side::Carrier => "carrier",
    }
}

fn direction_name(d: Direction) -> &'static str {
    match d {
        Direction::In => "in",
        Direction::Out => "out",
    }
}

/// The hot-path handles. Installs the recorder first, so no handle can be
/// bound to the no-op recorder of a process that has not installed one yet.
pub fn hot() -> &'static Hot {
    HOT.get_or_init(|| {
        install();
        let slot = |cid: u32, s: Side, d: Direction| {
            metrics::counter!("optgate_pdus_total", "side" => side_name(s), "direction" => direction_name(d), "command" => crate::pdu::command::command_name(cid))
        };
        Hot {
            pdus: HOT_COMMANDS
                .iter()
                .map(|&cid| {
                    [
                        slot(cid, Side::Platform, Direction::In),
                        slot(cid, Side::Platform, Direction::Out),
                        slot(cid, Side::Carrier, Direction::In),
                        slot(cid, Side::Carrier, Direction::Out),
                    ]
                })
                .collect(),
            mt_forwarded: metrics::counter!("optgate_mt_total", "outcome" => "forwarded"),
            inflight_platform: metrics::gauge!("optgate_inflight_requests", "side" => "platform"),
        }
    })
}

/// Where a PDU's counter sits in `Hot::pdus`: the command's row (`None`
/// for commands outside `HOT_COMMANDS`) and the side/direction column.
fn pdu_slot(side: Side, direction: Direction, command_id: u32) -> (Option<usize>, usize) {
    let column = match side {
        Side::Platform => 0,
        Side::Carrier => 2,
    } + match direction {
        Direction::In => 0,
        Direction::Out => 1,
    };
    let row = HOT_COMMANDS.iter().position(|&c| c == command_id);
    (row, column)
}

/// Counts one PDU in `optgate_pdus_total`.
pub fn count_pdu(side: Side, direction: Direction, command_id: u32) {
    match pdu_slot(side, direction, command_id) {
        (Some(k), i) => hot().pdus[k][i].increment(1),
        (None, _) => metrics::counter!("optgate_pdus_total", "side" => side_name(side), "direction" => direction_name(direction), "command" => crate::pdu::command::command_name(command_id)).increment(1),
    }
}

/// PDU counts and latencies of one task, added to the shared metrics once
/// per loop turn ([`Local::flush`]) instead of once per PDU: under load a
/// turn handles dozens of PDUs, and every shared update is a contended
/// atomic. Dropping it flushes what is left.
#[derive(Debug)]
pub struct Local {
    pdus: [[u32; 4]; HOT_COMMANDS.len()],
    dirty: bool,
    /// `optgate_upstream_response_seconds` samples.
    pub upstream_response: LocalHist,
    /// `optgate_added_latency_seconds` samples.
    pub added_latency: LocalHist,
}

impl Default for Local {
    fn default() -> Self {
        Local {
            pdus: [[0; 4]; HOT_COMMANDS.len()],
            dirty: false,
            upstream_response: LocalHist::new(&UPSTREAM_RESPONSE),
            added_latency: LocalHist::new(&ADDED_LATENCY),
        }
    }
}

impl Local {
    /// Counts one PDU (at the next flush).
    pub fn pdu(&mut self, side: Side, direction: Direction, command_id: u32) {
        match pdu_slot(side, direction, command_id) {
            (Some(k), i) => {
                self.pdus[k][i] += 1;
                self.dirty = true;
            }
            (None, _) => count_pdu(side, direction, command_id),
        }
    }

    /// Publishes everything counted since the last flush.
    pub fn flush(&mut self) {
        if self.dirty {
            self.dirty = false;
            let hot = hot();
            for (k, row) in self.pdus.iter_mut().enumerate() {
                for (i, n) in row.iter_mut().enumerate() {
                    if *n > 0 {
                        hot.pdus[k][i].increment(u64::from(*n));
                        *n = 0;
                    }
                }
            }
        }
        self.upstream_response.flush();
        self.added_latency.flush();
    }
}

impl Drop for Local {
    fn drop(&mut self) {
        self.flush();
    }
}

/// One connection's share of `optgate_inflight_requests`: the connection
/// reports how many of its requests wait for an answer once per loop turn,
/// and the gauge moves by the change since the last report. Dropping it
/// takes the share back out, so a connection that ends leaves the gauge
/// as if it never was.
#[derive(Debug)]
pub struct InflightShare {
    gauge: Gauge,
    reported: usize,
}

impl InflightShare {
    /// A share of `optgate_inflight_requests{side}`.
    pub fn new(side: Side) -> InflightShare {
        InflightShare {
            gauge: match side {
                Side::Platform => hot().inflight_platform.clone(),
                Side::Carrier => metrics::gauge!("optgate_inflight_requests", "side" => "carrier"),
            },
            reported: 0,
        }
    }

    /// This connection has `now` requests in flight.
    pub fn report(&mut self, now: usize) {
        if now > self.reported {
            self.gauge.increment((now - self.reported) as f64);
        } else if now < self.reported {
            self.gauge.decrement((self.reported - now) as f64);
        }
        self.reported = now;
    }
}

impl Drop for InflightShare {
    fn drop(&mut self) {
        self.report(0);
    }
}

const NB: usize = LATENCY_BUCKETS.len();

/// A latency histogram with [`LATENCY_BUCKETS`] that optgate keeps and
/// renders itself ([`render_own`]): fed in bulk by [`LocalHist`], it costs
/// a few atomic adds per loop turn where the recorder's histogram costs
/// several per sample.
#[derive(Debug)]
pub struct OwnHist {
    name: &'static str,
    /// Non-cumulative counts; the last is above the largest bound.
    buckets: [AtomicU64; NB + 1],
    sum_nanos: AtomicU64,
    count: AtomicU64,
}

impl OwnHist {
    const fn new(name: &'static str) -> OwnHist {
        OwnHist {
            name,
            buckets: [const { AtomicU64::new(0) }; NB + 1],
            sum_nanos: AtomicU64::new(0),
            count: AtomicU64::new(0),
        }
    }

    /// A local accumulator for this histogram (flushed on drop).
    pub fn local(&'static self) -> LocalHist {
        LocalHist::new(self)
    }

    /// Appends this histogram in the Prometheus text format.
    fn render(&self, out: &mut String) {
        use std::fmt::Write;
        let help = METRICS
            .iter()
            .find(|m| m.name == self.name)
            .map_or("", |m| m.help);
        let _ = writeln!(out, "# HELP {} {}", self.name, help);
        let _ = writeln!(out, "# TYPE {} histogram", self.name);
        let mut cumulative = 0u64;
        for (i, bound) in LATENCY_BUCKETS.iter().enumerate() {
            cumulative += self.buckets[i].load(Ordering::Relaxed);
            let _ = writeln!(out, "{}_bucket{{le=\"{bound}\"}} {cumulative}", self.name);
        }
        cumulative += self.buckets[NB].load(Ordering::Relaxed);
        let _ = writeln!(out, "{}_bucket{{le=\"+Inf\"}} {cumulative}", self.name);
        let sum = self.sum_nanos.load(Ordering::Relaxed) as f64 / 1e9;
        let _ = writeln!(out, "{}_sum {sum}", self.name);
        let _ = writeln!(out, "{}_count {cumulative}", self.name);
        out.push('\n');
    }
}

/// `optgate_upstream_response_seconds`.
pub static UPSTREAM_RESPONSE: OwnHist = OwnHist::new("optgate_upstream_response_seconds");
/// `optgate_added_latency_seconds`.
pub static ADDED_LATENCY: OwnHist = OwnHist::new("optgate_added_latency_seconds");
static OWN: [&OwnHist; 2] = [&UPSTREAM_RESPONSE, &ADDED_LATENCY];

/// Appends the histograms optgate renders itself to a `/metrics` body.
pub fn render_own(out: &mut String) {
    for h in OWN {
        h.render(out);
    }
}

/// Samples of one task for an [`OwnHist`], published by [`LocalHist::flush`]
/// (and on drop).
#[derive(Debug)]
pub struct LocalHist {
    target: &'static OwnHist,
    buckets: [u64; NB + 1],
    sum_nanos: u64,
    count: u64,
}

impl LocalHist {
    fn new(target: &'static OwnHist) -> LocalHist {
        LocalHist {
            target,
            buckets: [0; NB + 1],
            sum_nanos: 0,
            count: 0,
        }
    }

    /// Counts one sample.
    pub fn record(&mut self, d: Duration) {
        let secs = d.as_secs_f64();
        let i = LATENCY_BUCKETS.partition_point(|&b| b < secs);
        self.buckets[i] += 1;
        self.sum_nanos = self
            .sum_nanos
            .saturating_add(u64::try_from(d.as_nanos()).unwrap_or(u64::MAX));
        self.count += 1;
    }

    /// Publishes the samples counted since the last flush.
    pub fn flush(&mut self) {
        if self.count == 0 {
            return;
        }
        for (i, n) in self.buckets.iter_mut().enumerate() {
            if *n > 0 {
                self.target.buckets[i].fetch_add(*n, Ordering::Relaxed);
                *n = 0;
            }
        }
        self.target
            .sum_nanos
            .fetch_add(self.sum_nanos, Ordering::Relaxed);
        self.target.count.fetch_add(self.count, Ordering::Relaxed);
        self.sum_nanos = 0;
        self.count = 0;
    }
}

impl Drop for LocalHist {
    fn drop(&mut self) {
        self.flush();
    }
}

#[cfg(test)]
mod own_tests {
    use super::*;

    #[test]
    fn own_histogram_counts_into_inclusive_buckets_and_renders() {
        static H: OwnHist = OwnHist::new("optgate_added_latency_seconds");
        let mut l = LocalHist::new(&H);
        l.record(Duration::from_micros(50)); // on a bound: in that bucket
        l.record(Duration::from_millis(3));
        l.record(Duration::from_secs(20)); // above every bound
        let mut text = String::new();
        H.render(&mut text);
        assert!(!text.contains("_count 3"), "nothing before the flush");
        l.flush();
        let mut text = String::new();
        H.render(&mut text);
        for line in [
            "optgate_added_latency_seconds_bucket{le=\"0.00005\"} 1",
            "optgate_added_latency_seconds_bucket{le=\"0.0025\"} 1",
            "optgate_added_latency_seconds_bucket{le=\"0.005\"} 2",
            "optgate_added_latency_seconds_bucket{le=\"10\"} 2",
            "optgate_added_latency_seconds_bucket{le=\"+Inf\"} 3",
            "optgate_added_latency_seconds_count 3",
            "optgate_added_latency_seconds_sum 20.00305",
            "# TYPE optgate_added_latency_seconds histogram",
        ] {
            assert!(
                text.lines().any(|l| l == line),
                "missing {line:?} in\n{text}"
            );
        }
    }

    #[test]
    fn local_counts_reach_the_counters_on_flush() {
        let mut l = Local::default();
        l.pdu(
            Side::Platform,
            Direction::In,
            crate::pdu::command::SUBMIT_SM,
        );
        l.pdu(
            Side::Platform,
            Direction::In,
            crate::pdu::command::SUBMIT_SM,
        );
        assert!(l.dirty);
        l.flush();
        assert!(!l.dirty);
        assert!(l.pdus.iter().flatten().all(|&n| n == 0));
    }
}
