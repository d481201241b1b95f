//! Bonded claims: anyone but the asserter disputes an assertion by posting `disputeBond` with
//! its own output hash and trace root, and plays the challenger's side of the game.
//! - `disputeJob` joins a job Sampling holds (`ISampling.addClaim`): compared at its
//!   `finalizeChallenge` while challenged, played at once when disputed.
//! - `disputeRecord` files the claim before the market hands the job over, under
//!   `pending_claims_key(jobKey, asserter, assertedOutput)` (binding the asserter and its output
//!   keeps a record that reuses another job's key from taking its claims). Sampling takes the
//!   waiting claims at the hand-over (`takeClaims`).
//!
//! The bond is held per job and claimant, moves onto the claim's game when it opens, and is
//! settled when the game ends ([`DisputeGame::settle_bond`]).

use alloc::vec::Vec;

use alloy_primitives::{Address, B256, U256};
use assay_contract_common::{
    codes::JobStatus,
    records::{pending_claims_key, MAX_CLAIMS},
};
use stylus_sdk::{call::transfer::transfer_eth, prelude::*};

use crate::{state::outcome, DisputeGame, IDisputeGame, ISampling, Result};

/// A waiting claim: `(claimant, output hash, trace root)`.
type Claim = (Address, B256, B256);

impl DisputeGame {
    /// Checks that `msg.value` is the bond.
    fn bond_sent(&self) -> Result<U256> {
        let (sent, bond) = (self.vm().msg_value(), self.dispute_bond.get());
        if sent != bond {
            return Err(IDisputeGame::WrongBond { sent, bond }.into());
        }
        Ok(bond)
    }

    /// Refuses a claim by the asserter or one naming the asserted output.
    fn check_claim(
        (asserter, asserted): (Address, B256),
        claimant: Address,
        output_hash: B256,
    ) -> Result<()> {
        if claimant == asserter {
            return Err(IDisputeGame::AlreadyClaimed { account: claimant }.into());
        }
        if output_hash == asserted {
            return Err(IDisputeGame::SameAsAsserted {}.into());
        }
        Ok(())
    }

    pub(crate) fn _dispute_job(
        &mut self,
        job_id: U256,
        output_hash: B256,
        trace_root: B256,
    ) -> Result<()> {
        let bond = self.bond_sent()?;
        let claimant = self.vm().msg_sender();
        let (status, asserter, asserted) = self._challenge(job_id)?;
        if status != JobStatus::Challenged as u8 && status != JobStatus::Disputed as u8 {
            return Err(IDisputeGame::NotDisputable { jobId: job_id, status }.into());
        }
        Self::check_claim((asserter, asserted), claimant, output_hash)?;
        let slots = self._job_validators(job_id)?;
        if slots.contains(&claimant) {
            return Err(IDisputeGame::AlreadyClaimed { account: claimant }.into());
        }
        if slots.len() >= MAX_CLAIMS {
            return Err(IDisputeGame::TooManyClaims {}.into());
        }
        self.claim_bonds.setter(job_id).insert(claimant, bond);
        assay_contract_kit::emit(
            self.vm(),
            IDisputeGame::ClaimFiled {
                jobId: job_id,
                jobKey: B256::ZERO,
                claimant,
                outputHash: output_hash,
                traceRoot: trace_root,
            },
        );
        let call = ISampling::addClaimCall {
            jobId: job_id,
            claimant,
            outputHash: output_hash,
            traceRoot: trace_root,
        };
        let sampling = self.sampling.get();
        let added = assay_contract_kit::calls::call_mut(self, sampling, &call)
            .ok_or(IDisputeGame::ExternalCallFailed { target: sampling })?;
        if added.openNow {
            let defender = (added.asserter, added.assertedOutput, added.assertedTraceRoot);
            self.start_game(
                (job_id, added.modelId),
                defender,
                (claimant, output_hash, trace_root),
            )?;
        }
        Ok(())
    }

    pub(crate) fn _dispute_record(
        &mut self,
        job_key: B256,
        asserted: (Address, B256),
        output_hash: B256,
        trace_root: B256,
    ) -> Result<()> {
        let bond = self.bond_sent()?;
        let claimant = self.vm().msg_sender();
        Self::check_claim(asserted, claimant, output_hash)?;
        let mut claims = self.pending.setter(pending_claims_key(job_key, asserted.0, asserted.1));
        let mut free = None;
        for i in 0..claims.len() {
            match claims.getter(i).map(|c| c.claimant.get()) {
                Some(who) if who == claimant => {
                    return Err(IDisputeGame::AlreadyClaimed { account: claimant }.into());
                }
                Some(who) if who.is_zero() && free.is_none() => free = Some(i),
                _ => {}
            }
        }
        let index = match free {
            Some(i) => i,
            None if claims.len() < MAX_CLAIMS => {
                claims.grow();
                claims.len().saturating_sub(1)
            }
            None => return Err(IDisputeGame::TooManyClaims {}.into()),
        };
        let Some(mut slot) = claims.setter(index) else {
            return Err(IDisputeGame::TooManyClaims {}.into());
        };
        slot.claimant.set(claimant);
        slot.output_hash.set(output_hash);
        slot.trace_root.set(trace_root);
        slot.bond.set(bond);
        assay_contract_kit::emit(
            self.vm(),
            IDisputeGame::ClaimFiled {
                jobId: U256::ZERO,
                jobKey: job_key,
                claimant,
                outputHash: output_hash,
                traceRoot: trace_root,
            },
        );
        Ok(())
    }

