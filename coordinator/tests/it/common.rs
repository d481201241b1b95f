//! Shared helpers: start a coordinator, fake workers, HTTP calls.

use std::{
    sync::{
        Arc, Mutex,
        atomic::{AtomicUsize, Ordering},
    },
    time::Duration,
};

use alloy_primitives::{Address, B256, keccak256};
use alloy_signer::SignerSync;
use alloy_signer_local::PrivateKeySigner;
use assay_coordinator::{Config, Handle};
use assay_protocol::job::{JobSpec, Output};
use assay_protocol::{
    math::records::validation_commitment,
    wire::{
        Assignment, CoordinatorMsg, PROTOCOL_VERSION, Receipt, Role, SignedReceipt, WorkerMsg,
        hello_digest,
    },
};
use futures::{SinkExt, StreamExt};
use serde_json::{Value, json};
use tokio::task::JoinHandle;
use tokio_tungstenite::tungstenite::Message;

/// The model every fake worker serves.
pub(crate) const MODEL: B256 = B256::repeat_byte(0x11);
/// Its readable name.
pub(crate) const MODEL_NAME: &str = "test-model";
/// The dev API key.
pub(crate) const KEY: &str = "sk-assay-dev";

/// A coordinator (in-process with its temporary directory, or a URL).
pub(crate) struct Coord {
    base: String,
    _handle: Option<Handle>,
    _dir: Option<tempfile::TempDir>,
}

impl Coord {
    pub(crate) fn new(handle: Handle, dir: tempfile::TempDir) -> Self {
        Self { base: handle.url(), _handle: Some(handle), _dir: Some(dir) }
    }

    pub(crate) fn external(url: &str) -> Self {
        Self { base: url.to_owned(), _handle: None, _dir: None }
    }

    pub(crate) fn url(&self, path: &str) -> String {
        format!("{}{path}", self.base)
    }

    pub(crate) fn ws_url(&self) -> String {
        format!("{}/v1/workers", self.base.replacen("http://", "ws://", 1))
    }
}

/// A test configuration on a fresh SQLite file.
pub(crate) fn config() -> (Config, tempfile::TempDir) {
    let dir = tempfile::tempdir().expect("temp dir");
    let c = Config::test(&dir.path().join("coordinator.db")).with_model(MODEL_NAME, MODEL);
    (c, dir)
}

pub(crate) async fn start_with(config: Config, dir: tempfile::TempDir) -> Coord {
    let handle = assay_coordinator::spawn(config).await.expect("coordinator starts");
    Coord::new(handle, dir)
}

/// A coordinator with the test configuration, `edit`ed.
pub(crate) async fn start(edit: impl FnOnce(Config) -> Config) -> Coord {
    let (c, dir) = config();
    start_with(edit(c), dir).await
}

/// How a fake worker behaves.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Behaviour {
    /// Canned, deterministic answers.
    Honest,
    /// Corrupted answers in every role (with a consistent, signed hash).
    Liar,
    /// Honest as asserter, wrong as validator.
    LazyValidator,
    /// Takes jobs, never answers, never sends heartbeats.
    Blackhole,
    /// Closes its socket (with a close frame) on its first asserter job.
    DisconnectOnJob,
    /// Drops its connection without a close frame on its first asserter job, as a worker
    /// process killed while running it does.
    CrashOnJob,
    /// Answers after 500 ms.
    Slow,
    /// Heartbeats, takes jobs, never answers.
    Stall,
    /// Signs its receipts with another key than its own.
    ForgedReceipt,
}

/// A connected fake worker.
pub(crate) struct Worker {
    pub(crate) address: Address,
    /// Asserter jobs received.
    pub(crate) asserted: Arc<AtomicUsize>,
    /// Job ids received (any role).
    pub(crate) seen: Arc<Mutex<Vec<String>>>,
    task: JoinHandle<()>,
}

impl Drop for Worker {
    fn drop(&mut self) {
        self.task.abort();
    }
}

