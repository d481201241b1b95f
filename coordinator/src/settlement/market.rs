//! The job market as the settler uses it: the coordinator's signed transactions (simulated
//! first, so a revert is reported by its Solidity error name and costs no gas) and the views the
//! challenge draw needs.

use std::collections::HashMap;

use alloy_network::{EthereumWallet, TransactionBuilder};
use alloy_primitives::{Address, B256, U256};
use alloy_provider::{DynProvider, Provider, ProviderBuilder};
use alloy_rpc_types_eth::{TransactionReceipt, TransactionRequest};
use alloy_signer_local::PrivateKeySigner;
use alloy_sol_types::{SolCall, SolEvent};
use assay_protocol::{
    bindings::{IJobMarket, IModelRegistry, ISampling},
    deployment::Manifest,
    math::records::JobRecord,
};

use super::seeds::SeedEntry;
use crate::chain::ChainError;

/// Text of a failed call: the contract's named error when the revert data decodes.
fn describe(e: &alloy_provider::transport::TransportError) -> String {
    if let Some(payload) = e.as_error_resp() {
        if let Some(err) = payload.as_decoded_interface_error::<IJobMarket::IJobMarketErrors>() {
            return format!("JobMarket reverted: {err:?}");
        }
        if let Some(err) = payload.as_decoded_interface_error::<ISampling::ISamplingErrors>() {
            return format!("Sampling reverted: {err:?}");
        }
    }
    e.to_string()
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
    provider: DynProvider,
    me: Address,
    market: Address,
    sampling: Address,
    registry: Address,
    /// First block of the deployment: where log searches start.
    deploy_block: u64,
    prices: HashMap<B256, U256>,
    /// `epochTiming()` (genesis time, epoch length): fixed when the market was constructed, so
    /// read once.
    epoch_timing: std::sync::OnceLock<(u64, u64)>,
}

/// How long a sent transaction may take to be mined before the round gives up on it.
const RECEIPT_TIMEOUT: std::time::Duration = std::time::Duration::from_secs(120);

/// Blocks per `eth_getLogs` request: public RPC endpoints refuse wide ranges, so a search from
/// the deployment block to the head is split into ranges of this many blocks.
const LOG_RANGE: u64 = 50_000;

