//! The dispute game of the Assay job market (interface: `contracts/interfaces/IDisputeGame.sol`;
//! the commitments it walks: `crates/engine/TRACE.md`).
//!
//! - **Opening**: `Sampling` opens one game per validator whose revealed output hash contradicts
//!   the asserter. The asserter defends the output hash and trace root it asserted; the validator
//!   challenges with the ones it committed to before it saw anyone's.
//! - **Narrowing**: both sides open their trace roots, bisect their leaf trees `2^arityBits`
//!   children a move to the first differing op leaf, open it, bisect its cells to the first
//!   differing cell and open that: the first differing element is the step in dispute
//!   (`StepDisputed`). Every opening is checked against the side's own node with the keccak
//!   hostio, so a side can only lose by posting data its own commitment contradicts.
//! - **Clocks**: each side has `clock` seconds for all its moves; `timeout` ends the game against
//!   a side to move whose time ran out.
//! - **Reductions**: an element reduced over more than a row (Context, Softmax, Pool, the chosen
//!   token) goes through two more phases, Reduction (each side's count of terms and final
//!   accumulator) and Terms (a bisection over the running accumulators) down to one term
//!   (`terms`, `reduction`).
//! - **One step**: the element (or the accumulator after the disputed term) is recomputed on
//!   chain from its inputs, each opened against the agreed trace or the job's model id, by the
//!   one-step prover (`contracts/prover`, its own contract), with `assay-step`. The side that claimed the recomputed value wins. Every op kind
//!   the engine traces is decided but the prompt's tokens and a sampled token: a game narrowed
//!   to those (or to leaves whose headers differ, or a leaf one trace lacks) ends with no verdict
//!   rather than against a defender nobody could prove right.
//! - **Verdicts**: `Sampling.gameEnded`.
//! - **Bonded claims** (`claims`): anyone but the asserter posts `disputeBond` with its own
//!   claim against a job (`disputeJob`) or a job not handed over yet (`disputeRecord`) and plays
//!   the challenger; the bond is settled when its game ends.
//!
//! Layout: `state` (storage), `moves` (the phases down to the element), `terms` (the phases over
//! a reduction's accumulators), `claims` (bonded claims), `external` (the calls to Sampling and
//! the prover).
#![cfg_attr(not(any(test, feature = "export-abi")), no_main)]

extern crate alloc;

mod claims;
mod external;
mod moves;
mod state;
mod terms;

use alloc::vec::Vec;

use alloy_primitives::{aliases::U8, Address, Bytes, B256, U256};
use alloy_sol_types::sol;
use stylus_sdk::prelude::*;

pub use crate::state::{outcome, phase, DisputeGame, CHALLENGER, DEFENDER};

sol!(
    #[sol(all_derives)]
    "../interfaces/IDisputeGame.sol"
);
sol!("../interfaces/ISampling.sol");
sol!("../interfaces/IOneStepProver.sol");

assay_contract_kit::solidity_errors! {
    /// Every revert of the dispute game, each a named Solidity error.
    pub enum GameError {
        UnknownGame(IDisputeGame::UnknownGame) [gameId],
        NotSampling(IDisputeGame::NotSampling) [account],
        NotYourTurn(IDisputeGame::NotYourTurn) [gameId, account],
        WrongPhase(IDisputeGame::WrongPhase) [gameId, phase],
        ClockExpired(IDisputeGame::ClockExpired) [gameId, side, deadline],
        ClockRunning(IDisputeGame::ClockRunning) [gameId, deadline],
        BadOpening(IDisputeGame::BadOpening) [gameId, side],
        BadProof(IDisputeGame::BadProof) [gameId],
        InvalidParams(IDisputeGame::InvalidParams) [],
        ExternalCallFailed(IDisputeGame::ExternalCallFailed) [target],
        WrongBond(IDisputeGame::WrongBond) [sent, bond],
        NotDisputable(IDisputeGame::NotDisputable) [jobId, status],
        AlreadyClaimed(IDisputeGame::AlreadyClaimed) [account],
        SameAsAsserted(IDisputeGame::SameAsAsserted) [],
        TooManyClaims(IDisputeGame::TooManyClaims) [],
        NothingToWithdraw(IDisputeGame::NothingToWithdraw) [account],
        EthTransferFailed(IDisputeGame::EthTransferFailed) [to, amount],
    }
}

