//! The worker channel: handshake, heartbeats, reassignment.

use std::{
    collections::BTreeMap,
    sync::{Arc, Mutex},
};

use alloy_primitives::{Address, B256, U256};
use alloy_signer::SignerSync;
use alloy_signer_local::PrivateKeySigner;
use assay_coordinator::chain::{Chain, ChainFuture};
use assay_protocol::wire::{
    CoordinatorMsg, ENGINE_PANICKED, PROTOCOL_VERSION, WorkerMsg, hello_digest,
};
use futures::{SinkExt, StreamExt};
use tokio_tungstenite::tungstenite::Message;

use crate::common::*;

/// Sends a hello built by `edit` and returns the coordinator's answer.
async fn handshake(
    coord: &Coord,
    signer: &PrivateKeySigner,
    edit: impl FnOnce(WorkerMsg, alloy_primitives::B256, u64) -> WorkerMsg,
) -> CoordinatorMsg {
    let (mut ws, _) = tokio_tungstenite::connect_async(coord.ws_url()).await.unwrap();
    let Some(Ok(Message::Text(t))) = ws.next().await else { panic!("no challenge") };
    let CoordinatorMsg::Challenge { nonce, chain_id, protocol } = serde_json::from_str(&t).unwrap()
    else {
        panic!("{t}")
    };
    assert_eq!((chain_id, protocol), (412_346, PROTOCOL_VERSION));
    let sig = signer
        .sign_message_sync(hello_digest(chain_id, nonce, signer.address()).as_slice())
        .unwrap();
    let hello = WorkerMsg::Hello {
        worker: signer.address(),
        signature: sig,
        protocol: PROTOCOL_VERSION,
        models: vec![MODEL],
        slots: 1,
        tokens_per_sec: 1.0,
    };
    let hello = edit(hello, nonce, chain_id);
    ws.send(Message::Text(serde_json::to_string(&hello).unwrap().into())).await.unwrap();
    let Some(Ok(Message::Text(t))) = ws.next().await else { panic!("no answer") };
    serde_json::from_str(&t).unwrap()
}

#[tokio::test]
async fn handshake_accepts_a_signed_hello_and_rejects_bad_ones() {
    let coord = start(|c| c).await;
    let signer = PrivateKeySigner::random();
    let ok = handshake(&coord, &signer, |h, _, _| h).await;
    assert!(
        matches!(ok, CoordinatorMsg::Welcome { worker, heartbeat_secs: 1 } if worker == signer.address())
    );

    // Signed by another key than the claimed address.
    let other = PrivateKeySigner::random();
    let bad_sig = handshake(&coord, &signer, |h, nonce, chain| {
        let WorkerMsg::Hello { worker, protocol, models, slots, tokens_per_sec, .. } = h else {
            unreachable!()
        };
        let signature =
            other.sign_message_sync(hello_digest(chain, nonce, worker).as_slice()).unwrap();
        WorkerMsg::Hello { worker, signature, protocol, models, slots, tokens_per_sec }
    })
    .await;
    assert!(
        matches!(&bad_sig, CoordinatorMsg::Rejected { reason } if reason.contains("signature")),
        "{bad_sig:?}"
    );

    // A signature over another nonce (a replayed hello).
    let replay = handshake(&coord, &signer, |h, _, chain| {
        let WorkerMsg::Hello { worker, protocol, models, slots, tokens_per_sec, .. } = h else {
            unreachable!()
        };
        let stale = alloy_primitives::B256::repeat_byte(1);
        let signature =
            signer.sign_message_sync(hello_digest(chain, stale, worker).as_slice()).unwrap();
        WorkerMsg::Hello { worker, signature, protocol, models, slots, tokens_per_sec }
    })
    .await;
    assert!(matches!(replay, CoordinatorMsg::Rejected { .. }));

    let wrong_protocol = handshake(&coord, &signer, |h, _, _| match h {
        WorkerMsg::Hello { worker, signature, models, slots, tokens_per_sec, .. } => {
            WorkerMsg::Hello {
                worker,
                signature,
                protocol: PROTOCOL_VERSION + 1,
                models,
                slots,
                tokens_per_sec,
            }
        }
        other => other,
    })
    .await;
    assert!(
        matches!(&wrong_protocol, CoordinatorMsg::Rejected { reason } if reason.contains("protocol"))
    );

    let not_hello = handshake(&coord, &signer, |_, _, _| WorkerMsg::Heartbeat { active: 0 }).await;
    assert!(matches!(not_hello, CoordinatorMsg::Rejected { .. }));
    let (_, metrics) = get(&coord, "/metrics", None).await;
    assert!(metrics.as_str().unwrap().contains("assay_handshakes_rejected_total 4"));
}

