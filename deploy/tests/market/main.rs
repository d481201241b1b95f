//! The job market's real WASM on the test node. Everything is deployed by `assay_deploy`, then
//! JobMarket and Sampling are driven through their main flows with the bindings the services
//! use, one account per role (thirty miners, a coordinator, a requester):
//!
//! - on-chain jobs: challenged and accepted; disputed, with a lying validator that stops playing
//!   its dispute game (slashed) and a silent asserter (slashed, rejected, fee refunded); a game
//!   played move by move over a real engine trace down to the one corrupted element (`games`);
//!   not challenged (the dApp's callback gets the
//!   result); drawn late (past the 256-block hash window: challenged); an asserter timing out
//!   (redrawn; a failing callback only logs) and a job nobody served (refunded). Every draw
//!   (asserter, challenge coin, validators) is recomputed off-chain with
//!   `assay_protocol::math::draw`;
//! - batches: a record the draw challenges opened and sampled (one validator absent, so the
//!   commit and reveal timeouts run), the others claimed after the window, replays, bad proofs and
//!   escrow limits refused; a batch sealed late (every record may be opened); batches of 1, 16
//!   and 256 records for the amortised gas per job;
//! - epochs: a coordinator's seed committed, revealed and mixed into the draws, another forfeited
//!   (slashed); rewards claimed into the stake pools; fees withdrawn in ETH;
//! - each refusal decoded to its named Solidity error;
//! - last, the protocol attacks of `deploy/tests/attacks/` (one file each), scripted as the
//!   attacker would, on this same network.
//!
//! This file holds the harness (deployment, accounts, gas book-keeping) and the test that runs
//! the flows in order; the flows live in `onchain_jobs`, `games`, `batches` and `epochs`.
//!
//! The gas of every step is printed as Markdown tables (deploy/README.md keeps a copy):
//! `cargo test -p assay-deploy --test market -- --nocapture`.

use std::{
    collections::BTreeSet,
    path::{Path, PathBuf},
};

use alloy_network::{EthereumWallet, TransactionBuilder};
use alloy_primitives::{Address, B256, U256, keccak256};
use alloy_provider::{DynProvider, Provider, ProviderBuilder};
use alloy_rpc_types_eth::{TransactionReceipt, TransactionRequest};
use alloy_signer_local::PrivateKeySigner;
use alloy_sol_types::{SolCall, SolError, SolEvent};
use assay_chain::Revert;
use assay_deploy::{Config, Funding, Params, WasmSource, params::MarketParams};
use assay_protocol::codes::{GameOutcome, JobStatus, Role};
use assay_protocol::{
    batch::Batch,
    bindings::{
        IAssayToken, IDisputeGame, IJobMarket, IModelRegistry, IOwnable, ISampling, IStaking,
    },
    math::{
        draw,
        records::{JobRecord, onchain_job_key, seed_commitment, validation_commitment},
    },
};
use assay_test_node::{NodeHandle, genesis};

mod arbitrator;
#[path = "../attacks/mod.rs"]
mod attacks;
mod batches;
mod epochs;
mod games;
mod onchain_jobs;
mod players;

use arbitrator::*;
use attacks::*;
use batches::*;
use epochs::*;
use games::*;
use onchain_jobs::*;
use players::*;

/// The output every honest party computes; `WRONG` is what a cheater or a faulty validator claims.
/// Miners staked and serving the model (keys derived from their index; `deploy` funds them).
const MINERS: usize = 30;
const OUT: B256 = B256::repeat_byte(0x0a);
const WRONG: B256 = B256::repeat_byte(0x0b);
const TRACE: B256 = B256::repeat_byte(0x0c);
/// Job status codes, as the contracts store them.
const SUBMITTED: u8 = JobStatus::Submitted as u8;
const ASSIGNED: u8 = JobStatus::Assigned as u8;
const CHALLENGED: u8 = JobStatus::Challenged as u8;
const ACCEPTED: u8 = JobStatus::Accepted as u8;
const DISPUTED: u8 = JobStatus::Disputed as u8;
const REJECTED: u8 = JobStatus::Rejected as u8;
const REFUNDED: u8 = JobStatus::Refunded as u8;
/// EVM consumers of `onJobResult(jobId, outputHash, traceRoot)`: one stores the job id and the
/// output hash in slots 0 and 1, the other reverts.
const RECORDING_CONSUMER: [u8; 13] = alloy_primitives::hex!("60043560005560243560015500");
const REVERTING_CONSUMER: [u8; 5] = alloy_primitives::hex!("60006000fd");
/// Challenge probabilities: every job, half of them, almost none.
const ALWAYS: u32 = 1_000_000;
const HALF: u32 = 500_000;
const RARELY: u32 = 1;

