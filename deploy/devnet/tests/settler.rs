//! The coordinator's settlement task against the contracts' real wasm on the in-process test
//! node: its epoch seeds (DESIGN 3.3), a restart of the node under it, and the escalation of
//! jobs its own sampling found disputed. The set-up: `deploy`, four staked miners serving a registered model, the coordinator's
//! settlement task (`Settler`) on a real SQLite store, and a second coordinator competing for
//! the seeds. No workers or models: served jobs are written into the store with receipts signed
//! by the miners' keys, as the scheduler writes them.
//!
//! Needs the contracts' release wasm (`ASSAY_CONTRACTS_TARGET_DIR`) and `wasm-opt` on `PATH`.

use std::{path::PathBuf, sync::Arc, time::Duration};

use alloy_network::{EthereumWallet, TransactionBuilder};
use alloy_primitives::{Address, B256, U256, keccak256};
use alloy_provider::{DynProvider, Provider, ProviderBuilder};
use alloy_rpc_types_eth::TransactionRequest;
use alloy_signer_local::PrivateKeySigner;
use alloy_sol_types::SolCall;
use assay_chain::Key;
use assay_coordinator::{
    job::{JobRow, Kind, Settlement, Status},
    settlement::{Event, Settings, Settler, seeds::SeedKey},
    shared::Shared,
    store::{BatchState, Store, Write},
};
use assay_protocol::job::{JobSpec, Output};
use assay_protocol::{
    batch::Batch,
    bindings::{IAssayToken, IDisputeGame, IJobMarket, IModelRegistry, ISampling, IStaking},
    codes::{JobStatus, Role, SeedState},
    deployment::Deployment,
    math::{
        draw,
        records::{JobRecord, seed_commitment},
    },
};
use assay_test_node::genesis::{ANVIL_ACCOUNTS, DEV_KEY};
use assay_worker::{chain::Registration, exec::Executed};

/// Half the records are challenged, so a batch has both opened and claimed ones.
const HALF: u32 = 500_000;
/// Seconds a batch's challenged records can be opened.
const WINDOW: u64 = 60;
/// Seconds after an epoch's end its seed may still be revealed (deploy's default).
const GRACE: u64 = 600;
/// Records per batch: with p = 1/2 all of them land on one side once in 2^15 runs.
const JOBS: usize = 16;

fn wasm_dir() -> PathBuf {
    let dir =
        std::env::var_os("ASSAY_CONTRACTS_TARGET_DIR").map(PathBuf::from).unwrap_or_else(|| {
            panic!("ASSAY_CONTRACTS_TARGET_DIR is not set: run the tests through .ci/run")
        });
    dir.join("wasm32-unknown-unknown/release")
}

fn signer(key: B256) -> PrivateKeySigner {
    PrivateKeySigner::from_bytes(&key).expect("valid key")
}

/// The chain with everything deployed, and the clients that use it.
struct Net {
    node: assay_test_node::NodeHandle,
    manifest: Deployment,
    market: Address,
    model: B256,
    miners: Vec<Key>,
}

impl Net {
    async fn start() -> Self {
        Self::start_with(assay_test_node::Config::test()).await
    }