/// A chain where only `allowed` is staked.
struct OnlyOne {
    allowed: Address,
}

impl Chain for OnlyOne {
    fn chain_id(&self) -> u64 {
        412_346
    }
    fn is_eligible(&self, worker: Address) -> ChainFuture<'_, bool> {
        let ok = worker == self.allowed;
        Box::pin(async move { Ok(ok) })
    }
    fn weights(&self, workers: Vec<Address>) -> ChainFuture<'_, Vec<U256>> {
        Box::pin(async move { Ok(vec![U256::from(5); workers.len()]) })
    }
    fn served(&self, _worker: Address, models: Vec<B256>) -> ChainFuture<'_, Vec<B256>> {
        Box::pin(async move { Ok(models) })
    }
}

#[tokio::test]
async fn unstaked_workers_are_rejected() {
    let (config, dir) = config();
    let staked = PrivateKeySigner::random();
    let chain = Arc::new(OnlyOne { allowed: staked.address() });
    let handle = assay_coordinator::spawn_with_chain(config, chain, None).await.unwrap();
    let coord = Coord::new(handle, dir);
    let ok = handshake(&coord, &staked, |h, _, _| h).await;
    assert!(matches!(ok, CoordinatorMsg::Welcome { .. }));
    let stranger = PrivateKeySigner::random();
    let no = handshake(&coord, &stranger, |h, _, _| h).await;
    assert!(
        matches!(&no, CoordinatorMsg::Rejected { reason } if reason.contains("eligible")),
        "{no:?}"
    );
}

#[tokio::test]
async fn a_disconnecting_asserter_loses_the_job_to_another_worker() {
    let coord = start(|c| c.with_sampling(0.0, 2)).await;
    let quitter = worker(&coord, Behaviour::DisconnectOnJob).await;
    let request = chat_in_background(&coord, "keep going");
    wait_for(|| async { !quitter.seen.lock().unwrap().is_empty() }).await;
    wait_for(|| async { health(&coord).await["workers"] == 0 }).await;
    let honest = worker(&coord, Behaviour::Honest).await;
    let (status, body) = request.await.unwrap();
    assert_eq!(status, 200, "{body}");
    assert_eq!(body["assay"]["worker"], serde_json::json!(honest.address));
    let job = settled(&coord, body["assay"]["job_id"].as_str().unwrap()).await;
    assert_eq!(job["attempts"], 2);
    assert_eq!(job["status"], "asserted");
}