fn assay(whole: u64) -> U256 {
    U256::from(whole) * U256::from(10u64).pow(U256::from(18u64))
}

/// The ETH fee of each on-chain job: 0.01 ETH.
fn job_fee() -> U256 {
    U256::from(10u64).pow(U256::from(16u64))
}

/// The contracts' release wasm; `assay_deploy` explains how to build it when it is missing.
fn wasm_dir() -> PathBuf {
    std::env::var_os("ASSAY_CONTRACTS_TARGET_DIR")
        .map_or_else(
            || Path::new(env!("CARGO_MANIFEST_DIR")).join("../contracts/target"),
            PathBuf::from,
        )
        .join("wasm32-unknown-unknown/release")
}

/// The key of miner `i` (`deploy` funds them).
fn miner_key(i: usize) -> B256 {
    keccak256(format!("assay market test miner {i}"))
}

/// An account with its own signing client.
struct Actor {
    address: Address,
    p: DynProvider,
}

impl Actor {
    fn new(node: &NodeHandle, key: B256) -> Self {
        let signer = PrivateKeySigner::from_bytes(&key).expect("key");
        let address = signer.address();
        let url = node.url().parse().expect("url");
        let p = ProviderBuilder::new().wallet(EthereumWallet::from(signer)).connect_http(url);
        Self { address, p: p.erased() }
    }
}

/// Events of type `E` that `emitter` logged in a transaction.
fn events<E: SolEvent>(receipt: &TransactionReceipt, emitter: Address) -> Vec<E> {
    let logs = receipt.inner.logs().iter().filter(|log| log.address() == emitter);
    logs.filter_map(|log| E::decode_log_data(log.data()).ok()).collect()
}

/// The one event of type `E` that `emitter` logged.
fn event<E: SolEvent>(receipt: &TransactionReceipt, emitter: Address) -> E {
    let mut found = events::<E>(receipt, emitter);
    assert_eq!(found.len(), 1, "one {} from {emitter}", E::SIGNATURE);
    found.remove(0)
}

/// Gas used per step, in the order first seen.
#[derive(Default)]
struct Gas(Vec<(String, Vec<u64>)>);

impl Gas {
    fn add(&mut self, step: impl Into<String>, receipt: &TransactionReceipt) {
        let step = step.into();
        match self.0.iter_mut().find(|(s, _)| *s == step) {
            Some((_, samples)) => samples.push(receipt.gas_used),
            None => self.0.push((step, vec![receipt.gas_used])),
        }
    }

    /// Records a count (not gas) under `step`.
    fn count(&mut self, step: impl Into<String>, n: u64) {
        self.0.push((step.into(), vec![n]));
    }

    fn samples(&self, step: &str) -> &[u64] {
        self.0.iter().find(|(s, _)| s == step).map_or(&[], |(_, samples)| samples)
    }

    fn total(&self, step: &str) -> u64 {
        self.samples(step).iter().sum()
    }

    fn mean(&self, step: &str) -> u64 {
        self.total(step) / self.samples(step).len().max(1) as u64
    }

    /// `(commit + seal + claim transactions) / records claimed` of the batch of `n` records.
    fn amortised(&self, n: usize) -> u64 {
        let claimed = self.total(&format!("records claimed (N={n})")).max(1);
        let total = self.total(&format!("commitBatch (N={n})"))
            + self.total(&format!("sealBatch (N={n})"))
            + self.total(&format!("claimBatchJobs (N={n})"));
        total / claimed
    }

    /// Every step but the sized batches, then the sized batches with their amortised gas.
    fn tables(&self, sizes: &[usize]) -> String {
        let mut out =
            "| step | txs | gas (mean) | min | max |\n|---|---:|---:|---:|---:|\n".to_owned();
        for (step, samples) in self.0.iter().filter(|(step, _)| !step.contains("N=")) {
            let (min, max) = (samples.iter().min().unwrap(), samples.iter().max().unwrap());
            let mean = self.mean(step);
            out.push_str(&format!("| {step} | {} | {mean} | {min} | {max} |\n", samples.len()));
        }
        out.push_str("\n| batch of N | commitBatch | sealBatch | claimBatchJobs (all records, txs of <= 128) | (commit + seal + claims) / N |\n|---:|---:|---:|---:|---:|\n");
        for n in sizes {
            out.push_str(&format!(
                "| {n} | {} | {} | {} | {} |\n",
                self.total(&format!("commitBatch (N={n})")),
                self.total(&format!("sealBatch (N={n})")),
                self.total(&format!("claimBatchJobs (N={n})")),
                self.amortised(*n)
            ));
        }
        out
    }
}

