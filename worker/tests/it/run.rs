//! `worker run` against a test double of the coordinator: a WebSocket server in the test speaking
//! the wire protocol. Covers the signed handshake, asserter results and receipts, validator
//! commit-reveal, refusals, heartbeats, reconnection, graceful shutdown and `--dishonest`.

use std::{
    path::{Path, PathBuf},
    time::Duration,
};

use alloy_primitives::{Address, B256};
use assay_convert::{
    BERT_CONFIG_KEYS, LLAMA_CONFIG_KEYS,
    random::{tiny_bert, tiny_llama},
};
use assay_engine::{job::Model, kernels::Scalar, trace::Keep};
use assay_protocol::{job::JobSpec, model_dir::ModelDir};
use assay_protocol::{
    math::records::validation_commitment,
    wire::{
        Assignment, CoordinatorMsg, PROTOCOL_VERSION, Role, WorkerMsg, hello_digest, recovers_to,
    },
};
use assay_worker::{
    exec::{cheat, wrong_output},
    runner::{Config, run},
};
use futures::{SinkExt, StreamExt};
use tokio::net::{TcpListener, TcpStream};
use tokio_tungstenite::{WebSocketStream, accept_async, tungstenite::Message};
use tokio_util::sync::CancellationToken;

const CHAIN: u64 = 412346;

/// The two seeded tiny models, written once per test process.
struct Models {
    bert: PathBuf,
    llama: PathBuf,
    bert_id: B256,
    llama_id: B256,
}

fn models() -> &'static Models {
    static M: std::sync::OnceLock<Models> = std::sync::OnceLock::new();
    M.get_or_init(|| {
        // Seeded, so every test process writes the same bytes: written once under the target
        // directory (staged, then renamed into place) instead of once per process in /tmp, in
        // a folder named after the bytes and the directory format (a changed model format
        // gets a new folder).
        let (bert_blob, llama_blob) = (tiny_bert(1).to_blob(), tiny_llama(5).to_blob());
        let mut hasher = std::hash::DefaultHasher::new();
        let format = assay_protocol::model_dir::FORMAT;
        std::hash::Hash::hash(&(&bert_blob, &llama_blob, format), &mut hasher);
        let name = format!("assay-worker-run-models-{:016x}", std::hash::Hasher::finish(&hasher));
        let root = Path::new(env!("CARGO_TARGET_TMPDIR")).join(name);
        if !root.exists() {
            let staging = root.with_extension(std::process::id().to_string());
            std::fs::remove_dir_all(&staging).ok();
            ModelDir::write(&staging.join("bert"), &bert_blob, BERT_CONFIG_KEYS).expect("bert");
            ModelDir::write(&staging.join("llama"), &llama_blob, LLAMA_CONFIG_KEYS).expect("llama");
            // Another process may have won the race: its copy is the same.
            if std::fs::rename(&staging, &root).is_err() {
                std::fs::remove_dir_all(&staging).ok();
            }
        }
        let (bert, llama) = (root.join("bert"), root.join("llama"));
        let id = |d: &PathBuf| ModelDir::open(d).expect("open").model_id;
        Models { bert_id: id(&bert), llama_id: id(&llama), bert, llama }
    })
}

/// The honest output hash and trace root, from the scalar kernels.
fn expected(dir: &Path, spec: &JobSpec) -> (B256, B256, Vec<u32>) {
    let model = Model::load(&ModelDir::open(dir).expect("open").blob).expect("load");
    let (out, _) = model.run(&Scalar, &spec.to_input()).expect("run");
    (B256::from(out.output_hash), B256::from(out.trace_root), out.tokens)
}

/// `(output_hash, trace_root)` a worker claims for `spec`: the engine's, or the dishonest
/// double's (`exec::cheat`).
fn claim(dir: &Path, spec: &JobSpec, dishonest: bool) -> (B256, B256) {
    if !dishonest {
        let (hash, root, _) = expected(dir, spec);
        return (hash, root);
    }
    let model = Model::load(&ModelDir::open(dir).expect("open").blob).expect("load");
    let (hash, trace) = cheat(&model, &spec.to_input(), Keep::Nothing).expect("cheats");
    (B256::from(hash), B256::from(trace.root(&hash)))
}

/// The coordinator double's side of one connection, with the text deltas received so far.
struct Conn(WebSocketStream<TcpStream>, Vec<(String, String)>);

