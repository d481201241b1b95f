//! Load benchmark (not a timed test): the coordinator in-process on a SQLite file, mock workers
//! that answer instantly over real WebSockets, and concurrent HTTP clients. Prints jobs/s,
//! end-to-end latency percentiles and the dispatch-latency histogram.
//!
//! `cargo bench -p assay-coordinator --bench load [-- JOBS CLIENTS WORKERS P]`

use std::time::{Duration, Instant};

use alloy_primitives::{B256, keccak256};
use alloy_signer::SignerSync;
use alloy_signer_local::PrivateKeySigner;
use assay_coordinator::Config;
use assay_protocol::job::{JobSpec, Output};
use assay_protocol::math::records::validation_commitment;
use assay_protocol::wire::{
    CoordinatorMsg, PROTOCOL_VERSION, Receipt, Role, SignedReceipt, WorkerMsg, hello_digest,
};
use futures::{SinkExt, StreamExt};
use tokio_tungstenite::tungstenite::Message;

const MODEL: B256 = B256::repeat_byte(0x11);

fn frame(msg: &WorkerMsg) -> Message {
    Message::Text(serde_json::to_string(msg).expect("serialise").into())
}

/// A worker that answers every job at once with a canned output.
async fn mock_worker(url: String) {
    let signer = PrivateKeySigner::random();
    let (mut ws, _) = tokio_tungstenite::connect_async(url).await.expect("connect");
    let Some(Ok(Message::Text(t))) = ws.next().await else { panic!("no challenge") };
    let CoordinatorMsg::Challenge { nonce, chain_id, .. } = serde_json::from_str(&t).unwrap()
    else {
        panic!("{t}")
    };
    let address = signer.address();
    let signature =
        signer.sign_message_sync(hello_digest(chain_id, nonce, address).as_slice()).unwrap();
    let hello = WorkerMsg::Hello {
        worker: address,
        signature,
        protocol: PROTOCOL_VERSION,
        models: vec![MODEL],
        slots: 256,
        tokens_per_sec: 1e6,
    };
    ws.send(frame(&hello)).await.unwrap();
    let mut salts = std::collections::HashMap::new();
    while let Some(Ok(msg)) = ws.next().await {
        let Message::Text(t) = msg else { continue };
        match serde_json::from_str::<CoordinatorMsg>(t.as_str()).unwrap() {
            CoordinatorMsg::Execute(a) => {
                let JobSpec::Generate { messages, .. } = &a.spec else { continue };
                let output = Output {
                    tokens: vec![messages.iter().map(|m| m.content.len() as u32).sum()],
                    embedding: vec![],
                    text: "ok".into(),
                    prompt_tokens: None,
                };
                let hash = output.hash();
                let receipt = Receipt {
                    job_key: a.job_key,
                    model_id: a.model_id,
                    input_root: a.spec.input_root(),
                    output_hash: hash,
                    trace_root: keccak256(hash),
                    worker: address,
                };
                let signature =
                    signer.sign_message_sync(receipt.digest(chain_id).as_slice()).unwrap();
                let receipt = SignedReceipt { receipt, signature };
                let reply = match a.role {
                    Role::Asserter => WorkerMsg::Result { job_id: a.job_id, output, receipt },
                    // Mock workers have no chain (and the bench settles nothing on chain).
                    Role::ChainValidator { .. } => continue,
                    Role::Validator => {
                        let salt = B256::random();
                        let trace = receipt.receipt.trace_root;
                        let commitment =
                            validation_commitment(a.job_key, address, hash, trace, salt);
                        salts.insert(a.job_id.clone(), (salt, receipt));
                        WorkerMsg::Committed { job_id: a.job_id, commitment }
                    }
                };
                ws.send(frame(&reply)).await.unwrap();
            }
            CoordinatorMsg::Reveal { job_id } => {
                if let Some((salt, receipt)) = salts.remove(&job_id) {
                    ws.send(frame(&WorkerMsg::Revealed { job_id, salt, receipt })).await.unwrap();
                }
            }
            _ => {}
        }
    }
}

fn percentile(sorted: &[Duration], p: f64) -> Duration {
    sorted[((sorted.len() as f64 * p).ceil() as usize).clamp(1, sorted.len()) - 1]
}

#[tokio::main]
async fn main() {
    let args: Vec<String> = std::env::args().skip(1).filter(|a| !a.starts_with('-')).collect();
    let arg = |i: usize, d: f64| args.get(i).and_then(|s| s.parse().ok()).unwrap_or(d);
    let (jobs, clients, workers, p) =
        (arg(0, 4000.0) as usize, arg(1, 64.0) as usize, arg(2, 3.0) as usize, arg(3, 0.1));
    let dir = tempfile::tempdir().unwrap();
    let mut config = Config::test(&dir.path().join("bench.db"))
        .with_model("bench", MODEL)
        .with_sampling(p, 2)
        .with_queue_size(jobs.max(1024));
    config.heartbeat_secs = 30;
    let coord = assay_coordinator::spawn(config).await.unwrap();
    for _ in 0..workers {
        tokio::spawn(mock_worker(coord.workers_url()));
    }
    let http = reqwest::Client::new();
    let health = coord.url() + "/health";
    while !http
        .get(&health)
        .send()
        .await
        .unwrap()
        .text()
        .await
        .unwrap()
        .contains(&format!("\"workers\":{workers}"))
    {
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    let url = coord.url() + "/v1/chat/completions";
    let started = Instant::now();
    let mut tasks = Vec::new();
    for c in 0..clients {
        let (http, url) = (http.clone(), url.clone());
        let share = jobs / clients + usize::from(c < jobs % clients);
        tasks.push(tokio::spawn(async move {
            let mut latencies = Vec::with_capacity(share);
            for i in 0..share {
                let body = format!(
                    r#"{{"model":"bench","messages":[{{"role":"user","content":"job {c} {i}"}}],"max_tokens":4}}"#
                );
                let t = Instant::now();
                let resp = http.post(&url).bearer_auth("sk-assay-dev").body(body).send().await.unwrap();
                assert_eq!(resp.status(), 200, "{}", resp.text().await.unwrap());
                resp.bytes().await.unwrap();
                latencies.push(t.elapsed());
            }
            latencies
        }));
    }
    let mut latencies = Vec::with_capacity(jobs);
    for t in tasks {
        latencies.extend(t.await.unwrap());
    }
    let elapsed = started.elapsed();
    latencies.sort();
    println!(
        "{jobs} jobs, {clients} clients, {workers} mock workers, p = {p}: {:.0} jobs/s; request latency p50 {:?}, p99 {:?}, max {:?}",
        jobs as f64 / elapsed.as_secs_f64(),
        percentile(&latencies, 0.5),
        percentile(&latencies, 0.99),
        latencies.last().unwrap(),
    );
    let metrics = http.get(coord.url() + "/metrics").send().await.unwrap().text().await.unwrap();
    println!("dispatch latency (submission → assignment), cumulative buckets:");
    for line in metrics.lines().filter(|l| l.starts_with("assay_dispatch_seconds")) {
        println!("  {line}");
    }
    coord.shutdown().await;
}
