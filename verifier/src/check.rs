//! `verifier check-receipt`: what the chain says about a signed receipt (as `GET
//! /v1/jobs/{id}` returns it under `receipt`). Is it signed by the worker it names, for this
//! chain? Is that worker a registered, eligible miner? Is the model registered and active, under
//! the engine this verifier embeds? And where does its job stand: not settled yet, claimed for
//! its asserter, or opened on chain (with the job's status and the result asserted there)?

use alloy_primitives::{Address, B256, U256};
use alloy_rpc_types_eth::Filter;
use alloy_sol_types::SolEvent;
use assay_chain::{ChainError, Client};
use assay_engine_module::engine_hash;
use assay_protocol::{
    bindings::{IJobMarket, IModelRegistry, IStaking},
    codes::{JobStatus, Role},
    deployment::Deployment,
    wire::SignedReceipt,
};
use serde::Serialize;

/// The checks of one receipt.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct ReceiptCheck {
    /// The worker the receipt names.
    pub worker: Address,
    /// Whether the signature is that worker's, over this receipt, for this chain.
    pub signature_valid: bool,
    /// Whether the worker is registered in `Staking` as a miner.
    pub miner_registered: bool,
    /// Whether it is eligible now (stake at least the minimum, no open dispute).
    pub miner_eligible: bool,
    /// Whether the model is registered in `ModelRegistry`, and active.
    pub model_registered: bool,
    /// Whether the model is active (accepting jobs).
    pub model_active: bool,
    /// The engine hash the model is registered with.
    pub registered_engine: B256,
    /// The hash of the engine module this verifier replays with.
    pub verifier_engine: B256,
    /// Whether the two are the same engine.
    pub engine_matches: bool,
    /// Where the job's record stands on chain.
    pub record: Record,
    /// Whether everything checks out: signed, a registered miner, a registered active model
    /// under this engine, and no contrary result on chain.
    pub ok: bool,
}

/// Where a job's record stands in `JobMarket`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(tag = "state", rename_all = "snake_case")]
pub enum Record {
    /// No batch record with this job key was claimed or opened yet.
    NotSettled,
    /// Claimed for its asserter without a challenge (`BatchJobClaimed`).
    Claimed {
        /// The batch.
        batch_id: U256,
        /// The asserter paid.
        asserter: Address,
        /// The fee paid, in wei.
        fee: U256,
    },
    /// Opened on chain (`BatchJobOpened`) and sampled there.
    Opened {
        /// The batch.
        batch_id: U256,
        /// The on-chain job.
        job_id: U256,
        /// Its status (`JobStatus` name).
        status: String,
        /// The asserter on chain.
        asserter: Address,
        /// Whether the output hash and trace root asserted on chain are the receipt's.
        result_matches: bool,
    },
}

/// Checks `signed` against the chain `chain` serves and the contracts of `deployment`.
///
/// # Errors
/// [`ChainError`] for a failed call or a deployment without `Staking`, `ModelRegistry` or
/// `JobMarket`.
pub async fn check_receipt(
    chain: &Client,
    deployment: &Deployment,
    signed: &SignedReceipt,
) -> Result<ReceiptCheck, ChainError> {
    let r = &signed.receipt;
    let (staking, registry, market) = (
        deployment.contract("Staking")?,
        deployment.contract("ModelRegistry")?,
        deployment.contract("JobMarket")?,
    );
    let info = chain.view(staking, IStaking::operatorInfoCall { operator: r.worker }).await?;
    let miner = u8::from(Role::Miner);
    let eligible = IStaking::isEligibleCall { operator: r.worker, role: miner };
    let miner_eligible = chain.view(staking, eligible).await?;
    let model = chain.view(registry, IModelRegistry::modelCall { modelId: r.model_id }).await?;
    let verifier_engine = B256::from(engine_hash());
    let claim = (r.output_hash, r.trace_root);
    let record = record(chain, market, deployment.deploy_block, r.job_key, claim).await?;
    let contrary = match &record {
        Record::NotSettled => false,
        Record::Claimed { asserter, .. } => *asserter != r.worker,
        Record::Opened { asserter, result_matches, .. } => *asserter != r.worker || !result_matches,
    };
    let mut check = ReceiptCheck {
        worker: r.worker,
        signature_valid: signed.verify(chain.chain_id()),
        miner_registered: info.role == miner,
        miner_eligible,
        model_registered: model.owner != Address::ZERO,
        model_active: model.active,
        registered_engine: model.engineHash,
        verifier_engine,
        engine_matches: model.engineHash == verifier_engine,
        record,
        ok: false,
    };
    check.ok = check.signature_valid
        && check.miner_registered
        && check.model_registered
        && check.model_active
        && check.engine_matches
        && !contrary;
    Ok(check)
}

/// Checks that `model` is registered in the deployment's `ModelRegistry` under the engine this
/// verifier embeds (what `verifier replay --deployment` requires before it replays).
///
/// # Errors
/// [`ChainError`] for a failed call (outer); [`crate::Error::NotRegistered`] or
/// [`crate::Error::OtherEngine`] (inner).
pub async fn registered_engine(
    chain: &Client,
    deployment: &Deployment,
    model: B256,
) -> Result<Result<(), crate::Error>, ChainError> {
    let registry = deployment.contract("ModelRegistry")?;
    let entry = chain.view(registry, IModelRegistry::modelCall { modelId: model }).await?;
    let verifier = B256::from(engine_hash());
    Ok(if entry.owner == Address::ZERO {
        Err(crate::Error::NotRegistered(model))
    } else if entry.engineHash != verifier {
        Err(crate::Error::OtherEngine { model, registered: entry.engineHash, verifier })
    } else {
        Ok(())
    })
}

/// The record with `job_key`: its claim or its opening, whichever `JobMarket` logged.
async fn record(
    chain: &Client,
    market: Address,
    from: u64,
    job_key: B256,
    (output_hash, trace_root): (B256, B256),
) -> Result<Record, ChainError> {
    let head = chain.block_number().await?;
    let range = (from, head);
    let by_key =
        |signature| Filter::new().address(market).event_signature(signature).topic2(job_key);
    let claimed = by_key(IJobMarket::BatchJobClaimed::SIGNATURE_HASH);
    if let Some(c) = last::<IJobMarket::BatchJobClaimed>(chain, &claimed, range).await? {
        return Ok(Record::Claimed { batch_id: c.batchId, asserter: c.asserter, fee: c.fee });
    }
    let opened = by_key(IJobMarket::BatchJobOpened::SIGNATURE_HASH);
    let Some(o) = last::<IJobMarket::BatchJobOpened>(chain, &opened, range).await? else {
        return Ok(Record::NotSettled);
    };
    let job = chain.view(market, IJobMarket::jobCall { jobId: o.jobId }).await?;
    let status = JobStatus::try_from(job.status)
        .map_or_else(|_| job.status.to_string(), |s| format!("{s:?}"));
    Ok(Record::Opened {
        batch_id: o.batchId,
        job_id: o.jobId,
        status,
        asserter: job.asserter,
        result_matches: (job.outputHash, job.traceRoot) == (output_hash, trace_root),
    })
}

/// The last `E` matching `filter` in blocks `from..=to`.
async fn last<E: SolEvent>(
    chain: &Client,
    filter: &Filter,
    (from, to): (u64, u64),
) -> Result<Option<E>, ChainError> {
    let logs = chain.logs(filter, from, to, E::SIGNATURE).await?;
    Ok(logs.iter().rev().find_map(|log| log.log_decode::<E>().ok()).map(|l| l.inner.data))
}