    async fn start_with(node: assay_test_node::Config) -> Self {
        let node = assay_test_node::spawn(node).await.expect("node starts");
        let mut config = assay_deploy::Config::new(node.url(), signer(DEV_KEY));
        config.wasm = assay_deploy::WasmSource::Dir(wasm_dir());
        config.quiet = true;
        config.params.market.challenge_ppm = HALF;
        config.params.market.batch_window = WINDOW;
        let manifest = assay_deploy::run(&config).await.expect("deploys");
        let market = manifest.contract("JobMarket").expect("JobMarket");
        let miners: Vec<Key> = ANVIL_ACCOUNTS[1..=4]
            .iter()
            .map(|(_, key)| Key::from_hex(&key.to_string(), "anvil account").expect("key"))
            .collect();
        let coordinators = [ANVIL_ACCOUNTS[5].0, ANVIL_ACCOUNTS[6].0];
        let (miner_stake, coordinator_stake) =
            (config.params.staking.min_miner_stake, config.params.staking.min_coordinator_stake);
        let mut accounts: Vec<Address> = miners.iter().map(Key::address).collect();
        accounts.extend(coordinators);
        let funding = assay_deploy::Funding {
            accounts,
            eth: U256::from(10u128.pow(20)),
            assay: miner_stake.max(coordinator_stake).saturating_mul(U256::from(2)),
        };
        assay_deploy::fund(&node.url(), signer(DEV_KEY), &manifest, &funding, true)
            .await
            .expect("funded");
        let net = Self { model: keccak256("seeds test model"), node, manifest, market, miners };
        let registry = net.manifest.contract("ModelRegistry").expect("registry");
        let register = IModelRegistry::registerModelCall {
            modelId: net.model,
            engineHash: B256::repeat_byte(0xee),
            pricePerUnit: U256::from(1_000_000_000u64),
        };
        net.send(DEV_KEY, registry, register).await;
        for key in &net.miners {
            let reg = Registration {
                rpc_url: net.node.url(),
                manifest: net.manifest.clone(),
                key: key.clone(),
                models: vec![net.model],
                stake: Some(miner_stake),
            };
            assay_worker::chain::register(&reg, |_| {}).await.expect("miner registered");
        }
        let (token, staking) = (
            net.manifest.contract("AssayToken").expect("token"),
            net.manifest.contract("Staking").expect("staking"),
        );
        for key in [ANVIL_ACCOUNTS[5].1, ANVIL_ACCOUNTS[6].1] {
            let approve = IAssayToken::approveCall { spender: staking, value: coordinator_stake };
            net.send(key, token, approve).await;
            let stake = IStaking::registerOperatorCall {
                role: Role::Coordinator.into(),
                amount: coordinator_stake,
            };
            net.send(key, staking, stake).await;
        }
        net
    }

    /// The settlement task of the coordinator with `key`, on `store`; validators drawn on chain
    /// are announced on `events`.
    fn settler(
        &self,
        key: B256,
        store: &Store,
        settings: Settings,
        events: tokio::sync::mpsc::UnboundedSender<Event>,
    ) -> Settler {
        Settler::new(
            &self.node.url(),
            &self.manifest,
            &Key::from(signer(key)),
            store.clone(),
            settings,
            events,
        )
        .expect("connects")
    }

    fn client(&self, key: B256) -> DynProvider {
        ProviderBuilder::new()
            .wallet(EthereumWallet::from(signer(key)))
            .connect_http(self.node.url().parse().expect("url"))
            .erased()
    }

    async fn send<C: SolCall>(&self, key: B256, to: Address, call: C) {
        self.send_value(key, to, call, U256::ZERO).await;
    }

    /// Sends `call` with `value` wei.
    async fn send_value<C: SolCall>(&self, key: B256, to: Address, call: C, value: U256) {
        let tx = TransactionRequest::default()
            .with_from(signer(key).address())
            .with_to(to)
            .with_value(value)
            .with_input(call.abi_encode());
        let pending = self.client(key).send_transaction(tx).await;
        let receipt = pending
            .unwrap_or_else(|e| panic!("{}: {e}", C::SIGNATURE))
            .get_receipt()
            .await
            .expect("receipt");
        assert!(receipt.status(), "{} reverted", C::SIGNATURE);
    }

    async fn view<C: SolCall>(&self, to: Address, call: C) -> C::Return {
        let tx = TransactionRequest::default().with_to(to).with_input(call.abi_encode());
        let out = self.client(DEV_KEY).call(tx).await.expect("view");
        C::abi_decode_returns(&out).expect("decodes")
    }

    async fn nonce(&self, account: Address) -> u64 {
        self.client(DEV_KEY).get_transaction_count(account).await.expect("nonce")
    }

    async fn now(&self) -> u64 {
        let p = self.client(DEV_KEY);
        p.get_block_by_number(Default::default()).await.unwrap().unwrap().header.timestamp
    }

    /// Mines a block, as the chain does between settlement rounds (a batch is sealed in a block
    /// after its commit's).
    async fn mine(&self) {
        let p = self.client(DEV_KEY);
        let _: serde_json::Value = p.raw_request("evm_mine".into(), ()).await.expect("evm_mine");
    }

    /// Moves the clock `seconds` forward and mines a block at the new time.
    async fn advance(&self, seconds: u64) {
        let p = self.client(DEV_KEY);
        let _: serde_json::Value =
            p.raw_request("evm_increaseTime".into(), (seconds,)).await.expect("evm_increaseTime");
        let _: serde_json::Value = p.raw_request("evm_mine".into(), ()).await.expect("evm_mine");
    }

