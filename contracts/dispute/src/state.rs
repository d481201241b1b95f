//! Storage layout of the dispute game.

use alloy_primitives::{Address, B256, U256};
use stylus_sdk::{
    prelude::*,
    storage::{
        StorageAddress, StorageB256, StorageBool, StorageMap, StorageU256, StorageU32, StorageU64,
        StorageU8, StorageVec,
    },
};

/// Game phases: `assay_contract_common::codes::GamePhase`.
pub mod phase {
    use assay_contract_common::codes::GamePhase;

    /// Each side opens its trace root.
    pub const ROOTS: u8 = GamePhase::Roots as u8;
    /// Bisection over the trace's leaves.
    pub const LEAVES: u8 = GamePhase::Leaves as u8;
    /// Each side opens the disputed leaf.
    pub const LEAF: u8 = GamePhase::Leaf as u8;
    /// Bisection over the disputed leaf's cells.
    pub const CELLS: u8 = GamePhase::Cells as u8;
    /// Each side opens the disputed cell.
    pub const CELL: u8 = GamePhase::Cell as u8;
    /// Waiting for the one-step proof.
    pub const STEP: u8 = GamePhase::Step as u8;
    /// Final.
    pub const ENDED: u8 = GamePhase::Ended as u8;
    /// Each side opens its count of terms and final accumulator.
    pub const REDUCTION: u8 = GamePhase::Reduction as u8;
    /// Bisection over the accumulators.
    pub const TERMS: u8 = GamePhase::Terms as u8;
}

/// What the Step phase proves (`disputedTerms(id).kind`, `IOneStepProver.prove`'s kind); 0, the
/// default, is the disputed element from its inputs.
pub mod step_kind {
    /// A reduction's element, from the agreed final accumulator.
    pub const FINISH: u8 = 1;
    /// A reduction's accumulator after term `lo`, from the agreed one before it.
    pub const TERM: u8 = 2;
    /// The disputed leaf's header, from the schedule (the sides opened different ones).
    pub const SCHEDULE: u8 = 4;
}

/// Game outcomes: `assay_contract_common::codes::GameOutcome`.
pub mod outcome {
    use assay_contract_common::codes::GameOutcome;

    /// The challenger lost.
    pub const DEFENDER_WON: u8 = GameOutcome::DefenderWon as u8;
    /// The defender lost.
    pub const CHALLENGER_WON: u8 = GameOutcome::ChallengerWon as u8;
    /// The one-step proof showed both values wrong.
    pub const BOTH_WRONG: u8 = GameOutcome::BothWrong as u8;
    /// Narrowed to a step this version cannot decide.
    pub const NO_VERDICT: u8 = GameOutcome::NoVerdict as u8;
}

/// The defender's index in per-side values (moves first in every phase).
pub const DEFENDER: u8 = 0;
/// The challenger's index.
pub const CHALLENGER: u8 = 1;

/// One game: the two claims, the clocks, and the node in dispute.
#[storage]
pub struct Game {
    pub(crate) job_id: StorageU256,
    pub(crate) model_id: StorageB256,
    pub(crate) defender: StorageAddress,
    pub(crate) challenger: StorageAddress,
    pub(crate) defender_output: StorageB256,
    pub(crate) defender_trace: StorageB256,
    pub(crate) challenger_output: StorageB256,
    pub(crate) challenger_trace: StorageB256,
    pub(crate) phase: StorageU8,
    pub(crate) outcome: StorageU8,
    /// `DEFENDER` or `CHALLENGER`: who moves next.
    pub(crate) turn: StorageU8,
    /// Seconds each side has left, as of `last_move`.
    pub(crate) defender_clock: StorageU64,
    pub(crate) challenger_clock: StorageU64,
    pub(crate) last_move: StorageU64,
    /// The defender's `n_leaves`, opened in phase Roots.
    pub(crate) defender_leaves: StorageU32,
    /// The node in dispute: its level above the base, its index in that level, the base width
    /// of its tree (leaves padded to a power of two, or the disputed leaf's cells).
    pub(crate) level: StorageU8,
    pub(crate) index: StorageU64,
    pub(crate) width: StorageU64,
    pub(crate) defender_node: StorageB256,
    pub(crate) challenger_node: StorageB256,
    /// Both trees lifted to `height` levels: every one-step input is opened against them.
    pub(crate) height: StorageU8,
    pub(crate) defender_tree: StorageB256,
    pub(crate) challenger_tree: StorageB256,
    /// Once found: the disputed leaf, its header (the leaf hash with a zero cells root), its op
    /// and its cells' geometry.
    pub(crate) leaf: StorageU64,
    pub(crate) header: StorageB256,
    pub(crate) op: StorageU32,
    pub(crate) row_len: StorageU64,
    pub(crate) element_size: StorageU8,
    /// Whether the one-step prover decides the disputed leaf's elements
    /// (`assay_step::decide::provable`).
    pub(crate) decidable: StorageBool,
    /// The disputed leaf's reduction (`assay_step::reduce::Kind` as u8, 0 for none).
    pub(crate) reduction: StorageU8,
    /// The reduction in dispute: the `step_kind`, the count of terms, the interval of terms in
    /// dispute (`lo < hi`) and the accumulator after `lo` terms both sides agree on. In phase
    /// Reduction, the defender's count (its final accumulator is in `defender_node`); in phase
    /// Terms, `defender_node` is the hash of the defender's posted accumulators.
    pub(crate) step_kind: StorageU8,
    pub(crate) terms: StorageU64,
    pub(crate) lo: StorageU64,
    pub(crate) hi: StorageU64,
    pub(crate) agreed: StorageB256,
    /// Once found: the disputed element and what each side claims it is (its little-endian
    /// bytes, zero-padded on the right).
    pub(crate) row: StorageU64,
    pub(crate) col: StorageU64,
    pub(crate) defender_value: StorageB256,
    pub(crate) challenger_value: StorageB256,
}

/// The dispute game's storage. No owner: nothing here can be changed after construction.
#[storage]
#[entrypoint]
pub struct DisputeGame {
    pub(crate) sampling: StorageAddress,
    /// The one-step prover (`IOneStepProver`).
    pub(crate) prover: StorageAddress,
    pub(crate) clock: StorageU64,
    pub(crate) arity_bits: StorageU8,
    pub(crate) games_opened: StorageU256,
    pub(crate) games: StorageMap<U256, Game>,
    /// Job id -> challenger -> game id.
    pub(crate) game_of: StorageMap<U256, StorageMap<Address, StorageU256>>,
    /// What a bonded claim costs (wei).
    pub(crate) dispute_bond: StorageU256,
    /// `pending_claims_key(jobKey, asserter, assertedOutput)` -> claims waiting for the job.
    pub(crate) pending: StorageMap<B256, StorageVec<PendingClaim>>,
    /// Job id -> claimant -> the bond held for its claim until its game ends.
    pub(crate) claim_bonds: StorageMap<U256, StorageMap<Address, StorageU256>>,
    /// Bonds credited to an account, paid by `withdrawBonds`.
    pub(crate) bonds: StorageMap<Address, StorageU256>,
}

/// A bonded claim waiting for its job's hand-over (`disputeRecord`).
#[storage]
pub struct PendingClaim {
    /// Zero once withdrawn or taken.
    pub(crate) claimant: StorageAddress,
    pub(crate) output_hash: StorageB256,
    pub(crate) trace_root: StorageB256,
    pub(crate) bond: StorageU256,
}