/// Everything deployed on a fresh node, the accounts that use it, the gas measured so far.
struct Market {
    node: NodeHandle,
    owner: Actor,
    miners: Vec<Actor>,
    coordinator: Actor,
    requester: Actor,
    token: Address,
    staking: Address,
    registry: Address,
    market: Address,
    sampling: Address,
    game: Address,
    model: B256,
    /// The parameters in force (`deploy/params.toml`, then what the test sets).
    params: MarketParams,
    /// Each side's clock in a dispute game (seconds).
    clock: u64,
    /// The trace root a validator commits to with an output hash, where it is not
    /// `keccak256(output)`.
    traces: std::collections::BTreeMap<B256, B256>,
    gas: Gas,
    /// What `deploy` wrote (for the services' clients).
    deployment: assay_protocol::deployment::Deployment,
    /// The input root on-chain jobs are submitted with.
    input_root: B256,
}

impl Market {
    /// Deploys with `assay_deploy` (dispute clocks of thirty seconds, so that games end within the
    /// epoch the flows run in), funds and stakes thirty miners and a coordinator, registers and
    /// serves a model. Thirty, because a lost dispute costs half the starting reputation: the
    /// games' forty-nine losers zero at most twenty-four miners, so every later draw still finds an
    /// asserter and `validators` (3) others.
    async fn deploy() -> Self {
        let node =
            assay_test_node::spawn(assay_test_node::Config::test()).await.expect("node starts");
        let mut config =
            Config::new(node.url(), PrivateKeySigner::from_bytes(&genesis::DEV_KEY).unwrap());
        config.wasm = WasmSource::Dir(wasm_dir());
        config.quiet = true;
        // Short clocks: every timed-out game advances the chain by one, and all the flows must
        // fit in one epoch.
        config.params.dispute.clock = 30;
        let manifest = assay_deploy::run(&config).await.expect("deploys");
        let contract = |name: &str| manifest.contract(name).expect("deployed");
        let key = |i: usize| genesis::ANVIL_ACCOUNTS[i].1;
        let mut m = Self {
            owner: Actor::new(&node, genesis::DEV_KEY),
            miners: (0..MINERS).map(|i| Actor::new(&node, miner_key(i))).collect(),
            coordinator: Actor::new(&node, key(0)),
            requester: Actor::new(&node, key(1)),
            token: contract(assay_deploy::specs::TOKEN),
            staking: contract(assay_deploy::specs::STAKING),
            registry: contract(assay_deploy::specs::REGISTRY),
            market: contract(assay_deploy::specs::JOB_MARKET),
            sampling: contract(assay_deploy::specs::SAMPLING),
            game: contract(assay_deploy::specs::DISPUTE_GAME),
            model: B256::from(
                assay_engine::model::ModelFile::parse(&games::model_blob()).expect("model").id(),
            ),
            params: config.params.market.clone(),
            clock: config.params.dispute.clock,
            traces: Default::default(),
            gas: Gas::default(),
            deployment: manifest.clone(),
            input_root: B256::repeat_byte(0x1e),
            node,
        };
        let mut stakers: Vec<Address> = m.miners.iter().map(|a| a.address).collect();
        stakers.push(m.coordinator.address);
        let funding = Funding { accounts: stakers, eth: assay(100), assay: assay(10_000) };
        assay_deploy::fund(&m.node.url(), config.signer.clone(), &manifest, &funding, true)
            .await
            .expect("funded");

        // Under this build's engine: the arbitrator's scenario replays the model's jobs.
        let register = IModelRegistry::registerModelCall {
            modelId: m.model,
            engineHash: B256::from(assay_engine_module::engine_hash()),
            pricePerUnit: U256::from(1_000_000_000u64),
        };
        m.send(&m.owner, m.registry, register, U256::ZERO).await;
        for miner in &m.miners {
            m.gas.add("Staking.registerOperator", &m.stake(miner, 1, assay(2_000)).await);
            let serve = IModelRegistry::serveCall { modelId: m.model };
            m.gas.add("ModelRegistry.serve", &m.send(miner, m.registry, serve, U256::ZERO).await);
        }
        let min_coordinator_stake = config.params.staking.min_coordinator_stake;
        m.gas.add(
            "Staking.registerOperator",
            &m.stake(&m.coordinator, 2, min_coordinator_stake).await,
        );
        m
    }

