//! Storage layout of the sampling contract.

use stylus_sdk::{
    prelude::*,
    storage::{
        StorageAddress, StorageB256, StorageBool, StorageMap, StorageU16, StorageU256, StorageU32,
        StorageU64, StorageU8, StorageVec,
    },
};

/// Challenge states: the job status codes of `IJobMarket.sol`.
pub mod status {
    /// Validators committing and revealing.
    pub const CHALLENGED: u8 = assay_contract_common::codes::JobStatus::Challenged as u8;
    /// Final: the asserted result stands.
    pub const ACCEPTED: u8 = assay_contract_common::codes::JobStatus::Accepted as u8;
    /// Hashes disagree; stakes frozen until every dispute game of the job has ended.
    pub const DISPUTED: u8 = assay_contract_common::codes::JobStatus::Disputed as u8;
    /// Final: the asserter lost its dispute.
    pub const REJECTED: u8 = assay_contract_common::codes::JobStatus::Rejected as u8;
}

/// Validation states of a drawn validator.
pub mod validation {
    /// Drawn, nothing sent yet.
    pub const DRAWN: u8 = assay_contract_common::codes::ValidatorState::Drawn as u8;
    /// Commitment sent.
    pub const COMMITTED: u8 = assay_contract_common::codes::ValidatorState::Committed as u8;
    /// Output hash revealed and checked against the commitment.
    pub const REVEALED: u8 = assay_contract_common::codes::ValidatorState::Revealed as u8;
}

/// A challenged job, as the market handed it over.
#[storage]
pub struct Challenge {
    pub(crate) status: StorageU8,
    pub(crate) asserter: StorageAddress,
    pub(crate) output_hash: StorageB256,
    pub(crate) job_key: StorageB256,
    pub(crate) commit_deadline: StorageU64,
    pub(crate) reveal_deadline: StorageU64,
    pub(crate) validators: StorageVec<Validation>,
    /// Dispute games not yet ended (one per dissenting validator or bonded claim).
    pub(crate) open_games: StorageU8,
}

/// A drawn validator's commit-reveal state.
#[storage]
pub struct Validation {
    pub(crate) validator: StorageAddress,
    pub(crate) state: StorageU8,
    /// How the validator's dispute game ended (`GameOutcome`; 0 while none or running). Packed
    /// with the address and state: one slot read per validator.
    pub(crate) verdict: StorageU8,
    /// A bonded claim (`claims`), not a drawn validator: the dispute game holds its bond.
    pub(crate) bonded: StorageBool,
    pub(crate) commitment: StorageB256,
    pub(crate) revealed: StorageB256,
    pub(crate) revealed_trace: StorageB256,
}

/// Protocol parameters (DESIGN 3.2).
#[storage]
pub struct Params {
    pub(crate) challenge_ppm: StorageU32,
    pub(crate) validators: StorageU8,
    pub(crate) asserter_reward: StorageU256,
    pub(crate) validator_reward: StorageU256,
    pub(crate) slash_amount: StorageU256,
    pub(crate) cheat_cost: StorageU256,
    pub(crate) collusion_ppm: StorageU32,
    pub(crate) user_discount_bps: StorageU16,
    pub(crate) assert_timeout: StorageU64,
    pub(crate) commit_timeout: StorageU64,
    pub(crate) reveal_timeout: StorageU64,
    pub(crate) batch_window: StorageU64,
    pub(crate) seed_reveal_grace: StorageU64,
}

/// The sampling contract's storage.
#[storage]
#[entrypoint]
pub struct Sampling {
    pub(crate) job_market: StorageAddress,
    pub(crate) staking: StorageAddress,
    pub(crate) registry: StorageAddress,
    pub(crate) dispute_game: StorageAddress,
    pub(crate) params: Params,
    /// Job id (the market's) -> its challenge.
    pub(crate) challenges: StorageMap<alloy_primitives::U256, Challenge>,
    pub(crate) ownable: assay_contract_kit::Ownable,
}
