//! Storage layout of the job market.

use alloy_primitives::Address;
use stylus_sdk::{
    prelude::*,
    storage::{
        StorageAddress, StorageB256, StorageBool, StorageMap, StorageU16, StorageU256, StorageU32,
        StorageU64, StorageU8,
    },
};

/// Job status codes, as `IJobMarket.sol` documents them.
pub mod status {
    /// Waiting for the asserter draw.
    pub const SUBMITTED: u8 = assay_contract_common::codes::JobStatus::Submitted as u8;
    /// Drawn asserter working.
    pub const ASSIGNED: u8 = assay_contract_common::codes::JobStatus::Assigned as u8;
    /// Result asserted, challenge coin not yet drawn.
    pub const ASSERTED: u8 = assay_contract_common::codes::JobStatus::Asserted as u8;
    /// Validators committing and revealing.
    pub const CHALLENGED: u8 = assay_contract_common::codes::JobStatus::Challenged as u8;
    /// Final: the asserted result stands.
    pub const ACCEPTED: u8 = assay_contract_common::codes::JobStatus::Accepted as u8;
    /// Hashes disagree; stakes frozen until the dispute resolver decides.
    pub const DISPUTED: u8 = assay_contract_common::codes::JobStatus::Disputed as u8;
    /// Final: the asserter lost its dispute.
    pub const REJECTED: u8 = assay_contract_common::codes::JobStatus::Rejected as u8;
    /// Final: nobody delivered in time; the fee went back.
    pub const REFUNDED: u8 = assay_contract_common::codes::JobStatus::Refunded as u8;
}

/// One job, on-chain or opened from a batch.
#[storage]
pub struct Job {
    pub(crate) status: StorageU8,
    pub(crate) requester: StorageAddress,
    pub(crate) model_id: StorageB256,
    pub(crate) input_root: StorageB256,
    pub(crate) fee: StorageU256,
    pub(crate) callback: StorageAddress,
    pub(crate) deadline: StorageU64,
    /// L2 block whose hash seeds the asserter draw.
    pub(crate) created_block: StorageU64,
    pub(crate) asserter: StorageAddress,
    pub(crate) assigned_at: StorageU64,
    pub(crate) output_hash: StorageB256,
    pub(crate) trace_root: StorageB256,
    /// L2 block whose hash seeds the challenge coin.
    pub(crate) asserted_block: StorageU64,
    pub(crate) asserted_at: StorageU64,
    /// Zero for on-chain jobs; the batch id for jobs opened from a batch.
    pub(crate) batch_id: StorageU256,
    pub(crate) job_key: StorageB256,
}

/// A committed batch of off-chain jobs.
#[storage]
pub struct Batch {
    pub(crate) coordinator: StorageAddress,
    pub(crate) jobs_root: StorageB256,
    pub(crate) job_count: StorageU32,
    pub(crate) escrow: StorageU256,
    pub(crate) paid: StorageU256,
    pub(crate) committed_at: StorageU64,
    pub(crate) committed_block: StorageU64,
    pub(crate) draw_hash: StorageB256,
    pub(crate) sealed: StorageBool,
    /// Sealed after the commit block's hash expired: every job may be opened.
    pub(crate) late: StorageBool,
    /// The challenge probability when it was committed: its draw keeps it whatever the
    /// parameters become.
    pub(crate) challenge_ppm: StorageU32,
    /// End of its window (commit time + the batch window then in force).
    pub(crate) window_closes_at: StorageU64,
}

/// A coordinator's epoch seed under commit-reveal.
#[storage]
pub struct EpochSeed {
    pub(crate) coordinator: StorageAddress,
    pub(crate) commitment: StorageB256,
    pub(crate) seed: StorageB256,
    /// 0 none, 1 committed, 2 revealed, 3 forfeited.
    pub(crate) state: StorageU8,
}

/// Seed states.
pub mod seed {
    /// Committed, not yet revealed.
    pub const COMMITTED: u8 = assay_contract_common::codes::SeedState::Committed as u8;
    /// Revealed: draws of the epoch use it.
    pub const REVEALED: u8 = assay_contract_common::codes::SeedState::Revealed as u8;
    /// Never revealed; the coordinator was slashed and draws use a zero seed.
    pub const FORFEITED: u8 = assay_contract_common::codes::SeedState::Forfeited as u8;
}

/// The protocol parameters the market applies itself; `Sampling.setParams` checks the whole set
/// (DESIGN 3.2) and copies these here.
#[storage]
pub struct MarketParams {
    pub(crate) challenge_ppm: StorageU32,
    pub(crate) user_discount_bps: StorageU16,
    pub(crate) asserter_reward: StorageU256,
    pub(crate) slash_amount: StorageU256,
    pub(crate) assert_timeout: StorageU64,
    pub(crate) batch_window: StorageU64,
    pub(crate) seed_reveal_grace: StorageU64,
}

/// The job market's storage.
#[storage]
#[entrypoint]
pub struct JobMarket {
    pub(crate) token: StorageAddress,
    pub(crate) staking: StorageAddress,
    pub(crate) registry: StorageAddress,
    /// The paired sampling contract (set once by the owner).
    pub(crate) sampling: StorageAddress,
    pub(crate) genesis_time: StorageU64,
    pub(crate) epoch_length: StorageU64,
    pub(crate) params: MarketParams,
    pub(crate) next_job_id: StorageU256,
    pub(crate) next_batch_id: StorageU256,
    pub(crate) jobs: StorageMap<alloy_primitives::U256, Job>,
    pub(crate) batches: StorageMap<alloy_primitives::U256, Batch>,
    /// Batch id -> record leaf -> 1 opened, 2 claimed.
    pub(crate) used_records:
        StorageMap<alloy_primitives::U256, StorageMap<alloy_primitives::B256, StorageU8>>,
    pub(crate) seeds: StorageMap<u64, EpochSeed>,
    pub(crate) rewards: StorageMap<u64, StorageMap<Address, StorageU256>>,
    pub(crate) fees: StorageMap<Address, StorageU256>,
    pub(crate) ownable: assay_contract_kit::Ownable,
}