pub(crate) type Result<T, E = GameError> = core::result::Result<T, E>;

/// Largest `arityBits`: a move posts at most 64 nodes.
pub const MAX_ARITY_BITS: u8 = 6;

#[public]
impl DisputeGame {
    /// Pairs the game with the sampling contract that opens games and hears their verdicts and
    /// the one-step prover; `clock` is each side's time in seconds, `arity_bits` the levels a
    /// bisection move descends, `bond` what a bonded claim costs (wei).
    #[constructor]
    pub fn constructor(
        &mut self,
        sampling: Address,
        prover: Address,
        clock: u64,
        arity_bits: u8,
        bond: U256,
    ) -> Result<()> {
        if sampling.is_zero()
            || prover.is_zero()
            || clock == 0
            || arity_bits == 0
            || arity_bits > MAX_ARITY_BITS
            || bond.is_zero()
        {
            return Err(IDisputeGame::InvalidParams {}.into());
        }
        self.sampling.set(sampling);
        self.prover.set(prover);
        self.clock.set(alloy_primitives::aliases::U64::from(clock));
        self.arity_bits.set(U8::from(arity_bits));
        self.dispute_bond.set(bond);
        Ok(())
    }

    /// Opens `challenger`'s game against the job; Sampling only, once per challenger and job.
    ///
    /// # Errors
    /// `NotSampling`, `InvalidParams` (a game exists, or the claims are equal).
    ///
    /// # Events
    /// `GameOpened`.
    #[allow(clippy::too_many_arguments)]
    pub fn open_game(
        &mut self,
        job_id: U256,
        model_id: B256,
        defender: Address,
        defender_output: B256,
        defender_trace_root: B256,
        challenger: Address,
        challenger_output: B256,
        challenger_trace_root: B256,
    ) -> Result<U256> {
        self._open_game(
            (job_id, model_id),
            (defender, defender_output, defender_trace_root),
            (challenger, challenger_output, challenger_trace_root),
        )
    }

    /// Phase Roots: opens the side's trace root as `(n_leaves, tree_root)`.
    ///
    /// # Errors
    /// `UnknownGame`, `WrongPhase`, `NotYourTurn`, `ClockExpired`, `BadOpening`,
    /// `ExternalCallFailed`.
    ///
    /// # Events
    /// `RootOpened`; `GameEnded` when the trees are equal.
    pub fn open_root(&mut self, game_id: U256, n_leaves: u32, tree_root: B256) -> Result<()> {
        self._open_root(game_id, n_leaves, tree_root)
    }

    /// Phases Leaves and Cells: one bisection move (see the interface).
    ///
    /// # Errors
    /// `UnknownGame`, `WrongPhase`, `NotYourTurn`, `ClockExpired`, `BadOpening`,
    /// `ExternalCallFailed`.
    ///
    /// # Events
    /// `Bisected`; `GameEnded` when one trace has no leaf where the other has one.
    pub fn bisect(
        &mut self,
        game_id: U256,
        children: Vec<B256>,
        defender_children: Vec<B256>,
    ) -> Result<()> {
        self._bisect(game_id, &children, &defender_children)
    }

    /// Phase Leaf: opens the disputed leaf.
    ///
    /// # Errors
    /// `UnknownGame`, `WrongPhase`, `NotYourTurn`, `ClockExpired`, `BadOpening`,
    /// `ExternalCallFailed`.
    ///
    /// # Events
    /// `LeafOpened`; `GameEnded` when the leaves' headers differ.
    pub fn open_leaf(
        &mut self,
        game_id: U256,
        preimage: Bytes,
        defender_preimage: Bytes,
    ) -> Result<()> {
        self._open_leaf(game_id, &preimage, &defender_preimage)
    }

    /// Phase Cell: opens the disputed cell.
    ///
    /// # Errors
    /// `UnknownGame`, `WrongPhase`, `NotYourTurn`, `ClockExpired`, `BadOpening`,
    /// `ExternalCallFailed`.
    ///
    /// # Events
    /// `CellOpened`; after the challenger's, `StepDisputed` and `GameEnded`.
    pub fn open_cell(&mut self, game_id: U256, data: Bytes, defender_data: Bytes) -> Result<()> {
        self._open_cell(game_id, &data, &defender_data)
    }

