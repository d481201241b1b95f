//! A coordinator killed with SIGKILL resumes its open jobs on restart.

use std::{
    io::{BufRead, BufReader},
    process::{Child, Command, Stdio},
};

use crate::common::*;

/// Starts the binary on `db` and returns it with its URL.
fn spawn_binary(db: &std::path::Path) -> (Child, String) {
    let mut child = Command::new(env!("CARGO_BIN_EXE_coordinator"))
        .args(["--listen", "127.0.0.1:0", "--challenge-probability", "0", "--heartbeat-secs", "5"])
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
    (child, url)
}

#[tokio::test]
async fn sigkill_loses_no_job() {
    let dir = tempfile::tempdir().unwrap();
    let db = dir.path().join("coordinator.db");
    let (mut first, url) = spawn_binary(&db);
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
    // SIGKILL: no shutdown code runs.
    first.kill().unwrap();
    first.wait().unwrap();
    for r in requests {
        assert!(r.await.unwrap().is_err(), "the connection died with the coordinator");
    }
    drop(hole);

    let (mut second, url) = spawn_binary(&db);
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
    second.kill().unwrap();
    second.wait().unwrap();
}