    async fn advance_to_epoch(&self, epoch: u64) {
        let timing = self.view(self.market, IJobMarket::epochTimingCall {}).await;
        let start = timing.genesisTime + epoch * timing.epochLength;
        self.advance(start.saturating_sub(self.now().await)).await;
        assert_eq!(self.current_epoch().await, epoch);
    }

    /// The assets of an operator's pool in `Staking`.
    async fn stake(&self, operator: Address) -> U256 {
        let staking = self.manifest.contract("Staking").expect("staking");
        self.view(staking, IStaking::operatorInfoCall { operator }).await.assets
    }

    async fn current_epoch(&self) -> u64 {
        self.view(self.market, IJobMarket::currentEpochCall {}).await
    }

    /// `(coordinator, commitment, seed, state)` of an epoch.
    async fn seed_entry(&self, epoch: u64) -> (Address, B256, B256, u8) {
        self.view(self.market, IJobMarket::epochSeedCall { epoch }).await.into()
    }

    /// `n` embedding jobs served by the miners in turn and matched off chain, written into the
    /// store as the scheduler writes them.
    async fn served_jobs(&self, store: &Store, label: &str, n: usize) -> Vec<String> {
        self.served_jobs_by(store, label, n, &self.miners).await
    }

    /// [`Net::served_jobs`] served by `miners` in turn.
    async fn served_jobs_by(
        &self,
        store: &Store,
        label: &str,
        n: usize,
        miners: &[Key],
    ) -> Vec<String> {
        self.sampled_jobs(store, label, n, miners, Status::Matched).await
    }

    /// `n` served jobs whose off-chain sampling ended in `status`.
    async fn sampled_jobs(
        &self,
        store: &Store,
        label: &str,
        n: usize,
        miners: &[Key],
        status: Status,
    ) -> Vec<String> {
        let mut ids = Vec::new();
        for i in 0..n {
            let spec = JobSpec::Embed { prompt: format!("{label} {i}") };
            let job = JobRow::new(Kind::Embedding, self.model, spec.clone());
            let output = Output {
                tokens: vec![1, 2, 3],
                embedding: vec![7; 4],
                text: String::new(),
                prompt_tokens: Some(3),
            };
            let done = Executed {
                output_hash: output.hash(),
                trace_root: keccak256(format!("{label} {i} trace")),
                output: output.clone(),
            };
            let key = &miners[i % miners.len()];
            let receipt = assay_worker::exec::sign_receipt(
                key,
                self.manifest.chain_id,
                job.job_key,
                self.model,
                &spec,
                &done,
            );
            let id = job.id.clone();
            store
                .apply(&[
                    Write::Insert(Box::new(job)),
                    Write::Asserted { id: id.clone(), output, receipt },
                    Write::Outcome { id: id.clone(), status, suspects: vec![] },
                ])
                .await
                .expect("stored");
            ids.push(id);
        }
        ids
    }
}

/// One settlement round a block after the last one.
/// The on-chain jobs (and their drawn validators) the settler asked the scheduler to have
/// validated since the last call.
fn chain_validations(
    events: &mut tokio::sync::mpsc::UnboundedReceiver<Event>,
) -> Vec<(U256, Vec<Address>)> {
    let mut asked = Vec::new();
    while let Ok(event) = events.try_recv() {
        if let Event::ChainValidation { chain_job_id, validators, .. } = event {
            asked.push((chain_job_id, validators));
        }
    }
    asked.sort();
    asked
}

async fn round(net: &Net, settler: &mut Settler, what: &str) {
    net.mine().await;
    settler.round().await.unwrap_or_else(|e| panic!("{what}: {e}"));
}