/// A job whose execution ends its asserter's connection abruptly (a worker process killed, out
/// of memory) goes to one more worker; when that one is lost too the job fails with
/// `job_crashed_workers`, and no third worker ever gets it.
#[tokio::test]
async fn a_job_that_crashes_two_workers_fails_and_never_reaches_a_third() {
    let coord = start(|c| c.with_sampling(0.0, 2)).await;
    let first = worker(&coord, Behaviour::CrashOnJob).await;
    let second = worker(&coord, Behaviour::CrashOnJob).await;
    wait_for(|| async { health(&coord).await["workers"] == 2 }).await;
    let (status, body) = post(&coord, "/v1/chat/completions", chat_body("poison")).await;
    assert_eq!(status, 502, "{body}");
    assert_envelope(&body, "job_crashed_workers");
    let id = first.seen.lock().unwrap().first().cloned().expect("the first worker got the job");
    assert_eq!(*second.seen.lock().unwrap(), vec![id.clone()]);
    let message = body["error"]["message"].as_str().unwrap();
    assert!(
        message.starts_with(&format!("job {id} failed: running it ended 2 workers' connections (")),
        "{message}"
    );
    assert!(message.ends_with("it was not retried further"), "{message}");
    for lost in [first.address, second.address] {
        assert!(
            message.contains(&format!("{lost}: connection ended without a close frame")),
            "{message}"
        );
    }
    let job = settled(&coord, &id).await;
    assert_eq!(job["status"], "failed");
    assert_eq!(job["attempts"], 2);
    assert!(
        job["error"].as_str().unwrap().starts_with("job_crashed_workers: running it ended 2"),
        "{job}"
    );

    // A third worker joins: it serves new jobs, and the failed one never reaches it.
    let third = worker(&coord, Behaviour::Honest).await;
    let (status, body) = post(&coord, "/v1/chat/completions", chat_body("fine")).await;
    assert_eq!(status, 200, "{body}");
    assert_eq!(body["assay"]["worker"], serde_json::json!(third.address));
    assert_eq!(*third.seen.lock().unwrap(), vec![body["assay"]["job_id"].as_str().unwrap()]);
}

/// A graceful disconnect (close frame) is not counted against the job: after one asserter lost
/// abruptly and one that closed its socket, the job still goes to a third worker and succeeds.
#[tokio::test]
async fn a_graceful_disconnect_is_not_a_crash_and_the_job_is_still_reassigned() {
    let coord = start(|c| c.with_sampling(0.0, 2)).await;
    let crasher = worker(&coord, Behaviour::CrashOnJob).await;
    let quitter = worker(&coord, Behaviour::DisconnectOnJob).await;
    wait_for(|| async { health(&coord).await["workers"] == 2 }).await;
    let request = chat_in_background(&coord, "keep going");
    // Whichever got it first, both lose it; then nobody serves the model until a third joins.
    wait_for(|| async { health(&coord).await["workers"] == 0 }).await;
    assert_eq!(crasher.seen.lock().unwrap().len(), 1);
    assert_eq!(*quitter.seen.lock().unwrap(), *crasher.seen.lock().unwrap());
    let honest = worker(&coord, Behaviour::Honest).await;
    let (status, body) = request.await.unwrap();
    assert_eq!(status, 200, "{body}");
    assert_eq!(body["assay"]["worker"], serde_json::json!(honest.address));
    let job = settled(&coord, body["assay"]["job_id"].as_str().unwrap()).await;
    assert_eq!(job["attempts"], 3);
    assert_eq!(job["status"], "asserted");
}

/// A worker that reports the engine panicked on the job (it survives: the panic is caught)
/// counts like a lost one: two such reports fail the job with `job_crashed_workers`.
#[tokio::test]
async fn engine_panics_on_two_workers_fail_the_job() {
    let coord = start(|c| c.with_sampling(0.0, 2)).await;
    let mut x = Scripted::connect(&coord).await;
    let mut y = Scripted::connect(&coord).await;
    wait_for(|| async { health(&coord).await["workers"] == 2 }).await;
    let request = chat_in_background(&coord, "panic");
    let (a, first, second) = asserter_of(&mut x, &mut y).await;
    let panicked = |job_id: &str| WorkerMsg::Failed {
        job_id: job_id.into(),
        error: format!("{ENGINE_PANICKED}: index out of bounds"),
    };
    first.send(panicked(&a.job_id));
    let again = second.assignment(std::time::Duration::from_secs(10)).await.expect("reassigned");
    assert_eq!(again.job_id, a.job_id);
    second.send(panicked(&a.job_id));
    let (status, body) = request.await.unwrap();
    assert_eq!(status, 502, "{body}");
    assert_envelope(&body, "job_crashed_workers");
    let message = body["error"]["message"].as_str().unwrap();
    assert!(
        message.contains(&format!("{}: engine panicked: index out of bounds", first.address)),
        "{message}"
    );
    assert!(first.assignment(std::time::Duration::from_millis(300)).await.is_none());
}

