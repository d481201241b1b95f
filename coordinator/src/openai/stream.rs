//! A streamed chat completion: `chat.completion.chunk` server-sent events carrying the text the
//! asserter generates as it comes ([`assay_protocol::wire::WorkerMsg::Partial`] deltas, forwarded
//! by the scheduler), then the rest of the final text, the finish chunk with the `assay` object
//! and `data: [DONE]`.
//!
//! The deltas are advisory: the final result is what the receipt covers. When its text does not
//! continue what was streamed (the job moved to another worker after streaming began, or the
//! asserter streamed something else than it asserted) the stream ends with an error event in the
//! OpenAI envelope (`stream_diverged`) and `[DONE]`; the result stays at `GET /v1/jobs/{id}`.

use std::pin::Pin;

use axum::response::sse::Event as SseEvent;
use futures::{Stream, StreamExt, stream};
use tokio::{
    sync::{mpsc, oneshot},
    time::Sleep,
};

use super::types::{AssayJob, ChatChunk, Delta, FinishReason};
use crate::{error::ApiError, job::JobRow, scheduler::Asserted, state::AppState};

/// A streaming chat completion in flight.
pub(crate) struct ChatStream {
    job: JobRow,
    model: String,
    max_tokens: u32,
    result: oneshot::Receiver<Result<Asserted, String>>,
    deltas: mpsc::UnboundedReceiver<String>,
    deadline: Pin<Box<Sleep>>,
    /// The text sent so far.
    streamed: String,
}

/// What the scheduler answered: the result, or why the job failed.
type Received = Result<Result<Asserted, String>, oneshot::error::RecvError>;

/// What the stream waited for.
enum Step {
    /// Text from the asserter.
    Delta(String),
    /// The scheduler's answer (boxed: it is large).
    Received(Box<Received>),
    /// The request timeout passed.
    TimedOut,
}

impl ChatStream {
    /// The stream of `job`, submitted with the sender of `deltas`; `result` is where its
    /// result arrives, within the request timeout.
    pub(crate) fn new(
        state: &AppState,
        job: JobRow,
        model: String,
        max_tokens: u32,
        result: oneshot::Receiver<Result<Asserted, String>>,
        deltas: mpsc::UnboundedReceiver<String>,
    ) -> Self {
        let deadline = Box::pin(tokio::time::sleep(state.request_timeout()));
        Self { job, model, max_tokens, result, deltas, deadline, streamed: String::new() }
    }

    /// The events: the assistant role at once, a content chunk per delta as it arrives, then
    /// the closing events.
    pub(crate) fn into_events(self) -> impl Stream<Item = SseEvent> + Send + 'static {
        let opening = Delta { role: Some("assistant"), content: Some(String::new()) };
        let opening = self.chunk(opening, None, None);
        let rest = stream::unfold(Some(self), |chat| async move {
            let mut chat = chat?;
            let outcome = match chat.next_step().await {
                Step::Delta(text) => {
                    let events = chat.content(&text).into_iter().collect::<Vec<_>>();
                    chat.streamed.push_str(&text);
                    return Some((events, Some(chat)));
                }
                Step::Received(received) => AppState::outcome(&chat.job, *received).await,
                Step::TimedOut => Err(ApiError::timeout(&chat.job.id)),
            };
            Some((chat.closing(outcome), None))
        });
        stream::iter([opening]).chain(rest.flat_map(stream::iter))
    }

    /// The next delta or the result. Deltas queued before the result go first: the scheduler
    /// forwards them before it answers.
    async fn next_step(&mut self) -> Step {
        tokio::select! {
            biased;
            Some(text) = self.deltas.recv() => Step::Delta(text),
            received = &mut self.result => Step::Received(Box::new(received)),
            () = &mut self.deadline => Step::TimedOut,
        }
    }

    /// The rest of the final text and the finish chunk, or the error; then `[DONE]`.
    fn closing(&self, outcome: Result<Asserted, ApiError>) -> Vec<SseEvent> {
        let mut events = Vec::new();
        match outcome {
            Ok(a) => match a.output.text.strip_prefix(self.streamed.as_str()) {
                Some(rest) => {
                    events.extend(self.content(rest));
                    let finish = FinishReason::of(&a, self.max_tokens);
                    let assay = AssayJob::new(&self.job, &a);
                    events.push(self.chunk(Delta::default(), Some(finish), Some(assay)));
                }
                None => events.push(error_event(&ApiError::stream_diverged(&self.job.id))),
            },
            Err(e) => events.push(error_event(&e)),
        }
        events.push(SseEvent::default().data("[DONE]"));
        events
    }

    /// A content chunk, none for empty text.
    fn content(&self, text: &str) -> Option<SseEvent> {
        (!text.is_empty()).then(|| {
            self.chunk(Delta { content: Some(text.to_owned()), ..Delta::default() }, None, None)
        })
    }

    fn chunk(
        &self,
        delta: Delta,
        finish: Option<FinishReason>,
        assay: Option<AssayJob>,
    ) -> SseEvent {
        let mut chunk = ChatChunk::new(&self.job, &self.model, delta);
        chunk.choices[0].finish_reason = finish;
        chunk.assay = assay;
        SseEvent::default().data(serde_json::to_string(&chunk).expect("a chunk serialises"))
    }
}

/// An error as an event: the OpenAI envelope.
fn error_event(e: &ApiError) -> SseEvent {
    SseEvent::default().data(e.body().to_string())
}