    /// Approves and stakes `amount` as an operator of `role`; returns the registration receipt.
    async fn stake(&self, who: &Actor, role: u8, amount: U256) -> TransactionReceipt {
        let approve = IAssayToken::approveCall { spender: self.staking, value: amount };
        self.send(who, self.token, approve, U256::ZERO).await;
        let register = IStaking::registerOperatorCall { role, amount };
        let receipt = self.send(who, self.staking, register, U256::ZERO).await;
        assert!(
            self.view(self.staking, IStaking::isEligibleCall { operator: who.address, role }).await
        );
        receipt
    }

    fn miner(&self, address: Address) -> &Actor {
        self.miners.iter().find(|a| a.address == address).expect("a miner")
    }

    fn other_miners(&self, but: Address) -> Vec<Address> {
        self.miners.iter().map(|a| a.address).filter(|a| *a != but).collect()
    }

    /// Sends `call` from `who` and returns its receipt; panics with the named error on a revert.
    async fn send<C: SolCall>(
        &self,
        who: &Actor,
        to: Address,
        call: C,
        value: U256,
    ) -> TransactionReceipt {
        let tx = TransactionRequest::default()
            .with_from(who.address)
            .with_to(to)
            .with_input(call.abi_encode())
            .with_value(value);
        let pending = who.p.send_transaction(tx).await.unwrap_or_else(|e| {
            let data = e.as_error_resp().and_then(|p| p.as_revert_data());
            panic!(
                "{}: {}",
                C::SIGNATURE,
                data.map_or_else(|| e.to_string(), |d| Revert::decode(&d).to_string())
            )
        });
        let receipt = pending.get_receipt().await.expect("receipt");
        assert!(receipt.status(), "{} reverted", C::SIGNATURE);
        receipt
    }

    async fn view<C: SolCall>(&self, to: Address, call: C) -> C::Return {
        let tx = TransactionRequest::default().with_to(to).with_input(call.abi_encode());
        C::abi_decode_returns(&self.owner.p.call(tx).await.expect("view")).expect("decodes")
    }

    /// The named error `call` from `who` reverts with (simulated on the latest block).
    async fn revert<E: SolError>(&self, who: &Actor, to: Address, call: impl SolCall) -> E {
        let tx = TransactionRequest::default()
            .with_from(who.address)
            .with_to(to)
            .with_input(call.abi_encode());
        let err = who.p.call(tx).await.expect_err("the call reverts");
        let data = err.as_error_resp().and_then(|p| p.as_revert_data()).expect("revert data");
        E::abi_decode(&data)
            .unwrap_or_else(|_| panic!("expected {}, got {}", E::SIGNATURE, Revert::decode(&data)))
    }

    /// Mines an empty block. `eth_call` and `eth_estimateGas` run on the latest block, so a call
    /// that must come a block after the latest transaction (`assignJob`, `drawChallenge`,
    /// `sealBatch`) is refused with `TooEarly` until another block exists.
    async fn mine(&self) {
        let _: serde_json::Value =
            self.owner.p.raw_request("evm_mine".into(), ()).await.expect("evm_mine");
    }

    /// Mines `blocks` empty blocks (`anvil_mine`); returns the latest block's hash.
    async fn mine_blocks(&self, blocks: u64) -> B256 {
        let _: serde_json::Value =
            self.owner.p.raw_request("anvil_mine".into(), (blocks,)).await.expect("anvil_mine");
        let block = self.owner.p.get_block_by_number(Default::default()).await.unwrap().unwrap();
        block.header.hash
    }

    /// Puts EVM runtime `code` at `at` (`anvil_setCode`).
    async fn install(&self, at: Address, code: &[u8]) -> Address {
        let code = alloy_primitives::hex::encode_prefixed(code);
        let _: serde_json::Value =
            self.owner.p.raw_request("anvil_setCode".into(), (at, code)).await.expect("setCode");
        at
    }

    /// Moves the clock `seconds` forward and mines a block at the new time.
    async fn advance(&self, seconds: u64) {
        let _: serde_json::Value = self
            .owner
            .p
            .raw_request("evm_increaseTime".into(), (seconds,))
            .await
            .expect("evm_increaseTime");
        self.mine().await;
    }

