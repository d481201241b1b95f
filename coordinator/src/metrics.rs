//! Counters rendered in the Prometheus text format at `/metrics` (hand-written: a handful of
//! atomics, no exporter dependency).

use std::{
    fmt::Write as _,
    sync::atomic::{AtomicU64, Ordering::Relaxed},
};

/// Upper bounds (seconds) of the dispatch-latency histogram buckets.
const BUCKETS: [f64; 8] = [0.0005, 0.001, 0.0025, 0.005, 0.01, 0.05, 0.25, 1.0];

/// The coordinator's counters.
#[derive(Debug, Default)]
pub struct Metrics {
    /// Jobs accepted over HTTP.
    pub jobs_submitted: AtomicU64,
    /// Jobs whose asserter result came back valid.
    pub jobs_asserted: AtomicU64,
    /// Jobs failed.
    pub jobs_failed: AtomicU64,
    /// Jobs re-queued after an asserter failed, timed out or disconnected.
    pub jobs_reassigned: AtomicU64,
    /// Challenges started.
    pub challenges: AtomicU64,
    /// Challenges where every validator agreed.
    pub matched: AtomicU64,
    /// Challenges with a differing hash.
    pub disputed: AtomicU64,
    /// Records disputed off chain opened on chain for the bonded claims against them.
    pub escalated: AtomicU64,
    /// Canary jobs sent.
    pub canaries_sent: AtomicU64,
    /// Canary jobs answered wrongly.
    pub canaries_failed: AtomicU64,
    /// Receipts or reveals refused.
    pub invalid_receipts: AtomicU64,
    /// Workers connected now.
    pub workers: AtomicU64,
    /// Jobs waiting for an asserter now.
    pub queued: AtomicU64,
    /// Handshakes refused.
    pub handshakes_rejected: AtomicU64,
    /// Epoch seeds committed on chain (`commitEpochSeed`).
    pub epoch_seeds_committed: AtomicU64,
    /// Epoch seeds revealed on chain (`revealEpochSeed`).
    pub epoch_seeds_revealed: AtomicU64,
    dispatch_buckets: [AtomicU64; BUCKETS.len()],
    dispatch_count: AtomicU64,
    dispatch_sum_us: AtomicU64,
}

impl Metrics {
    /// Adds one to a counter.
    pub fn inc(counter: &AtomicU64) {
        counter.fetch_add(1, Relaxed);
    }

    /// Sets a gauge.
    pub fn set(gauge: &AtomicU64, value: usize) {
        gauge.store(u64::try_from(value).unwrap_or(u64::MAX), Relaxed);
    }

    /// Records the time from submission to assignment.
    pub fn observe_dispatch(&self, elapsed: std::time::Duration) {
        let secs = elapsed.as_secs_f64();
        for (bound, bucket) in BUCKETS.iter().zip(&self.dispatch_buckets) {
            if secs <= *bound {
                bucket.fetch_add(1, Relaxed);
            }
        }
        self.dispatch_count.fetch_add(1, Relaxed);
        self.dispatch_sum_us
            .fetch_add(u64::try_from(elapsed.as_micros()).unwrap_or(u64::MAX), Relaxed);
    }

    /// The Prometheus text exposition.
    pub fn render(&self) -> String {
        let mut out = String::new();
        let counters: [(&str, &AtomicU64, &str, &str); 16] = [
            (
                "assay_jobs_submitted_total",
                &self.jobs_submitted,
                "counter",
                "Jobs accepted over HTTP.",
            ),
            (
                "assay_jobs_asserted_total",
                &self.jobs_asserted,
                "counter",
                "Valid asserter results.",
            ),
            ("assay_jobs_failed_total", &self.jobs_failed, "counter", "Jobs failed."),
            ("assay_jobs_reassigned_total", &self.jobs_reassigned, "counter", "Jobs re-queued."),
            ("assay_challenges_total", &self.challenges, "counter", "Challenges started."),
            ("assay_challenges_matched_total", &self.matched, "counter", "Challenges matched."),
            ("assay_challenges_disputed_total", &self.disputed, "counter", "Challenges disputed."),
            (
                "assay_disputes_escalated_total",
                &self.escalated,
                "counter",
                "Off-chain disputes opened on chain for bonded claims.",
            ),
            ("assay_canaries_sent_total", &self.canaries_sent, "counter", "Canary jobs sent."),
            (
                "assay_canaries_failed_total",
                &self.canaries_failed,
                "counter",
                "Canaries answered wrongly.",
            ),
            (
                "assay_invalid_receipts_total",
                &self.invalid_receipts,
                "counter",
                "Receipts refused.",
            ),
            (
                "assay_handshakes_rejected_total",
                &self.handshakes_rejected,
                "counter",
                "Handshakes refused.",
            ),
            (
                "assay_epoch_seeds_committed_total",
                &self.epoch_seeds_committed,
                "counter",
                "Epoch seeds committed on chain.",
            ),
            (
                "assay_epoch_seeds_revealed_total",
                &self.epoch_seeds_revealed,
                "counter",
                "Epoch seeds revealed on chain.",
            ),
            ("assay_workers_connected", &self.workers, "gauge", "Workers connected."),
            ("assay_jobs_queued", &self.queued, "gauge", "Jobs waiting for an asserter."),
        ];
        for (name, value, kind, help) in counters {
            let _ = writeln!(
                out,
                "# HELP {name} {help}\n# TYPE {name} {kind}\n{name} {}",
                value.load(Relaxed)
            );
        }
        let name = "assay_dispatch_seconds";
        let _ = writeln!(
            out,
            "# HELP {name} Time from submission to assignment.\n# TYPE {name} histogram"
        );
        for (bound, bucket) in BUCKETS.iter().zip(&self.dispatch_buckets) {
            let _ = writeln!(out, "{name}_bucket{{le=\"{bound}\"}} {}", bucket.load(Relaxed));
        }
        let count = self.dispatch_count.load(Relaxed);
        let _ = writeln!(out, "{name}_bucket{{le=\"+Inf\"}} {count}");
        let _ = writeln!(out, "{name}_sum {}", self.dispatch_sum_us.load(Relaxed) as f64 / 1e6);
        let _ = writeln!(out, "{name}_count {count}");
        out
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn renders_counters_and_cumulative_buckets() {
        let m = Metrics::default();
        Metrics::inc(&m.jobs_submitted);
        Metrics::inc(&m.epoch_seeds_revealed);
        m.observe_dispatch(std::time::Duration::from_micros(700));
        let text = m.render();
        assert!(text.contains("assay_jobs_submitted_total 1"));
        assert!(text.contains("assay_epoch_seeds_committed_total 0"));
        assert!(text.contains("# TYPE assay_epoch_seeds_revealed_total counter"));
        assert!(text.contains("assay_epoch_seeds_revealed_total 1"));
        assert!(text.contains("assay_dispatch_seconds_bucket{le=\"0.0005\"} 0"));
        assert!(text.contains("assay_dispatch_seconds_bucket{le=\"0.001\"} 1"));
        assert!(text.contains("assay_dispatch_seconds_count 1"));
    }
}
