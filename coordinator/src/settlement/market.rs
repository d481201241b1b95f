//! The job market as the settler uses it: the coordinator's signed transactions (through the
//! shared chain client: simulated first, so a revert comes back as a typed error and costs no
//! gas) and the views the challenge draw needs.

use std::collections::HashMap;

use alloy_primitives::{Address, B256, U256};
use alloy_provider::Provider;
use alloy_rpc_types_eth::TransactionReceipt;
use alloy_sol_types::{SolCall, SolEvent};
use assay_chain::{ChainError, Client, Key};
use assay_protocol::{
    bindings::{IDisputeGame, IJobMarket, IModelRegistry, ISampling},
    codes::{JobStatus, SeedState},
    deployment::Deployment,
    math::records::JobRecord,
};

/// An epoch's entry in the market (`epochSeed(epoch)`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct SeedEntry {
    /// The coordinator that committed it (zero when none did).
    pub coordinator: Address,
    /// `keccak256(abi.encodePacked(uint64 epoch, seed))`.
    pub commitment: B256,
    /// The seed, once revealed.
    pub seed: B256,
    /// Where the seed is.
    pub state: SeedState,
}

impl Default for SeedEntry {
    fn default() -> Self {
        Self {
            coordinator: Address::ZERO,
            commitment: B256::ZERO,
            seed: B256::ZERO,
            state: SeedState::None,
        }
    }
}

impl SeedEntry {
    /// The seed the epoch's draws mix in, as the market's `_seed_for` decides it: the revealed
    /// seed, zero when none was committed or it was forfeited, `None` while a committed seed is
    /// hidden (the market then refuses the draw with `SeedNotRevealed`).
    pub fn draw_seed(&self) -> Option<B256> {
        match self.state {
            SeedState::Committed => None,
            SeedState::Revealed => Some(self.seed),
            SeedState::None | SeedState::Forfeited => Some(B256::ZERO),
        }
    }
}

/// What the market's parameters fix for settlement.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct MarketParams {
    /// Challenge probability in parts per million.
    pub challenge_ppm: u32,
    /// Seconds after a batch's commit during which its challenged records are opened.
    pub batch_window: u64,
}

/// A sealed batch's draw.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Seal {
    /// `sealBatch` transaction.
    pub tx: B256,
    /// Block hash every record's draw mixes in.
    pub draw_hash: B256,
    /// Sealed too late: every record is challenged.
    pub late: bool,
}

/// A committed batch.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Commit {
    /// `commitBatch` transaction.
    pub tx: B256,
    /// The market's batch id.
    pub batch_id: U256,
    /// Block of the commit.
    pub block: u64,
    /// Its timestamp.
    pub timestamp: u64,
}

/// The job market, signed by the coordinator's key.
#[derive(Debug)]
pub struct Market {
    chain: Client,
    me: Address,
    market: Address,
    sampling: Address,
    registry: Address,
    dispute_game: Address,
    /// First block of the deployment: where log searches start.
    deploy_block: u64,
    prices: HashMap<B256, U256>,
    /// `epochTiming()` (genesis time, epoch length): fixed when the market was constructed, so
    /// read once.
    epoch_timing: std::sync::OnceLock<(u64, u64)>,
}

/// A transport error of an RPC method that is not a contract call.
fn rpc(method: &'static str) -> impl Fn(alloy_provider::transport::TransportError) -> ChainError {
    move |e| ChainError::Rpc { call: method, detail: e.to_string() }
}

impl Market {
    /// Connects with `key` to the contracts of `manifest`.
    ///
    /// # Errors
    /// [`ChainError::BadUrl`]; [`ChainError::Deployment`] when the deployment lacks the job
    /// market, Sampling, the registry or the dispute game.
    pub fn connect(rpc_url: &str, manifest: &Deployment, key: &Key) -> Result<Self, ChainError> {
        Ok(Self {
            chain: Client::new(rpc_url, manifest.chain_id, Some(key))?,
            me: key.address(),
            market: manifest.contract("JobMarket")?,
            sampling: manifest.contract("Sampling")?,
            registry: manifest.contract("ModelRegistry")?,
            dispute_game: manifest.contract("DisputeGame")?,
            deploy_block: manifest.deploy_block,
            prices: HashMap::new(),
            epoch_timing: std::sync::OnceLock::new(),
        })
    }

