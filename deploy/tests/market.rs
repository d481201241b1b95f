//! The job market's real WASM on the test node. Everything is deployed by `assay_deploy`, then
//! JobMarket and Sampling are driven through their main flows with the bindings the services
//! use, one account per role (four miners, a coordinator, a requester, the dispute resolver):
//!
//! - on-chain jobs: challenged and accepted; disputed and resolved for the asserter; disputed and
//!   resolved against it (rejected, fee refunded); not challenged (the dApp's callback gets the
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
//! - each refusal decoded to its named Solidity error.
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
use assay_deploy::{Config, Funding, Params, WasmSource, describe_revert, params::MarketParams};
use assay_protocol::{
    batch::Batch,
    bindings::{IAssayToken, IJobMarket, IModelRegistry, IOwnable, ISampling, IStaking},
    math::{
        draw,
        records::{JobRecord, onchain_job_key, seed_commitment, validation_commitment},
    },
};
use assay_test_node::{NodeHandle, genesis};

/// The output every honest party computes; `WRONG` is what a cheater or a faulty validator claims.
const OUT: B256 = B256::repeat_byte(0x0a);
const WRONG: B256 = B256::repeat_byte(0x0b);
const TRACE: B256 = B256::repeat_byte(0x0c);
/// Job status codes (`IJobMarket.sol`).
const SUBMITTED: u8 = 1;
const ASSIGNED: u8 = 2;
const CHALLENGED: u8 = 4;
const ACCEPTED: u8 = 5;
const DISPUTED: u8 = 6;
const REJECTED: u8 = 7;
const REFUNDED: u8 = 8;
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
    resolver: Actor,
    token: Address,
    staking: Address,
    registry: Address,
    market: Address,
    sampling: Address,
    model: B256,
    /// The parameters in force (`deploy/params.toml`, then what the test sets).
    params: MarketParams,
    gas: Gas,
}