impl Conn {
    async fn accept(listener: &TcpListener) -> Self {
        let (tcp, _) = tokio::time::timeout(Duration::from_secs(60), listener.accept())
            .await
            .expect("the worker connects")
            .expect("accept");
        Self(accept_async(tcp).await.expect("websocket"), Vec::new())
    }

    async fn send(&mut self, msg: &CoordinatorMsg) {
        let text = serde_json::to_string(msg).expect("json");
        self.0.send(Message::text(text)).await.expect("send");
    }

    /// The text `job_id`'s deltas received so far add up to.
    fn streamed(&self, job_id: &str) -> String {
        self.1.iter().filter(|(id, _)| id == job_id).map(|(_, text)| text.as_str()).collect()
    }

    /// The next frame other than a heartbeat or a delta (kept for [`Conn::streamed`]); `None`
    /// when the worker closed the socket.
    async fn recv(&mut self) -> Option<WorkerMsg> {
        loop {
            let frame = tokio::time::timeout(Duration::from_secs(60), self.0.next())
                .await
                .expect("a frame in time");
            match frame {
                None | Some(Ok(Message::Close(_)) | Err(_)) => return None,
                Some(Ok(Message::Text(t))) => {
                    match serde_json::from_str(t.as_str()).expect("worker frame") {
                        WorkerMsg::Heartbeat { .. } => {}
                        WorkerMsg::Partial { job_id, text } => self.1.push((job_id, text)),
                        msg => return Some(msg),
                    }
                }
                Some(Ok(_)) => {}
            }
        }
    }

    /// Challenge, check the signed hello, welcome; returns the worker's address.
    async fn handshake(&mut self) -> (Address, Vec<B256>, u32, f64) {
        let nonce = B256::random();
        self.send(&CoordinatorMsg::Challenge {
            nonce,
            chain_id: CHAIN,
            protocol: PROTOCOL_VERSION,
        })
        .await;
        let Some(WorkerMsg::Hello { worker, signature, protocol, models, slots, tokens_per_sec }) =
            self.recv().await
        else {
            panic!("expected hello");
        };
        assert_eq!(protocol, PROTOCOL_VERSION);
        assert!(recovers_to(&signature, hello_digest(CHAIN, nonce, worker), worker), "hello sig");
        self.send(&CoordinatorMsg::Welcome { worker, heartbeat_secs: 1 }).await;
        (worker, models, slots, tokens_per_sec)
    }
}

fn assignment(id: &str, model_id: B256, spec: JobSpec, role: Role) -> CoordinatorMsg {
    CoordinatorMsg::Execute(Assignment {
        job_id: id.into(),
        job_key: B256::from(alloy_primitives::keccak256(id)),
        model_id,
        spec,
        role,
    })
}

fn generate() -> JobSpec {
    JobSpec::user("the weather is", 6, 0)
}

fn embed() -> JobSpec {
    JobSpec::Embed { prompt: "the cat sat on the mat".into() }
}

async fn start(config: Config) -> (TcpListener, CancellationToken, tokio::task::JoinHandle<()>) {
    let listener = TcpListener::bind("127.0.0.1:0").await.expect("bind");
    let url = format!("ws://{}/v1/workers", listener.local_addr().expect("addr"));
    let m = models();
    let config = config.with_coordinator(&url).with_model(&m.bert).with_model(&m.llama);
    let token = CancellationToken::new();
    let t = token.clone();
    let handle = tokio::spawn(async move { run(config, t).await.expect("worker runs") });
    (listener, token, handle)
}