#[tokio::test]
async fn a_silent_worker_is_dropped_and_its_job_reassigned() {
    let coord = start(|c| c.with_sampling(0.0, 2)).await;
    let silent = worker(&coord, Behaviour::Blackhole).await;
    let request = chat_in_background(&coord, "are you there");
    wait_for(|| async { !silent.seen.lock().unwrap().is_empty() }).await;
    // No heartbeat for 3 intervals (1 s each here): dropped while its socket stays open.
    wait_for(|| async { health(&coord).await["workers"] == 0 }).await;
    let honest = worker(&coord, Behaviour::Honest).await;
    let (status, body) = request.await.unwrap();
    assert_eq!(status, 200, "{body}");
    assert_eq!(body["assay"]["worker"], serde_json::json!(honest.address));
}

trait JsonValue {
    async fn json_value(self) -> serde_json::Value;
}

impl JsonValue for reqwest::Response {
    async fn json_value(self) -> serde_json::Value {
        let text = self.text().await.unwrap();
        serde_json::from_str(&text).unwrap_or(serde_json::Value::String(text))
    }
}

#[tokio::test]
async fn a_stalled_asserter_times_out_and_a_forged_receipt_is_refused() {
    let coord = start(|mut c| {
        c.assert_timeout_ms = 400;
        c.with_sampling(0.0, 2)
    })
    .await;
    let stall = worker(&coord, Behaviour::Stall).await;
    let forger = worker(&coord, Behaviour::ForgedReceipt).await;
    let request = chat_in_background(&coord, "who answers");
    // Both bad workers get the job once (timeout, then refused receipt), then it fails: 3
    // attempts, and the third goes to one of them again.
    let (status, body) = request.await.unwrap();
    assert_eq!(status, 502, "{body}");
    assert_envelope(&body, "job_failed");
    assert!(!stall.seen.lock().unwrap().is_empty());
    assert!(!forger.seen.lock().unwrap().is_empty());
    let flags = raised_flags(&coord).await;
    assert!(
        flags.iter().all(|f| f["worker"] == serde_json::json!(forger.address)
            && f["reason"].as_str().unwrap().contains("signature")),
        "{flags:?}"
    );
    let id = flags[0]["job_id"].as_str().unwrap();
    let job = settled(&coord, id).await;
    assert_eq!(job["status"], "failed");
    assert_eq!(job["attempts"], 3);
    assert!(job["error"].is_string());
    let (status, body) = get(&coord, &format!("/v1/jobs/{id}/record"), Some(KEY)).await;
    assert_eq!(status, 409, "a failed job has nothing to replay: {body}");
    assert_envelope(&body, "job_not_asserted");

    // An honest worker joins: the next job succeeds even if a bad one is drawn first.
    let honest = worker(&coord, Behaviour::Honest).await;
    let (status, body) = post(&coord, "/v1/chat/completions", chat_body("now")).await;
    assert_eq!(status, 200, "{body}");
    assert_eq!(body["assay"]["worker"], serde_json::json!(honest.address));
}

/// A chain where every worker is staked and the test sets the weights (1 until set) and which
/// workers have lost their registry slots (none until set).
#[derive(Default)]
struct SetWeights {
    weights: Mutex<BTreeMap<Address, U256>>,
    unserved: Mutex<std::collections::BTreeSet<Address>>,
}

impl Chain for SetWeights {
    fn chain_id(&self) -> u64 {
        412_346
    }
    fn is_eligible(&self, _worker: Address) -> ChainFuture<'_, bool> {
        Box::pin(async { Ok(true) })
    }
    fn weights(&self, workers: Vec<Address>) -> ChainFuture<'_, Vec<U256>> {
        let set = self.weights.lock().unwrap();
        let w = workers.iter().map(|a| set.get(a).copied().unwrap_or(U256::from(1))).collect();
        Box::pin(async move { Ok(w) })
    }
    fn served(&self, worker: Address, models: Vec<B256>) -> ChainFuture<'_, Vec<B256>> {
        let gone = self.unserved.lock().unwrap().contains(&worker);
        Box::pin(async move { Ok(if gone { Vec::new() } else { models }) })
    }
}