/// The canned output of a job (`lie` changes it).
pub(crate) fn canned(spec: &JobSpec, lie: bool) -> Output {
    let bump = u32::from(lie);
    match spec {
        JobSpec::Embed { prompt } => Output {
            tokens: prompt.bytes().map(|b| u32::from(b) + bump).collect(),
            embedding: vec![16384, -16384, 0, 1 + i16::from(lie)],
            text: String::new(),
            prompt_tokens: Some(prompt.len() as u32),
        },
        JobSpec::Generate { messages, max_tokens, .. } => {
            // The fake echoes the conversation's last message.
            let prompt = messages.last().map_or("", |m| m.content.as_str());
            let words: Vec<&str> = prompt.split_whitespace().take(*max_tokens as usize).collect();
            Output {
                tokens: words.iter().map(|w| w.len() as u32 + bump).collect(),
                embedding: vec![],
                text: format!("echo {}", words.join(" ")),
                prompt_tokens: Some(prompt_tokens(prompt)),
            }
        }
    }
}

/// The prompt token count the fake workers report for a generation: one per word, plus the
/// two turn markers of a chat template.
pub(crate) fn prompt_tokens(prompt: &str) -> u32 {
    prompt.split_whitespace().count() as u32 + 2
}

pub(crate) fn sign_receipt(
    signer: &PrivateKeySigner,
    chain_id: u64,
    job_key: B256,
    model_id: B256,
    spec: &JobSpec,
    output: &Output,
) -> SignedReceipt {
    let output_hash = output.hash();
    let receipt = Receipt {
        job_key,
        model_id,
        input_root: spec.input_root(),
        output_hash,
        trace_root: keccak256(output_hash),
        worker: signer.address(),
    };
    let signature = signer.sign_message_sync(receipt.digest(chain_id).as_slice()).expect("sign");
    SignedReceipt { receipt, signature }
}

fn frame(msg: &WorkerMsg) -> Message {
    Message::Text(serde_json::to_string(msg).expect("serialise").into())
}

/// Connects, completes the handshake (panics if rejected), and serves jobs per `behaviour`.
pub(crate) async fn worker(coord: &Coord, behaviour: Behaviour) -> Worker {
    worker_with(coord, PrivateKeySigner::random(), behaviour).await
}

type Ws =
    tokio_tungstenite::WebSocketStream<tokio_tungstenite::MaybeTlsStream<tokio::net::TcpStream>>;

/// Connects and completes the handshake (panics if rejected); returns the socket, the chain id
/// and the heartbeat interval in seconds.
async fn handshake(coord: &Coord, signer: &PrivateKeySigner) -> (Ws, u64, u64) {
    let (mut ws, _) = tokio_tungstenite::connect_async(coord.ws_url()).await.expect("ws connects");
    let Some(Ok(Message::Text(t))) = ws.next().await else { panic!("no challenge") };
    let CoordinatorMsg::Challenge { nonce, chain_id, .. } =
        serde_json::from_str(&t).expect("challenge")
    else {
        panic!("expected a challenge, got {t}")
    };
    let address = signer.address();
    let sig =
        signer.sign_message_sync(hello_digest(chain_id, nonce, address).as_slice()).expect("sign");
    let hello = WorkerMsg::Hello {
        worker: address,
        signature: sig,
        protocol: PROTOCOL_VERSION,
        models: vec![MODEL],
        slots: 4,
        tokens_per_sec: 100.0,
    };
    ws.send(frame(&hello)).await.expect("send hello");
    let Some(Ok(Message::Text(t))) = ws.next().await else { panic!("no welcome") };
    let CoordinatorMsg::Welcome { heartbeat_secs, .. } = serde_json::from_str(&t).expect("welcome")
    else {
        panic!("expected welcome, got {t}")
    };
    (ws, chain_id, heartbeat_secs)
}