/// Runs an asserter and a validator job; returns (asserted hash, revealed hash).
async fn serve_two_jobs(conn: &mut Conn, worker: Address, dishonest: bool) -> (B256, B256) {
    let m = models();
    conn.send(&assignment("job-a", m.llama_id, generate(), Role::Asserter)).await;
    let Some(WorkerMsg::Result { job_id, output, receipt }) = conn.recv().await else {
        panic!("expected a result");
    };
    assert_eq!(job_id, "job-a");
    assert!(receipt.verify(CHAIN), "receipt signature");
    assert!(!receipt.verify(CHAIN + 1), "receipts are bound to the chain");
    let r = receipt.receipt;
    let (_, _, tokens) = expected(&m.llama, &generate());
    let (_, trace_root) = claim(&m.llama, &generate(), dishonest);
    assert_eq!((r.worker, r.model_id, r.trace_root), (worker, m.llama_id, trace_root));
    assert_eq!(r.job_key, B256::from(alloy_primitives::keccak256("job-a")));
    assert_eq!(r.input_root, generate().input_root());
    // The cheat answers a wrong output under a valid receipt: its last token is not the engine's.
    let tokens = if dishonest { wrong_output(&tokens, &[]).0 } else { tokens };
    assert_eq!(output.tokens, tokens);
    assert_eq!(output.hash(), r.output_hash, "the receipt signs the output sent");
    let streamed = conn.streamed("job-a");
    assert!(!streamed.is_empty(), "the asserter streamed its text before the result");
    if !dishonest {
        assert!(output.text.starts_with(&streamed), "{streamed:?} starts {:?}", output.text);
    }
    let JobSpec::Generate { messages, .. } = generate() else { unreachable!() };
    let model = Model::load(&ModelDir::open(&m.llama).expect("open").blob).expect("load");
    let Model::Llama(llama) = &model else { panic!("a llama") };
    let prompt_tokens = llama.prompt_tokens(&messages).expect("chat").len();
    assert!(prompt_tokens > 3, "the chat template adds tokens: {prompt_tokens}");
    assert_eq!(output.prompt_tokens, u32::try_from(prompt_tokens).ok());
    let asserted = r.output_hash;

    conn.send(&assignment("job-v", m.bert_id, embed(), Role::Validator)).await;
    let Some(WorkerMsg::Committed { job_id, commitment }) = conn.recv().await else {
        panic!("expected a commitment");
    };
    assert_eq!(job_id, "job-v");
    conn.send(&CoordinatorMsg::Reveal { job_id: "job-v".into() }).await;
    let Some(WorkerMsg::Revealed { job_id, salt, receipt }) = conn.recv().await else {
        panic!("expected a reveal");
    };
    assert_eq!(job_id, "job-v");
    assert!(receipt.verify(CHAIN));
    let r = receipt.receipt;
    let opened = validation_commitment(r.job_key, worker, r.output_hash, r.trace_root, salt);
    assert_eq!(opened, commitment);
    assert_eq!((r.model_id, r.input_root), (m.bert_id, embed().input_root()));
    (asserted, r.output_hash)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn worker_serves_asserter_and_validator_jobs() {
    let (listener, token, handle) = start(Config::test("").with_slots(2)).await;
    let mut conn = Conn::accept(&listener).await;
    let (worker, models_sent, slots, tokens_per_sec) = conn.handshake().await;
    let m = models();
    let mut want = vec![m.bert_id, m.llama_id];
    want.sort();
    assert_eq!((models_sent, slots), (want, 2));
    assert!(tokens_per_sec > 0.0, "benchmark ran: {tokens_per_sec}");

    let (asserted, revealed) = serve_two_jobs(&mut conn, worker, false).await;
    assert_eq!(asserted, expected(&m.llama, &generate()).0, "honest asserted hash");
    assert_eq!(revealed, expected(&m.bert, &embed()).0, "honest revealed hash");

    // A validator of a generation streams nothing.
    conn.send(&assignment("job-g", m.llama_id, generate(), Role::Validator)).await;
    assert!(matches!(conn.recv().await, Some(WorkerMsg::Committed { .. })));
    conn.send(&CoordinatorMsg::Reveal { job_id: "job-g".into() }).await;
    assert!(matches!(conn.recv().await, Some(WorkerMsg::Revealed { .. })));
    assert_eq!(conn.streamed("job-g"), "", "validators do not stream");

    // A job for a model it does not serve, and a task the model cannot do, fail cleanly.
    conn.send(&assignment("job-x", B256::repeat_byte(9), embed(), Role::Asserter)).await;
    let Some(WorkerMsg::Failed { job_id, error }) = conn.recv().await else { panic!("failed") };
    assert!(job_id == "job-x" && error.contains("not loaded"), "{error}");
    conn.send(&assignment("job-y", m.bert_id, generate(), Role::Asserter)).await;
    let Some(WorkerMsg::Failed { job_id, error }) = conn.recv().await else { panic!("failed") };
    assert!(job_id == "job-y" && error.contains("cannot generate"), "{error}");

    // Heartbeats arrive every heartbeat_secs.
    let beat = tokio::time::timeout(Duration::from_secs(5), async {
        loop {
            if let Some(Ok(Message::Text(t))) = conn.0.next().await
                && t.as_str().contains("heartbeat")
            {
                return;
            }
        }
    })
    .await;
    assert!(beat.is_ok(), "no heartbeat");

    token.cancel();
    assert!(conn.recv().await.is_none(), "closes on shutdown");
    handle.await.expect("worker stops");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn dishonest_worker_corrupts_asserted_and_revealed_hashes() {
    let (listener, token, handle) = start(Config::test("").with_dishonest(true)).await;
    let mut conn = Conn::accept(&listener).await;
    let (worker, ..) = conn.handshake().await;
    let (asserted, revealed) = serve_two_jobs(&mut conn, worker, true).await;
    let m = models();
    assert_ne!(asserted, expected(&m.llama, &generate()).0, "asserted hash corrupted");
    assert_eq!(asserted, claim(&m.llama, &generate(), true).0, "the cheat's claim");
    assert_ne!(revealed, expected(&m.bert, &embed()).0, "revealed hash corrupted");
    assert_eq!(revealed, claim(&m.bert, &embed(), true).0, "the cheat's claim");
    token.cancel();
    handle.await.expect("worker stops");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn worker_reconnects_after_the_coordinator_drops_it() {
    let (listener, token, handle) = start(Config::test("")).await;
    let mut conn = Conn::accept(&listener).await;
    let (first, ..) = conn.handshake().await;
    drop(conn);
    // Refused handshakes are retried too.
    let mut conn = Conn::accept(&listener).await;
    conn.send(&CoordinatorMsg::Challenge {
        nonce: B256::ZERO,
        chain_id: CHAIN,
        protocol: PROTOCOL_VERSION,
    })
    .await;
    assert!(matches!(conn.recv().await, Some(WorkerMsg::Hello { .. })));
    conn.send(&CoordinatorMsg::Rejected { reason: "not yet staked".into() }).await;
    drop(conn);
    let mut conn = Conn::accept(&listener).await;
    let (again, ..) = conn.handshake().await;
    assert_eq!(first, again);
    let (asserted, _) = serve_two_jobs(&mut conn, again, false).await;
    assert_eq!(asserted, expected(&models().llama, &generate()).0);
    token.cancel();
    handle.await.expect("worker stops");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn worker_waits_for_a_coordinator_that_is_down() {
    // Find a free port, let the worker try it while nothing listens, then start listening.
    let port =
        TcpListener::bind("127.0.0.1:0").await.expect("bind").local_addr().expect("a").port();
    let m = models();
    let config = Config::test(&format!("ws://127.0.0.1:{port}/v1/workers")).with_model(&m.bert);
    let token = CancellationToken::new();
    let t = token.clone();
    let handle = tokio::spawn(async move { run(config, t).await.expect("worker runs") });
    tokio::time::sleep(Duration::from_millis(700)).await;
    let listener = TcpListener::bind(("127.0.0.1", port)).await.expect("rebind");
    let mut conn = Conn::accept(&listener).await;
    conn.handshake().await;
    token.cancel();
    handle.await.expect("worker stops");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn shutdown_finishes_committed_work_and_refuses_new_jobs() {
    let (listener, token, handle) = start(Config::test("")).await;
    let mut conn = Conn::accept(&listener).await;
    conn.handshake().await;
    let m = models();
    conn.send(&assignment("job-v", m.bert_id, embed(), Role::Validator)).await;
    assert!(matches!(conn.recv().await, Some(WorkerMsg::Committed { .. })));
    token.cancel();
    tokio::time::sleep(Duration::from_millis(100)).await;
    conn.send(&assignment("job-late", m.bert_id, embed(), Role::Asserter)).await;
    let Some(WorkerMsg::Failed { job_id, error }) = conn.recv().await else { panic!("failed") };
    assert!(job_id == "job-late" && error.contains("shutting down"), "{error}");
    // The committed validator still reveals, then the worker closes.
    conn.send(&CoordinatorMsg::Reveal { job_id: "job-v".into() }).await;
    assert!(matches!(conn.recv().await, Some(WorkerMsg::Revealed { .. })));
    assert!(conn.recv().await.is_none(), "closes once nothing is in flight");
    handle.await.expect("worker stops");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn shutdown_abandons_what_the_grace_period_does_not_cover() {
    let config = Config::test("").with_shutdown_grace(Duration::from_millis(300));
    let (listener, token, handle) = start(config).await;
    let mut conn = Conn::accept(&listener).await;
    conn.handshake().await;
    conn.send(&assignment("job-v", models().bert_id, embed(), Role::Validator)).await;
    assert!(matches!(conn.recv().await, Some(WorkerMsg::Committed { .. })));
    token.cancel();
    let Some(WorkerMsg::Failed { job_id, .. }) = conn.recv().await else { panic!("failed") };
    assert_eq!(job_id, "job-v");
    assert!(conn.recv().await.is_none());
    handle.await.expect("worker stops");
}
