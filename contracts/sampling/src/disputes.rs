//! Disputes: one `DisputeGame` game per dissenting validator, in which the asserter defends its
//! output hash, and the settlement once every game has ended. A claim that lost a game is wrong,
//! and so is everyone who claimed it:
//! - the asserter loses a game (`ChallengerWon`, `BothWrong`): the job is rejected, the asserter
//!   and every validator that agreed with it are slashed;
//! - a dissenter loses its game (`DefenderWon`, `BothWrong`): it is slashed;
//! - the asserter defended every game: the job is accepted;
//! - otherwise (`NoVerdict`, and no game lost by the asserter) the job is rejected, the fee goes
//!   back, and nobody is slashed for that game.
//!
//! Half of what was slashed goes to the winners as epoch rewards (the asserter and the validators
//! that agreed with it when the job is accepted, the dissenters that won otherwise), who also
//! share `R_V`. Every stake frozen by the dispute is released.
//!
//! A bonded claim (`claims`) plays like a dissenter, but its bond is at stake, not a stake: it is
//! neither frozen nor slashed here (the dispute game settles the bond), and a claim that won is
//! paid half of the asserter's slash in tokens (shared with the other winning claims) instead of
//! epoch rewards.

use alloc::vec::Vec;

use alloy_primitives::{aliases::U8, Address, B256, U256};
use assay_contract_common::{codes::GameOutcome, wide};
use stylus_sdk::prelude::*;

use crate::{
    state::{status, validation},
    validation::{split, Drawn, DISPUTE_PENALTY},
    ISampling, Result, Sampling,
};

const DEFENDER_WON: u8 = GameOutcome::DefenderWon as u8;
const CHALLENGER_WON: u8 = GameOutcome::ChallengerWon as u8;
const BOTH_WRONG: u8 = GameOutcome::BothWrong as u8;

impl Sampling {
    pub(crate) fn _set_dispute_game(&mut self, game: Address) -> Result<()> {
        if !self.dispute_game.get().is_zero()
            || self._game_sampling(game) != Some(self.vm().contract_address())
        {
            return Err(ISampling::InvalidParams {}.into());
        }
        self.dispute_game.set(game);
        assay_contract_kit::emit(self.vm(), ISampling::DisputeGameSet { game });
        Ok(())
    }

    /// Freezes the asserter and the dissenters and opens a game for each dissenter.
    pub(crate) fn _open_games(
        &mut self,
        job_id: U256,
        (asserter, asserted): (Address, B256),
        dissent: &[&Drawn],
    ) -> Result<()> {
        let dissenters: Vec<Address> = dissent.iter().map(|d| d.validator).collect();
        assay_contract_kit::emit(
            self.vm(),
            ISampling::JobDisputed { jobId: job_id, asserter, dissenters },
        );
        let (model_id, asserted_trace) = self._asserted_trace(job_id)?;
        self.challenges.setter(job_id).open_games.set(U8::from(dissent.len()));
        self._freeze(asserter)?;
        for d in dissent {
            if !d.bonded {
                self._freeze(d.validator)?;
            }
            let trace = self
                .challenges
                .get(job_id)
                .validators
                .getter(d.index)
                .map(|v| v.revealed_trace.get());
            let challenger = (d.validator, d.revealed, trace.unwrap_or_default());
            let defender = (asserter, asserted, asserted_trace);
            self._open_game((job_id, model_id), defender, challenger)?;
        }
        Ok(())
    }

    pub(crate) fn _game_ended(
        &mut self,
        job_id: U256,
        challenger: Address,
        outcome: u8,
    ) -> Result<()> {
        let caller = self.vm().msg_sender();
        if caller.is_zero() || caller != self.dispute_game.get() {
            return Err(ISampling::NotDisputeGame { account: caller }.into());
        }
        self._expect(job_id, status::DISPUTED)?;
        let drawn = self.drawn(job_id);
        let index = Self::validator_index(&drawn, job_id, challenger)?;
        let asserted = self.challenges.get(job_id).output_hash.get();
        let d = &drawn[index];
        if d.state != validation::REVEALED
            || d.revealed == asserted
            || d.verdict != 0
            || outcome == 0
        {
            return Err(ISampling::NotValidator { jobId: job_id, account: challenger }.into());
        }
        let mut challenge = self.challenges.setter(job_id);
        let open = challenge.open_games.get().to::<u8>().saturating_sub(1);
        challenge.open_games.set(U8::from(open));
        if let Some(mut slot) = challenge.validators.setter(index) {
            slot.verdict.set(U8::from(outcome));
        }
        if open > 0 {
            return Ok(());
        }
        self._settle_dispute(job_id)
    }

