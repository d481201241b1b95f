//! The network end to end, on real parts: the in-process test node running the contracts' real
//! wasm, `deploy`, staked miners registered on-chain, the coordinator with its SQLite file, and
//! workers (`worker run` child processes) running the real bundled models, all talking over real
//! HTTP and WebSocket.
//!
//! Job files from `GET /v1/jobs/{id}/record` replay unchanged in the verifier.
//!
//! Needs the contracts' release wasm (`ASSAY_CONTRACTS_TARGET_DIR`, which `.ci/test` exports),
//! the bundled models (`ASSAY_MINILM_DIR`, `ASSAY_SMOLLM2_GGUF`, which `.ci/run` sets) and the
//! `worker` binary (built by `cargo nextest run --workspace`, or here when missing).

use std::{
    collections::{BTreeMap, BTreeSet},
    path::PathBuf,
    time::Duration,
};

use alloy_primitives::{Address, B256, U256};
use alloy_provider::{DynProvider, Provider, ProviderBuilder};
use alloy_rpc_types_eth::{Filter, TransactionRequest};
use alloy_sol_types::{SolCall, SolEvent};
use assay_devnet::{Options, network};
use assay_protocol::{
    bindings::{IDisputeGame, IJobMarket, IModelRegistry, ISampling, IStaking},
    codes::{GameOutcome, GamePhase, JobStatus},
    job::JobFile,
    wire::SignedReceipt,
};
use assay_verifier::check::Record;
use clap::Parser;
use serde_json::{Value, json};

fn env_path(name: &str) -> PathBuf {
    std::env::var_os(name).map(PathBuf::from).unwrap_or_else(|| {
        panic!("{name} is not set: run the tests through .ci/run (it fetches the models and builds the contracts)")
    })
}

/// Logs of the network's services with `RUST_LOG` set (e.g. `RUST_LOG=info`), shown on failure.
fn logs() {
    let filter = tracing_subscriber::EnvFilter::try_from_default_env()
        .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new("off"));
    tracing_subscriber::fmt().with_env_filter(filter).with_test_writer().try_init().ok();
}

/// The `worker` binary next to the test binaries, with the `verifier` the arbitrator runs. CI
/// (`ASSAY_CI_CACHE` set) runs `cargo nextest run --workspace`, which builds both fresh for their
/// crates' own tests: they are built here only when missing. Elsewhere they are built (or found
/// up to date) here every time, so a test run after a change never runs a stale binary.
fn worker_bin() -> PathBuf {
    let found = assay_devnet::workers::find_worker_bin(None);
    if let Ok(bin) = &found
        && bin.with_file_name("verifier").is_file()
        && std::env::var_os("ASSAY_CI_CACHE").is_some()
    {
        return bin.clone();
    }
    let mut cargo = std::process::Command::new(env!("CARGO"));
    cargo.args(["build", "--quiet", "-p", "assay-worker", "--bin", "worker"]);
    cargo.args(["-p", "assay-verifier", "--bin", "verifier"]);
    if !cfg!(debug_assertions) {
        cargo.arg("--release"); // next to a release test binary
    }
    let status = cargo.current_dir(env!("CARGO_MANIFEST_DIR")).status().expect("cargo runs");
    assert!(status.success(), "building the worker binary failed");
    assay_devnet::workers::find_worker_bin(None).expect("the worker binary was just built")
}

fn options(data_dir: PathBuf, workers: u8, dishonest: u8) -> Options {
    logs();
    Options {
        data_dir,
        minilm: env_path("ASSAY_MINILM_DIR"),
        smollm2: env_path("ASSAY_SMOLLM2_GGUF"),
        wasm_dir: Some(
            env_path("ASSAY_CONTRACTS_TARGET_DIR").join("wasm32-unknown-unknown/release"),
        ),
        rpc_port: 0,
        port: 0,
        workers,
        worker_bin: Some(worker_bin()),
        worker_memory_limit: 4 << 30,
        dishonest,
        challenge_probability: 1.0,
        chain_challenge_ppm: None,
        // One test starts it (it replays every opened job: CPU the others need).
        arbitrator: false,
        demo: false,
        demo_jobs: 0,
    }
}

async fn post(url: String, body: Value) -> Value {
    let response = reqwest::Client::new()
        .post(url)
        .bearer_auth(network::API_KEY)
        .json(&body)
        .send()
        .await
        .expect("request");
    let status = response.status();
    let value: Value = response.json().await.expect("json");
    assert!(status.is_success(), "HTTP {status}: {value}");
    value
}

/// The job once its off-chain sampling is over.
async fn job(api: &str, id: &str) -> Value {
    settled(api, id, |j| {
        !matches!(j["status"].as_str(), Some("pending" | "assigned" | "challenged"))
    })
    .await
}

