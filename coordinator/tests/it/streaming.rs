//! Streamed chat completions: the asserter's text deltas reach the client as they come, before
//! the result; only the current asserter's; a result that does not continue the stream ends it
//! with an error event.

use std::time::Duration;

use assay_protocol::wire::WorkerMsg;
use serde_json::json;

use crate::common::*;

const WAIT: Duration = Duration::from_secs(10);

#[tokio::test]
async fn deltas_are_streamed_before_the_result_and_the_rest_follows_it() {
    let coord = start(|c| c.with_sampling(0.0, 2)).await;
    let mut w = Scripted::connect(&coord).await;
    wait_for(|| async { health(&coord).await["workers"] == 1 }).await;
    let mut events = EventStream::open(&coord, "say hello").await;
    let a = w.assignment(WAIT).await.expect("assigned");
    let opening = events.next_json().await;
    assert_eq!(opening["choices"][0]["delta"]["role"], "assistant");

    // Each delta arrives while the worker has not answered yet.
    w.partial(&a.job_id, "Hel");
    assert_eq!(events.next_content().await, "Hel");
    w.partial(&a.job_id, "lo, wö");
    assert_eq!(events.next_content().await, "lo, wö");

    w.result(&a, "Hello, wörld!");
    assert_eq!(events.next_content().await, "rld!", "the rest of the final text");
    let finish = events.next_json().await;
    assert_eq!(finish["object"], "chat.completion.chunk");
    assert_eq!(finish["choices"][0]["finish_reason"], "stop");
    assert_eq!(finish["assay"]["job_id"], json!(a.job_id));
    assert_eq!(finish["assay"]["worker"], json!(w.address));
    assert_eq!(events.next_data().await.as_deref(), Some("[DONE]"));
    assert_eq!(events.next_data().await, None);

    let job = settled(&coord, &a.job_id).await;
    assert_eq!(job["output"]["text"], "Hello, wörld!");
}

#[tokio::test]
async fn only_the_current_asserters_deltas_are_streamed() {
    let coord = start(|c| c.with_sampling(0.0, 2)).await;
    let (mut x, mut y) = (Scripted::connect(&coord).await, Scripted::connect(&coord).await);
    wait_for(|| async { health(&coord).await["workers"] == 2 }).await;
    let mut events = EventStream::open(&coord, "who speaks").await;
    let (a, asserter, bystander) = asserter_of(&mut x, &mut y).await;
    events.next_json().await; // the role

    bystander.partial(&a.job_id, "bogus ");
    asserter.partial(&a.job_id, "I ");
    assert_eq!(events.next_content().await, "I ");
    bystander.partial(&a.job_id, "bogus ");
    asserter.partial(&a.job_id, "do");
    assert_eq!(events.next_content().await, "do");
    asserter.result(&a, "I do.");
    assert_eq!(events.next_content().await, ".");
    let finish = events.next_json().await;
    assert_eq!(finish["assay"]["worker"], json!(asserter.address));
    assert_eq!(events.next_data().await.as_deref(), Some("[DONE]"));
}

/// The first asserter streams, then fails; the job goes to the other worker, whose deltas are
/// not streamed (they would repeat what was sent). Returns the stream's remaining events.
async fn reassigned_after_streaming(streamed: &str, final_text: &str) -> Vec<serde_json::Value> {
    let coord = start(|c| c.with_sampling(0.0, 2)).await;
    let (mut x, mut y) = (Scripted::connect(&coord).await, Scripted::connect(&coord).await);
    wait_for(|| async { health(&coord).await["workers"] == 2 }).await;
    let mut events = EventStream::open(&coord, "move me").await;
    let (a, first, second) = asserter_of(&mut x, &mut y).await;
    events.next_json().await; // the role
    first.partial(&a.job_id, streamed);
    assert_eq!(events.next_content().await, streamed);
    first.send(WorkerMsg::Failed { job_id: a.job_id.clone(), error: "out of memory".into() });
    let again = second.assignment(WAIT).await.expect("reassigned");
    assert_eq!(again.job_id, a.job_id);
    first.partial(&a.job_id, "late ");
    second.partial(&a.job_id, final_text);
    second.result(&again, final_text);
    let mut rest = Vec::new();
    while let Some(data) = events.next_data().await {
        if data == "[DONE]" {
            assert_eq!(events.next_data().await, None, "[DONE] ends the stream");
            let job = settled(&coord, &a.job_id).await;
            assert_eq!(
                (job["attempts"].clone(), job["output"]["text"].clone()),
                (json!(2), json!(final_text))
            );
            return rest;
        }
        rest.push(serde_json::from_str(&data).expect("JSON event"));
    }
    panic!("the stream ended without [DONE]: {rest:?}");
}

#[tokio::test]
async fn a_result_that_does_not_continue_the_stream_ends_it_with_an_error() {
    let rest = reassigned_after_streaming("Foo ", "Bar baz").await;
    assert_eq!(rest.len(), 1, "only the error: {rest:?}");
    assert_envelope(&rest[0], "stream_diverged");
    assert_eq!(rest[0]["error"]["type"], "server_error");
}

#[tokio::test]
async fn a_result_that_continues_the_stream_after_a_reassignment_completes_it() {
    let rest = reassigned_after_streaming("Hel", "Hello there").await;
    assert_eq!(rest.len(), 2, "{rest:?}");
    assert_eq!(rest[0]["choices"][0]["delta"]["content"], "lo there");
    assert_eq!(rest[1]["choices"][0]["finish_reason"], "stop");
    assert!(rest[1]["assay"]["receipt"].is_object());
}
