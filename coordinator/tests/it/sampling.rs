//! Proof of Sampling: challenged jobs, commit-reveal validators, disputes, canaries.

use serde_json::{Value, json};

use crate::common::*;

async fn chat(coord: &Coord, prompt: &str) -> Value {
    let (status, body) = post(coord, "/v1/chat/completions", chat_body(prompt)).await;
    assert_eq!(status, 200, "{body}");
    body
}

#[tokio::test]
async fn honest_validators_match() {
    let coord = start(|c| c.with_sampling(1.0, 2)).await;
    let workers = [
        worker(&coord, Behaviour::Honest).await,
        worker(&coord, Behaviour::Honest).await,
        worker(&coord, Behaviour::Honest).await,
    ];
    for i in 0..3 {
        let body = chat(&coord, &format!("job number {i}")).await;
        let job = settled(&coord, body["assay"]["job_id"].as_str().unwrap()).await;
        assert_eq!(job["status"], "matched", "{job}");
        let validators = job["validators"].as_array().unwrap();
        assert_eq!(validators.len(), 2, "{job}");
        for v in validators {
            assert_eq!(v["state"], "agreed", "{job}");
            assert_eq!(v["output_hash"], job["output_hash"]);
            assert!(
                v["commitment"].is_string() && v["salt"].is_string() && v["receipt"].is_object()
            );
            assert_ne!(v["address"], job["asserter"], "the asserter never validates itself");
        }
        assert_eq!(job["suspects"], json!([]));
    }
    assert!(flags(&coord).await.is_empty());
    let seen: usize = workers.iter().map(|w| w.seen.lock().unwrap().len()).sum();
    assert_eq!(seen, 9, "3 jobs × (1 asserter + 2 validators)");
}

#[tokio::test]
async fn a_lying_worker_is_disputed_and_only_it_is_flagged() {
    let coord = start(|c| c.with_sampling(1.0, 2)).await;
    let liar = worker(&coord, Behaviour::Liar).await;
    let honest = [worker(&coord, Behaviour::Honest).await, worker(&coord, Behaviour::Honest).await];
    let mut liar_asserted = 0;
    let mut disputed = Vec::new();
    for i in 0..6 {
        let body = chat(&coord, &format!("question {i}")).await;
        let job = settled(&coord, body["assay"]["job_id"].as_str().unwrap()).await;
        disputed.push((job["id"].clone(), job["receipt"].clone()));
        // Three workers: every job involves all of them, so the liar is always caught.
        assert_eq!(job["status"], "disputed", "{job}");
        assert_eq!(job["suspects"], json!([liar.address]), "{job}");
        if job["asserter"] == json!(liar.address) {
            liar_asserted += 1;
            assert!(
                job["validators"].as_array().unwrap().iter().all(|v| v["state"] == "dissented")
            );
        } else {
            let states: Vec<_> = job["validators"]
                .as_array()
                .unwrap()
                .iter()
                .map(|v| (v["address"].clone(), v["state"].clone()))
                .collect();
            assert!(states.contains(&(json!(liar.address), json!("dissented"))), "{job}");
        }
    }
    assert_eq!(liar_asserted, liar.asserted.load(std::sync::atomic::Ordering::SeqCst));
    let flags = flags(&coord).await;
    assert_eq!(flags.len(), 6);
    assert!(flags.iter().all(|f| f["worker"] == json!(liar.address)), "{flags:?}");
    for h in &honest {
        let (_, mine) = get(&coord, &format!("/v1/flags?worker={}", h.address), Some(KEY)).await;
        assert_eq!(mine["data"], json!([]));
    }

    // Arbitrators read every dispute with its asserter's signed receipt (nothing is batched
    // here: the coordinator runs without a chain).
    let (status, list) = get(&coord, "/v1/disputes", Some(KEY)).await;
    assert_eq!(status, 200, "{list}");
    let listed: Vec<(Value, Value)> = list["data"]
        .as_array()
        .expect("a list")
        .iter()
        .map(|d| {
            assert_eq!(d["suspects"], json!([liar.address]), "{d}");
            (d["id"].clone(), d["receipt"].clone())
        })
        .collect();
    assert_eq!(listed, disputed);
    let parsed: assay_protocol::published::DisputeList =
        serde_json::from_value(list).expect("the shared type");
    assert!(parsed.data.iter().all(|d| d.receipt.verify(412_346)), "receipts verify");
    assert_eq!(get(&coord, "/v1/disputes", None).await.0, 401);
    // No batch without a chain; a batch id must be a number.
    let (status, body) = get(&coord, "/v1/batches/1", Some(KEY)).await;
    assert_eq!((status, &body["error"]["message"]), (404, &json!("no committed batch 1")));
    let (status, body) = get(&coord, "/v1/batches/0xzz", Some(KEY)).await;
    assert_eq!(status, 400, "{body}");
}

#[tokio::test]
async fn canaries_catch_a_lazy_validator() {
    // One validator per challenge; after each matched job, a canary goes to the uninvolved worker.
    let coord = start(|c| c.with_sampling(1.0, 1).with_canary_rate(1.0)).await;
    let lazy = worker(&coord, Behaviour::LazyValidator).await;
    let _honest =
        [worker(&coord, Behaviour::Honest).await, worker(&coord, Behaviour::Honest).await];
    // A job sends the lazy worker a canary when it is neither the asserter nor the drawn
    // validator of a matched job: a third of the jobs, so keep sending until one has (40 jobs
    // miss with probability (2/3)^40 < 1e-7).
    let canary_failed = || async {
        let (_, m) = get(&coord, "/metrics", None).await;
        !m.as_str().unwrap().contains("assay_canaries_failed_total 0")
    };
    let mut matched = 0;
    for i in 0..40 {
        let body = chat(&coord, &format!("canary feed {i}")).await;
        let job = settled(&coord, body["assay"]["job_id"].as_str().unwrap()).await;
        if job["status"] == "matched" {
            matched += 1;
        }
        if matched > 0 && canary_failed().await {
            break;
        }
    }
    assert!(matched > 0, "some challenge drew an honest validator");
    wait_for(canary_failed).await;
    let flags = raised_flags(&coord).await;
    assert!(flags.iter().any(|f| f["reason"].as_str().unwrap().contains("canary")), "{flags:?}");
    assert!(flags.iter().all(|f| f["worker"] == json!(lazy.address)), "{flags:?}");
    // Nothing in a canary's name gives it away: every job the lazy worker got, canaries
    // included, is named like a real job, `job_` and 24 hex digits.
    let real_shape = |id: &str| {
        id.strip_prefix("job_")
            .is_some_and(|hex| hex.len() == 24 && hex.bytes().all(|b| b.is_ascii_hexdigit()))
    };
    let seen = lazy.seen.lock().unwrap().clone();
    assert!(!seen.is_empty() && seen.iter().all(|id| real_shape(id)), "{seen:?}");
    let canary = flags.iter().find(|f| f["reason"].as_str().unwrap().contains("canary")).unwrap();
    assert!(real_shape(canary["job_id"].as_str().unwrap()), "{canary}");
}
