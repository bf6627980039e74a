//! Series exported at 0 from the first scrape (DESIGN.md §6): every label
//! value known in advance, so dashboards and `increase()` alerts see the
//! first event of a series.

use metrics::{Counter, Gauge};

/// Label values known in advance, exported with 0 by [`export_known`].
/// Call sites must use these same strings.
pub mod labels {
    /// `optgate_mt_total{outcome}`.
    pub const MT_OUTCOMES: [&str; 7] = [
        "forwarded",
        "blocked",
        "held",
        "released",
        "expired",
        "purged",
        "failed",
    ];
    /// `optgate_keywords_total{class}`.
    pub const KEYWORD_CLASSES: [&str; 4] = ["opt_out", "opt_in", "help", "probable_opt_out"];
    /// `optgate_consent_changes_total{to}`.
    pub const CONSENT_STATUSES: [&str; 4] = ["active", "pending", "refused", "none"];
    /// `optgate_responses_sent_total{kind}`.
    pub const RESPONSE_KINDS: [&str; 5] = [
        "opt_in_request",
        "opt_in_response",
        "opt_out_response",
        "help",
        "footer",
    ];
    /// `optgate_connections_refused_total{reason}`.
    pub const REFUSAL_REASONS: [&str; 1] = ["max_connections"];
    /// `side` of `optgate_pdus_total` and `optgate_inflight_requests`.
    pub const SIDES: [&str; 2] = ["platform", "carrier"];
    /// `direction` of `optgate_pdus_total`.
    pub const DIRECTIONS: [&str; 2] = ["in", "out"];
    /// `reason` of `optgate_tls_handshake_failures_total` (what
    /// `crate::tls::failure_reason` returns).
    pub const TLS_FAILURE_REASONS: [&str; 13] = [
        "timeout",
        "not_tls",
        "no_client_certificate",
        "expired",
        "not_yet_valid",
        "unknown_ca",
        "wrong_name",
        "bad_certificate",
        "alert_received",
        "incompatible",
        "closed",
        "io",
        "other",
    ];
}

/// Exports every series whose label values are known in advance, so a fresh
/// daemon's first scrape already shows them (at 0): every label value of
/// the counters above, `optgate_pdus_total` for every SMPP 3.4 command,
/// the platform `optgate_binds` of each configured account and
/// `optgate_upstream_up` of each carrier bind. Called at start and, for
/// accounts added by a reload, again on SIGHUP. A series that already has a
/// value keeps it (counters and gauges move by 0).
pub fn export_known<'a>(accounts: impl IntoIterator<Item = &'a str>, upstream_binds: usize) {
    use labels::*;
    super::install();
    let _ = super::hot();
    let zero = |c: Counter| c.increment(0);
    let zero_gauge = |g: Gauge| g.increment(0.0);
    for outcome in MT_OUTCOMES {
        zero(metrics::counter!("optgate_mt_total", "outcome" => outcome));
    }
    for class in KEYWORD_CLASSES {
        zero(metrics::counter!("optgate_keywords_total", "class" => class));
    }
    for to in CONSENT_STATUSES {
        zero(metrics::counter!("optgate_consent_changes_total", "to" => to));
    }
    for kind in RESPONSE_KINDS {
        zero(metrics::counter!("optgate_responses_sent_total", "kind" => kind));
    }
    // Only the opt-out confirmation is sent at most once.
    zero(metrics::counter!("optgate_responses_uncertain_total", "kind" => "opt_out_response"));
    zero(metrics::counter!("optgate_responses_missed_total", "kind" => "opt_out_response"));
    for what in ["events", "deliveries"] {
        zero(metrics::counter!("optgate_retention_purged_total", "what" => what));
    }
    for outcome in ["delivered", "retried", "rejected", "expired"] {
        zero(metrics::counter!("optgate_webhook_deliveries_total", "outcome" => outcome));
    }
    for side in SIDES {
        for reason in TLS_FAILURE_REASONS {
            zero(
                metrics::counter!("optgate_tls_handshake_failures_total", "side" => side, "reason" => reason),
            );
        }
    }
    for reason in REFUSAL_REASONS {
        zero(metrics::counter!("optgate_connections_refused_total", "reason" => reason));
    }
    for side in SIDES {
        zero_gauge(metrics::gauge!("optgate_inflight_requests", "side" => side));
        for direction in DIRECTIONS {
            for cid in crate::pdu::command::ALL {
                zero(
                    metrics::counter!("optgate_pdus_total", "side" => side, "direction" => direction, "command" => crate::pdu::command::command_name(cid)),
                );
            }
        }
    }
    zero(metrics::counter!("optgate_failed_binds_total"));
    zero(metrics::counter!("optgate_unroutable_total"));
    zero_gauge(metrics::gauge!("optgate_held_messages"));
    zero_gauge(metrics::gauge!("optgate_stored_deliveries"));
    for path in ["direct", "stored"] {
        zero(metrics::counter!("optgate_deliveries_total", "path" => path));
    }
    for account in accounts {
        zero_gauge(
            metrics::gauge!("optgate_binds", "side" => "platform", "account" => account.to_owned()),
        );
    }
    for bind in 0..upstream_binds {
        zero_gauge(metrics::gauge!("optgate_upstream_up", "bind" => bind.to_string()));
    }
}