    /// The coordinator's address.
    pub fn address(&self) -> Address {
        self.me
    }

    async fn view<C: SolCall>(&self, to: Address, call: C) -> Result<C::Return, ChainError> {
        self.chain.view(to, call).await
    }

    async fn send<C: SolCall>(
        &self,
        to: Address,
        call: C,
        value: U256,
    ) -> Result<TransactionReceipt, ChainError> {
        self.chain.send(to, call, value).await
    }

    /// The event `E` the market logged in `receipt` of `call`.
    fn event<C: SolCall, E: SolEvent>(
        &self,
        receipt: &TransactionReceipt,
    ) -> Result<E, ChainError> {
        Client::event::<E>(receipt, self.market)
            .ok_or(ChainError::MissingEvent { call: C::SIGNATURE, event: E::SIGNATURE })
    }

    /// A model's fee per job: its registry price (one unit of work per job).
    ///
    /// # Errors
    /// [`ChainError`] when the registry cannot be read.
    pub async fn price(&mut self, model_id: B256) -> Result<U256, ChainError> {
        if let Some(price) = self.prices.get(&model_id) {
            return Ok(*price);
        }
        let info =
            self.view(self.registry, IModelRegistry::modelCall { modelId: model_id }).await?;
        self.prices.insert(model_id, info.pricePerUnit);
        Ok(info.pricePerUnit)
    }

    /// The parameters settlement follows.
    ///
    /// # Errors
    /// [`ChainError`] when Sampling cannot be read.
    pub async fn params(&self) -> Result<MarketParams, ChainError> {
        let p = self.view(self.sampling, ISampling::paramsCall {}).await?;
        Ok(MarketParams { challenge_ppm: p.challengePpm, batch_window: p.batchWindow })
    }

    /// The latest block's timestamp.
    ///
    /// # Errors
    /// [`ChainError::Rpc`].
    pub async fn now(&self) -> Result<u64, ChainError> {
        self.chain.latest_timestamp().await
    }

    /// The latest block number.
    ///
    /// # Errors
    /// [`ChainError::Rpc`].
    pub async fn block_number(&self) -> Result<u64, ChainError> {
        self.chain.block_number().await
    }

    /// The job market's address.
    pub fn contract(&self) -> Address {
        self.market
    }

    /// The epoch a batch committed at `timestamp` belongs to (the contract's `epoch_at`).
    ///
    /// # Errors
    /// [`ChainError`] when the market cannot be read.
    pub async fn epoch_at(&self, timestamp: u64) -> Result<u64, ChainError> {
        let (genesis, length) = match self.epoch_timing.get() {
            Some(timing) => *timing,
            None => {
                let t = self.view(self.market, IJobMarket::epochTimingCall {}).await?;
                *self.epoch_timing.get_or_init(|| (t.genesisTime, t.epochLength))
            }
        };
        Ok(timestamp.saturating_sub(genesis).checked_div(length).unwrap_or(0))
    }

    /// The epoch of the latest block (`currentEpoch()`).
    ///
    /// # Errors
    /// [`ChainError`] when the market cannot be read.
    pub async fn current_epoch(&self) -> Result<u64, ChainError> {
        self.view(self.market, IJobMarket::currentEpochCall {}).await
    }

    /// `epochSeed(epoch)`.
    ///
    /// # Errors
    /// [`ChainError`] when the market cannot be read.
    pub async fn seed_entry(&self, epoch: u64) -> Result<SeedEntry, ChainError> {
        let e = self.view(self.market, IJobMarket::epochSeedCall { epoch }).await?;
        let state = SeedState::try_from(e.state)?;
        Ok(SeedEntry { coordinator: e.coordinator, commitment: e.commitment, seed: e.seed, state })
    }

    /// The epoch of a batch committed at `timestamp` and the seed its draws mix in: the revealed
    /// seed, zero when none was committed or it was forfeited; `None` while a committed seed is
    /// still hidden (the market refuses every draw of that epoch with `SeedNotRevealed` until then).
    ///
    /// # Errors
    /// [`ChainError`] when the market cannot be read.
    pub async fn epoch_seed(&self, timestamp: u64) -> Result<(u64, Option<B256>), ChainError> {
        let epoch = self.epoch_at(timestamp).await?;
        Ok((epoch, self.seed_entry(epoch).await?.draw_seed()))
    }

