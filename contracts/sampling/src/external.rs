//! Calls out of the sampling contract: the model registry and staking (candidates, freezes,
//! slashes, reputation), the paired job market (settlements, parameters) and the dispute game
//! (openings). Every failure becomes `ExternalCallFailed(target)`.

use alloc::vec::Vec;

use alloy_primitives::{Address, B256, U256};
use assay_contract_kit::calls::{call_mut, call_view};

use crate::{
    IDisputeGame, IJobMarket, IModelRegistry, ISampling, IStaking, Result, Sampling, SamplingError,
};

fn failed(target: Address) -> SamplingError {
    ISampling::ExternalCallFailed { target }.into()
}

impl Sampling {
    /// Miners serving a model with their current selection weights (zero when ineligible).
    pub(crate) fn _candidates(&self, model_id: B256) -> Result<(Vec<Address>, Vec<U256>)> {
        let registry = self.registry.get();
        let servers = call_view(self, registry, &IModelRegistry::serversCall { modelId: model_id })
            .ok_or_else(|| failed(registry))?;
        let staking = self.staking.get();
        let weights =
            call_view(self, staking, &IStaking::weightsCall { operators: servers.clone() })
                .ok_or_else(|| failed(staking))?;
        if weights.len() != servers.len() {
            return Err(failed(staking));
        }
        Ok((servers, weights))
    }

    pub(crate) fn _freeze(&mut self, operator: Address) -> Result<()> {
        let staking = self.staking.get();
        call_mut(self, staking, &IStaking::freezeCall { operator })
            .map(|_| ())
            .ok_or_else(|| failed(staking))
    }

    pub(crate) fn _unfreeze(&mut self, operator: Address) -> Result<()> {
        let staking = self.staking.get();
        call_mut(self, staking, &IStaking::unfreezeCall { operator })
            .map(|_| ())
            .ok_or_else(|| failed(staking))
    }

    /// Slashes up to `amount` and sends it to `recipient`, or burns it when that is zero;
    /// returns what was taken.
    pub(crate) fn _slash(
        &mut self,
        operator: Address,
        amount: U256,
        recipient: Address,
    ) -> Result<U256> {
        let staking = self.staking.get();
        let call = IStaking::slashCall { operator, amount, recipient };
        call_mut(self, staking, &call).ok_or_else(|| failed(staking))
    }

    pub(crate) fn _adjust_reputation(&mut self, operator: Address, delta: i32) -> Result<()> {
        let staking = self.staking.get();
        call_mut(self, staking, &IStaking::adjustReputationCall { operator, delta })
            .map(|_| ())
            .ok_or_else(|| failed(staking))
    }

    /// `JobMarket.settleJob`: the verdict, with the rewards to accrue.
    pub(crate) fn _settle(
        &mut self,
        job_id: U256,
        outcome: u8,
        accounts: Vec<Address>,
        amounts: Vec<U256>,
    ) -> Result<()> {
        let market = self.job_market.get();
        let call = IJobMarket::settleJobCall { jobId: job_id, outcome, accounts, amounts };
        call_mut(self, market, &call).map(|_| ()).ok_or_else(|| failed(market))
    }

    /// `JobMarket.setMarketParams`: the parameters the market applies itself.
    pub(crate) fn _push_market_params(&mut self) -> Result<()> {
        let market = self.job_market.get();
        let p = &self.params;
        let call = IJobMarket::setMarketParamsCall {
            challengePpm: p.challenge_ppm.get().to(),
            asserterReward: p.asserter_reward.get(),
            slashAmount: p.slash_amount.get(),
            userDiscountBps: p.user_discount_bps.get().to(),
            assertTimeout: p.assert_timeout.get().to(),
            batchWindow: p.batch_window.get().to(),
            seedRevealGrace: p.seed_reveal_grace.get().to(),
        };
        call_mut(self, market, &call).map(|_| ()).ok_or_else(|| failed(market))
    }

    /// The sampling contract a dispute game is paired with; `None` when `game` does not answer.
    pub(crate) fn _game_sampling(&self, game: Address) -> Option<Address> {
        call_view(self, game, &IDisputeGame::configCall {}).map(|config| config.sampling)
    }

    /// `(modelId, traceRoot)` of an asserted job (`JobMarket.job`): the model and the trace root
    /// the asserter asserted with its output hash.
    pub(crate) fn _asserted_trace(&self, job_id: U256) -> Result<(B256, B256)> {
        let market = self.job_market.get();
        call_view(self, market, &IJobMarket::jobCall { jobId: job_id })
            .map(|job| (job.modelId, job.traceRoot))
            .ok_or_else(|| failed(market))
    }

    /// `DisputeGame.openGame`: the asserter defends, `challenger` challenges with its reveal.
    pub(crate) fn _open_game(
        &mut self,
        (job_id, model_id): (U256, B256),
        (defender, defender_output, defender_trace_root): (Address, B256, B256),
        (challenger, challenger_output, challenger_trace_root): (Address, B256, B256),
    ) -> Result<()> {
        let game = self.dispute_game.get();
        let call = IDisputeGame::openGameCall {
            jobId: job_id,
            modelId: model_id,
            defender,
            defenderOutput: defender_output,
            defenderTraceRoot: defender_trace_root,
            challenger,
            challengerOutput: challenger_output,
            challengerTraceRoot: challenger_trace_root,
        };
        call_mut(self, game, &call).map(|_| ()).ok_or_else(|| failed(game))
    }

    /// `DisputeGame.takeClaims`: the bonded claims waiting for a job, `(claimants, output
    /// hashes, trace roots)`; none before a game is paired.
    #[allow(clippy::type_complexity)]
    pub(crate) fn _game_take_claims(
        &mut self,
        key: B256,
        job_id: U256,
        drawn: Vec<Address>,
    ) -> Result<(Vec<Address>, Vec<B256>, Vec<B256>)> {
        let game = self.dispute_game.get();
        if game.is_zero() {
            return Ok((Vec::new(), Vec::new(), Vec::new()));
        }
        let call = IDisputeGame::takeClaimsCall { key, jobId: job_id, drawn };
        let claims = call_mut(self, game, &call).ok_or_else(|| failed(game))?;
        let (claimants, outputs, traces) =
            (claims.claimants, claims.outputHashes, claims.traceRoots);
        if outputs.len() != claimants.len() || traces.len() != claimants.len() {
            return Err(failed(game));
        }
        Ok((claimants, outputs, traces))
    }
}
