//! A coordinator killed with SIGKILL resumes its open jobs on restart.

use std::{
    io::{BufRead, BufReader},
    process::{Child, Command, Stdio},
};

use crate::common::*;

/// Kills the child process when dropped (a failing test must not leave a coordinator running).
struct Killed(Child);

impl Drop for Killed {
    fn drop(&mut self) {
        self.0.kill().ok();
        self.0.wait().ok();
    }
}

/// Starts the binary on `db` with the challenge probability `p` and returns it with its URL.
fn spawn_binary(db: &std::path::Path, p: &str) -> (Killed, String) {
    let mut child = Command::new(env!("CARGO_BIN_EXE_coordinator"))
        .args(["--listen", "127.0.0.1:0", "--challenge-probability", p, "--heartbeat-secs", "5"])
        .args(["--assert-timeout-ms", "300", "--validators", "2"])
        .arg("--database-url")
        .arg(format!("sqlite://{}?mode=rwc", db.display()))
        .arg("--model")
        .arg(format!("{MODEL_NAME}={MODEL}"))
        .env("RUST_LOG", "warn")
        .stdout(Stdio::piped())
        .spawn()
        .expect("coordinator binary starts");
    let mut line = String::new();
    BufReader::new(child.stdout.take().unwrap()).read_line(&mut line).unwrap();
    let url = line.trim().rsplit(' ').next().unwrap().to_owned();
    assert!(url.starts_with("http://"), "{line}");
    (Killed(child), url)
}

#[tokio::test]
async fn sigkill_loses_no_job() {
    let dir = tempfile::tempdir().unwrap();
    let db = dir.path().join("coordinator.db");
    let (first, url) = spawn_binary(&db, "0");
    let coord = Coord::external(&url);
    let hole = worker(&coord, Behaviour::Blackhole).await;
    // Three requests in flight: stored, assigned to a worker that never answers.
    let mut requests = Vec::new();
    for i in 0..3 {
        let url = coord.url("/v1/chat/completions");
        requests.push(tokio::spawn(async move {
            reqwest::Client::new()
                .post(url)
                .bearer_auth(KEY)
                .body(chat_body(&format!("survive {i}")).to_string())
                .send()
                .await
        }));
    }
    wait_for(|| async { hole.seen.lock().unwrap().len() == 3 }).await;
    let ids: Vec<String> = hole.seen.lock().unwrap().clone();
    drop(first); // SIGKILL: no shutdown code runs.
    for r in requests {
        assert!(r.await.unwrap().is_err(), "the connection died with the coordinator");
    }
    drop(hole);

    let (second, url) = spawn_binary(&db, "0");
    let coord = Coord::external(&url);
    for id in &ids {
        let (status, job) = get(&coord, &format!("/v1/jobs/{id}"), Some(KEY)).await;
        assert_eq!(status, 200);
        assert!(matches!(job["status"].as_str(), Some("pending" | "assigned")), "{job}");
    }
    let honest = worker(&coord, Behaviour::Honest).await;
    for id in &ids {
        let job = settled(&coord, id).await;
        assert_eq!(job["status"], "asserted", "{job}");
        assert_eq!(job["asserter"], serde_json::json!(honest.address));
        assert!(job["output"]["text"].as_str().unwrap().starts_with("echo survive"));
    }
    drop(second);
}

#[tokio::test]
async fn a_challenge_in_flight_is_drawn_again_after_sigkill() {
    let dir = tempfile::tempdir().unwrap();
    let db = dir.path().join("coordinator.db");
    let (first, url) = spawn_binary(&db, "1");
    let coord = Coord::external(&url);
    // Validators that never commit keep the job `challenged`; stalled asserters time out
    // (300 ms) until the honest worker asserts.
    let stalls = [worker(&coord, Behaviour::Stall).await, worker(&coord, Behaviour::Stall).await];
    let asserter = worker(&coord, Behaviour::Honest).await;
    let (status, body) = post(&coord, "/v1/chat/completions", chat_body("challenge me")).await;
    assert_eq!(status, 200, "{body}");
    let id = body["assay"]["job_id"].as_str().unwrap().to_owned();
    assert_eq!(body["assay"]["worker"], serde_json::json!(asserter.address));
    wait_for(|| async {
        let (_, job) = get(&coord, &format!("/v1/jobs/{id}"), Some(KEY)).await;
        job["status"] == "challenged" && job["validators"].as_array().is_some_and(|v| v.len() == 2)
    })
    .await;
    drop(first); // SIGKILL: no shutdown code runs.
    drop(stalls);
    drop(asserter);

    let (second, url) = spawn_binary(&db, "1");
    let coord = Coord::external(&url);
    let validators =
        [worker(&coord, Behaviour::Honest).await, worker(&coord, Behaviour::Honest).await];
    let job = settled(&coord, &id).await;
    assert_eq!(job["status"], "matched", "{job}");
    // Drawn again among the workers connected now (the first to connect may be alone).
    let new: Vec<_> = validators.iter().map(|v| serde_json::json!(v.address)).collect();
    let drawn = job["validators"].as_array().unwrap();
    assert!(!drawn.is_empty(), "{job}");
    for v in drawn {
        assert!(new.contains(&v["address"]) && v["state"] == "agreed", "{job}");
    }
    drop(second);
}

#[test]
fn help_explains_every_setting() {
    let out = Command::new(env!("CARGO_BIN_EXE_coordinator")).arg("--help").output().unwrap();
    assert!(out.status.success());
    let help = String::from_utf8(out.stdout).unwrap();
    for needle in [
        "sk-assay-dev",
        "--listen",
        "--database-url",
        "--api-key",
        "--challenge-probability",
        "--validators",
        "--canary-rate",
        "--heartbeat-secs",
        "--assert-timeout-ms",
        "--max-body-bytes",
        "--queue-size",
        "--rpc-url",
        "--deployment",
        "--config",
        "--key-file",
        "--epoch-seeds",
        "ASSAY_COORDINATOR_EPOCH_SEEDS",
        "ASSAY_COORDINATOR_DATABASE_URL",
        "ETH_RPC_URL",
        "/v1/chat/completions",
    ] {
        assert!(help.contains(needle), "--help lacks {needle}:\n{help}");
    }
}