pub(crate) async fn worker_with(
    coord: &Coord,
    signer: PrivateKeySigner,
    behaviour: Behaviour,
) -> Worker {
    let (mut ws, chain_id, heartbeat_secs) = handshake(coord, &signer).await;
    let address = signer.address();
    let asserted = Arc::new(AtomicUsize::new(0));
    let seen = Arc::new(Mutex::new(Vec::new()));
    let (a2, s2) = (asserted.clone(), seen.clone());
    let task = tokio::spawn(async move {
        let mut salts: std::collections::HashMap<String, (B256, SignedReceipt)> =
            Default::default();
        let mut beat = tokio::time::interval(Duration::from_millis(heartbeat_secs * 1000 / 2));
        loop {
            let msg = tokio::select! {
                _ = beat.tick() => {
                    if behaviour == Behaviour::Blackhole { continue; }
                    if ws.send(frame(&WorkerMsg::Heartbeat { active: 0 })).await.is_err() { return; }
                    continue;
                }
                m = ws.next() => m,
            };
            let Some(Ok(Message::Text(t))) = msg else { return };
            match serde_json::from_str::<CoordinatorMsg>(&t).expect("coordinator frame") {
                CoordinatorMsg::Execute(a) => {
                    s2.lock().unwrap().push(a.job_id.clone());
                    // Fake workers have no chain: they never validate on chain.
                    let on_chain = matches!(a.role, Role::ChainValidator { .. });
                    if on_chain || matches!(behaviour, Behaviour::Blackhole | Behaviour::Stall) {
                        continue;
                    }
                    if behaviour == Behaviour::Slow {
                        tokio::time::sleep(Duration::from_millis(500)).await;
                    }
                    let lie = match a.role {
                        Role::Asserter => behaviour == Behaviour::Liar,
                        Role::Validator | Role::ChainValidator { .. } => {
                            matches!(behaviour, Behaviour::Liar | Behaviour::LazyValidator)
                        }
                    };
                    let output = canned(&a.spec, lie);
                    let mut receipt =
                        sign_receipt(&signer, chain_id, a.job_key, a.model_id, &a.spec, &output);
                    if behaviour == Behaviour::ForgedReceipt {
                        let forger = PrivateKeySigner::random();
                        let digest = receipt.receipt.digest(chain_id);
                        receipt.signature =
                            forger.sign_message_sync(digest.as_slice()).expect("sign");
                    }
                    let reply = match a.role {
                        Role::Asserter => {
                            if behaviour == Behaviour::DisconnectOnJob {
                                ws.close(None).await.ok();
                                return;
                            }
                            if behaviour == Behaviour::CrashOnJob {
                                // Dropping the socket ends the TCP connection, no close frame.
                                return;
                            }
                            a2.fetch_add(1, Ordering::SeqCst);
                            WorkerMsg::Result { job_id: a.job_id, output, receipt }
                        }
                        Role::Validator | Role::ChainValidator { .. } => {
                            let salt = B256::random();
                            let commitment = validation_commitment(
                                a.job_key,
                                address,
                                receipt.receipt.output_hash,
                                receipt.receipt.trace_root,
                                salt,
                            );
                            salts.insert(a.job_id.clone(), (salt, receipt));
                            WorkerMsg::Committed { job_id: a.job_id, commitment }
                        }
                    };
                    if ws.send(frame(&reply)).await.is_err() {
                        return;
                    }
                }
                CoordinatorMsg::Reveal { job_id } => {
                    if let Some((salt, receipt)) = salts.remove(&job_id) {
                        let reply = WorkerMsg::Revealed { job_id, salt, receipt };
                        if ws.send(frame(&reply)).await.is_err() {
                            return;
                        }
                    }
                }
                _ => {}
            }
        }
    });
    let w = Worker { address, asserted, seen, task };
    // Wait until the scheduler has registered the worker.
    wait_for(|| async { health(coord).await["workers"].as_u64() > Some(0) }).await;
    w
}

/// The flags `/v1/flags` lists.
pub(crate) async fn flags(coord: &Coord) -> Vec<Value> {
    let (status, body) = get(coord, "/v1/flags", Some(KEY)).await;
    assert_eq!(status, 200, "{body}");
    body["data"].as_array().unwrap().clone()
}

/// The flags once there is one: a flag is stored a moment after the event that raised it (and
/// after the metric it counts).
pub(crate) async fn raised_flags(coord: &Coord) -> Vec<Value> {
    wait_for(|| async { !flags(coord).await.is_empty() }).await;
    flags(coord).await
}