impl Market {
    /// Connects with `key` to the contracts of `manifest`.
    ///
    /// # Errors
    /// [`ChainError::Rpc`] for a bad URL; [`ChainError::Manifest`] when the manifest lacks the
    /// job market, Sampling or the registry.
    pub fn connect(
        rpc_url: &str,
        manifest: &Manifest,
        key: PrivateKeySigner,
    ) -> Result<Self, ChainError> {
        let url = rpc_url.parse().map_err(|e| ChainError::Rpc(format!("{rpc_url}: {e}")))?;
        let me = key.address();
        let provider =
            ProviderBuilder::new().wallet(EthereumWallet::from(key)).connect_http(url).erased();
        Ok(Self {
            provider,
            me,
            market: manifest.contract("JobMarket")?,
            sampling: manifest.contract("Sampling")?,
            registry: manifest.contract("ModelRegistry")?,
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
        let tx = TransactionRequest::default().with_to(to).with_input(call.abi_encode());
        let out = self
            .provider
            .call(tx)
            .await
            .map_err(|e| ChainError::Rpc(format!("{}: {}", C::SIGNATURE, describe(&e))))?;
        C::abi_decode_returns(&out)
            .map_err(|source| ChainError::Decode { call: C::SIGNATURE, source })
    }

    async fn send<C: SolCall>(
        &self,
        to: Address,
        call: C,
        value: U256,
    ) -> Result<TransactionReceipt, ChainError> {
        let tx = TransactionRequest::default()
            .with_from(self.me)
            .with_to(to)
            .with_input(call.abi_encode())
            .with_value(value);
        let fail = |e: String| ChainError::Rpc(format!("{}: {e}", C::SIGNATURE));
        self.provider.call(tx.clone()).await.map_err(|e| fail(describe(&e)))?;
        let pending = self.provider.send_transaction(tx).await.map_err(|e| fail(describe(&e)))?;
        // A transaction lost with its node (a dev node restarted without its history) must fail
        // the round rather than hold settlement forever.
        let pending = pending.with_timeout(Some(RECEIPT_TIMEOUT));
        let receipt = pending.get_receipt().await.map_err(|e| fail(e.to_string()))?;
        if !receipt.status() {
            return Err(fail(format!("transaction {} reverted", receipt.transaction_hash)));
        }
        Ok(receipt)
    }

    fn event<E: SolEvent>(&self, receipt: &TransactionReceipt) -> Option<E> {
        receipt
            .inner
            .logs()
            .iter()
            .filter(|log| log.address() == self.market)
            .find_map(|log| E::decode_log_data(log.data()).ok())
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
        self.prices.insert(model_id, info._2);
        Ok(info._2)
    }

    /// The parameters settlement follows.
    ///
    /// # Errors
    /// [`ChainError`] when Sampling cannot be read.
    pub async fn params(&self) -> Result<MarketParams, ChainError> {
        let p = self.view(self.sampling, ISampling::paramsCall {}).await?;
        Ok(MarketParams { challenge_ppm: p._0, batch_window: p._11 })
    }

    /// The latest block's timestamp.
    ///
    /// # Errors
    /// [`ChainError::Rpc`].
    pub async fn now(&self) -> Result<u64, ChainError> {
        let block = self
            .provider
            .get_block_by_number(alloy_rpc_types_eth::BlockNumberOrTag::Latest)
            .await
            .map_err(|e| ChainError::Rpc(format!("eth_getBlockByNumber: {e}")))?
            .ok_or_else(|| ChainError::Rpc("no latest block".into()))?;
        Ok(block.header.timestamp)
    }

    /// The latest block number.
    ///
    /// # Errors
    /// [`ChainError::Rpc`].
    pub async fn block_number(&self) -> Result<u64, ChainError> {
        self.provider
            .get_block_number()
            .await
            .map_err(|e| ChainError::Rpc(format!("eth_blockNumber: {e}")))
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
                *self.epoch_timing.get_or_init(|| (t._0, t._1))
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
        Ok(SeedEntry { coordinator: e._0, commitment: e._1, seed: e._2, state: e._3 })
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

    /// The logs matching `filter` from the deployment block to the latest block, asked for in
    /// ranges of [`LOG_RANGE`] blocks.
    async fn logs(
        &self,
        filter: alloy_rpc_types_eth::Filter,
        what: &str,
    ) -> Result<Vec<alloy_rpc_types_eth::Log>, ChainError> {
        let head = self.block_number().await?;
        let mut logs = Vec::new();
        let mut from = self.deploy_block;
        while from <= head {
            let to = from.saturating_add(LOG_RANGE - 1).min(head);
            let range = filter.clone().from_block(from).to_block(to);
            let found =
                self.provider.get_logs(&range).await.map_err(|e| {
                    ChainError::Rpc(format!("eth_getLogs {what} {from}..={to}: {e}"))
                })?;
            logs.extend(found);
            from = to + 1;
        }
        Ok(logs)
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
        let committed = self
            .event::<IJobMarket::BatchCommitted>(&receipt)
            .ok_or_else(|| ChainError::Rpc("commitBatch: no BatchCommitted event".into()))?;
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
            .provider
            .get_block_by_number(number.into())
            .await
            .map_err(|e| ChainError::Rpc(format!("eth_getBlockByNumber: {e}")))?
            .ok_or_else(|| ChainError::Rpc(format!("no block {number}")))?;
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

    /// `sealBatch(batchId)`.
    ///
    /// # Errors
    /// [`ChainError`], a revert by name (`TooEarly` in the commit's block).
    pub async fn seal_batch(&self, batch_id: U256) -> Result<Seal, ChainError> {
        let receipt = self
            .send(self.market, IJobMarket::sealBatchCall { batchId: batch_id }, U256::ZERO)
            .await?;
        let sealed = self
            .event::<IJobMarket::BatchSealed>(&receipt)
            .ok_or_else(|| ChainError::Rpc("sealBatch: no BatchSealed event".into()))?;
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
        let opened = self
            .event::<IJobMarket::BatchJobOpened>(&receipt)
            .ok_or_else(|| ChainError::Rpc("openBatchJob: no BatchJobOpened event".into()))?;
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

    /// The validators `Sampling` drew for an opened job.
    ///
    /// # Errors
    /// [`ChainError`].
    pub async fn validators(&self, job_id: U256) -> Result<Vec<Address>, ChainError> {
        Ok(self.view(self.sampling, ISampling::jobValidatorsCall { jobId: job_id }).await?._0)
    }

    /// An opened job's challenge status (the job status codes: 4 challenged, 5 accepted,
    /// 6 disputed, 7 rejected).
    ///
    /// # Errors
    /// [`ChainError`].
    pub async fn challenge_status(&self, job_id: U256) -> Result<u8, ChainError> {
        Ok(self.view(self.sampling, ISampling::challengeCall { jobId: job_id }).await?._0)
    }

    /// `finalizeChallenge(jobId)`: the transaction and the outcome status.
    ///
    /// # Errors
    /// [`ChainError`], a revert by name (`ChallengeStillOpen`).
    pub async fn finalize(&self, job_id: U256) -> Result<(B256, u8), ChainError> {
        let call = ISampling::finalizeChallengeCall { jobId: job_id };
        let receipt = self.send(self.sampling, call, U256::ZERO).await?;
        Ok((receipt.transaction_hash, self.challenge_status(job_id).await?))
    }
}

/// Whether `error` is the market's (or Sampling's) revert with the Solidity error `name`.
pub(crate) fn reverted_with(error: &ChainError, name: &str) -> bool {
    let ChainError::Rpc(text) = error else { return false };
    text.contains(&format!("{name}(")) || text.contains(&format!("{name} {{"))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reverts_are_told_apart_by_name() {
        let err =
            IJobMarket::IJobMarketErrors::SeedAlreadyCommitted(IJobMarket::SeedAlreadyCommitted {
                epoch: 3,
            });
        // As `send` reports a simulated revert.
        let e = ChainError::Rpc(format!(
            "commitEpochSeed(uint64,bytes32): JobMarket reverted: {err:?}"
        ));
        assert!(reverted_with(&e, "SeedAlreadyCommitted"), "{e}");
        assert!(!reverted_with(&e, "EpochNotFuture"));
        assert!(!reverted_with(&e, "SeedAlready"), "whole names only");
        let err = IJobMarket::IJobMarketErrors::EpochNotFuture(IJobMarket::EpochNotFuture {
            epoch: 3,
            current: 3,
        });
        assert!(reverted_with(&ChainError::Rpc(format!("x: {err:?}")), "EpochNotFuture"));
        assert!(!reverted_with(&ChainError::Rpc("connection refused".into()), "EpochNotFuture"));
    }
}