/// The job once its on-chain settlement is one of `states`.
async fn settled_on_chain(api: &str, id: &str, states: &[&str]) -> Value {
    settled(api, id, |j| states.iter().any(|s| j["settlement"] == *s)).await
}

/// Polls `GET /v1/jobs/{id}` until `done` holds (at most 5 minutes).
async fn settled(api: &str, id: &str, done: impl Fn(&Value) -> bool) -> Value {
    for _ in 0..600 {
        let job = job_json(api, id).await;
        if done(&job) {
            return job;
        }
        tokio::time::sleep(Duration::from_millis(500)).await;
    }
    panic!("job {id} did not settle: {}", job_json(api, id).await);
}

/// An embedding request; its job id.
async fn embed(api: &str, text: &str) -> String {
    let e = post(format!("{api}/embeddings"), json!({"model": "minilm", "input": text})).await;
    assert_eq!(e["data"][0]["embedding"].as_array().expect("embedding").len(), 384);
    e["assay"]["jobs"][0]["job_id"].as_str().expect("job id").to_owned()
}

/// A client of the network's chain.
fn chain(net: &network::Network) -> DynProvider {
    ProviderBuilder::new().connect_http(net.node.url().parse().expect("url")).erased()
}

/// A view call.
async fn view<C: SolCall>(chain: &DynProvider, to: Address, call: C) -> C::Return {
    let tx = TransactionRequest::default().to(to).input(call.abi_encode().into());
    let out = chain.call(tx).await.unwrap_or_else(|e| panic!("{}: {e}", C::SIGNATURE));
    C::abi_decode_returns(&out).expect("decodes")
}

fn address(v: &Value) -> Address {
    v.as_str().and_then(|s| s.parse().ok()).unwrap_or_else(|| panic!("not an address: {v}"))
}

/// Every job is challenged (p = 1). One of four miners cheats: a job it takes part in (as
/// asserter or validator) is disputed, every other job matches, and only the cheat is flagged.
#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn cheats_are_caught_every_time_and_honest_miners_never_flagged() {
    let dir = std::env::temp_dir().join(format!("assay-devnet-e2e-{}", std::process::id()));
    let mut opts = options(dir.clone(), 4, 1);
    opts.arbitrator = true;
    let net = network::start(&opts).await.expect("network starts");
    let api = net.api();
    let cheat = net.workers.iter().find(|(_, d)| *d).expect("a dishonest worker").0;

    let chat = post(
        format!("{api}/chat/completions"),
        json!({"model": "smollm2", "max_tokens": 6,
               "messages": [{"role": "user", "content": "What is the capital of France?"}]}),
    )
    .await;
    assert!(!chat["choices"][0]["message"]["content"].as_str().expect("text").is_empty());
    let mut ids = vec![chat["assay"]["job_id"].as_str().expect("job id").to_owned()];
    for i in 0..7 {
        ids.push(embed(&api, &format!("sentence number {i} about the sea")).await);
    }
    // Until the cheat asserted one (it answers about one job in four).
    for i in 7..24 {
        let asserters: Vec<Address> =
            futures::future::join_all(ids.iter().map(|id| job_json(&api, id)))
                .await
                .iter()
                .map(|j| address(&j["asserter"]))
                .collect();
        if asserters.contains(&cheat) {
            break;
        }
        ids.push(embed(&api, &format!("sentence number {i} about the sea")).await);
    }

    let (mut disputed, mut matched) = (0, 0);
    let mut cheated = Vec::new();
    for id in &ids {
        let job = job(&api, id).await;
        if address(&job["asserter"]) == cheat {
            cheated.push(id.clone());
        }
        let mut parties: BTreeSet<Address> = BTreeSet::from([address(&job["asserter"])]);
        for v in job["validators"].as_array().expect("validators") {
            parties.insert(address(&v["address"]));
        }
        assert!(parties.len() >= 2, "job {id} was not challenged: {job}");
        let expected = if parties.contains(&cheat) { "disputed" } else { "matched" };
        assert_eq!(job["status"], expected, "job {id}: {job}");
        if expected == "disputed" { disputed += 1 } else { matched += 1 }
    }
    println!("{} jobs: {matched} matched, {disputed} disputed", ids.len());
    assert!(disputed > 0, "the cheat took part in no job");

    let flags: Value = reqwest::Client::new()
        .get(format!("{api}/flags"))
        .bearer_auth(network::API_KEY)
        .send()
        .await
        .expect("flags")
        .json()
        .await
        .expect("json");
    let flagged: BTreeSet<Address> = flags["data"]
        .as_array()
        .expect("flags list")
        .iter()
        .map(|f| address(&f["worker"]))
        .collect();
    assert_eq!(flagged, BTreeSet::from([cheat]), "flags: {flags}");

    escalated_disputes_are_won_by_the_arbitrator(&net, cheat, &cheated).await;

    net.shutdown().await;
    std::fs::remove_dir_all(&dir).ok();
}