/// Checks that every job of `ids` was settled the way the market's draw with `seed` decides:
/// challenged records opened on chain, the others claimed; and that the batch paid out its
/// escrow in full. Returns `(opened, claimed, records the zero seed would have drawn otherwise)`.
async fn settled_by_the_draw(
    net: &Net,
    store: &Store,
    ids: &[String],
    seed: B256,
) -> (usize, usize, usize) {
    let (mut opened, mut claimed, mut differ) = (0, 0, 0);
    let mut batch_ids = std::collections::BTreeSet::new();
    for id in ids {
        let job = store.job(id).await.expect("store").expect("job");
        let root = job.batch_id.clone().expect("batched");
        let batch = store.batch(&root).await.expect("store").expect("batch");
        let batch_id = batch.chain_batch_id.expect("committed");
        batch_ids.insert(batch_id);
        let on_chain = net.view(net.market, IJobMarket::batchCall { batchId: batch_id }).await;
        assert!(on_chain.sealed, "batch {batch_id} sealed");
        assert_eq!(
            Some(on_chain.drawHash),
            batch.draw_hash,
            "the draw hash the coordinator stored"
        );
        let coin = |seed| {
            draw::is_challenged(draw::challenge_seed(seed, on_chain.drawHash, job.job_key), HALF)
        };
        let challenged = batch.late || coin(seed);
        differ += usize::from(coin(seed) != coin(B256::ZERO));
        let state = job.settlement;
        if challenged {
            let on_chain = matches!(state, Some(Settlement::Opened | Settlement::Accepted));
            assert!(on_chain, "job {id}: {job:?}");
            assert!(job.chain_job_id.is_some(), "job {id} opened on chain");
            opened += 1;
        } else {
            assert_eq!(state, Some(Settlement::Claimed), "job {id}: {job:?}");
            claimed += 1;
        }
    }
    for batch_id in batch_ids {
        let b = net.view(net.market, IJobMarket::batchCall { batchId: batch_id }).await;
        assert_eq!(b.escrow, b.paid, "batch {batch_id}: escrow {} paid {}", b.escrow, b.paid);
    }
    (opened, claimed, differ)
}