    /// Phase Reduction: the side's count of terms and final accumulator (see the interface).
    ///
    /// # Errors
    /// `UnknownGame`, `WrongPhase`, `NotYourTurn`, `ClockExpired`, `BadOpening` (no terms, or
    /// more than `terms::MAX_TERMS`).
    ///
    /// # Events
    /// `TermsOpened`.
    pub fn open_terms(&mut self, game_id: U256, terms: u64, last: B256) -> Result<()> {
        self._open_terms(game_id, terms, last)
    }

    /// Phase Terms: one bisection move over the accumulators (see the interface).
    ///
    /// # Errors
    /// `UnknownGame`, `WrongPhase`, `NotYourTurn`, `ClockExpired`, `BadOpening` (a count of
    /// accumulators that is not the interval's, or defender's accumulators that are not the
    /// ones it posted).
    ///
    /// # Events
    /// `TermsBisected`.
    pub fn bisect_terms(
        &mut self,
        game_id: U256,
        accs: Vec<B256>,
        defender_accs: Vec<B256>,
    ) -> Result<()> {
        self._bisect_terms(game_id, &accs, &defender_accs)
    }

    /// Phase Step: the one-step proof of the disputed element (`IOneStepProver` checks it); anyone
    /// may send it. The recomputed value decides: the side that claimed it wins, both lose when
    /// neither did.
    ///
    /// # Errors
    /// `UnknownGame`, `WrongPhase`, `BadProof`, `ExternalCallFailed`.
    ///
    /// # Events
    /// `StepProven`, `GameEnded`.
    pub fn prove_step(&mut self, game_id: U256, proof: Bytes) -> Result<()> {
        self._prove_step(game_id, &proof)
    }

    /// Ends the game against the side to move once its clock has run out.
    ///
    /// # Errors
    /// `UnknownGame`, `WrongPhase` (ended), `ClockRunning`, `ExternalCallFailed`.
    ///
    /// # Events
    /// `GameEnded`.
    pub fn timeout(&mut self, game_id: U256) -> Result<()> {
        self._timeout(game_id)
    }

    /// A bonded claim against a challenged or disputed job (see the interface).
    ///
    /// # Errors
    /// `WrongBond`, `NotDisputable`, `AlreadyClaimed`, `SameAsAsserted`, `TooManyClaims`,
    /// `ExternalCallFailed`.
    ///
    /// # Events
    /// `ClaimFiled`; on a disputed job `GameOpened`.
    #[payable]
    pub fn dispute_job(&mut self, job_id: U256, output_hash: B256, trace_root: B256) -> Result<()> {
        self._dispute_job(job_id, output_hash, trace_root)
    }

    /// A bonded claim waiting for a job's hand-over (see the interface).
    ///
    /// # Errors
    /// `WrongBond`, `AlreadyClaimed`, `SameAsAsserted`, `TooManyClaims`.
    ///
    /// # Events
    /// `ClaimFiled` (job id 0).
    #[payable]
    pub fn dispute_record(
        &mut self,
        job_key: B256,
        asserter: Address,
        asserted_output: B256,
        output_hash: B256,
        trace_root: B256,
    ) -> Result<()> {
        self._dispute_record(job_key, (asserter, asserted_output), output_hash, trace_root)
    }

    /// Takes back a waiting claim and its bond.
    ///
    /// # Errors
    /// `NothingToWithdraw`, `EthTransferFailed`.
    ///
    /// # Events
    /// `ClaimWithdrawn`.
    pub fn withdraw_dispute(
        &mut self,
        job_key: B256,
        asserter: Address,
        asserted_output: B256,
    ) -> Result<()> {
        self._withdraw_dispute(job_key, (asserter, asserted_output))
    }

    /// Pays out the caller's credited bonds.
    ///
    /// # Errors
    /// `NothingToWithdraw`, `EthTransferFailed`.
    ///
    /// # Events
    /// `BondsWithdrawn`.
    pub fn withdraw_bonds(&mut self) -> Result<U256> {
        self._withdraw_bonds()
    }