    /// `commitEpochSeed(epoch, commitment)`; returns the transaction.
    ///
    /// # Errors
    /// [`ChainError`], a revert by name (`EpochNotFuture`, `SeedAlreadyCommitted`,
    /// `NotCoordinator`).
    pub async fn commit_seed(&self, epoch: u64, commitment: B256) -> Result<B256, ChainError> {
        let call = IJobMarket::commitEpochSeedCall { epoch, commitment };
        Ok(self.send(self.market, call, U256::ZERO).await?.transaction_hash)
    }

    /// `revealEpochSeed(epoch, seed)`; returns the transaction.
    ///
    /// # Errors
    /// [`ChainError`], a revert by name (`EpochNotStarted`, `SeedAlreadySettled`,
    /// `SeedMismatch`).
    pub async fn reveal_seed(&self, epoch: u64, seed: B256) -> Result<B256, ChainError> {
        let call = IJobMarket::revealEpochSeedCall { epoch, seed };
        Ok(self.send(self.market, call, U256::ZERO).await?.transaction_hash)
    }

    /// The epochs whose seed this coordinator committed and that were neither revealed nor
    /// forfeited, from the market's `EpochSeedCommitted`, `EpochSeedRevealed` and
    /// `EpochSeedForfeited` logs (commits sent before a restart).
    ///
    /// # Errors
    /// [`ChainError::Rpc`].
    pub async fn my_hidden_seeds(&self) -> Result<Vec<u64>, ChainError> {
        let committed = self.seed_logs::<IJobMarket::EpochSeedCommitted>(true).await?;
        let revealed = self.seed_logs::<IJobMarket::EpochSeedRevealed>(false).await?;
        let forfeited = self.seed_logs::<IJobMarket::EpochSeedForfeited>(true).await?;
        let settled: std::collections::BTreeSet<u64> =
            revealed.into_iter().chain(forfeited).collect();
        Ok(committed.into_iter().filter(|epoch| !settled.contains(epoch)).collect())
    }

    /// The epochs (first topic) of the market's `E` logs, only this coordinator's (second
    /// topic) when `mine`.
    async fn seed_logs<E: SolEvent>(&self, mine: bool) -> Result<Vec<u64>, ChainError> {
        let mut filter = alloy_rpc_types_eth::Filter::new()
            .address(self.market)
            .event_signature(E::SIGNATURE_HASH);
        if mine {
            filter = filter.topic2(self.me.into_word());
        }
        let logs = self.logs(filter, E::SIGNATURE).await?;
        Ok(logs
            .iter()
            .filter_map(|log| log.topics().get(1))
            .map(|topic| U256::from_be_bytes(topic.0).saturating_to::<u64>())
            .collect())
    }

    /// The logs matching `filter` from the deployment block to the latest block.
    async fn logs(
        &self,
        filter: alloy_rpc_types_eth::Filter,
        what: &str,
    ) -> Result<Vec<alloy_rpc_types_eth::Log>, ChainError> {
        let head = self.block_number().await?;
        self.chain.logs(&filter, self.deploy_block, head, what).await
    }

    /// `forfeitEpochSeed(epoch)`: slashes the coordinator that committed `epoch`'s seed and never
    /// revealed it; the epoch's draws then use the zero seed. Returns the transaction.
    ///
    /// # Errors
    /// [`ChainError`], a revert by name (`RevealGraceOpen` until the grace after the epoch's
    /// end is over, `SeedAlreadySettled`).
    pub async fn forfeit_seed(&self, epoch: u64) -> Result<B256, ChainError> {
        let call = IJobMarket::forfeitEpochSeedCall { epoch };
        Ok(self.send(self.market, call, U256::ZERO).await?.transaction_hash)
    }