/// The coordinator escalates what its sampling found: the arbitrator checks each job the cheat
/// answered wrongly from `GET /v1/disputes`, claims against it with a bond before its record is
/// batched, the coordinator batches the record and opens it for the claim (the draw passed it
/// or not), and the arbitrator wins the game by proof: the job is rejected on chain and the
/// cheat slashed. The batch is published with proofs that hold against the committed root.
async fn escalated_disputes_are_won_by_the_arbitrator(
    net: &network::Network,
    cheat: Address,
    cheated: &[String],
) {
    assert!(!cheated.is_empty(), "the cheat asserted no job");
    let (api, provider) = (net.api(), chain(net));
    let market = net.manifest.contract("JobMarket").expect("JobMarket deployed");
    let (sampling, game) = (
        net.manifest.contract("Sampling").expect("Sampling deployed"),
        net.manifest.contract("DisputeGame").expect("DisputeGame deployed"),
    );
    let workers: BTreeSet<Address> = net.workers.iter().map(|(a, _)| *a).collect();
    let client = assay_chain::Client::new(&net.node.url(), net.manifest.chain_id, None).unwrap();
    for id in cheated {
        let job = settled_on_chain(&api, id, &["rejected"]).await;
        let chain_job_id: U256 =
            job["transactions"]["chain_job_id"].as_str().expect("opened").parse().expect("id");
        let settled =
            events_of::<ISampling::DisputeSettled>(&provider, sampling, chain_job_id).await;
        assert_eq!(
            (settled[0].status, settled[0].losers.clone()),
            (JobStatus::Rejected as u8, vec![cheat]),
            "job {id}"
        );
        let report = assay_devnet::games::played(&client, game, sampling).await.expect("games");
        let won: Vec<_> = report
            .iter()
            .filter(|l| l.job_id == chain_job_id && !workers.contains(&l.challenger))
            .collect();
        assert_eq!(won.len(), 1, "job {id}: the arbitrator's game: {report:?}");
        println!("{}", won[0]);
        assert_eq!(won[0].outcome, Some(GameOutcome::ChallengerWon), "{}", won[0]);
        assert!(won[0].proven && won[0].slashed == vec![cheat], "{}", won[0]);
        // Its batch as the coordinator publishes it: the record proves under the root on chain.
        let batch_id = job["transactions"]["batch_id"].as_str().expect("batched");
        let published: assay_protocol::published::PublishedBatch = reqwest::Client::new()
            .get(format!("{api}/batches/{batch_id}"))
            .bearer_auth(network::API_KEY)
            .send()
            .await
            .expect("request")
            .json()
            .await
            .expect("a published batch");
        let on_chain = view(
            &provider,
            market,
            IJobMarket::batchCall { batchId: batch_id.parse().expect("decimal") },
        )
        .await;
        assert_eq!(published.root, on_chain.jobsRoot);
        let record = published.records.iter().find(|r| r.id == *id).expect("the job's record");
        assert!(record.proves(on_chain.jobsRoot), "job {id}");
        assert_eq!(record.sampled, assay_protocol::published::Sampled::Disputed);
    }
    // The arbitrator counts a game once its player has seen the end (a moment after the chain).
    let metrics = net.arbitrator_metrics.clone().expect("an arbitrator runs");
    let started = std::time::Instant::now();
    loop {
        let text = reqwest::get(&metrics).await.expect("metrics").text().await.expect("text");
        let line = assay_devnet::demo::ArbitratorLine::parse(&text);
        assert!(line.claims >= line.won, "{text}");
        if line.won >= cheated.len() as u64 {
            println!("arbitrator: {line:?}; {} escalated dispute(s) won", cheated.len());
            break;
        }
        assert!(started.elapsed() < Duration::from_secs(60), "games not counted: {text}");
        tokio::time::sleep(Duration::from_millis(500)).await;
    }
}