    pub(crate) fn _withdraw_dispute(
        &mut self,
        job_key: B256,
        (asserter, asserted): (Address, B256),
    ) -> Result<()> {
        let claimant = self.vm().msg_sender();
        let mut claims = self.pending.setter(pending_claims_key(job_key, asserter, asserted));
        let index = (0..claims.len())
            .find(|&i| claims.getter(i).is_some_and(|c| c.claimant.get() == claimant))
            .ok_or(IDisputeGame::NothingToWithdraw { account: claimant })?;
        let Some(mut slot) = claims.setter(index) else {
            return Err(IDisputeGame::NothingToWithdraw { account: claimant }.into());
        };
        let bond = slot.bond.get();
        slot.claimant.set(Address::ZERO);
        slot.bond.set(U256::ZERO);
        assay_contract_kit::emit(
            self.vm(),
            IDisputeGame::ClaimWithdrawn { jobKey: job_key, claimant },
        );
        transfer_eth(self.vm(), claimant, bond)
            .map_err(|_| IDisputeGame::EthTransferFailed { to: claimant, amount: bond }.into())
    }

    /// The claims waiting under `key`, withdrawn ones left out.
    pub(crate) fn pending_claims(&self, key: B256) -> Vec<Claim> {
        let claims = self.pending.get(key);
        (0..claims.len())
            .filter_map(|i| claims.getter(i))
            .map(|c| (c.claimant.get(), c.output_hash.get(), c.trace_root.get()))
            .filter(|c| !c.0.is_zero())
            .collect()
    }

    pub(crate) fn _take_claims(
        &mut self,
        key: B256,
        job_id: U256,
        drawn: &[Address],
    ) -> Result<Vec<Claim>> {
        let caller = self.vm().msg_sender();
        if caller != self.sampling.get() {
            return Err(IDisputeGame::NotSampling { account: caller }.into());
        }
        let mut taken = Vec::new();
        let mut refunds = Vec::new();
        {
            let mut claims = self.pending.setter(key);
            for i in 0..claims.len() {
                let Some(mut slot) = claims.setter(i) else { continue };
                let claimant = slot.claimant.get();
                if claimant.is_zero() {
                    continue;
                }
                let claim = (claimant, slot.output_hash.get(), slot.trace_root.get());
                let bond = slot.bond.get();
                slot.claimant.set(Address::ZERO);
                slot.bond.set(U256::ZERO);
                if drawn.contains(&claimant) {
                    refunds.push((claimant, bond));
                } else {
                    taken.push((claim, bond));
                }
            }
        }
        for (claimant, bond) in refunds {
            self.credit(claimant, bond);
        }
        let mut out = Vec::with_capacity(taken.len());
        for (claim, bond) in taken {
            self.claim_bonds.setter(job_id).insert(claim.0, bond);
            out.push(claim);
        }
        Ok(out)
    }

    /// Adds `amount` to what `account` may withdraw (ETH this contract holds: cannot overflow).
    pub(crate) fn credit(&mut self, account: Address, amount: U256) {
        let balance = self.bonds.get(account).saturating_add(amount);
        self.bonds.insert(account, balance);
    }

    /// A claimant's bond when its game ends: back to it when it won or there was no verdict,
    /// to the defender when the defender won, burned when both were wrong. Nothing for a drawn
    /// validator's game (no bond).
    pub(crate) fn settle_bond(&mut self, game_id: U256, result: u8) {
        let (job_id, defender, challenger) = {
            let g = self.games.get(game_id);
            (g.job_id.get(), g.defender.get(), g.challenger.get())
        };
        let amount = self.claim_bonds.getter(job_id).get(challenger);
        if amount.is_zero() {
            return;
        }
        self.claim_bonds.setter(job_id).insert(challenger, U256::ZERO);
        let to = match result {
            outcome::DEFENDER_WON => defender,
            outcome::BOTH_WRONG => Address::ZERO,
            _ => challenger,
        };
        if !to.is_zero() {
            self.credit(to, amount);
        }
        assay_contract_kit::emit(
            self.vm(),
            IDisputeGame::BondSettled { gameId: game_id, to, amount },
        );
    }

    pub(crate) fn _withdraw_bonds(&mut self) -> Result<U256> {
        let account = self.vm().msg_sender();
        let amount = self.bonds.get(account);
        if amount.is_zero() {
            return Err(IDisputeGame::NothingToWithdraw { account }.into());
        }
        self.bonds.insert(account, U256::ZERO);
        assay_contract_kit::emit(self.vm(), IDisputeGame::BondsWithdrawn { account, amount });
        transfer_eth(self.vm(), account, amount)
            .map_err(|_| IDisputeGame::EthTransferFailed { to: account, amount })?;
        Ok(amount)
    }
}