    async fn now(&self) -> u64 {
        let block = self.owner.p.get_block_by_number(Default::default()).await.unwrap().unwrap();
        block.header.timestamp
    }

    /// Moves the clock to the first second of `epoch`.
    async fn advance_to_epoch(&self, epoch: u64) {
        let timing = self.view(self.market, IJobMarket::epochTimingCall {}).await;
        let start = timing.genesisTime + epoch * timing.epochLength;
        self.advance(start.saturating_sub(self.now().await)).await;
        assert_eq!(self.view(self.market, IJobMarket::currentEpochCall {}).await, epoch);
    }

    /// `Sampling.setParams` by the owner with challenge probability `ppm`. The cheat cost is
    /// lowered to 1 gwei of ASSAY so that the honesty condition holds down to p = 1 ppm.
    async fn set_challenge_ppm(&mut self, ppm: u32) {
        self.params.challenge_ppm = ppm;
        self.params.cheat_cost = U256::from(1_000_000_000u64);
        let receipt =
            self.send(&self.owner, self.sampling, self.params.set_params_call(), U256::ZERO).await;
        self.gas.add("Sampling.setParams", &receipt);
        assert_eq!(self.view(self.sampling, ISampling::paramsCall {}).await.challengePpm, ppm);
    }

    // --- reads -------------------------------------------------------------------------------

    async fn job_status(&self, job: U256) -> u8 {
        self.view(self.market, IJobMarket::jobCall { jobId: job }).await.status
    }

    async fn batch_paid(&self, batch: U256) -> U256 {
        self.view(self.market, IJobMarket::batchCall { batchId: batch }).await.paid
    }

    async fn fee_balance(&self, account: Address) -> U256 {
        self.view(self.market, IJobMarket::feeBalanceCall { account }).await
    }

    async fn accrued(&self, epoch: u64, operator: Address) -> U256 {
        self.view(self.market, IJobMarket::accruedRewardCall { epoch, operator }).await
    }

    async fn current_epoch(&self) -> u64 {
        self.view(self.market, IJobMarket::currentEpochCall {}).await
    }

    /// `(assets, reputation, openDisputes)` of a stake pool.
    async fn pool(&self, operator: Address) -> (U256, u32, u32) {
        let info = self.view(self.staking, IStaking::operatorInfoCall { operator }).await;
        (info.assets, info.reputation, info.openDisputes)
    }

    /// The validators `openChallenge` draws from `seed` now: stake-weighted among the model's
    /// servers, never the asserter.
    async fn expected_validators(&self, seed: B256, asserter: Address) -> Vec<Address> {
        let servers =
            self.view(self.registry, IModelRegistry::serversCall { modelId: self.model }).await;
        let mut weights =
            self.view(self.staking, IStaking::weightsCall { operators: servers.clone() }).await;
        for (server, weight) in servers.iter().zip(weights.iter_mut()) {
            if *server == asserter {
                *weight = U256::ZERO;
            }
        }
        let picked = draw::pick_distinct(seed, &weights, usize::from(self.params.validators));
        picked.into_iter().map(|i| servers[i]).collect()
    }

    // --- on-chain jobs -----------------------------------------------------------------------

    /// Submits a job with [`job_fee`]; returns its id and the hash of its block, which seeds the
    /// asserter draw.
    async fn submit_job(&mut self, callback: Address, deadline: u64) -> (U256, B256) {
        let submit = IJobMarket::submitJobCall {
            modelId: self.model,
            inputRoot: self.input_root,
            callback,
            deadline,
        };
        let receipt = self.send(&self.requester, self.market, submit, job_fee()).await;
        self.gas.add("submitJob", &receipt);
        let submitted = event::<IJobMarket::JobSubmitted>(&receipt, self.market);
        assert_eq!((submitted.requester, submitted.fee), (self.requester.address, job_fee()));
        (submitted.jobId, receipt.block_hash.unwrap())
    }