/// Served jobs are settled on chain: committed in batches with their fees in escrow, sealed,
/// and claimed for their asserters after the window (or, for the few records the on-chain draw
/// challenges at p = 2 %, opened and settled through Sampling). A miner's fee balance in the
/// JobMarket equals the fees of its claimed records in the coordinator's records, and every
/// transaction the coordinator reports succeeded.
#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn jobs_settle_on_chain_and_balances_match_the_coordinators_records() {
    let dir = std::env::temp_dir().join(format!("assay-devnet-settle-{}", std::process::id()));
    let mut opts = options(dir.clone(), 2, 0);
    opts.challenge_probability = 0.0;
    let net = network::start(&opts).await.expect("network starts");
    let api = net.api();
    let mut ids = Vec::new();
    for i in 0..6 {
        ids.push(embed(&api, &format!("settled sentence {i}")).await);
    }

    let provider = chain(&net);
    let market = net.manifest.contract("JobMarket").expect("JobMarket deployed");
    let minilm = net.manifest.models.iter().find(|m| m.name == "minilm").expect("minilm");
    let minilm_price = minilm.price;
    assert!(minilm_price > U256::ZERO, "the registry prices minilm");
    let mut earned: BTreeMap<Address, U256> = BTreeMap::new();
    let mut challenged_on_chain = BTreeSet::new();
    let mut batches = BTreeSet::new();
    for id in &ids {
        let job = settled_on_chain(&api, id, &["claimed", "accepted"]).await;
        let fee: U256 = job["fee"].as_str().expect("fee").parse().expect("decimal fee");
        // The model's registry price per unit of work, times the tokens the output hash covers.
        let tokens = job["output"]["tokens"].as_array().expect("output tokens").len();
        assert!(tokens > 1, "{job}");
        assert_eq!(fee, minilm_price * U256::from(tokens), "{job}");
        let asserter = address(&job["asserter"]);
        match job["settlement"].as_str() {
            Some("claimed") => *earned.entry(asserter).or_default() += fee,
            Some("accepted") => {
                challenged_on_chain.insert(asserter);
            }
            other => panic!("job {id} settled as {other:?}: {job}"),
        }
        let txs = &job["transactions"];
        assert!(txs["batch_root"].is_string(), "{job}");
        batches.insert(txs["batch_id"].as_str().expect("batch id").to_owned());
        for step in ["commit_batch", "seal_batch", "settle"] {
            let hash = txs[step].as_str().unwrap_or_else(|| panic!("{step} of {id}: {job}"));
            let receipt = provider
                .get_transaction_receipt(hash.parse().expect("tx hash"))
                .await
                .expect("rpc")
                .unwrap_or_else(|| panic!("{step} {hash} is on chain"));
            assert!(receipt.status(), "{step} {hash} succeeded");
        }
    }
    for (miner, fees) in &earned {
        let balance = view(&provider, market, IJobMarket::feeBalanceCall { account: *miner }).await;
        if challenged_on_chain.contains(miner) {
            // An accepted challenge pays the fee less the user's discount on top.
            assert!(balance > *fees, "miner {miner}: {balance} vs claimed {fees}");
        } else {
            assert_eq!(
                balance, *fees,
                "miner {miner}: on-chain fee balance vs the coordinator's records"
            );
        }
    }
    // Every batch's escrow was paid out in full, no more.
    for id in &batches {
        let call = IJobMarket::batchCall { batchId: id.parse().expect("batch id") };
        let b = view(&provider, market, call).await;
        assert_eq!(b.escrow, b.paid, "batch {id}: escrow {} paid {}", b.escrow, b.paid);
        assert!(b.sealed, "batch {id} sealed");
    }
    println!("{} jobs settled in {} batch(es); fees {earned:?}", ids.len(), batches.len());

    // What the API serves replays bit for bit in the verifier: an embedding and a conversation.
    let chat = post(
        format!("{api}/chat/completions"),
        json!({"model": "smollm2", "max_tokens": 4, "messages": [
            {"role": "system", "content": "Answer in one word."},
            {"role": "user", "content": "Name a colour."},
        ]}),
    )
    .await;
    let chat_id = chat["assay"]["job_id"].as_str().expect("job id").to_owned();
    for (id, model) in [(&ids[0], "minilm"), (&chat_id, "smollm2")] {
        let record = reqwest::Client::new()
            .get(format!("{api}/jobs/{id}/record"))
            .bearer_auth(network::API_KEY)
            .send()
            .await
            .expect("request");
        assert_eq!(record.status(), 200, "{id}");
        let record: JobFile = record.json().await.expect("a job file");
        let model_dir = dir.join("models").join(model);
        let report = tokio::task::spawn_blocking(move || {
            let runtime = assay_verifier::runtime::Runtime::new().expect("the engine module");
            assay_verifier::replay::replay(&runtime, &record, &model_dir, Default::default(), false)
                .map(|report| (report, record))
        })
        .await
        .expect("replay task")
        .expect("replay");
        let (report, record) = report;
        assert!(report.matches, "{id}: {report:?}");
        assert_eq!(
            (report.output_hash, report.trace_root),
            (record.output_hash, record.trace_root)
        );
        println!(
            "{id} ({model}) replayed: output {}, fuel {}",
            report.output_hash, report.fuel_used
        );
        if model == "minilm" {
            replay_checks_the_registry(&net, &dir, &record).await;
        }
    }
    net.shutdown().await;
    std::fs::remove_dir_all(&dir).ok();
}

