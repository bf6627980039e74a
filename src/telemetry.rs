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
//! | `optgate_deliveries_total` | counter | `path` (direct, stored) |
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

mod hot;
mod known;
pub mod limit;

pub use hot::*;
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
        "optgate_deliveries_total",
        Kind::Counter,
        "Carrier receipts and MOs the platform took: path=direct (handed straight through, the carrier answered after the platform) or stored (delivered from the store).",
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
        .filter(|m| !hot::OWN.iter().any(|h| h.name == m.name))
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