    /// Assigns a job a block after `block` (its submission or its timeout) and checks the
    /// asserter against the stake-weighted pick an observer derives from that block's hash.
    async fn assign(&mut self, job: U256, block: B256) -> Address {
        let call = IJobMarket::assignJobCall { jobId: job };
        let e: IJobMarket::TooEarly = self.revert(&self.owner, self.market, call.clone()).await;
        assert_eq!(e.notBefore, e.current + 1, "not in the block that seeds the draw");
        let servers =
            self.view(self.registry, IModelRegistry::serversCall { modelId: self.model }).await;
        let weights =
            self.view(self.staking, IStaking::weightsCall { operators: servers.clone() }).await;
        let seed = draw::assignment_seed(job, block);
        let expected = servers[draw::weighted_pick(seed, &weights).expect("a miner")];
        self.mine().await;
        let receipt = self.send(&self.owner, self.market, call, U256::ZERO).await;
        self.gas.add("assignJob", &receipt);
        let assigned = event::<IJobMarket::JobAssigned>(&receipt, self.market);
        assert_eq!((assigned.jobId, assigned.asserter), (job, expected));
        assert_eq!(self.job_status(job).await, ASSIGNED);
        expected
    }

    /// Submits a job without callback, due in a day, and assigns it; returns `(jobId, asserter)`.
    async fn submit_and_assign(&mut self) -> (U256, Address) {
        let deadline = self.now().await + 86_400;
        let (job, block) = self.submit_job(Address::ZERO, deadline).await;
        (job, self.assign(job, block).await)
    }

    /// The asserter asserts `output`; returns the challenge seed an observer derives.
    async fn assert_result(
        &mut self,
        job: U256,
        asserter: Address,
        output: B256,
        epoch_seed: B256,
    ) -> B256 {
        let trace = self.trace_of(output);
        let call =
            IJobMarket::assertResultCall { jobId: job, outputHash: output, traceRoot: trace };
        let receipt = self.send(self.miner(asserter), self.market, call, U256::ZERO).await;
        self.gas.add("assertResult", &receipt);
        let asserted = event::<IJobMarket::ResultAsserted>(&receipt, self.market);
        assert_eq!((asserted.asserter, asserted.outputHash), (asserter, output));
        self.mine().await;
        draw::challenge_seed(epoch_seed, receipt.block_hash.unwrap(), onchain_job_key(job))
    }

    /// Flips the challenge coin of an asserted job; returns the drawn validators (none when it
    /// was accepted unchallenged), checked against the draw an observer computes from `seed`
    /// (a late draw, past the block hash window, always challenges).
    async fn draw_challenge(
        &mut self,
        job: U256,
        asserter: Address,
        seed: B256,
        late: bool,
    ) -> Vec<Address> {
        let challenged = late || draw::is_challenged(seed, self.params.challenge_ppm);
        let expected = self.expected_validators(seed, asserter).await;
        let call = IJobMarket::drawChallengeCall { jobId: job };
        let receipt = self.send(&self.owner, self.market, call, U256::ZERO).await;
        let drawn = events::<ISampling::ChallengeDrawn>(&receipt, self.sampling);
        if !challenged {
            self.gas.add("drawChallenge (not challenged)", &receipt);
            assert!(drawn.is_empty());
            let accepted = event::<IJobMarket::JobAccepted>(&receipt, self.market);
            assert_eq!((accepted.jobId, accepted.challenged), (job, false));
            assert_eq!(self.job_status(job).await, ACCEPTED);
            return Vec::new();
        }
        self.gas.add("drawChallenge (challenged)", &receipt);
        let [drawn] = drawn.try_into().expect("one ChallengeDrawn");
        assert_eq!(drawn.validators, expected);
        assert_eq!(self.job_status(job).await, CHALLENGED);
        let challenge = self.view(self.sampling, ISampling::challengeCall { jobId: job }).await;
        assert_eq!((challenge.status, challenge.asserter), (CHALLENGED, asserter));
        drawn.validators
    }

    // --- validation --------------------------------------------------------------------------

    async fn commit_validation(&mut self, job: U256, key: B256, validator: Address, output: B256) {
        let salt = keccak256(validator);
        let commitment = validation_commitment(key, validator, output, self.trace_of(output), salt);
        let call = ISampling::commitValidationCall { jobId: job, commitment };
        let receipt = self.send(self.miner(validator), self.sampling, call, U256::ZERO).await;
        self.gas.add("commitValidation", &receipt);
        event::<ISampling::ValidationCommitted>(&receipt, self.sampling);
    }