    /// `commitBatch(root, count)` with `escrow`.
    ///
    /// # Errors
    /// [`ChainError`], a revert by name.
    pub async fn commit_batch(
        &self,
        root: B256,
        count: u32,
        escrow: U256,
    ) -> Result<Commit, ChainError> {
        let call = IJobMarket::commitBatchCall { jobsRoot: root, jobCount: count };
        let receipt = self.send(self.market, call, escrow).await?;
        let committed: IJobMarket::BatchCommitted =
            self.event::<IJobMarket::commitBatchCall, _>(&receipt)?;
        let block = receipt.block_number.unwrap_or_default();
        Ok(Commit {
            tx: receipt.transaction_hash,
            batch_id: committed.batchId,
            block,
            timestamp: self.block_timestamp(block).await?,
        })
    }

    async fn block_timestamp(&self, number: u64) -> Result<u64, ChainError> {
        let block = self
            .chain
            .provider()
            .get_block_by_number(number.into())
            .await
            .map_err(rpc("eth_getBlockByNumber"))?
            .ok_or_else(|| ChainError::Rpc {
                call: "eth_getBlockByNumber",
                detail: format!("no block {number}"),
            })?;
        Ok(block.header.timestamp)
    }

    /// A batch this coordinator committed with `root`, found in the market's logs (a commit
    /// sent before a crash).
    ///
    /// # Errors
    /// [`ChainError::Rpc`].
    pub async fn find_commit(&self, root: B256) -> Result<Option<Commit>, ChainError> {
        let filter = alloy_rpc_types_eth::Filter::new()
            .address(self.market)
            .event_signature(IJobMarket::BatchCommitted::SIGNATURE_HASH)
            .topic2(self.me.into_word());
        let logs = self.logs(filter, IJobMarket::BatchCommitted::SIGNATURE).await?;
        for log in logs {
            let Ok(event) = IJobMarket::BatchCommitted::decode_log_data(log.data()) else {
                continue;
            };
            if event.jobsRoot == root {
                let block = log.block_number.unwrap_or_default();
                return Ok(Some(Commit {
                    tx: log.transaction_hash.unwrap_or_default(),
                    batch_id: event.batchId,
                    block,
                    timestamp: self.block_timestamp(block).await?,
                }));
            }
        }
        Ok(None)
    }

    /// The market's `E` logs of batch `batch_id` (its first indexed topic) since its commit block.
    async fn batch_logs<E: SolEvent>(
        &self,
        batch_id: U256,
        commit_block: u64,
    ) -> Result<Vec<alloy_rpc_types_eth::Log>, ChainError> {
        let filter = alloy_rpc_types_eth::Filter::new()
            .address(self.market)
            .event_signature(E::SIGNATURE_HASH)
            .topic1(batch_id);
        let head = self.block_number().await?;
        self.chain.logs(&filter, commit_block, head, E::SIGNATURE).await
    }

    /// The records of batch `batch_id` opened by anyone (an arbitrator opens a record it
    /// claimed against), from the market's logs since the batch's commit block: job key →
    /// (on-chain job id, transaction).
    ///
    /// # Errors
    /// [`ChainError::Rpc`].
    pub async fn opened_records(
        &self,
        batch_id: U256,
        commit_block: u64,
    ) -> Result<HashMap<B256, (U256, B256)>, ChainError> {
        let logs = self.batch_logs::<IJobMarket::BatchJobOpened>(batch_id, commit_block).await?;
        Ok(logs
            .iter()
            .filter_map(|log| {
                let event = IJobMarket::BatchJobOpened::decode_log_data(log.data()).ok()?;
                Some((event.jobKey, (event.jobId, log.transaction_hash.unwrap_or_default())))
            })
            .collect())
    }

    /// The seal of batch `batch_id` from the market's logs since its commit block (anyone may
    /// seal a batch: an arbitrator that opens a record seals it when nobody has yet).
    ///
    /// # Errors
    /// [`ChainError::Rpc`].
    pub async fn find_seal(
        &self,
        batch_id: U256,
        commit_block: u64,
    ) -> Result<Option<Seal>, ChainError> {
        let logs = self.batch_logs::<IJobMarket::BatchSealed>(batch_id, commit_block).await?;
        Ok(logs.iter().find_map(|log| {
            let event = IJobMarket::BatchSealed::decode_log_data(log.data()).ok()?;
            Some(Seal {
                tx: log.transaction_hash.unwrap_or_default(),
                draw_hash: event.drawHash,
                late: event.late,
            })
        }))
    }