/// `verifier replay --deployment`: a record of a model registered under the verifier's engine
/// replays; a model nobody registered, and one registered for another engine, are refused
/// before any replay.
async fn replay_checks_the_registry(
    net: &network::Network,
    dir: &std::path::Path,
    record: &JobFile,
) {
    let owner = assay_test_node::genesis::DEV_KEY;
    let signer = alloy_signer_local::PrivateKeySigner::from_bytes(&owner).expect("the dev key");
    let key = assay_chain::Key::from(signer);
    let client = assay_chain::Client::new(&net.node.url(), net.manifest.chain_id, Some(&key))
        .expect("client");
    let registry = net.manifest.contract("ModelRegistry").expect("registry");
    let foreign = B256::repeat_byte(0x42);
    let register = IModelRegistry::registerModelCall {
        modelId: foreign,
        engineHash: B256::repeat_byte(0xee),
        pricePerUnit: U256::from(1u8),
    };
    client.send(registry, register, U256::ZERO).await.expect("registered");
    let (manifest, url) = (dir.join("deployment.json"), net.node.url());
    let model_dir = dir.join("models").join("minilm");
    let files: Vec<PathBuf> = [record.model_id, B256::repeat_byte(0x41), foreign]
        .iter()
        .enumerate()
        .map(|(i, id)| {
            let file = dir.join(format!("record-{i}.json"));
            let record = JobFile { model_id: *id, ..record.clone() };
            std::fs::write(&file, serde_json::to_string(&record).unwrap()).expect("record");
            file
        })
        .collect();
    let results = tokio::task::spawn_blocking(move || {
        files
            .iter()
            .map(|file| {
                let cli = assay_verifier::cli::Cli::parse_from([
                    "verifier".as_ref(),
                    "replay".as_ref(),
                    file.as_os_str(),
                    "--model".as_ref(),
                    model_dir.as_os_str(),
                    "--deployment".as_ref(),
                    manifest.as_os_str(),
                    "--rpc-url".as_ref(),
                    url.as_ref(),
                ]);
                assay_verifier::cli::run(&cli).map(|o| o.matched).map_err(|e| e.to_string())
            })
            .collect::<Vec<_>>()
    })
    .await
    .expect("joined");
    assert_eq!(results[0], Ok(true), "the registered model replays");
    let not_registered = format!("model {} is not registered", B256::repeat_byte(0x41));
    assert_eq!(results[1], Err(not_registered));
    let other = results[2].as_ref().expect_err("another engine is refused");
    assert!(other.contains("is registered for engine 0xeeee"), "{other}");
}