    async fn reveal_validation(&mut self, job: U256, validator: Address, output: B256) {
        let salt = keccak256(validator);
        let trace = self.trace_of(output);
        let call = ISampling::revealValidationCall {
            jobId: job,
            outputHash: output,
            traceRoot: trace,
            salt,
        };
        let receipt = self.send(self.miner(validator), self.sampling, call, U256::ZERO).await;
        self.gas.add("revealValidation", &receipt);
        let revealed = event::<ISampling::ValidationRevealed>(&receipt, self.sampling);
        let got = (revealed.validator, revealed.outputHash, revealed.traceRoot);
        assert_eq!(got, (validator, output, trace));
        let drawn = self.view(self.sampling, ISampling::jobValidatorsCall { jobId: job }).await;
        let at = drawn.validators.iter().position(|v| *v == validator).expect("drawn");
        assert_eq!((drawn.revealedHashes[at], drawn.revealedTraceRoots[at]), (output, trace));
    }

    /// Every validator commits, then reveals, its vote.
    async fn validate(&mut self, job: U256, key: B256, votes: &[(Address, B256)]) {
        for (validator, output) in votes {
            self.commit_validation(job, key, *validator, *output).await;
        }
        for (validator, output) in votes {
            self.reveal_validation(job, *validator, *output).await;
        }
    }

    async fn finalize(&mut self, job: U256, step: &str) -> TransactionReceipt {
        let call = ISampling::finalizeChallengeCall { jobId: job };
        let receipt = self.send(&self.owner, self.sampling, call, U256::ZERO).await;
        self.gas.add(step, &receipt);
        receipt
    }

    /// The trace root a validator claims along with `output` in these tests.
    fn trace_of(&self, output: B256) -> B256 {
        self.traces.get(&output).copied().unwrap_or_else(|| keccak256(output))
    }

    /// Ends `game` on time (after its side to move's clock ran out), from the owner's account.
    async fn timeout(&mut self, game: U256, step: &str) -> TransactionReceipt {
        let call = IDisputeGame::timeoutCall { gameId: game };
        let receipt = self.send(&self.owner, self.game, call, U256::ZERO).await;
        self.gas.add(step, &receipt);
        receipt
    }

    // --- batches -----------------------------------------------------------------------------

    /// `n` records executed by the miners in turn, fees 1..=n gwei.
    fn records(&self, label: &str, n: usize) -> Vec<JobRecord> {
        (0..n)
            .map(|i| JobRecord {
                job_key: keccak256(format!("{label}/{i}")),
                model_id: self.model,
                input_root: keccak256(format!("{label}/{i}/input")),
                asserter: self.miners[i % self.miners.len()].address,
                output_hash: OUT,
                trace_root: TRACE,
                fee: U256::from(1_000_000_000u64 * (i as u64 + 1)),
            })
            .collect()
    }

    /// Commits `batch` with `escrow` and returns its id and the commit receipt.
    async fn commit_batch(&mut self, batch: &Batch, escrow: U256, step: &str) -> U256 {
        let call = IJobMarket::commitBatchCall { jobsRoot: batch.root(), jobCount: batch.len() };
        let receipt = self.send(&self.coordinator, self.market, call, escrow).await;
        self.gas.add(step, &receipt);
        let committed = event::<IJobMarket::BatchCommitted>(&receipt, self.market);
        assert_eq!(
            (committed.coordinator, committed.jobsRoot, committed.jobCount, committed.escrow),
            (self.coordinator.address, batch.root(), batch.len(), escrow)
        );
        committed.batchId
    }

    /// Seals a batch a block after its commit; returns its draw hash (the commit block's hash).
    async fn seal_batch(&mut self, id: U256, step: &str) -> B256 {
        self.mine().await;
        let receipt = self
            .send(&self.owner, self.market, IJobMarket::sealBatchCall { batchId: id }, U256::ZERO)
            .await;
        self.gas.add(step, &receipt);
        let sealed = event::<IJobMarket::BatchSealed>(&receipt, self.market);
        assert!(!sealed.late);
        assert_eq!(
            self.view(self.market, IJobMarket::batchCall { batchId: id }).await.drawHash,
            sealed.drawHash
        );
        sealed.drawHash
    }

    /// Whether the draw of a batch sealed with `draw_hash` in an epoch without seed challenges
    /// `record`, as an observer computes it.
    fn challenged(&self, draw_hash: B256, record: &JobRecord) -> bool {
        draw::is_challenged(self.record_seed(draw_hash, record), self.params.challenge_ppm)
    }

    fn record_seed(&self, draw_hash: B256, record: &JobRecord) -> B256 {
        draw::challenge_seed(B256::ZERO, draw_hash, record.job_key)
    }
}

/// Claims one record.
fn claim_call(id: U256, r: &JobRecord, proof: Vec<B256>) -> IJobMarket::claimBatchJobsCall {
    IJobMarket::claimBatchJobsCall { batchId: id, claims: vec![r.claim(&proof)] }
}