    /// `sealBatch(batchId)`.
    ///
    /// # Errors
    /// [`ChainError`], a revert by name (`TooEarly` in the commit's block).
    pub async fn seal_batch(&self, batch_id: U256) -> Result<Seal, ChainError> {
        let receipt = self
            .send(self.market, IJobMarket::sealBatchCall { batchId: batch_id }, U256::ZERO)
            .await?;
        let sealed: IJobMarket::BatchSealed =
            self.event::<IJobMarket::sealBatchCall, _>(&receipt)?;
        Ok(Seal { tx: receipt.transaction_hash, draw_hash: sealed.drawHash, late: sealed.late })
    }

    /// `openBatchJob`: hands a challenged record to Sampling; returns the transaction and the
    /// on-chain job id.
    ///
    /// # Errors
    /// [`ChainError`], a revert by name.
    pub async fn open(
        &self,
        batch_id: U256,
        record: &JobRecord,
        proof: Vec<B256>,
    ) -> Result<(B256, U256), ChainError> {
        let call = IJobMarket::openBatchJobCall { batchId: batch_id, claim: record.claim(&proof) };
        let receipt = self.send(self.market, call, U256::ZERO).await?;
        let opened: IJobMarket::BatchJobOpened =
            self.event::<IJobMarket::openBatchJobCall, _>(&receipt)?;
        Ok((receipt.transaction_hash, opened.jobId))
    }

    /// `claimBatchJobs`: pays unchallenged records' fees to their asserters, all in one
    /// transaction (or none).
    ///
    /// # Errors
    /// [`ChainError`], a revert by name.
    pub async fn claim(
        &self,
        batch_id: U256,
        records: &[(JobRecord, Vec<B256>)],
    ) -> Result<B256, ChainError> {
        let claims = records.iter().map(|(r, proof)| r.claim(proof)).collect();
        let call = IJobMarket::claimBatchJobsCall { batchId: batch_id, claims };
        Ok(self.send(self.market, call, U256::ZERO).await?.transaction_hash)
    }

    /// How many bonded claims wait for the hand-over of `record` as its asserter asserted it
    /// (`DisputeGame.pendingDisputes`).
    ///
    /// # Errors
    /// [`ChainError`].
    pub async fn waiting_claims(&self, record: &JobRecord) -> Result<usize, ChainError> {
        let call = IDisputeGame::pendingDisputesCall {
            jobKey: record.job_key,
            asserter: record.asserter,
            assertedOutput: record.output_hash,
        };
        Ok(self.view(self.dispute_game, call).await?.claimants.len())
    }

    /// The validators `Sampling` drew for an opened job.
    ///
    /// # Errors
    /// [`ChainError`].
    pub async fn validators(&self, job_id: U256) -> Result<Vec<Address>, ChainError> {
        Ok(self
            .view(self.sampling, ISampling::jobValidatorsCall { jobId: job_id })
            .await?
            .validators)
    }

    /// An opened job's challenge status (`Challenged`, then `Accepted`, `Disputed` or
    /// `Rejected`). When no validator could be drawn (every other server ineligible, e.g.
    /// frozen by dispute games), `Sampling` never opened a challenge and `JobMarket` accepted the
    /// job at once: its status is then `JobMarket`'s.
    ///
    /// # Errors
    /// [`ChainError`].
    pub async fn challenge_status(&self, job_id: U256) -> Result<JobStatus, ChainError> {
        let status = self.view(self.sampling, ISampling::challengeCall { jobId: job_id }).await?;
        if status.status != u8::from(JobStatus::None) {
            return Ok(JobStatus::try_from(status.status)?);
        }
        let job = self.view(self.market, IJobMarket::jobCall { jobId: job_id }).await?;
        Ok(JobStatus::try_from(job.status)?)
    }

    /// `finalizeChallenge(jobId)`: the transaction and the outcome status.
    ///
    /// # Errors
    /// [`ChainError`], a revert by name (`ChallengeStillOpen`).
    pub async fn finalize(&self, job_id: U256) -> Result<(B256, JobStatus), ChainError> {
        let call = ISampling::finalizeChallengeCall { jobId: job_id };
        let receipt = self.send(self.sampling, call, U256::ZERO).await?;
        Ok((receipt.transaction_hash, self.challenge_status(job_id).await?))
    }
}