/// p = 100 % on chain and none off chain; one of four miners cheats. Every served job's record is
/// opened on chain, the validators `Sampling` draws (the three other miners) commit and reveal on
/// chain with their own keys, the honest reveals equal the asserter's hash, and the cheat's does
/// not: the job is disputed on chain and a game opened between the asserter and the cheat. The
/// two worker processes play it move by move from their own replays (the cheat from its trace
/// with one attention context element corrupted) down to that element, then through the phases
/// over the context's accumulators (both post the same final one); a one-step proof decides it:
/// the asserter wins, the cheat is slashed once per game, the job is accepted and every stake is
/// released. A job the cheat asserted (a wrong answer under a valid receipt) is rejected the same
/// way, by the honest validators' games against it.
#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn onchain_challenges_are_validated_by_the_drawn_workers_and_a_cheat_loses_its_games_by_proof()
 {
    let dir = std::env::temp_dir().join(format!("assay-devnet-onchain-{}", std::process::id()));
    let mut opts = options(dir.clone(), 4, 1);
    opts.challenge_probability = 0.0;
    opts.chain_challenge_ppm = Some(1_000_000);
    opts.arbitrator = true;
    let net = network::start(&opts).await.expect("network starts");
    let api = net.api();
    let cheat = net.workers.iter().find(|(_, d)| *d).expect("a dishonest worker").0;
    let provider = chain(&net);
    let sampling = net.manifest.contract("Sampling").expect("Sampling deployed");
    let staking = net.manifest.contract("Staking").expect("Staking deployed");
    let game = net.manifest.contract("DisputeGame").expect("DisputeGame deployed");
    let market = net.manifest.contract("JobMarket").expect("JobMarket deployed");
    let stake_before =
        view(&provider, staking, IStaking::operatorInfoCall { operator: cheat }).await;

    // Jobs until two honest miners asserted some (the cheat asserts about one in four).
    let (mut honest, mut cheated) = (Vec::new(), Vec::new());
    for i in 0..12 {
        let id = embed(&api, &format!("challenged sentence {i}")).await;
        let job = job_json(&api, &id).await;
        if address(&job["asserter"]) == cheat {
            cheated.push(id)
        } else {
            honest.push(id)
        }
        if honest.len() >= 2 && honest.len() + cheated.len() >= 3 {
            break;
        }
    }
    assert!(honest.len() >= 2, "honest miners asserted {honest:?}");
    let mut games = Vec::new();
    for id in &honest {
        let job = settled_on_chain(&api, id, &["accepted", "disputed", "rejected"]).await;
        assert_ne!(job["settlement"], "rejected", "job {id}: {job}");
        let asserted: B256 = job["output_hash"].as_str().expect("hash").parse().expect("hash");
        let chain_job_id: U256 =
            job["transactions"]["chain_job_id"].as_str().expect("opened").parse().expect("id");
        let drawn =
            view(&provider, sampling, ISampling::jobValidatorsCall { jobId: chain_job_id }).await;
        assert!(drawn.validators.contains(&cheat), "job {id}: validators {:?}", drawn.validators);
        for ((validator, state), hash) in
            drawn.validators.iter().zip(&drawn.states).zip(&drawn.revealedHashes)
        {
            assert_eq!(*state, 2, "job {id}: {validator} revealed on chain");
            if *validator == cheat {
                assert_ne!(*hash, asserted, "job {id}: the cheat's reveal");
            } else {
                assert_eq!(*hash, asserted, "job {id}: honest validator {validator}");
            }
        }
        let call = IDisputeGame::gameOfCall { jobId: chain_job_id, challenger: cheat };
        let game_id = view(&provider, game, call).await;
        assert_ne!(game_id, U256::ZERO, "job {id}: a game against the cheat");
        games.push((id, chain_job_id, game_id));
    }

    for (id, chain_job_id, game_id) in &games {
        let job = settled_on_chain(&api, id, &["accepted", "rejected"]).await;
        assert_eq!(job["settlement"], "accepted", "job {id}: the asserter won its game: {job}");
        let state = view(&provider, game, IDisputeGame::gameCall { gameId: *game_id }).await;
        assert_eq!(
            (state.phase, state.outcome),
            (GamePhase::Ended as u8, GameOutcome::DefenderWon as u8),
            "job {id}"
        );
        let proven = events_of::<IDisputeGame::StepProven>(&provider, game, *game_id).await;
        assert_eq!(proven.len(), 1, "job {id}: decided by a one-step proof, not on time");
        let step = events_of::<IDisputeGame::StepDisputed>(&provider, game, *game_id).await;
        assert_eq!(step.len(), 1, "job {id}");
        assert_eq!(step[0].op, assay_step::op::CONTEXT, "job {id}: the corrupted context");
        assert_eq!((step[0].cell, step[0].element), (0, 0), "job {id}: its element 0");
        let settled =
            events_of::<ISampling::DisputeSettled>(&provider, sampling, *chain_job_id).await;
        assert_eq!(settled.len(), 1, "job {id}");
        let accepted = JobStatus::Accepted as u8;
        assert_eq!(
            (settled[0].status, settled[0].losers.clone()),
            (accepted, vec![cheat]),
            "job {id}"
        );
        let on_chain = view(&provider, market, IJobMarket::jobCall { jobId: *chain_job_id }).await;
        assert_eq!(on_chain.status, accepted, "job {id}: accepted on chain");
    }
    // The cheat's own wrong answers: every honest validator dissents on chain and wins its game
    // against it, so the job is rejected and the cheat slashed.
    for id in &cheated {
        let job = settled_on_chain(&api, id, &["rejected"]).await;
        let chain_job_id: U256 =
            job["transactions"]["chain_job_id"].as_str().expect("opened").parse().expect("id");
        let settled =
            events_of::<ISampling::DisputeSettled>(&provider, sampling, chain_job_id).await;
        assert_eq!(settled.len(), 1, "job {id}");
        assert_eq!(
            (settled[0].status, settled[0].losers.clone()),
            (JobStatus::Rejected as u8, vec![cheat])
        );
    }
    // The arbitrator replayed every opened job from the coordinator's records: it agreed with
    // each honest asserter (no claim there) and claimed against none but the cheat's.
    let metrics = net.arbitrator_metrics.clone().expect("an arbitrator runs");
    let started = std::time::Instant::now();
    loop {
        let text = reqwest::get(&metrics).await.expect("metrics").text().await.expect("text");
        let line = assay_devnet::demo::ArbitratorLine::parse(&text);
        assert!(line.claims <= cheated.len() as u64, "{text}");
        if line.agreed == honest.len() as u64 {
            break;
        }
        assert!(started.elapsed() < Duration::from_secs(120), "the arbitrator lags: {text}");
        tokio::time::sleep(Duration::from_millis(500)).await;
    }
    // The demo's report of the same games: the cheat lost every one, as the dissenter of an
    // honest result or as the defender of its own.
    let client = assay_chain::Client::new(&net.node.url(), net.manifest.chain_id, None).unwrap();
    let report = assay_devnet::games::played(&client, game, sampling).await.expect("games");
    assert!(report.len() >= games.len() + cheated.len(), "{}", report.len());
    for line in &report {
        println!("{line}");
        let expected = if line.defender == cheat {
            GameOutcome::ChallengerWon
        } else {
            GameOutcome::DefenderWon
        };
        assert_eq!(line.outcome, Some(expected), "{line}");
        assert!(line.proven && line.slashed == vec![cheat], "{line}");
        let step = line.step.as_ref().expect("narrowed to an element");
        assert_eq!((step.op.as_str(), step.cell, step.element), ("Context", 0, 0), "{line}");
        assert!(line.moves >= 4 && line.gas > 0, "{line}");
    }
    // `verifier check-receipt` on a settled job's receipt: everything checks out, the job
    // accepted on chain with the receipt's result; a tampered receipt fails its signature.
    let (id, chain_job_id, _) = games[0];
    let job = job_json(&api, id).await;
    let signed: SignedReceipt = serde_json::from_value(job["receipt"].clone()).expect("receipt");
    let check = assay_verifier::check::check_receipt(&client, &net.manifest, &signed).await;
    let check = check.expect("checked");
    assert!(check.ok, "{check:?}");
    assert!(check.signature_valid && check.miner_eligible && check.engine_matches, "{check:?}");
    let Record::Opened { job_id, status, asserter, result_matches, .. } = &check.record else {
        panic!("opened on chain: {check:?}")
    };
    assert_eq!(
        (*job_id, status.as_str(), *asserter),
        (chain_job_id, "Accepted", signed.receipt.worker)
    );
    assert!(result_matches);
    let file = dir.join("job.json");
    std::fs::write(&file, job.to_string()).expect("job file");
    let mut tampered = signed.clone();
    tampered.receipt.output_hash.0[0] ^= 1;
    let tampered_file = dir.join("tampered.json");
    std::fs::write(&tampered_file, serde_json::to_string(&tampered).unwrap()).expect("file");
    let manifest = dir.join("deployment.json");
    let url = net.node.url();
    let outcomes = tokio::task::spawn_blocking(move || {
        [file, tampered_file].map(|receipt| {
            let cli = assay_verifier::cli::Cli::parse_from([
                "verifier".as_ref(),
                "check-receipt".as_ref(),
                receipt.as_os_str(),
                "--rpc-url".as_ref(),
                url.as_ref(),
                "--deployment".as_ref(),
                manifest.as_os_str(),
            ]);
            assay_verifier::cli::run(&cli).expect("the command runs")
        })
    })
    .await
    .expect("joined");
    assert!(outcomes[0].matched, "{}", outcomes[0].json);
    assert!(!outcomes[1].matched, "{}", outcomes[1].json);
    assert!(outcomes[1].json.contains("\"signature_valid\": false"), "{}", outcomes[1].json);

    let after = view(&provider, staking, IStaking::operatorInfoCall { operator: cheat }).await;
    assert_eq!(after.openDisputes, 0, "every stake is released");
    let slash = assay_deploy::params::Params::default_params().market.slash_amount;
    assert_eq!(
        after.assets,
        stake_before.assets - slash * U256::from(games.len() + cheated.len()),
        "the cheat is slashed once per job it lost"
    );
    net.shutdown().await;
    std::fs::remove_dir_all(&dir).ok();
}

