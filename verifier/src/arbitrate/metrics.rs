//! The arbitrator's counters, served as Prometheus text on `GET /metrics`.

use std::{
    net::SocketAddr,
    sync::{
        Arc,
        atomic::{AtomicU64, Ordering},
    },
};

use crate::{Error, Result};

/// Counters since the process started.
#[derive(Debug, Default)]
pub struct Metrics {
    /// The last block scanned.
    pub head: AtomicU64,
    /// Jobs replayed.
    pub checked: AtomicU64,
    /// Jobs whose replay agreed with the assertion.
    pub agreed: AtomicU64,
    /// Bonded claims sent.
    pub claims: AtomicU64,
    /// Games ended, by outcome: won, lost, no verdict (both wrong counts as lost).
    pub won: AtomicU64,
    /// Games lost.
    pub lost: AtomicU64,
    /// Games without a verdict.
    pub no_verdict: AtomicU64,
    /// Failed steps (a chain call, a record fetch), retried on the next scan.
    pub errors: AtomicU64,
}

impl Metrics {
    /// Adds one to `counter`.
    pub fn bump(counter: &AtomicU64) {
        counter.fetch_add(1, Ordering::Relaxed);
    }

    /// The Prometheus text exposition.
    pub fn render(&self) -> String {
        let get = |c: &AtomicU64| c.load(Ordering::Relaxed);
        let mut out = String::new();
        let mut metric = |name: &str, kind: &str, help: &str, lines: &[(String, u64)]| {
            out.push_str(&format!("# HELP {name} {help}\n# TYPE {name} {kind}\n"));
            for (labels, value) in lines {
                out.push_str(&format!("{name}{labels} {value}\n"));
            }
        };
        metric(
            "assay_arbitrator_head_block",
            "gauge",
            "The last block scanned.",
            &[(String::new(), get(&self.head))],
        );
        metric(
            "assay_arbitrator_jobs_checked_total",
            "counter",
            "Jobs replayed.",
            &[(String::new(), get(&self.checked))],
        );
        metric(
            "assay_arbitrator_jobs_agreed_total",
            "counter",
            "Jobs whose replay agreed with the assertion.",
            &[(String::new(), get(&self.agreed))],
        );
        metric(
            "assay_arbitrator_claims_total",
            "counter",
            "Bonded claims sent.",
            &[(String::new(), get(&self.claims))],
        );
        metric(
            "assay_arbitrator_games_total",
            "counter",
            "Games ended, by outcome.",
            &[
                ("{outcome=\"won\"}".into(), get(&self.won)),
                ("{outcome=\"lost\"}".into(), get(&self.lost)),
                ("{outcome=\"no_verdict\"}".into(), get(&self.no_verdict)),
            ],
        );
        metric(
            "assay_arbitrator_errors_total",
            "counter",
            "Failed steps, retried on the next scan.",
            &[(String::new(), get(&self.errors))],
        );
        out
    }
}

/// Serves `metrics` on `addr` (`GET /metrics`) until the process ends; returns the bound
/// address (port 0 picks one).
///
/// # Errors
/// [`Error::Runtime`] when the address cannot be bound.
pub async fn serve(addr: SocketAddr, metrics: Arc<Metrics>) -> Result<SocketAddr> {
    let listener = tokio::net::TcpListener::bind(addr)
        .await
        .map_err(|e| Error::Runtime(format!("metrics on {addr}: {e}")))?;
    let bound = listener.local_addr().map_err(|e| Error::Runtime(e.to_string()))?;
    let app = axum::Router::new().route(
        "/metrics",
        axum::routing::get(move || {
            let metrics = metrics.clone();
            async move { metrics.render() }
        }),
    );
    tokio::spawn(async move { axum::serve(listener, app).await });
    Ok(bound)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn counters_render_as_prometheus_text() {
        let m = Metrics::default();
        Metrics::bump(&m.claims);
        Metrics::bump(&m.won);
        m.head.store(42, Ordering::Relaxed);
        let text = m.render();
        assert!(text.contains("assay_arbitrator_head_block 42\n"), "{text}");
        assert!(text.contains("assay_arbitrator_claims_total 1\n"), "{text}");
        assert!(text.contains("assay_arbitrator_games_total{outcome=\"won\"} 1\n"), "{text}");
        assert!(text.contains("assay_arbitrator_games_total{outcome=\"lost\"} 0\n"), "{text}");
        assert!(text.contains("# TYPE assay_arbitrator_errors_total counter\n"), "{text}");
    }
}