/// A coordinator on a [`SetWeights`] chain that re-reads it every second, with two honest
/// workers connected.
async fn two_workers_on_a_set_chain() -> (Coord, Arc<SetWeights>, Worker, Worker) {
    let (mut config, dir) = config();
    config = config.with_sampling(0.0, 2);
    config.weights_refresh_secs = 1;
    let chain = Arc::new(SetWeights::default());
    let handle = assay_coordinator::spawn_with_chain(config, chain.clone(), None).await.unwrap();
    let coord = Coord::new(handle, dir);
    let (a, b) = (worker(&coord, Behaviour::Honest).await, worker(&coord, Behaviour::Honest).await);
    wait_for(|| async { health(&coord).await["workers"] == 2 }).await;
    (coord, chain, a, b)
}

/// After the next refresh, `n` jobs all go to `other`, none to `left_out`.
async fn only_the_other_asserts(coord: &Coord, left_out: &Worker, other: &Worker, n: usize) {
    tokio::time::sleep(std::time::Duration::from_millis(2_500)).await;
    let before = left_out.asserted.load(std::sync::atomic::Ordering::SeqCst);
    for i in 0..n {
        let (status, body) =
            post(coord, "/v1/chat/completions", chat_body(&format!("job {i}"))).await;
        assert_eq!(status, 200, "{body}");
        assert_eq!(body["assay"]["worker"], serde_json::json!(other.address));
    }
    assert_eq!(left_out.asserted.load(std::sync::atomic::Ordering::SeqCst), before);
}

/// A miner that loses its registry slot (displaced by a heavier one, or evicted) gets none of
/// the model's jobs from the next refresh on, and a miner without a slot is refused at its
/// handshake.
#[tokio::test]
async fn a_worker_without_a_registry_slot_gets_no_jobs() {
    let (coord, chain, displaced, other) = two_workers_on_a_set_chain().await;
    chain.unserved.lock().unwrap().insert(displaced.address);
    only_the_other_asserts(&coord, &displaced, &other, 8).await;

    let stranger = PrivateKeySigner::random();
    chain.unserved.lock().unwrap().insert(stranger.address());
    let refused = handshake(&coord, &stranger, |h, _, _| h).await;
    assert!(
        matches!(&refused, CoordinatorMsg::Rejected { reason } if reason.contains("serves none of its models on chain")),
        "{refused:?}"
    );
}

#[tokio::test]
async fn a_worker_whose_weight_falls_to_zero_on_chain_gets_no_more_work() {
    let (coord, chain, frozen, other) = two_workers_on_a_set_chain().await;
    // Frozen on chain: its weight reads zero at the next refresh.
    chain.weights.lock().unwrap().insert(frozen.address, U256::ZERO);
    only_the_other_asserts(&coord, &frozen, &other, 8).await;
    let before = frozen.asserted.load(std::sync::atomic::Ordering::SeqCst);

    // Unfrozen: it is drawn again.
    chain.weights.lock().unwrap().insert(frozen.address, U256::from(1_000_000u64));
    tokio::time::sleep(std::time::Duration::from_millis(2_500)).await;
    for i in 0..4 {
        let (status, body) =
            post(&coord, "/v1/chat/completions", chat_body(&format!("back {i}"))).await;
        assert_eq!(status, 200, "{body}");
    }
    assert!(frozen.asserted.load(std::sync::atomic::Ordering::SeqCst) > before, "weight 10^6 : 1");
}

/// A chat completion sent from its own task, for tests that act while it waits: its status and
/// body.
fn chat_in_background(
    coord: &Coord,
    prompt: &str,
) -> tokio::task::JoinHandle<(u16, serde_json::Value)> {
    let (url, body) = (coord.url("/v1/chat/completions"), chat_body(prompt).to_string());
    tokio::spawn(async move {
        let resp =
            reqwest::Client::new().post(url).bearer_auth(KEY).body(body).send().await.unwrap();
        (resp.status().as_u16(), resp.json_value().await)
    })
}