/// The coordinator commits the next epoch's seed (once), reveals it as soon as the epoch starts,
/// and its batches of that epoch are opened or claimed exactly as the market draws them with
/// the revealed seed. An epoch whose seed another coordinator committed first is left to it;
/// its jobs wait unbatched while the seed is hidden (the market refuses batches) and are settled
/// with that seed once revealed; a seed never revealed is forfeited after its grace.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_coordinator_commits_and_reveals_its_epoch_seeds_and_draws_with_them() {
    let filter = tracing_subscriber::EnvFilter::try_from_default_env()
        .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new("off"));
    tracing_subscriber::fmt().with_env_filter(filter).with_test_writer().try_init().ok();
    let net = Net::start().await;
    let (coordinator, rival) = (ANVIL_ACCOUNTS[5], ANVIL_ACCOUNTS[6]);
    let seeds = SeedKey::new(&Key::from(signer(coordinator.1)), net.manifest.chain_id, net.market);

    let (dir, store) = fresh_store("seeds").await;
    let settings = settings(true);
    let (validators, mut dispatched) = tokio::sync::mpsc::unbounded_channel();
    let shared = Arc::new(Shared::default());
    let mut settler = net
        .settler(coordinator.1, &store, settings.clone(), validators)
        .with_metrics(shared.clone());
    let metrics = &shared.metrics;
    let count = |c: &std::sync::atomic::AtomicU64| c.load(std::sync::atomic::Ordering::Relaxed);

    // The first round commits the next epoch's seed; the next sends nothing.
    let e = net.current_epoch().await;
    round(&net, &mut settler, "round").await;
    assert_eq!(
        net.seed_entry(e + 1).await,
        (coordinator.0, seeds.commitment(e + 1), B256::ZERO, u8::from(SeedState::Committed))
    );
    assert_eq!(count(&metrics.epoch_seeds_committed), 1);
    let nonce = net.nonce(coordinator.0).await;
    round(&net, &mut settler, "round").await;
    assert_eq!(net.nonce(coordinator.0).await, nonce, "nothing sent twice");

    // Another coordinator takes epoch e + 3 ahead of time.
    let rival_seed = keccak256("the rival's seed");
    let call = IJobMarket::commitEpochSeedCall {
        epoch: e + 3,
        commitment: seed_commitment(e + 3, rival_seed),
    };
    net.send(rival.1, net.market, call).await;

    // Epoch e + 1 starts: the first round reveals its seed before batching, commits e + 2's.
    net.advance_to_epoch(e + 1).await;
    let first = net.served_jobs(&store, "first", JOBS).await;
    round(&net, &mut settler, "round").await;
    let seed = seeds.seed(e + 1);
    assert_eq!(
        net.seed_entry(e + 1).await,
        (coordinator.0, seed_commitment(e + 1, seed), seed, u8::from(SeedState::Revealed))
    );
    assert_eq!(net.seed_entry(e + 2).await.1, seeds.commitment(e + 2));
    assert_eq!(
        (count(&metrics.epoch_seeds_committed), count(&metrics.epoch_seeds_revealed)),
        (2, 1)
    );
    assert_eq!(store.batches(BatchState::Committed).await.expect("store").len(), 1);
    round(&net, &mut settler, "round: seal, open the challenged records").await;
    let asked = chain_validations(&mut dispatched);
    assert!(!asked.is_empty(), "the opened records' validators are asked to validate");
    // A coordinator restarted with challenges still open asks their validators again, once.
    let (validators, mut again) = tokio::sync::mpsc::unbounded_channel();
    let mut restarted = net.settler(coordinator.1, &store, settings.clone(), validators);
    round(&net, &mut restarted, "restarted round").await;
    assert_eq!(chain_validations(&mut again), asked);
    round(&net, &mut restarted, "restarted round").await;
    assert!(chain_validations(&mut again).is_empty(), "asked once per process");
    drop(restarted);
    net.advance(WINDOW + 1).await;
    round(&net, &mut settler, "round: claim the others").await;
    let (opened, claimed, differ) = settled_by_the_draw(&net, &store, &first, seed).await;
    println!("epoch {}: {opened} records opened, {claimed} claimed", e + 1);
    assert!(opened > 0 && claimed > 0, "p = 1/2 over {JOBS} records");
    let mut seed_mattered = differ;

    // Epoch e + 2: its seed is revealed; e + 3 is the rival's, so nothing is committed.
    // (The opened challenges' reveal deadlines have passed too: they are finalized.)
    net.advance_to_epoch(e + 2).await;
    round(&net, &mut settler, "round").await;
    assert_eq!(net.seed_entry(e + 2).await.3, u8::from(SeedState::Revealed));
    assert_eq!(net.seed_entry(e + 3).await.0, rival.0);
    let counts = (count(&metrics.epoch_seeds_committed), count(&metrics.epoch_seeds_revealed));
    assert_eq!(counts, (2, 2));
    let nonce = net.nonce(coordinator.0).await;
    round(&net, &mut settler, "round").await;
    assert_eq!(net.nonce(coordinator.0).await, nonce, "the rival's epoch is left alone");

    // Epoch e + 3: the rival has not revealed. The market refuses batches, so the jobs wait.
    net.advance_to_epoch(e + 3).await;
    let second = net.served_jobs(&store, "second", JOBS).await;
    for _ in 0..3 {
        round(&net, &mut settler, "round").await;
    }
    assert_eq!(net.seed_entry(e + 4).await.0, coordinator.0, "the next free epoch is taken");
    for id in &second {
        let job = store.job(id).await.expect("store").expect("job");
        assert_eq!(job.batch_id, None, "waits for the seed: {job:?}");
    }
    net.send(
        rival.1,
        net.market,
        IJobMarket::revealEpochSeedCall { epoch: e + 3, seed: rival_seed },
    )
    .await;
    round(&net, &mut settler, "round: commit the waiting jobs").await;
    round(&net, &mut settler, "round: seal, open the challenged records").await;
    net.advance(WINDOW + 1).await;
    round(&net, &mut settler, "round: claim the others").await;
    let (opened, claimed, differ) = settled_by_the_draw(&net, &store, &second, rival_seed).await;
    println!("epoch {}: {opened} records opened, {claimed} claimed", e + 3);
    assert!(opened > 0 && claimed > 0, "p = 1/2 over {JOBS} records");
    seed_mattered += differ;
    assert!(seed_mattered > 0, "the zero seed would have drawn every record the same way");
    assert_eq!(count(&metrics.epoch_seeds_revealed), 2);

    // A restarted coordinator (no memory) finds its commit of e + 4 in the logs and reveals it.
    let mut restarted =
        net.settler(coordinator.1, &store, settings, tokio::sync::mpsc::unbounded_channel().0);
    drop(settler);
    net.advance_to_epoch(e + 4).await;
    round(&net, &mut restarted, "round").await;
    let seed = seeds.seed(e + 4);
    assert_eq!(
        net.seed_entry(e + 4).await,
        (coordinator.0, seed_commitment(e + 4, seed), seed, u8::from(SeedState::Revealed))
    );

    // The rival takes e + 6 and never reveals: the jobs served in e + 6 wait, are batched in
    // e + 7 (with this coordinator's seed), and once e + 6's reveal grace is over the rival's
    // seed is forfeited and its stake slashed.
    let call = IJobMarket::commitEpochSeedCall {
        epoch: e + 6,
        commitment: seed_commitment(e + 6, keccak256("never revealed")),
    };
    net.send(rival.1, net.market, call).await;
    net.advance_to_epoch(e + 5).await;
    round(&net, &mut restarted, "round").await;
    net.advance_to_epoch(e + 6).await;
    let third = net.served_jobs(&store, "third", JOBS).await;
    round(&net, &mut restarted, "round").await;
    assert_eq!(store.job(&third[0]).await.expect("store").expect("job").batch_id, None);
    net.advance_to_epoch(e + 7).await;
    let stake_before = net.stake(rival.0).await;
    round(&net, &mut restarted, "round: commit the waiting jobs").await;
    round(&net, &mut restarted, "round: seal").await;
    round(&net, &mut restarted, "round: open the challenged records").await;
    net.advance(WINDOW + 1).await;
    round(&net, &mut restarted, "round: claim the others; e + 6's grace is still open").await;
    assert_eq!(net.seed_entry(e + 6).await.3, u8::from(SeedState::Committed));
    net.advance(GRACE).await;
    round(&net, &mut restarted, "round: forfeit").await;
    assert_eq!(net.seed_entry(e + 6).await.3, u8::from(SeedState::Forfeited));
    assert!(net.stake(rival.0).await < stake_before, "the rival is slashed");
    let (opened, claimed, _) = settled_by_the_draw(&net, &store, &third, seeds.seed(e + 7)).await;
    assert_eq!(opened + claimed, JOBS);
    std::fs::remove_dir_all(&dir).ok();
}