/// Polls `check` for up to 15 s.
pub(crate) async fn wait_for<F, Fut>(mut check: F)
where
    F: FnMut() -> Fut,
    Fut: std::future::Future<Output = bool>,
{
    for _ in 0..300 {
        if check().await {
            return;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    panic!("condition not met within 15 s");
}

pub(crate) async fn health(coord: &Coord) -> Value {
    get(coord, "/health", None).await.1
}

/// GET with an optional bearer key; (status, JSON or the text as a JSON string).
pub(crate) async fn get(coord: &Coord, path: &str, key: Option<&str>) -> (u16, Value) {
    let mut req = reqwest::Client::new().get(coord.url(path));
    if let Some(k) = key {
        req = req.bearer_auth(k);
    }
    let resp = req.send().await.expect("request");
    let status = resp.status().as_u16();
    let text = resp.text().await.expect("body");
    (status, serde_json::from_str(&text).unwrap_or(Value::String(text)))
}

/// POST a raw body with the dev key.
pub(crate) async fn post_raw(
    coord: &Coord,
    path: &str,
    key: Option<&str>,
    body: String,
) -> (u16, String) {
    let mut req = reqwest::Client::new()
        .post(coord.url(path))
        .header("content-type", "application/json")
        .body(body);
    if let Some(k) = key {
        req = req.bearer_auth(k);
    }
    let resp = req.send().await.expect("request");
    (resp.status().as_u16(), resp.text().await.expect("body"))
}

/// POST JSON with the dev key.
pub(crate) async fn post(coord: &Coord, path: &str, body: Value) -> (u16, Value) {
    let (status, text) = post_raw(coord, path, Some(KEY), body.to_string()).await;
    (status, serde_json::from_str(&text).unwrap_or(Value::String(text)))
}

/// A chat request for the test model.
pub(crate) fn chat_body(prompt: &str) -> Value {
    json!({"model": MODEL_NAME, "messages": [{"role": "user", "content": prompt}], "max_tokens": 8})
}

/// Asserts an OpenAI error envelope with `code`.
pub(crate) fn assert_envelope(body: &Value, code: &str) {
    let e = &body["error"];
    assert_eq!(e["code"], code, "{body}");
    assert!(e["message"].is_string() && e["type"].is_string(), "{body}");
    assert!(e.get("param").is_some(), "{body}");
}

/// Polls a job until its status is not `pending|assigned|challenged`.
pub(crate) async fn settled(coord: &Coord, id: &str) -> Value {
    let mut last = Value::Null;
    for _ in 0..300 {
        let (status, job) = get(coord, &format!("/v1/jobs/{id}"), Some(KEY)).await;
        assert_eq!(status, 200, "{job}");
        if !matches!(job["status"].as_str(), Some("pending" | "assigned" | "challenged")) {
            return job;
        }
        last = job;
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    panic!("job {id} did not settle: {last}");
}

/// A fake worker the test drives frame by frame; heartbeats are sent for it.
pub(crate) struct Scripted {
    pub(crate) address: Address,
    signer: PrivateKeySigner,
    chain_id: u64,
    out: tokio::sync::mpsc::UnboundedSender<WorkerMsg>,
    assignments: tokio::sync::mpsc::UnboundedReceiver<Assignment>,
    task: JoinHandle<()>,
}

impl Drop for Scripted {
    fn drop(&mut self) {
        self.task.abort();
    }
}

impl Scripted {
    /// Connects and completes the handshake.
    pub(crate) async fn connect(coord: &Coord) -> Self {
        let signer = PrivateKeySigner::random();
        let (ws, chain_id, heartbeat_secs) = handshake(coord, &signer).await;
        let (out, mut outbox) = tokio::sync::mpsc::unbounded_channel();
        let (assigned, assignments) = tokio::sync::mpsc::unbounded_channel();
        let task = tokio::spawn(async move {
            let (mut sink, mut stream) = ws.split();
            let mut beat = tokio::time::interval(Duration::from_millis(heartbeat_secs * 1000 / 2));
            loop {
                let msg = tokio::select! {
                    _ = beat.tick() => WorkerMsg::Heartbeat { active: 0 },
                    Some(msg) = outbox.recv() => msg,
                    frame = stream.next() => {
                        let Some(Ok(Message::Text(t))) = frame else { return };
                        if let Ok(CoordinatorMsg::Execute(a)) = serde_json::from_str(&t) {
                            assigned.send(a).ok();
                        }
                        continue;
                    }
                };
                if sink.send(frame(&msg)).await.is_err() {
                    return;
                }
            }
        });
        Self { address: signer.address(), signer, chain_id, out, assignments, task }
    }

    /// Sends a frame.
    pub(crate) fn send(&self, msg: WorkerMsg) {
        self.out.send(msg).expect("the worker task runs");
    }

    /// The next job assigned to it within `wait`.
    pub(crate) async fn assignment(&mut self, wait: Duration) -> Option<Assignment> {
        tokio::time::timeout(wait, self.assignments.recv()).await.ok().flatten()
    }

    /// Sends a text delta of `job_id`.
    pub(crate) fn partial(&self, job_id: &str, text: &str) {
        self.send(WorkerMsg::Partial { job_id: job_id.into(), text: text.into() });
    }

    /// Sends the result of `a` with `text` and a valid receipt.
    pub(crate) fn result(&self, a: &Assignment, text: &str) {
        let output = Output {
            tokens: vec![7; text.split_whitespace().count()],
            embedding: Vec::new(),
            text: text.into(),
            prompt_tokens: Some(3),
        };
        let receipt =
            sign_receipt(&self.signer, self.chain_id, a.job_key, a.model_id, &a.spec, &output);
        self.send(WorkerMsg::Result { job_id: a.job_id.clone(), output, receipt });
    }
}

/// Of two scripted workers, the one the next job goes to and the other.
pub(crate) async fn asserter_of<'a>(
    x: &'a mut Scripted,
    y: &'a mut Scripted,
) -> (Assignment, &'a mut Scripted, &'a mut Scripted) {
    for _ in 0..100 {
        if let Some(a) = x.assignment(Duration::from_millis(50)).await {
            return (a, x, y);
        }
        if let Some(a) = y.assignment(Duration::from_millis(50)).await {
            return (a, y, x);
        }
    }
    panic!("no assignment within 10 s");
}

/// A streaming chat completion read event by event.
pub(crate) struct EventStream {
    resp: reqwest::Response,
    buf: Vec<u8>,
}

impl EventStream {
    /// Sends a streaming chat request for `prompt`; the answer is 200 with an event stream.
    pub(crate) async fn open(coord: &Coord, prompt: &str) -> Self {
        let mut body = chat_body(prompt);
        body["stream"] = json!(true);
        let resp = reqwest::Client::new()
            .post(coord.url("/v1/chat/completions"))
            .bearer_auth(KEY)
            .body(body.to_string())
            .send()
            .await
            .expect("request");
        assert_eq!(resp.status(), 200);
        let content_type = resp.headers()["content-type"].to_str().expect("ASCII header");
        assert!(content_type.starts_with("text/event-stream"), "{content_type}");
        Self { resp, buf: Vec::new() }
    }

    /// The `data` of the next event (waits up to 10 s for it); `None` once the stream ended.
    pub(crate) async fn next_data(&mut self) -> Option<String> {
        loop {
            if let Some(end) = self.buf.windows(2).position(|w| w == b"\n\n") {
                let event: Vec<u8> = self.buf.drain(..end + 2).collect();
                let event = String::from_utf8(event).expect("UTF-8 event");
                let data = event
                    .lines()
                    .find_map(|l| l.strip_prefix("data: ").or_else(|| l.strip_prefix("data:")));
                match data {
                    Some(data) => return Some(data.to_owned()),
                    None => continue, // a keep-alive comment
                }
            }
            let chunk = tokio::time::timeout(Duration::from_secs(10), self.resp.chunk())
                .await
                .expect("an event within 10 s")
                .expect("the body reads")?;
            self.buf.extend_from_slice(&chunk);
        }
    }

    /// The next event as JSON.
    pub(crate) async fn next_json(&mut self) -> Value {
        let data = self.next_data().await.expect("an event");
        serde_json::from_str(&data).unwrap_or_else(|e| panic!("{e}: {data}"))
    }

    /// The content of the next event, which must be a content chunk.
    pub(crate) async fn next_content(&mut self) -> String {
        let chunk = self.next_json().await;
        let content = chunk["choices"][0]["delta"]["content"].as_str();
        content.unwrap_or_else(|| panic!("not a content chunk: {chunk}")).to_owned()
    }
}