fn open_call(id: U256, r: &JobRecord, proof: Vec<B256>) -> IJobMarket::openBatchJobCall {
    IJobMarket::openBatchJobCall { batchId: id, claim: r.claim(&proof) }
}

fn discount(fee: U256, params: &MarketParams) -> U256 {
    fee * U256::from(params.user_discount_bps) / U256::from(10_000u64)
}

#[tokio::test]
async fn the_job_market_runs_on_the_test_node() {
    let mut m = Market::deploy().await;
    let epoch = m.current_epoch().await;
    let seed = keccak256("the coordinator's seed");
    commit_the_next_epoch_seed(&mut m, epoch, seed).await;

    m.set_challenge_ppm(ALWAYS).await;
    challenged_job_is_accepted(&mut m, epoch).await;
    a_lying_validator_loses_its_game_on_time(&mut m, epoch).await;
    a_silent_asserter_loses_every_game(&mut m).await;
    a_game_narrows_a_real_trace_to_the_corrupted_element(&mut m).await;
    a_corrupted_residual_is_proven_wrong_on_chain(&mut m).await;
    a_corrupted_activation_is_proven_wrong_against_the_model(&mut m).await;
    a_corrupted_linear_layer_is_proven_wrong_against_its_weights(&mut m).await;
    a_corrupted_norm_is_proven_wrong_against_the_config(&mut m).await;
    a_corrupted_embedding_is_proven_wrong_against_the_table(&mut m).await;
    a_corrupted_logit_is_proven_wrong_against_the_head(&mut m).await;
    corrupted_rotated_projections_are_proven_wrong(&mut m).await;
    corrupted_scores_are_proven_wrong(&mut m).await;
    corrupted_token_copies_are_proven_wrong(&mut m).await;
    corrupted_reductions_are_proven_wrong_term_by_term(&mut m).await;
    a_sampled_token_ends_without_a_verdict(&mut m).await;
    leaves_out_of_schedule_are_proven_wrong(&mut m).await;
    a_length_the_chain_cannot_tell_ends_without_a_verdict(&mut m).await;
    a_prompt_header_ends_without_a_verdict(&mut m).await;
    an_honest_player_answers_a_liars_accumulators(&mut m).await;
    an_honest_player_answers_a_leaf_out_of_schedule(&mut m).await;
    an_arbitrators_bonded_claim_is_won_by_proof(&mut m).await;
    an_arbitrator_killed_mid_game_finishes_it(&mut m).await;
    an_output_that_is_not_its_traces_loses_to_the_output_leaf(&mut m).await;
    corrupted_bert_norms_and_embeddings_are_proven_wrong(&mut m).await;
    unsafe_parameters_are_refused(&m).await;
    m.set_challenge_ppm(RARELY).await;
    unchallenged_job_is_accepted(&mut m).await;
    a_late_draw_is_challenged(&mut m).await;
    missed_deadlines_are_handled(&mut m).await;

    m.set_challenge_ppm(HALF).await;
    let mixed = batch_records_are_opened_or_claimed(&mut m).await;
    m.set_challenge_ppm(RARELY).await;
    let sizes = [1, 16, 256];
    batches_amortise_their_gas(&mut m, &sizes).await;
    a_late_seal_challenges_every_record(&mut m).await;
    assert_eq!(m.current_epoch().await, epoch, "all of the above ran in one epoch");

    rewards_and_fees_are_paid_after_the_epoch(&mut m, epoch).await;
    the_revealed_seed_drives_the_next_epoch(&mut m, epoch + 1, seed).await;
    an_unrevealed_seed_is_forfeited(&mut m, epoch + 2).await;
    unpaid_escrow_is_reclaimed_after_the_claim_period(&mut m, mixed).await;
    sybils_cannot_squat_a_models_server_slots(&mut m).await;

    println!("\n{}", m.gas.tables(&sizes));
    let amortised: Vec<u64> = sizes.iter().map(|n| m.gas.amortised(*n)).collect();
    assert!(
        amortised.windows(2).all(|w| w[1] < w[0]),
        "gas per job falls as batches grow: {amortised:?}"
    );
    let onchain = ["submitJob", "assignJob", "assertResult", "drawChallenge (not challenged)"];
    let onchain: u64 = onchain.iter().map(|s| m.gas.mean(s)).sum();
    assert!(amortised[2] < onchain, "a batched job costs less than an on-chain one ({onchain})");
}