/// The settlement task outlives its chain node: a round while the node is down fails with an
/// error (no hang, no panic), and once the node is back (same port, its state file reloaded;
/// the test node restarts its block history at genesis) the batch committed before the restart
/// is sealed and settled by the market's draw, and the jobs that were waiting for a batch are
/// batched and settled too.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn settlement_survives_a_restart_of_the_node() {
    let (dir, store) = fresh_store("restart").await;
    let state = dir.join("chain.json");
    let net = Net::start_with(assay_test_node::Config::test().with_state_file(&state)).await;
    let settings = settings(false);
    let (validators, _dispatched) = tokio::sync::mpsc::unbounded_channel();
    let mut settler = net.settler(ANVIL_ACCOUNTS[5].1, &store, settings, validators);
    let before = net.served_jobs(&store, "before", JOBS).await;
    round(&net, &mut settler, "round: commit").await;
    assert_eq!(store.batches(BatchState::Committed).await.expect("store").len(), 1);
    let height = net.client(DEV_KEY).get_block_number().await.expect("block number");
    let queued = net.served_jobs(&store, "queued", JOBS).await;

    let Net { node, manifest, market, model, miners } = net;
    let port = node.addr().port();
    node.stop().await.expect("the node stops and saves its state");
    let down = settler.round().await;
    assert!(down.is_err(), "a round without its node fails: {down:?}");
    let config = assay_test_node::Config::test().with_port(port).with_state_file(&state);
    let node = assay_test_node::spawn(config).await.expect("the node restarts from its state");
    let net = Net { node, manifest, market, model, miners };
    // Back to the height the batch was committed at, so that it can be sealed.
    let p = net.client(DEV_KEY);
    let _: serde_json::Value =
        p.raw_request("anvil_mine".into(), (height + 1,)).await.expect("anvil_mine");

    round(&net, &mut settler, "round: commit the new jobs, seal the old batch").await;
    round(&net, &mut settler, "round: seal, open the challenged records").await;
    net.advance(WINDOW + 1).await;
    round(&net, &mut settler, "round: claim the others").await;
    for (label, ids) in [("committed", &before), ("queued", &queued)] {
        let (opened, claimed, _) = settled_by_the_draw(&net, &store, ids, B256::ZERO).await;
        println!("jobs {label} before the restart: {opened} records opened, {claimed} claimed");
        assert_eq!(opened + claimed, JOBS);
    }

    // The other servers leave the model: a challenged record of the last one's jobs has no
    // validator to draw, so the market accepts it at once (Sampling never opens a challenge),
    // and the settler records it as accepted instead of waiting on Sampling forever.
    let registry = net.manifest.contract("ModelRegistry").expect("registry");
    for (_, key) in &ANVIL_ACCOUNTS[2..=4] {
        net.send(*key, registry, IModelRegistry::unserveCall { modelId: net.model }).await;
    }
    let alone = net.served_jobs_by(&store, "alone", JOBS, &net.miners[..1]).await;
    round(&net, &mut settler, "round: commit the lone server's jobs").await;
    round(&net, &mut settler, "round: seal, open the challenged records").await;
    net.advance(WINDOW + 1).await;
    round(&net, &mut settler, "round: claim the others, record the accepted ones").await;
    let (opened, claimed, _) = settled_by_the_draw(&net, &store, &alone, B256::ZERO).await;
    assert!(opened > 0 && claimed > 0, "p = 1/2 over {JOBS} records");
    for id in &alone {
        let job = store.job(id).await.expect("store").expect("job");
        let Some(chain_job_id) = job.chain_job_id.as_deref() else { continue };
        assert_eq!(job.settlement, Some(Settlement::Accepted), "job {id}: nobody to draw");
        let chain_job_id: U256 = chain_job_id.parse().expect("an id");
        let on_chain = net.view(net.market, IJobMarket::jobCall { jobId: chain_job_id }).await;
        assert_eq!(on_chain.status, JobStatus::Accepted as u8, "job {id}");
    }
    std::fs::remove_dir_all(&dir).ok();
}