impl Market {
    /// Deploys with `assay_deploy`, funds and stakes four miners and a coordinator, registers and
    /// serves a model, and appoints the dispute resolver.
    async fn deploy() -> Self {
        let node =
            assay_test_node::spawn(assay_test_node::Config::test()).await.expect("node starts");
        let mut config =
            Config::new(node.url(), PrivateKeySigner::from_bytes(&genesis::DEV_KEY).unwrap());
        config.wasm = WasmSource::Dir(wasm_dir());
        config.quiet = true;
        let manifest = assay_deploy::run(&config).await.expect("deploys");
        let contract = |name: &str| manifest.contract(name).expect("deployed");
        let key = |i: usize| genesis::ANVIL_ACCOUNTS[i].1;
        let mut m = Self {
            owner: Actor::new(&node, genesis::DEV_KEY),
            miners: (0..4).map(|i| Actor::new(&node, key(i))).collect(),
            coordinator: Actor::new(&node, key(4)),
            requester: Actor::new(&node, key(5)),
            resolver: Actor::new(&node, key(6)),
            token: contract(assay_deploy::specs::TOKEN),
            staking: contract(assay_deploy::specs::STAKING),
            registry: contract(assay_deploy::specs::REGISTRY),
            market: contract(assay_deploy::specs::JOB_MARKET),
            sampling: contract(assay_deploy::specs::SAMPLING),
            model: keccak256("assay market test model"),
            params: config.params.market.clone(),
            gas: Gas::default(),
            node,
        };
        let mut stakers: Vec<Address> = m.miners.iter().map(|a| a.address).collect();
        stakers.push(m.coordinator.address);
        let funding = Funding { accounts: stakers, eth: assay(100), assay: assay(10_000) };
        assay_deploy::fund(&m.node.url(), config.signer.clone(), &manifest, &funding, true)
            .await
            .expect("funded");

        let register = IModelRegistry::registerModelCall {
            modelId: m.model,
            engineHash: B256::repeat_byte(0xee),
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
        let resolver = ISampling::setDisputeResolverCall { resolver: m.resolver.address };
        m.send(&m.owner, m.sampling, resolver, U256::ZERO).await;
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
                data.map_or_else(|| e.to_string(), |d| describe_revert(&d))
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
            .unwrap_or_else(|_| panic!("expected {}, got {}", E::SIGNATURE, describe_revert(&data)))
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
        let start = timing._0 + epoch * timing._1;
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
        assert_eq!(self.view(self.sampling, ISampling::paramsCall {}).await._0, ppm);
    }

    // --- reads -------------------------------------------------------------------------------

    async fn job_status(&self, job: U256) -> u8 {
        self.view(self.market, IJobMarket::jobCall { jobId: job }).await._0
    }

    async fn batch_paid(&self, batch: U256) -> U256 {
        self.view(self.market, IJobMarket::batchCall { batchId: batch }).await._4
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
        (info._1, info._4, info._5)
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
            inputRoot: B256::repeat_byte(0x1e),
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
        let call =
            IJobMarket::assertResultCall { jobId: job, outputHash: output, traceRoot: TRACE };
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
        assert_eq!((challenge._0, challenge._1), (CHALLENGED, asserter));
        drawn.validators
    }

    // --- validation --------------------------------------------------------------------------

    async fn commit_validation(&mut self, job: U256, key: B256, validator: Address, output: B256) {
        let salt = keccak256(validator);
        let commitment = validation_commitment(key, validator, output, salt);
        let call = ISampling::commitValidationCall { jobId: job, commitment };
        let receipt = self.send(self.miner(validator), self.sampling, call, U256::ZERO).await;
        self.gas.add("commitValidation", &receipt);
        event::<ISampling::ValidationCommitted>(&receipt, self.sampling);
    }

    async fn reveal_validation(&mut self, job: U256, validator: Address, output: B256) {
        let salt = keccak256(validator);
        let call = ISampling::revealValidationCall { jobId: job, outputHash: output, salt };
        let receipt = self.send(self.miner(validator), self.sampling, call, U256::ZERO).await;
        self.gas.add("revealValidation", &receipt);
        let revealed = event::<ISampling::ValidationRevealed>(&receipt, self.sampling);
        assert_eq!((revealed.validator, revealed.outputHash), (validator, output));
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

    async fn resolve(&mut self, job: U256, correct: B256) -> TransactionReceipt {
        let call = ISampling::resolveDisputeCall { jobId: job, correctOutputHash: correct };
        let receipt = self.send(&self.resolver, self.sampling, call, U256::ZERO).await;
        self.gas.add("resolveDispute", &receipt);
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
            self.view(self.market, IJobMarket::batchCall { batchId: id }).await._5,
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
    IJobMarket::openBatchJobCall {
        batchId: id,
        jobKey: r.job_key,
        modelId: r.model_id,
        inputRoot: r.input_root,
        asserter: r.asserter,
        outputHash: r.output_hash,
        traceRoot: r.trace_root,
        fee: r.fee,
        proof,
    }
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
    dispute_resolved_for_the_asserter(&mut m, epoch).await;
    dispute_resolved_against_the_asserter(&mut m).await;
    unsafe_parameters_are_refused(&m).await;
    m.set_challenge_ppm(RARELY).await;
    unchallenged_job_is_accepted(&mut m).await;
    a_late_draw_is_challenged(&mut m).await;
    missed_deadlines_are_handled(&mut m).await;

    m.set_challenge_ppm(HALF).await;
    batch_records_are_opened_or_claimed(&mut m).await;
    m.set_challenge_ppm(RARELY).await;
    let sizes = [1, 16, 256];
    batches_amortise_their_gas(&mut m, &sizes).await;
    a_late_seal_challenges_every_record(&mut m).await;
    assert_eq!(m.current_epoch().await, epoch, "all of the above ran in one epoch");

    rewards_and_fees_are_paid_after_the_epoch(&mut m, epoch).await;
    the_revealed_seed_drives_the_next_epoch(&mut m, epoch + 1, seed).await;
    an_unrevealed_seed_is_forfeited(&mut m, epoch + 2).await;

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

/// A coordinator commits the seed of the next epoch; nobody can reveal it before it starts.
async fn commit_the_next_epoch_seed(m: &mut Market, epoch: u64, seed: B256) {
    let next = epoch + 1;
    let commitment = seed_commitment(next, seed);
    let now = IJobMarket::commitEpochSeedCall { epoch, commitment };
    let e: IJobMarket::EpochNotFuture = m.revert(&m.coordinator, m.market, now).await;
    assert_eq!((e.epoch, e.current), (epoch, epoch));
    let call = IJobMarket::commitEpochSeedCall { epoch: next, commitment };
    let e: IJobMarket::NotCoordinator = m.revert(&m.miners[0], m.market, call.clone()).await;
    assert_eq!(e.account, m.miners[0].address);

    let receipt = m.send(&m.coordinator, m.market, call.clone(), U256::ZERO).await;
    m.gas.add("commitEpochSeed", &receipt);
    let committed = event::<IJobMarket::EpochSeedCommitted>(&receipt, m.market);
    assert_eq!((committed.epoch, committed.coordinator), (next, m.coordinator.address));
    let e: IJobMarket::SeedAlreadyCommitted = m.revert(&m.coordinator, m.market, call).await;
    assert_eq!(e.epoch, next);
    let early = IJobMarket::revealEpochSeedCall { epoch: next, seed };
    let e: IJobMarket::EpochNotStarted = m.revert(&m.owner, m.market, early).await;
    assert_eq!(e.epoch, next);
}

/// p = 100 %: the job is challenged, three validators agree with the asserter, the fee is paid
/// less the user's discount and R_A, R_V accrue.
async fn challenged_job_is_accepted(m: &mut Market, epoch: u64) {
    let (job, asserter) = m.submit_and_assign().await;
    let stranger = m.other_miners(asserter)[0];
    let call = IJobMarket::assertResultCall { jobId: job, outputHash: OUT, traceRoot: TRACE };
    let e: IJobMarket::NotAsserter = m.revert(m.miner(stranger), m.market, call.clone()).await;
    assert_eq!((e.jobId, e.account), (job, stranger));
    let seed = m.assert_result(job, asserter, OUT, B256::ZERO).await;
    let e: IJobMarket::WrongStatus = m.revert(m.miner(asserter), m.market, call).await;
    assert_eq!((e.jobId, e.status), (job, 3));

    let validators = m.draw_challenge(job, asserter, seed, false).await;
    let expected: BTreeSet<_> = m.other_miners(asserter).into_iter().collect();
    assert_eq!(validators.iter().copied().collect::<BTreeSet<_>>(), expected);
    let key = onchain_job_key(job);

    // Reveals open once everyone committed; finalising waits for every reveal.
    m.commit_validation(job, key, validators[0], OUT).await;
    let early = ISampling::revealValidationCall {
        jobId: job,
        outputHash: OUT,
        salt: keccak256(validators[0]),
    };
    let e: ISampling::RevealNotOpen = m.revert(m.miner(validators[0]), m.sampling, early).await;
    assert_eq!(e.jobId, job);
    let e: ISampling::NotValidator = m
        .revert(
            m.miner(asserter),
            m.sampling,
            ISampling::commitValidationCall { jobId: job, commitment: B256::ZERO },
        )
        .await;
    assert_eq!(e.account, asserter);
    for v in &validators[1..] {
        m.commit_validation(job, key, *v, OUT).await;
    }
    let lie = ISampling::revealValidationCall {
        jobId: job,
        outputHash: WRONG,
        salt: keccak256(validators[0]),
    };
    let e: ISampling::CommitmentMismatch = m.revert(m.miner(validators[0]), m.sampling, lie).await;
    assert_eq!(e.validator, validators[0]);
    m.reveal_validation(job, validators[0], OUT).await;
    let e: ISampling::ChallengeStillOpen =
        m.revert(&m.owner, m.sampling, ISampling::finalizeChallengeCall { jobId: job }).await;
    assert_eq!(e.jobId, job);
    for v in &validators[1..] {
        m.reveal_validation(job, *v, OUT).await;
    }

    let (fees_before, reputation_before) =
        (m.fee_balance(asserter).await, m.pool(asserter).await.1);
    let receipt = m.finalize(job, "finalizeChallenge (accepted)").await;
    let accepted = event::<IJobMarket::JobAccepted>(&receipt, m.market);
    assert_eq!(
        (accepted.jobId, accepted.asserter, accepted.outputHash, accepted.challenged),
        (job, asserter, OUT, true)
    );
    assert_eq!(m.job_status(job).await, ACCEPTED);
    assert_eq!(m.view(m.sampling, ISampling::challengeCall { jobId: job }).await._0, ACCEPTED);
    let cut = discount(job_fee(), &m.params);
    assert_eq!(m.fee_balance(asserter).await - fees_before, job_fee() - cut);
    assert_eq!(m.fee_balance(m.requester.address).await, cut);
    assert_eq!(m.pool(asserter).await.1, reputation_before + 10);
    let accrued = events::<IJobMarket::RewardAccrued>(&receipt, m.market);
    let share = m.params.validator_reward / U256::from(3u8);
    for v in &validators {
        assert!(accrued.iter().any(|a| (a.epoch, a.operator, a.amount) == (epoch, *v, share)));
    }
    assert!(accrued.iter().any(|a| (a.operator, a.amount) == (asserter, m.params.asserter_reward)));
}

/// One validator reveals another hash: disputed, asserter and dissenter frozen; the resolver
/// sides with the asserter, the dissenter is slashed and the right parties share half the slash.
async fn dispute_resolved_for_the_asserter(m: &mut Market, epoch: u64) {
    let (job, asserter) = m.submit_and_assign().await;
    let seed = m.assert_result(job, asserter, OUT, B256::ZERO).await;
    let validators = m.draw_challenge(job, asserter, seed, false).await;
    let dissenter = validators[2];
    let votes = [(validators[0], OUT), (validators[1], OUT), (dissenter, WRONG)];
    m.validate(job, onchain_job_key(job), &votes).await;

    let receipt = m.finalize(job, "finalizeChallenge (disputed)").await;
    let disputed = event::<ISampling::JobDisputed>(&receipt, m.sampling);
    assert_eq!((disputed.asserter, disputed.dissenters), (asserter, vec![dissenter]));
    assert_eq!(m.job_status(job).await, DISPUTED);
    let frozen = events::<IStaking::FreezeChanged>(&receipt, m.staking);
    assert_eq!(frozen.len(), 2);
    for party in [asserter, dissenter] {
        assert_eq!(m.pool(party).await.2, 1, "{party} frozen");
        assert!(!m.view(m.staking, IStaking::isEligibleCall { operator: party, role: 1 }).await);
    }
    let top_up = IStaking::stakeCall { operator: asserter, amount: assay(1) };
    let e: IStaking::StakeFrozen = m.revert(m.miner(validators[0]), m.staking, top_up).await;
    assert_eq!(e.operator, asserter);
    let resolve = ISampling::resolveDisputeCall { jobId: job, correctOutputHash: OUT };
    let e: ISampling::NotDisputeResolver = m.revert(&m.owner, m.sampling, resolve).await;
    assert_eq!(e.account, m.owner.address);

    let dissenter_before = m.pool(dissenter).await;
    let accrued_before = m.accrued(epoch, validators[0]).await;
    let fees_before = m.fee_balance(asserter).await;
    let receipt = m.resolve(job, OUT).await;
    let resolved = event::<ISampling::DisputeResolved>(&receipt, m.sampling);
    assert_eq!((resolved.correctOutputHash, resolved.losers), (OUT, vec![dissenter]));
    let slashed = event::<IStaking::Slashed>(&receipt, m.staking);
    assert_eq!((slashed.operator, slashed.amount), (dissenter, m.params.slash_amount));
    assert_eq!(m.job_status(job).await, ACCEPTED);
    let dissenter_after = m.pool(dissenter).await;
    assert_eq!(dissenter_after.0, dissenter_before.0 - m.params.slash_amount);
    assert_eq!(dissenter_after.1, dissenter_before.1 - 5_000);
    for party in [asserter, dissenter] {
        assert_eq!(m.pool(party).await.2, 0, "{party} unfrozen");
    }
    // Three winners share half the slash; the two right validators also share R_V.
    let expected =
        m.params.slash_amount / U256::from(6u8) + m.params.validator_reward / U256::from(2u8);
    assert_eq!(m.accrued(epoch, validators[0]).await - accrued_before, expected);
    let cut = discount(job_fee(), &m.params);
    assert_eq!(m.fee_balance(asserter).await - fees_before, job_fee() - cut);
}

/// The asserter claims a wrong hash and every validator contradicts it: the resolver rejects the
/// job, the asserter is slashed and the requester gets its fee back.
async fn dispute_resolved_against_the_asserter(m: &mut Market) {
    let (job, asserter) = m.submit_and_assign().await;
    let seed = m.assert_result(job, asserter, WRONG, B256::ZERO).await;
    let validators = m.draw_challenge(job, asserter, seed, false).await;
    let votes: Vec<_> = validators.iter().map(|v| (*v, OUT)).collect();
    m.validate(job, onchain_job_key(job), &votes).await;
    let receipt = m.finalize(job, "finalizeChallenge (disputed)").await;
    assert_eq!(event::<ISampling::JobDisputed>(&receipt, m.sampling).dissenters, validators);
    for miner in m.miners.iter().map(|a| a.address) {
        assert_eq!(m.pool(miner).await.2, 1, "{miner} frozen");
    }

    let refunds_before = m.fee_balance(m.requester.address).await;
    let asserter_before = m.pool(asserter).await.0;
    let receipt = m.resolve(job, OUT).await;
    assert_eq!(event::<ISampling::DisputeResolved>(&receipt, m.sampling).losers, vec![asserter]);
    let refunded = event::<IJobMarket::JobRefunded>(&receipt, m.market);
    assert_eq!((refunded.to, refunded.amount), (m.requester.address, job_fee()));
    assert_eq!(m.job_status(job).await, REJECTED);
    assert_eq!(m.view(m.sampling, ISampling::challengeCall { jobId: job }).await._0, REJECTED);
    assert_eq!(m.fee_balance(m.requester.address).await - refunds_before, job_fee());
    assert_eq!(m.pool(asserter).await.0, asserter_before - m.params.slash_amount);
    for miner in m.miners.iter().map(|a| a.address) {
        assert_eq!(m.pool(miner).await.2, 0, "{miner} unfrozen");
    }
}

/// p = 1 ppm with the default cheat cost C = 1 ASSAY breaks p * (1 - r^n) * (R_A + S) > C.
async fn unsafe_parameters_are_refused(m: &Market) {
    let mut unsafe_params = m.params.clone();
    unsafe_params.challenge_ppm = RARELY;
    unsafe_params.cheat_cost = Params::default_params().market.cheat_cost;
    let call = unsafe_params.set_params_call();
    let e: ISampling::HonestyConditionViolated = m.revert(&m.owner, m.sampling, call).await;
    assert!(e.expectedLossScaled <= e.cheatCostScaled, "{e:?}");
    let mine = m.params.set_params_call();
    let e: IOwnable::OwnableUnauthorizedAccount = m.revert(&m.miners[0], m.sampling, mine).await;
    assert_eq!(e.account, m.miners[0].address);
}

/// p = 1 ppm: the coin does not fire; the asserter gets the whole fee. A dApp's callback
/// receives the result.
async fn unchallenged_job_is_accepted(m: &mut Market) {
    let (job, asserter) = m.submit_and_assign().await;
    let seed = m.assert_result(job, asserter, OUT, B256::ZERO).await;
    let before = m.fee_balance(asserter).await;
    let drawn = m.draw_challenge(job, asserter, seed, false).await;
    assert!(drawn.is_empty(), "1 ppm does not fire here");
    assert_eq!(m.fee_balance(asserter).await - before, job_fee());
    let e: IJobMarket::WrongStatus =
        m.revert(&m.owner, m.market, IJobMarket::drawChallengeCall { jobId: job }).await;
    assert_eq!(e.status, ACCEPTED);

    let consumer = m.install(Address::repeat_byte(0xca), &RECORDING_CONSUMER).await;
    let deadline = m.now().await + 86_400;
    let (job, block) = m.submit_job(consumer, deadline).await;
    let asserter = m.assign(job, block).await;
    let seed = m.assert_result(job, asserter, OUT, B256::ZERO).await;
    assert!(!draw::is_challenged(seed, m.params.challenge_ppm), "1 ppm does not fire here");
    let call = IJobMarket::drawChallengeCall { jobId: job };
    let receipt = m.send(&m.owner, m.market, call, U256::ZERO).await;
    m.gas.add("drawChallenge (not challenged, callback stores 2 words)", &receipt);
    assert_eq!(m.job_status(job).await, ACCEPTED);
    let slot = |i: u8| m.owner.p.get_storage_at(consumer, U256::from(i));
    assert_eq!((slot(0).await.unwrap(), slot(1).await.unwrap()), (job, OUT.into()));
}

/// A draw made more than 256 blocks after the assertion can no longer read its block hash, so it
/// counts as challenged whatever p is (validators drawn from the hash of the block before).
async fn a_late_draw_is_challenged(m: &mut Market) {
    let (job, asserter) = m.submit_and_assign().await;
    m.assert_result(job, asserter, OUT, B256::ZERO).await;
    let previous = m.mine_blocks(257).await;
    let seed = draw::challenge_seed(B256::ZERO, previous, onchain_job_key(job));
    let validators = m.draw_challenge(job, asserter, seed, true).await;
    let votes: Vec<_> = validators.iter().map(|v| (*v, OUT)).collect();
    m.validate(job, onchain_job_key(job), &votes).await;
    m.finalize(job, "finalizeChallenge (accepted)").await;
    assert_eq!(m.job_status(job).await, ACCEPTED);
}

/// An asserter that misses its timeout loses reputation and the job is drawn again (a failing
/// callback then only logs); a job nobody served by its deadline is refunded.
async fn missed_deadlines_are_handled(m: &mut Market) {
    let consumer = m.install(Address::repeat_byte(0xcb), &REVERTING_CONSUMER).await;
    let deadline = m.now().await + 3_600;
    let (job, block) = m.submit_job(consumer, deadline).await;
    let asserter = m.assign(job, block).await;
    let timeout = IJobMarket::timeoutJobCall { jobId: job };
    let e: IJobMarket::NotTimedOut = m.revert(&m.owner, m.market, timeout.clone()).await;
    assert_eq!(e.jobId, job);
    m.advance(m.params.assert_timeout + 1).await;
    let late = IJobMarket::assertResultCall { jobId: job, outputHash: OUT, traceRoot: TRACE };
    let e: IJobMarket::DeadlinePassed = m.revert(m.miner(asserter), m.market, late).await;
    assert!(e.timestamp > e.deadline);

    let reputation = m.pool(asserter).await.1;
    let receipt = m.send(&m.owner, m.market, timeout, U256::ZERO).await;
    m.gas.add("timeoutJob (redraw)", &receipt);
    let timed_out = event::<IJobMarket::AssignmentTimedOut>(&receipt, m.market);
    assert_eq!((timed_out.jobId, timed_out.asserter), (job, asserter));
    assert_eq!(m.pool(asserter).await.1, reputation.saturating_sub(500));
    assert_eq!(m.job_status(job).await, SUBMITTED);
    let again = m.assign(job, receipt.block_hash.unwrap()).await;
    let seed = m.assert_result(job, again, OUT, B256::ZERO).await;
    let call = IJobMarket::drawChallengeCall { jobId: job };
    assert!(!draw::is_challenged(seed, m.params.challenge_ppm), "1 ppm does not fire here");
    let receipt = m.send(&m.owner, m.market, call, U256::ZERO).await;
    let failed = event::<IJobMarket::CallbackFailed>(&receipt, m.market);
    assert_eq!((failed.jobId, failed.callback), (job, consumer));
    assert_eq!(m.job_status(job).await, ACCEPTED);

    let (job, _) = m.submit_job(Address::ZERO, m.now().await + 60).await;
    m.advance(61).await;
    let refunds = m.fee_balance(m.requester.address).await;
    let call = IJobMarket::timeoutJobCall { jobId: job };
    let receipt = m.send(&m.owner, m.market, call, U256::ZERO).await;
    m.gas.add("timeoutJob (refund)", &receipt);
    let refunded = event::<IJobMarket::JobRefunded>(&receipt, m.market);
    assert_eq!((refunded.to, refunded.amount), (m.requester.address, job_fee()));
    assert_eq!(m.job_status(job).await, REFUNDED);
    assert_eq!(m.fee_balance(m.requester.address).await - refunds, job_fee());
}

/// p = 50 %: the sealed batch's draw challenges about half of 16 records. One challenged record
/// is opened and sampled (one validator never shows up); the unchallenged ones are claimed after
/// the window; everything else is refused by name.
async fn batch_records_are_opened_or_claimed(m: &mut Market) {
    let records = m.records("mixed", 16);
    let escrow = records.iter().map(|r| r.fee).sum::<U256>();
    let batch = Batch::new(records.clone()).unwrap();
    let commit = IJobMarket::commitBatchCall { jobsRoot: batch.root(), jobCount: batch.len() };
    let e: IJobMarket::NotCoordinator = m.revert(&m.miners[0], m.market, commit).await;
    assert_eq!(e.account, m.miners[0].address);
    let id = m.commit_batch(&batch, escrow, "commitBatch").await;
    let (first, proof) = batch.proof(records[0].job_key).unwrap();
    let e: IJobMarket::BatchNotSealed =
        m.revert(&m.owner, m.market, claim_call(id, first, proof)).await;
    assert_eq!(e.batchId, id);
    let draw_hash = m.seal_batch(id, "sealBatch").await;
    let e: IJobMarket::BatchAlreadySealed =
        m.revert(&m.owner, m.market, IJobMarket::sealBatchCall { batchId: id }).await;
    assert_eq!(e.batchId, id);

    let (challenged, unchallenged): (Vec<&JobRecord>, Vec<&JobRecord>) =
        records.iter().partition(|r| m.challenged(draw_hash, r));
    assert!(!challenged.is_empty() && !unchallenged.is_empty(), "16 coin flips at 50 %");
    let (calm, proof) = batch.proof(unchallenged[0].job_key).unwrap();
    let e: IJobMarket::NotChallenged =
        m.revert(&m.owner, m.market, open_call(id, calm, proof)).await;
    assert_eq!(e.jobKey, calm.job_key);

    open_and_sample_with_an_absent_validator(m, id, &batch, challenged[0], draw_hash).await;

    // Claims wait for the window; then every unchallenged record pays its asserter once.
    let (r, proof) = batch.proof(unchallenged[0].job_key).unwrap();
    let e: IJobMarket::BatchWindowOpen =
        m.revert(&m.owner, m.market, claim_call(id, r, proof)).await;
    assert_eq!(e.batchId, id);
    assert!(e.closesAt >= m.now().await && e.closesAt <= m.now().await + m.params.batch_window);
    m.advance(m.params.batch_window + 1).await;
    // One bad claim among good ones reverts them all: nothing is paid.
    let mut claims: Vec<Vec<B256>> = unchallenged
        .iter()
        .map(|r| {
            let (r, proof) = batch.proof(r.job_key).unwrap();
            r.claim(&proof)
        })
        .collect();
    let last = claims.len() - 1;
    claims[last][6] = (unchallenged[last].fee + U256::from(1u8)).into();
    let paid_before = m.batch_paid(id).await;
    let e: IJobMarket::InvalidProof =
        m.revert(&m.owner, m.market, IJobMarket::claimBatchJobsCall { batchId: id, claims }).await;
    assert_eq!(e.jobKey, unchallenged[last].job_key);
    assert_eq!(m.batch_paid(id).await, paid_before, "the whole call reverted");
    for r in &unchallenged {
        let before = m.fee_balance(r.asserter).await;
        let (r, proof) = batch.proof(r.job_key).unwrap();
        let receipt = m.send(&m.owner, m.market, claim_call(id, r, proof), U256::ZERO).await;
        m.gas.add("claimBatchJobs (one record)", &receipt);
        let claimed = event::<IJobMarket::BatchJobClaimed>(&receipt, m.market);
        assert_eq!((claimed.jobKey, claimed.asserter, claimed.fee), (r.job_key, r.asserter, r.fee));
        assert_eq!(m.fee_balance(r.asserter).await - before, r.fee);
    }
    let (r, proof) = batch.proof(unchallenged[0].job_key).unwrap();
    let e: IJobMarket::RecordAlreadyUsed =
        m.revert(&m.owner, m.market, claim_call(id, r, proof.clone())).await;
    assert_eq!((e.batchId, e.jobKey), (id, r.job_key));
    let inflated = JobRecord { fee: r.fee * U256::from(2u8), ..*r };
    let e: IJobMarket::InvalidProof =
        m.revert(&m.owner, m.market, claim_call(id, &inflated, proof)).await;
    assert_eq!(e.jobKey, r.job_key);
    if let Some(skipped) = challenged.get(1) {
        let (r, proof) = batch.proof(skipped.job_key).unwrap();
        let e: IJobMarket::ChallengedNotOpened =
            m.revert(&m.owner, m.market, claim_call(id, r, proof.clone())).await;
        assert_eq!(e.jobKey, r.job_key);
        let e: IJobMarket::BatchWindowClosed =
            m.revert(&m.owner, m.market, open_call(id, r, proof)).await;
        assert_eq!(e.batchId, id);
    }
    let paid: U256 = unchallenged.iter().map(|r| r.fee).sum::<U256>() + challenged[0].fee;
    assert_eq!(m.view(m.market, IJobMarket::batchCall { batchId: id }).await._4, paid);
}

/// Opens a challenged record: the job is sampled like an on-chain one. The validators but the
/// last commit and reveal after the commit deadline; the last never shows up and loses
/// reputation once the reveal deadline has passed.
async fn open_and_sample_with_an_absent_validator(
    m: &mut Market,
    id: U256,
    batch: &Batch,
    record: &JobRecord,
    draw_hash: B256,
) {
    let expected = m.expected_validators(m.record_seed(draw_hash, record), record.asserter).await;
    let (r, proof) = batch.proof(record.job_key).unwrap();
    let receipt = m.send(&m.owner, m.market, open_call(id, r, proof.clone()), U256::ZERO).await;
    m.gas.add("openBatchJob", &receipt);
    let opened = event::<IJobMarket::BatchJobOpened>(&receipt, m.market);
    assert_eq!((opened.batchId, opened.jobKey), (id, r.job_key));
    let job = opened.jobId;
    let drawn = event::<ISampling::ChallengeDrawn>(&receipt, m.sampling);
    assert_eq!(drawn.validators, expected);
    assert_eq!(m.job_status(job).await, CHALLENGED);
    let e: IJobMarket::RecordAlreadyUsed =
        m.revert(&m.owner, m.market, open_call(id, r, proof)).await;
    assert_eq!(e.jobKey, r.job_key);

    // Two disputes may have taken one miner's reputation, and so its weight, to zero.
    let (absent, present) = drawn.validators.split_last().expect("validators");
    let absent = *absent;
    assert!(!present.is_empty(), "{:?}", drawn.validators);
    for v in present {
        m.commit_validation(job, r.job_key, *v, OUT).await;
    }
    let reveal = ISampling::revealValidationCall {
        jobId: job,
        outputHash: OUT,
        salt: keccak256(present[0]),
    };
    let e: ISampling::RevealNotOpen = m.revert(m.miner(present[0]), m.sampling, reveal).await;
    assert_eq!(e.jobId, job);
    m.advance(m.params.commit_timeout + 1).await;
    let late = ISampling::commitValidationCall { jobId: job, commitment: B256::ZERO };
    let e: ISampling::CommitClosed = m.revert(m.miner(absent), m.sampling, late).await;
    assert_eq!(e.jobId, job);
    for v in present {
        m.reveal_validation(job, *v, OUT).await;
    }
    m.advance(m.params.reveal_timeout + 1).await;

    // Reputation is clamped at zero (a miner that lost both disputes may be drawn here).
    let absent_before = m.pool(absent).await.1;
    let (asserter_fees, coordinator_fees) =
        (m.fee_balance(r.asserter).await, m.fee_balance(m.coordinator.address).await);
    let receipt = m.finalize(job, "finalizeChallenge (accepted, one absent)").await;
    assert_eq!(event::<ISampling::ValidatorAbsent>(&receipt, m.sampling).validator, absent);
    assert_eq!(m.pool(absent).await.1, absent_before.saturating_sub(500));
    assert!(event::<IJobMarket::JobAccepted>(&receipt, m.market).challenged);
    let cut = discount(r.fee, &m.params);
    assert_eq!(m.fee_balance(r.asserter).await - asserter_fees, r.fee - cut);
    assert_eq!(m.fee_balance(m.coordinator.address).await - coordinator_fees, cut);
}

/// p = 1 ppm: batches of each size are committed and sealed, and every record is claimed after
/// the window. A batch whose escrow cannot cover its records pays what the escrow holds.
async fn batches_amortise_their_gas(m: &mut Market, sizes: &[usize]) {
    let mut batches = Vec::new();
    for n in sizes {
        let records = m.records(&format!("gas-{n}"), *n);
        let escrow = records.iter().map(|r| r.fee).sum();
        let batch = Batch::new(records.clone()).unwrap();
        let id = m.commit_batch(&batch, escrow, &format!("commitBatch (N={n})")).await;
        batches.push((*n, id, batch, records));
    }
    let short = Batch::new(m.records("short", 2)).unwrap();
    let short_id = m.commit_batch(&short, U256::from(1_000_000_000u64), "commitBatch").await;
    let mut draws = Vec::new();
    for (n, id, ..) in &batches {
        draws.push(m.seal_batch(*id, &format!("sealBatch (N={n})")).await);
    }
    m.seal_batch(short_id, "sealBatch").await;
    m.advance(m.params.batch_window + 1).await;

    for ((n, id, batch, records), draw_hash) in batches.iter().zip(draws) {
        let claims: Vec<Vec<B256>> = records
            .iter()
            .filter(|r| !m.challenged(draw_hash, r)) // about one in 4 000 runs at 1 ppm
            .map(|record| {
                let (r, proof) = batch.proof(record.job_key).unwrap();
                r.claim(&proof)
            })
            .collect();
        m.gas.count(format!("records claimed (N={n})"), claims.len() as u64);
        // At most 128 claims per transaction keeps it well under the 128 KiB transaction limit.
        for chunk in claims.chunks(128) {
            let call = IJobMarket::claimBatchJobsCall { batchId: *id, claims: chunk.to_vec() };
            let receipt = m.send(&m.owner, m.market, call, U256::ZERO).await;
            m.gas.add(format!("claimBatchJobs (N={n})"), &receipt);
        }
        assert_eq!(m.batch_paid(*id).await, records.iter().map(|r| r.fee).sum::<U256>());
    }
    let records = m.records("short", 2);
    let (r, proof) = short.proof(records[0].job_key).unwrap();
    m.send(&m.owner, m.market, claim_call(short_id, r, proof), U256::ZERO).await;
    let (r, proof) = short.proof(records[1].job_key).unwrap();
    let e: IJobMarket::EscrowExceeded =
        m.revert(&m.owner, m.market, claim_call(short_id, r, proof)).await;
    assert_eq!((e.escrow, e.needed), (records[0].fee, records[0].fee + records[1].fee));
}

/// A batch sealed more than 256 blocks after its commit is drawn from the block before the seal
/// and every record may be opened, even one the coin would spare at p = 1 ppm.
async fn a_late_seal_challenges_every_record(m: &mut Market) {
    let records = m.records("late", 2);
    let batch = Batch::new(records.clone()).unwrap();
    let id = m.commit_batch(&batch, records.iter().map(|r| r.fee).sum(), "commitBatch").await;
    let previous = m.mine_blocks(257).await;
    let call = IJobMarket::sealBatchCall { batchId: id };
    let receipt = m.send(&m.owner, m.market, call, U256::ZERO).await;
    let sealed = event::<IJobMarket::BatchSealed>(&receipt, m.market);
    assert_eq!((sealed.drawHash, sealed.late), (previous, true));
    let record = records.iter().find(|r| !m.challenged(previous, r)).expect("1 ppm spares one");
    let expected = m.expected_validators(m.record_seed(previous, record), record.asserter).await;
    let (r, proof) = batch.proof(record.job_key).unwrap();
    let receipt = m.send(&m.owner, m.market, open_call(id, r, proof), U256::ZERO).await;
    let job = event::<IJobMarket::BatchJobOpened>(&receipt, m.market).jobId;
    assert_eq!(event::<ISampling::ChallengeDrawn>(&receipt, m.sampling).validators, expected);
    let votes: Vec<_> = expected.iter().map(|v| (*v, OUT)).collect();
    m.validate(job, r.job_key, &votes).await;
    m.finalize(job, "finalizeChallenge (accepted)").await;
    assert_eq!(m.job_status(job).await, ACCEPTED);
}

/// After the epoch, its rewards are minted into the operators' stake pools, once; every fee
/// balance is withdrawn in ETH.
async fn rewards_and_fees_are_paid_after_the_epoch(m: &mut Market, epoch: u64) {
    let miner = m.miners[0].address;
    let call = IJobMarket::claimRewardsCall { epoch, operator: miner };
    let e: IJobMarket::EpochNotOver = m.revert(&m.owner, m.market, call).await;
    assert_eq!((e.epoch, e.current), (epoch, epoch));
    m.advance_to_epoch(epoch + 1).await;

    for miner in m.miners.iter().map(|a| a.address).collect::<Vec<_>>() {
        let amount = m.accrued(epoch, miner).await;
        assert!(amount > U256::ZERO, "{miner} earned rewards");
        let (assets, supply) =
            (m.pool(miner).await.0, m.view(m.token, IAssayToken::totalSupplyCall {}).await);
        let call = IJobMarket::claimRewardsCall { epoch, operator: miner };
        let receipt = m.send(&m.owner, m.market, call.clone(), U256::ZERO).await;
        m.gas.add("claimRewards", &receipt);
        assert_eq!(event::<IJobMarket::RewardClaimed>(&receipt, m.market).amount, amount);
        assert_eq!(m.pool(miner).await.0, assets + amount);
        assert_eq!(m.view(m.token, IAssayToken::totalSupplyCall {}).await, supply + amount);
        assert_eq!(m.accrued(epoch, miner).await, U256::ZERO);
        let e: IJobMarket::NothingToClaim = m.revert(&m.owner, m.market, call).await;
        assert_eq!(e.account, miner);
    }

    let mut earners: Vec<&Actor> = m.miners.iter().collect();
    earners.extend([&m.requester, &m.coordinator]);
    for who in earners {
        let amount = m.fee_balance(who.address).await;
        assert!(amount > U256::ZERO, "{} has fees", who.address);
        let before = m.owner.p.get_balance(who.address).await.unwrap();
        let receipt = m.send(who, m.market, IJobMarket::withdrawFeesCall {}, U256::ZERO).await;
        m.gas.add("withdrawFees", &receipt);
        assert_eq!(event::<IJobMarket::FeesWithdrawn>(&receipt, m.market).amount, amount);
        let spent = U256::from(receipt.gas_used) * U256::from(receipt.effective_gas_price);
        assert_eq!(m.owner.p.get_balance(who.address).await.unwrap(), before + amount - spent);
        assert_eq!(m.fee_balance(who.address).await, U256::ZERO);
        let e: IJobMarket::NothingToClaim =
            m.revert(who, m.market, IJobMarket::withdrawFeesCall {}).await;
        assert_eq!(e.account, who.address);
    }
}

/// In the epoch with a committed seed, draws wait for its reveal; the revealed seed is mixed into
/// the challenge and validator draws exactly as an observer computes them.
async fn the_revealed_seed_drives_the_next_epoch(m: &mut Market, epoch: u64, seed: B256) {
    m.set_challenge_ppm(ALWAYS).await;
    let (job, asserter) = m.submit_and_assign().await;
    let coin = m.assert_result(job, asserter, OUT, seed).await;
    let draw = IJobMarket::drawChallengeCall { jobId: job };
    let e: IJobMarket::SeedNotRevealed = m.revert(&m.owner, m.market, draw).await;
    assert_eq!(e.epoch, epoch);

    let wrong = IJobMarket::revealEpochSeedCall { epoch, seed: WRONG };
    let e: IJobMarket::SeedMismatch = m.revert(&m.owner, m.market, wrong).await;
    assert_eq!(e.epoch, epoch);
    let reveal = IJobMarket::revealEpochSeedCall { epoch, seed };
    let receipt = m.send(&m.owner, m.market, reveal.clone(), U256::ZERO).await;
    m.gas.add("revealEpochSeed", &receipt);
    assert_eq!(event::<IJobMarket::EpochSeedRevealed>(&receipt, m.market).seed, seed);
    let e: IJobMarket::SeedAlreadySettled = m.revert(&m.owner, m.market, reveal).await;
    assert_eq!(e.epoch, epoch);
    let stored = m.view(m.market, IJobMarket::epochSeedCall { epoch }).await;
    assert_eq!((stored._0, stored._2, stored._3), (m.coordinator.address, seed, 2));

    let validators = m.draw_challenge(job, asserter, coin, false).await;
    let votes: Vec<_> = validators.iter().map(|v| (*v, OUT)).collect();
    m.validate(job, onchain_job_key(job), &votes).await;
    m.finalize(job, "finalizeChallenge (accepted)").await;
    assert_eq!(m.job_status(job).await, ACCEPTED);
}

/// A seed committed and never revealed is forfeited after its epoch and the grace period: the
/// coordinator is slashed S, falls under its minimum stake and can no longer commit batches.
async fn an_unrevealed_seed_is_forfeited(m: &mut Market, epoch: u64) {
    let call = IJobMarket::commitEpochSeedCall { epoch, commitment: seed_commitment(epoch, WRONG) };
    let receipt = m.send(&m.coordinator, m.market, call, U256::ZERO).await;
    m.gas.add("commitEpochSeed", &receipt);
    m.advance_to_epoch(epoch + 1).await;
    let forfeit = IJobMarket::forfeitEpochSeedCall { epoch };
    let e: IJobMarket::RevealGraceOpen = m.revert(&m.owner, m.market, forfeit.clone()).await;
    let (genesis, length) = m.view(m.market, IJobMarket::epochTimingCall {}).await.into();
    let closes_at = genesis + (epoch + 1) * length + m.params.seed_reveal_grace;
    assert_eq!((e.epoch, e.closesAt), (epoch, closes_at));
    m.advance(closes_at - m.now().await).await;

    let before = m.pool(m.coordinator.address).await.0;
    let receipt = m.send(&m.owner, m.market, forfeit, U256::ZERO).await;
    m.gas.add("forfeitEpochSeed", &receipt);
    let forfeited = event::<IJobMarket::EpochSeedForfeited>(&receipt, m.market);
    assert_eq!(
        (forfeited.coordinator, forfeited.slashed),
        (m.coordinator.address, m.params.slash_amount)
    );
    assert_eq!(m.pool(m.coordinator.address).await.0, before - m.params.slash_amount);
    assert_eq!(m.view(m.market, IJobMarket::epochSeedCall { epoch }).await._3, 3);
    let commit = IJobMarket::commitBatchCall { jobsRoot: B256::repeat_byte(1), jobCount: 1 };
    let e: IJobMarket::NotCoordinator = m.revert(&m.coordinator, m.market, commit).await;
    assert_eq!(e.account, m.coordinator.address);
}

/// The draw of a sealed batch is final: a record the coin spared under the p in force when the
/// batch was committed stays claimable after the owner raises p (the batch keeps its p and its
/// window end), so no fee is locked by `ChallengedNotOpened` after `BatchWindowClosed`.
#[tokio::test]
async fn a_sealed_batch_draw_survives_a_parameter_change() {
    let mut m = Market::deploy().await;
    m.set_challenge_ppm(RARELY).await;
    let records = m.records("retro", 1);
    let batch = Batch::new(records.clone()).unwrap();
    let id = m.commit_batch(&batch, records[0].fee, "commitBatch").await;
    let draw_hash = m.seal_batch(id, "sealBatch").await;
    assert!(!m.challenged(draw_hash, &records[0]), "1 ppm spares it");
    m.advance(m.params.batch_window + 1).await;
    m.set_challenge_ppm(ALWAYS).await;
    let (r, proof) = batch.proof(records[0].job_key).unwrap();
    m.send(&m.owner, m.market, claim_call(id, r, proof), U256::ZERO).await;
    assert_eq!(m.fee_balance(r.asserter).await, r.fee);
}