    fn _settle_dispute(&mut self, job_id: U256) -> Result<()> {
        let (asserter, asserted) = {
            let challenge = self.challenges.get(job_id);
            (challenge.asserter.get(), challenge.output_hash.get())
        };
        let revealed: Vec<Drawn> =
            self.drawn(job_id).into_iter().filter(|d| d.state == validation::REVEALED).collect();
        let (agreeing, dissenting): (Vec<&Drawn>, Vec<&Drawn>) =
            revealed.iter().partition(|d| d.revealed == asserted);
        let asserter_lost =
            dissenting.iter().any(|d| d.verdict == CHALLENGER_WON || d.verdict == BOTH_WRONG);
        let accepted = dissenting.iter().all(|d| d.verdict == DEFENDER_WON);
        let outcome = if accepted { status::ACCEPTED } else { status::REJECTED };
        self._set_status(job_id, outcome);
        self._unfreeze(asserter)?;
        let (claims, validators): (Vec<&Drawn>, Vec<&Drawn>) =
            dissenting.iter().partition(|d| d.bonded);
        for d in &validators {
            self._unfreeze(d.validator)?;
        }
        let agreeing: Vec<Address> = agreeing.iter().map(|d| d.validator).collect();
        let mut losers: Vec<Address> = validators
            .iter()
            .filter(|d| d.verdict == DEFENDER_WON || d.verdict == BOTH_WRONG)
            .map(|d| d.validator)
            .collect();
        if asserter_lost {
            losers.push(asserter);
            losers.extend(&agreeing);
        }
        let right: Vec<Address> = if accepted {
            agreeing
        } else {
            validators.iter().filter(|d| d.verdict == CHALLENGER_WON).map(|d| d.validator).collect()
        };
        let claims_won: Vec<Address> =
            claims.iter().filter(|d| d.verdict == CHALLENGER_WON).map(|d| d.validator).collect();
        let mut slashed = U256::ZERO;
        let slash_amount = self.params.slash_amount.get();
        for loser in &losers {
            let mut amount = slash_amount;
            if *loser == asserter {
                amount = amount.saturating_sub(self.pay_claimants(asserter, &claims_won)?);
            }
            slashed = slashed.saturating_add(self._slash(*loser, amount, Address::ZERO)?);
            self._adjust_reputation(*loser, DISPUTE_PENALTY)?;
        }
        assay_contract_kit::emit(
            self.vm(),
            ISampling::DisputeSettled { jobId: job_id, status: outcome, losers },
        );
        let mut winners = right.clone();
        if accepted {
            winners.push(asserter);
        }
        let mut rewards = (Vec::new(), Vec::new());
        let halves = u32::try_from(winners.len()).unwrap_or(u32::MAX).saturating_mul(2);
        if let Some(share) = wide::div_small(slashed, halves) {
            for winner in &winners {
                rewards.0.push(*winner);
                rewards.1.push(share);
            }
        }
        split(&right, self.params.validator_reward.get(), &mut rewards);
        self._settle(job_id, outcome, rewards.0, rewards.1)
    }

    /// Pays the claimants whose claims won half of the asserter's slash `S`, in equal shares,
    /// straight from its stake (a claimant holds no stake that epoch rewards could go to).
    /// Returns the nominal amount assigned, which the rest of the slash leaves out.
    fn pay_claimants(&mut self, asserter: Address, claimants: &[Address]) -> Result<U256> {
        let count = u32::try_from(claimants.len()).unwrap_or(u32::MAX).saturating_mul(2);
        let Some(share) = wide::div_small(self.params.slash_amount.get(), count) else {
            return Ok(U256::ZERO);
        };
        let mut assigned = U256::ZERO;
        for claimant in claimants {
            self._slash(asserter, share, *claimant)?;
            assigned = assigned.saturating_add(share);
        }
        Ok(assigned)
    }
}
