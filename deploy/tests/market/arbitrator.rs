//! `verifier arbitrate`, the unattended arbitrator, as its own process: it finds a wrong
//! assertion of an on-chain job, claims against it with a bond before the draw, draws it, plays
//! the claim's game against the liar, is killed with SIGKILL mid-game, and, restarted on the
//! same database, finishes the game by proof and withdraws its bond.

use std::{
    path::{Path, PathBuf},
    process::{Child, Command, Stdio},
    time::{Duration, Instant},
};

use assay_engine::{
    job::Model,
    kernels::Scalar,
    trace::{Keep, Op},
};
use assay_protocol::{codes::GamePhase, job::JobFile, model_dir::ModelDir};

use super::*;

/// The `verifier` binary of this build (next to the test's own directory).
fn verifier_binary() -> PathBuf {
    let exe = std::env::current_exe().expect("the test's path");
    let dir = exe.parent().and_then(Path::parent).expect("the target directory");
    let bin = dir.join("verifier");
    assert!(
        bin.exists(),
        "{} is missing: cargo build -p assay-verifier --bin verifier",
        bin.display()
    );
    bin
}

/// A free local port for `/metrics`.
fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0").expect("a port").local_addr().expect("bound").port()
}

/// A running `verifier arbitrate`.
struct Arbitrator {
    child: Child,
    metrics: String,
}

impl Arbitrator {
    fn start(args: &[String], log: &Path, port: u16) -> Self {
        let log = std::fs::OpenOptions::new().create(true).append(true).open(log).expect("log");
        let child = Command::new(verifier_binary())
            .arg("arbitrate")
            .args(args)
            .args(["--metrics-addr", &format!("127.0.0.1:{port}"), "--poll-ms", "200"])
            .env("RUST_LOG", "info")
            .stdout(Stdio::null())
            .stderr(log)
            .spawn()
            .expect("the arbitrator starts");
        Self { child, metrics: format!("http://127.0.0.1:{port}/metrics") }
    }

    /// SIGKILL: nothing runs after it.
    fn kill(mut self) {
        self.child.kill().expect("killed");
        self.child.wait().expect("reaped");
    }
}

/// Reads the game until `done` holds, playing the liar's moves meanwhile.
async fn play_until(
    m: &mut Market,
    liar: &mut Liar,
    what: &str,
    mut done: impl FnMut(GamePhase) -> bool,
) {
    let started = Instant::now();
    loop {
        let phase = liar.turn(m).await.unwrap_or(GamePhase::Ended);
        if done(phase) {
            return;
        }
        assert!(started.elapsed() < Duration::from_secs(120), "timed out waiting for {what}");
    }
}