    /// Sampling only: the claims waiting under `key`, for job `jobId` (see the interface).
    ///
    /// # Errors
    /// `NotSampling`.
    #[allow(clippy::type_complexity)]
    pub fn take_claims(
        &mut self,
        key: B256,
        job_id: U256,
        drawn: Vec<Address>,
    ) -> Result<(Vec<Address>, Vec<B256>, Vec<B256>)> {
        let claims = self._take_claims(key, job_id, &drawn)?;
        Ok(split_claims(claims))
    }

    /// The claims waiting for a job's hand-over: `(claimants, outputHashes, traceRoots)`.
    pub fn pending_disputes(
        &self,
        job_key: B256,
        asserter: Address,
        asserted_output: B256,
    ) -> (Vec<Address>, Vec<B256>, Vec<B256>) {
        let key =
            assay_contract_common::records::pending_claims_key(job_key, asserter, asserted_output);
        split_claims(self.pending_claims(key))
    }

    /// Bonds credited to `account`.
    pub fn bonds(&self, account: Address) -> U256 {
        self.bonds.get(account)
    }

    /// What a bonded claim costs (wei).
    pub fn dispute_bond(&self) -> U256 {
        self.dispute_bond.get()
    }

    /// `(jobId, defender, challenger, phase, outcome, sideToMove, deadline)`.
    pub fn game(&self, game_id: U256) -> (U256, Address, Address, u8, u8, Address, u64) {
        let g = self.games.get(game_id);
        let phase: u8 = g.phase.get().to();
        let (side, deadline) = if phase == 0 || phase == phase::ENDED {
            (Address::ZERO, 0)
        } else {
            let turn: u8 = g.turn.get().to();
            let side = if turn == DEFENDER { g.defender.get() } else { g.challenger.get() };
            (side, Self::deadline(&g, turn))
        };
        (
            g.job_id.get(),
            g.defender.get(),
            g.challenger.get(),
            phase,
            g.outcome.get().to(),
            side,
            deadline,
        )
    }

    /// `(level, index, defenderNode, challengerNode, width)` of the node in dispute.
    pub fn disputed_node(&self, game_id: U256) -> (u8, u64, B256, B256, u64) {
        let g = self.games.get(game_id);
        (
            g.level.get().to(),
            g.index.get().to(),
            g.defender_node.get(),
            g.challenger_node.get(),
            g.width.get().to(),
        )
    }

    /// `(leaf, row, col, defenderValue, challengerValue, height)` of the element in dispute.
    pub fn disputed_element(&self, game_id: U256) -> (u64, u64, u64, B256, B256, u8) {
        let g = self.games.get(game_id);
        (
            g.leaf.get().to(),
            g.row.get().to(),
            g.col.get().to(),
            g.defender_value.get(),
            g.challenger_value.get(),
            g.height.get().to(),
        )
    }

    /// `(kind, terms, lo, hi, agreed)` of the reduction in dispute.
    pub fn disputed_terms(&self, game_id: U256) -> (u8, u64, u64, u64, B256) {
        let g = self.games.get(game_id);
        (
            g.step_kind.get().to(),
            g.terms.get().to(),
            g.lo.get().to(),
            g.hi.get().to(),
            g.agreed.get(),
        )
    }

    /// The game of `challenger` against `job_id`; 0 when none.
    pub fn game_of(&self, job_id: U256, challenger: Address) -> U256 {
        self.game_of.getter(job_id).get(challenger)
    }

    /// `(sampling, clock, arityBits, prover)`.
    pub fn config(&self) -> (Address, u64, u8, Address) {
        (self.sampling.get(), self.clock.get().to(), self.arity_bits.get().to(), self.prover.get())
    }
}

/// Claims as the three arrays the interface returns.
fn split_claims(claims: Vec<(Address, B256, B256)>) -> (Vec<Address>, Vec<B256>, Vec<B256>) {
    let mut out = (Vec::new(), Vec::new(), Vec::new());
    for (claimant, output, trace) in claims {
        out.0.push(claimant);
        out.1.push(output);
        out.2.push(trace);
    }
    out
}

#[cfg(test)]
mod tests;
