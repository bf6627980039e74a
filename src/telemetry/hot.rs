//! The hot path's metrics: PDU counters by side, direction and command,
//! a connection's local counts and histograms published once per loop turn,
//! the in-flight gauge shares, and optgate's own latency histograms.

use super::*;

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
    /// `optgate_deliveries_total{path="direct"}`.
    delivered_direct: Counter,
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
            delivered_direct: metrics::counter!("optgate_deliveries_total", "path" => "direct"),
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
    /// `optgate_deliveries_total{path="direct"}`.
    pub delivered_direct: u32,
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
            delivered_direct: 0,
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
        if self.delivered_direct > 0 {
            hot()
                .delivered_direct
                .increment(u64::from(std::mem::take(&mut self.delivered_direct)));
        }
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
    pub(super) name: &'static str,
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
pub(super) static OWN: [&OwnHist; 2] = [&UPSTREAM_RESPONSE, &ADDED_LATENCY];

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