/// The `E` events `emitter` logged with first topic `key` (a game or job id).
async fn events_of<E: SolEvent>(provider: &DynProvider, emitter: Address, key: U256) -> Vec<E> {
    let filter = Filter::new()
        .address(emitter)
        .event_signature(E::SIGNATURE_HASH)
        .topic1(B256::from(key))
        .from_block(0);
    let logs = provider.get_logs(&filter).await.expect("logs");
    logs.iter().map(|log| log.log_decode::<E>().expect("decodes").inner.data).collect()
}

/// Polls `check` every 100 ms until it holds; panics naming `what` after `limit`.
async fn wait_until<F, Fut>(what: &str, limit: Duration, mut check: F)
where
    F: FnMut() -> Fut,
    Fut: std::future::Future<Output = bool>,
{
    let deadline = std::time::Instant::now() + limit;
    while !check().await {
        assert!(std::time::Instant::now() < deadline, "{what}: not within {limit:?}");
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}

async fn job_json(api: &str, id: &str) -> Value {
    reqwest::Client::new()
        .get(format!("{api}/jobs/{id}"))
        .bearer_auth(network::API_KEY)
        .send()
        .await
        .expect("job")
        .json()
        .await
        .expect("json")
}

/// The official `openai` Python client (from PyPI; `.ci/run` installs it into
/// `ASSAY_PYTHONPATH`) against the coordinator: chat (with its token usage), streamed chat,
/// embeddings, models, and the OpenAI error for an unknown model. Then, on the same network, a
/// worker process killed with SIGKILL (as the kernel's OOM killer does): the chain and the
/// coordinator keep serving (on the other worker), and the devnet restarts the worker, which
/// reconnects.
#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn the_official_openai_python_client_works_and_a_killed_worker_comes_back() {
    let pythonpath = env_path("ASSAY_PYTHONPATH");
    let dir = std::env::temp_dir().join(format!("assay-devnet-py-{}", std::process::id()));
    let mut opts = options(dir.clone(), 2, 0);
    opts.challenge_probability = 0.0;
    let net = network::start(&opts).await.expect("network starts");
    let script = r#"
import sys, openai
from openai import OpenAI
client = OpenAI(base_url=sys.argv[1], api_key=sys.argv[2])
ids = sorted(m.id for m in client.models.list().data)
assert "minilm" in ids and "smollm2" in ids, ids
r = client.chat.completions.create(model="smollm2", max_tokens=6,
    messages=[{"role": "user", "content": "Name a colour."}])
assert r.choices[0].message.content, r
u = r.usage
assert u.prompt_tokens > 0 and u.completion_tokens > 0, u
assert u.total_tokens == u.prompt_tokens + u.completion_tokens, u
chunks = list(client.chat.completions.create(model="smollm2", max_tokens=6, stream=True,
    messages=[{"role": "user", "content": "Name a fruit."}]))
streamed = "".join(c.choices[0].delta.content or "" for c in chunks if c.choices)
assert streamed, chunks
e = client.embeddings.create(model="minilm", input=["hello", "world"])
assert len(e.data) == 2 and len(e.data[0].embedding) == 384, e
try:
    client.embeddings.create(model="no-such-model", input="x")
    raise SystemExit("an unknown model was accepted")
except openai.NotFoundError as err:
    assert err.status_code == 404, err
print("chat:", repr(r.choices[0].message.content), "usage:", u, "stream:", repr(streamed))
"#;
    let out = tokio::process::Command::new("python3")
        .arg("-c")
        .arg(script)
        .arg(net.api())
        .arg(network::API_KEY)
        .env("PYTHONPATH", &pythonpath)
        .output()
        .await
        .expect("python3 runs");
    println!("{}", String::from_utf8_lossy(&out.stdout));
    assert!(out.status.success(), "python client failed: {}", String::from_utf8_lossy(&out.stderr));

    let api = net.api();
    let pid = net.worker_pid(0).expect("worker 0 runs");
    assert_eq!(net.worker_starts(0), 1);
    let killed = std::process::Command::new("kill").args(["-KILL", &pid.to_string()]).status();
    assert!(killed.expect("kill runs").success(), "kill -KILL {pid}");
    let started = std::time::Instant::now();
    wait_until("the coordinator sees worker 0 gone", Duration::from_secs(10), || async {
        net.workers_serving().await.expect("the coordinator answers") == 1
    })
    .await;
    embed(&api, "served while a worker is down").await;
    let block = chain(&net).get_block_number().await.expect("the chain answers");
    // The coordinator may count the new connection a moment before the worker logs it.
    let connections = || {
        let log = std::fs::read_to_string(net.worker_log(0)).expect("worker 0's log");
        log.matches(" connected coordinator=").count()
    };
    wait_until("worker 0 restarted and reconnected", Duration::from_secs(180), || async {
        net.worker_starts(0) == 2
            && net.workers_serving().await.expect("coordinator") == 2
            && connections() == 2
    })
    .await;
    println!("worker 0 back after {:?}", started.elapsed());
    assert_ne!(net.worker_pid(0), Some(pid), "a new process");
    assert!(chain(&net).get_block_number().await.expect("chain") > block, "blocks keep coming");
    for i in 0..4 {
        embed(&api, &format!("served after the restart {i}")).await;
    }
    // What a worker that served both models needs, for the memory limit's default.
    let pid = net.worker_pid(1).expect("worker 1 runs");
    let status = std::fs::read_to_string(format!("/proc/{pid}/status")).expect("proc status");
    for line in status.lines().filter(|l| l.starts_with("VmPeak") || l.starts_with("VmHWM")) {
        println!("worker 1 {line}");
    }
    net.shutdown().await;
    std::fs::remove_dir_all(&dir).ok();
}