/// Jobs the coordinator's own sampling found disputed reach the chain: one with a bonded claim
/// waiting against its asserter is batched at once and its record opened for the claim, even
/// where the market's draw passed it (the claimant joins the job in Sampling); one nobody
/// claims against waits for its escalation wait, then is batched and settled by the draw like
/// any record.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn jobs_disputed_off_chain_are_opened_for_the_claims_against_them() {
    let (dir, store) = fresh_store("escalation").await;
    let net = Net::start().await;
    let game = net.manifest.contract("DisputeGame").expect("DisputeGame");
    let sampling = net.manifest.contract("Sampling").expect("Sampling");
    let shared = Arc::new(Shared::default());
    let waiting = Settings { escalation_wait_ms: 3_600_000, ..settings(false) };
    let (validators, _dispatched) = tokio::sync::mpsc::unbounded_channel();
    let mut settler = net
        .settler(ANVIL_ACCOUNTS[5].1, &store, waiting, validators.clone())
        .with_metrics(shared.clone());
    let claimed = net.sampled_jobs(&store, "claimed", JOBS, &net.miners, Status::Disputed).await;
    let unclaimed = net.sampled_jobs(&store, "unclaimed", 4, &net.miners, Status::Disputed).await;
    let (claimant_key, claimant) = (ANVIL_ACCOUNTS[6].1, ANVIL_ACCOUNTS[6].0);
    let bond = net.view(game, IDisputeGame::disputeBondCall {}).await;
    let mut keys = Vec::new();
    for id in &claimed {
        let job = store.job(id).await.expect("store").expect("job");
        let r = job.receipt.expect("a receipt").receipt;
        let call = IDisputeGame::disputeRecordCall {
            jobKey: r.job_key,
            asserter: r.worker,
            assertedOutput: r.output_hash,
            outputHash: keccak256(r.output_hash),
            traceRoot: keccak256(r.trace_root),
        };
        net.send_value(claimant_key, game, call, bond).await;
        keys.push(r);
    }

    round(&net, &mut settler, "round: batch the claimed jobs").await;
    for id in &claimed {
        assert!(store.job(id).await.unwrap().unwrap().batch_id.is_some(), "{id} batched");
    }
    for id in &unclaimed {
        let job = store.job(id).await.unwrap().unwrap();
        assert_eq!(job.batch_id, None, "{id} waits for a claim");
    }
    // The claimant seals the batch and opens the first record itself, as an arbitrator does
    // when nobody has yet: the coordinator takes the seal from the logs and follows that record.
    let first = store.job(&claimed[0]).await.unwrap().unwrap();
    let batch = store.batch(first.batch_id.as_deref().unwrap()).await.unwrap().unwrap();
    let batch_id = batch.chain_batch_id.expect("committed");
    net.mine().await;
    net.send(claimant_key, net.market, IJobMarket::sealBatchCall { batchId: batch_id }).await;
    let records: Vec<JobRecord> = store
        .batch_jobs(batch.root)
        .await
        .unwrap()
        .iter()
        .map(|job| job.receipt.as_ref().expect("a receipt").receipt.record(job.fee.expect("a fee")))
        .collect();
    let tree = Batch::new(records).expect("the batch");
    assert_eq!(tree.root(), batch.root);
    let (record, proof) = tree.proof(first.job_key).expect("in the batch");
    let open = IJobMarket::openBatchJobCall { batchId: batch_id, claim: record.claim(&proof) };
    net.send(claimant_key, net.market, open).await;
    round(&net, &mut settler, "round: take the seal from the logs").await;
    round(&net, &mut settler, "round: open every other claimed record").await;
    let mut passed = 0;
    for (id, r) in claimed.iter().zip(&keys) {
        let job = store.job(id).await.unwrap().unwrap();
        let batch = store.batch(job.batch_id.as_deref().unwrap()).await.unwrap().unwrap();
        let draw_hash = batch.draw_hash.expect("sealed");
        let coin =
            draw::is_challenged(draw::challenge_seed(B256::ZERO, draw_hash, r.job_key), HALF);
        // The first one was opened by the claimant, not escalated by the coordinator.
        passed += usize::from(!coin && *id != claimed[0]);
        let chain_job_id: U256 = job.chain_job_id.as_deref().expect("opened").parse().unwrap();
        let state = job.settlement;
        assert!(
            matches!(state, Some(Settlement::Opened | Settlement::Disputed)),
            "{id}: {state:?}"
        );
        let drawn = net.view(sampling, ISampling::jobValidatorsCall { jobId: chain_job_id }).await;
        assert!(drawn.validators.contains(&claimant), "{id}: the claimant joined the job");
        let waiting = IDisputeGame::pendingDisputesCall {
            jobKey: r.job_key,
            asserter: r.worker,
            assertedOutput: r.output_hash,
        };
        assert!(net.view(game, waiting).await.claimants.is_empty(), "{id}: the claim was taken");
    }
    let escalated = shared.metrics.escalated.load(std::sync::atomic::Ordering::Relaxed);
    assert_eq!(escalated, passed as u64, "records the draw passed, opened for their claims");
    assert!(passed > 0, "p = 1/2 over {JOBS} records");
    println!("{JOBS} claimed records opened, {passed} of them escalated past the draw");

    // Restarted without the wait: the unclaimed ones are batched and settled by the draw.
    let mut settler = net.settler(ANVIL_ACCOUNTS[5].1, &store, settings(false), validators);
    round(&net, &mut settler, "round: batch the unclaimed jobs").await;
    round(&net, &mut settler, "round: seal").await;
    round(&net, &mut settler, "round: open the challenged ones").await;
    net.advance(WINDOW + 1).await;
    round(&net, &mut settler, "round: claim the others").await;
    let (opened, claimed, _) = settled_by_the_draw(&net, &store, &unclaimed, B256::ZERO).await;
    assert_eq!(opened + claimed, unclaimed.len());
    std::fs::remove_dir_all(&dir).ok();
}

/// A fresh directory for one test and the coordinator's SQLite store in it.
async fn fresh_store(name: &str) -> (PathBuf, Store) {
    let dir = std::env::temp_dir().join(format!("assay-devnet-{name}-{}", std::process::id()));
    std::fs::remove_dir_all(&dir).ok();
    std::fs::create_dir_all(&dir).expect("dir");
    let store = Store::open(&format!("sqlite://{}?mode=rwc", dir.join("c.db").display()))
        .await
        .expect("store");
    (dir, store)
}

/// Settlement rounds as these tests drive them (by hand), with or without epoch seeds.
fn settings(epoch_seeds: bool) -> Settings {
    Settings {
        interval: Duration::from_secs(1),
        max_jobs: 64,
        settle_after_ms: 0,
        escalation_wait_ms: 0,
        epoch_seeds,
    }
}