pub(super) async fn an_arbitrator_killed_mid_game_finishes_it(m: &mut Market) {
    let dir = tempfile::tempdir().expect("a directory");
    m.set_challenge_ppm(RARELY).await;
    // The model, the job and its honest run; the liar asserts a corrupted trace of it.
    let blob = model_blob();
    let model_dir = dir.path().join("model");
    ModelDir::write(&model_dir, &blob, assay_convert::LLAMA_CONFIG_KEYS).expect("model dir");
    let spec = assay_protocol::job::JobSpec::user("the weather is", 4, 0);
    assert_eq!(spec.to_input(), generation());
    let (out, _) = Model::load(&blob)
        .expect("loads")
        .run_keeping(&Scalar, &spec.to_input(), Keep::Nothing)
        .expect("runs");
    let (_, lie, _, _) = traces_at((Op::Context, 2, None), &blob, &generation());
    let wrong = keccak256("the arbitrator's liar");
    m.traces.insert(wrong, B256::from(lie.root(&wrong.0)));
    m.input_root = spec.input_root();

    let key = keccak256("assay market test unattended arbitrator");
    let arbitrator = Actor::new(&m.node, key);
    let fund = TransactionRequest::default()
        .with_from(m.owner.address)
        .with_to(arbitrator.address)
        .with_value(U256::from(10u64).pow(U256::from(18u64)));
    m.owner.p.send_transaction(fund).await.expect("sent").get_receipt().await.expect("funded");
    let key_file = dir.path().join("arbitrator.key");
    std::fs::write(&key_file, key.to_string()).expect("key file");
    let manifest = dir.path().join("deployment.json");
    m.deployment.save(&manifest).expect("manifest");
    let records = dir.path().join("records");
    std::fs::create_dir_all(&records).expect("records");
    let path = |p: &Path| p.display().to_string();
    let args: Vec<String> = [
        "--rpc-url",
        &m.node.url(),
        "--deployment",
        &path(&manifest),
        "--key-file",
        &path(&key_file),
        "--db",
        &path(&dir.path().join("arbitrator.sqlite")),
        "--model",
        &path(&model_dir),
        "--records",
        &path(&records),
    ]
    .iter()
    .map(|s| s.to_string())
    .collect();
    let log = dir.path().join("arbitrator.log");
    let first = Arbitrator::start(&args, &log, free_port());

    // The liar asserts; the record (as the coordinator would serve it) names its claim.
    let (job, asserter) = m.submit_and_assign().await;
    let mut record = JobFile::new(m.model, spec, &out);
    (record.output_hash, record.trace_root) = (wrong, m.trace_of(wrong));
    let job_key = onchain_job_key(job);
    std::fs::write(
        records.join(format!("{job_key}.json")),
        serde_json::to_string(&record).expect("json"),
    )
    .expect("record");
    m.assert_result(job, asserter, wrong, B256::ZERO).await;

    // The arbitrator claims, draws the job, finalizes: a game against the liar opens.
    let started = Instant::now();
    let game = loop {
        let id = m
            .view(m.game, IDisputeGame::gameOfCall { jobId: job, challenger: arbitrator.address })
            .await;
        if !id.is_zero() {
            break id;
        }
        assert!(started.elapsed() < Duration::from_secs(60), "no game: {}", read(&log));
        tokio::time::sleep(Duration::from_millis(200)).await;
    };
    assert_eq!(m.job_status(job).await, DISPUTED);
    let mut liar = Liar::new(m, game, asserter, lie, false).await;
    // Both roots opened and the bisection under way: kill it there.
    play_until(m, &mut liar, "the arbitrator's first bisection", |p| p == GamePhase::Leaves).await;
    first.kill();
    let log_after_kill = read(&log);
    assert!(log_after_kill.contains("bonded claim filed"), "{log_after_kill}");
    assert!(log_after_kill.contains("moved"), "a log line per move: {log_after_kill}");
    let second = Arbitrator::start(&args, &log, free_port());
    play_until(m, &mut liar, "the game's end", |p| p == GamePhase::Ended).await;

    let state = m.view(m.game, IDisputeGame::gameCall { gameId: game }).await;
    assert_eq!(state.outcome, GameOutcome::ChallengerWon as u8, "{}", read(&log));
    assert_eq!(m.job_status(job).await, REJECTED);
    // The restarted arbitrator withdraws the bond it won back.
    let started = Instant::now();
    loop {
        let owed = m.view(m.game, IDisputeGame::bondsCall { account: arbitrator.address }).await;
        if owed.is_zero() && read(&log).contains("bonds withdrawn") {
            break;
        }
        assert!(started.elapsed() < Duration::from_secs(30), "bond not withdrawn: {}", read(&log));
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
    let metrics = reqwest::get(&second.metrics).await.expect("metrics").text().await.expect("text");
    assert!(
        metrics.contains("assay_arbitrator_games_total{outcome=\"won\"} 1\n"),
        "{metrics}\n{}",
        read(&log)
    );
    second.kill();
    m.input_root = B256::repeat_byte(0x1e);
    m.traces.clear();
    m.set_challenge_ppm(ALWAYS).await;
}

fn read(log: &Path) -> String {
    std::fs::read_to_string(log).unwrap_or_default()
}
