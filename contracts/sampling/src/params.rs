//! Protocol parameters and their validation: a parameter set that breaks the honesty condition
//! `p * (1 - r^n) * (R_A + S) > C` never takes effect. The ones the job market applies itself
//! are copied to it in the same transaction (`JobMarket.setMarketParams`).

use alloy_primitives::{
    aliases::{U16, U32, U64, U8},
    U256,
};
use assay_contract_common::honesty::{self, HonestyError};
use stylus_sdk::prelude::*;

use crate::{ISampling, Result, Sampling, SamplingError};

/// Most validators a challenge may draw (bounds the gas of a challenge).
pub const MAX_VALIDATORS: u8 = 8;

/// A full parameter set, as `setParams` takes it.
pub(crate) struct NewParams {
    pub(crate) challenge_ppm: u32,
    pub(crate) validators: u8,
    pub(crate) asserter_reward: U256,
    pub(crate) validator_reward: U256,
    pub(crate) slash_amount: U256,
    pub(crate) cheat_cost: U256,
    pub(crate) collusion_ppm: u32,
    pub(crate) user_discount_bps: u16,
    pub(crate) assert_timeout: u64,
    pub(crate) commit_timeout: u64,
    pub(crate) reveal_timeout: u64,
    pub(crate) batch_window: u64,
    pub(crate) seed_reveal_grace: u64,
}

fn honesty_error(e: HonestyError) -> SamplingError {
    match e {
        HonestyError::Unprofitable { expected_loss_scaled, cheat_cost_scaled } => {
            ISampling::HonestyConditionViolated {
                expectedLossScaled: expected_loss_scaled,
                cheatCostScaled: cheat_cost_scaled,
            }
            .into()
        }
        HonestyError::FractionOutOfRange | HonestyError::NoValidators | HonestyError::Overflow => {
            ISampling::InvalidParams {}.into()
        }
    }
}

impl Sampling {
    pub(crate) fn _set_params(&mut self, new: NewParams) -> Result<()> {
        let timeouts =
            [new.assert_timeout, new.commit_timeout, new.reveal_timeout, new.batch_window];
        if new.validators > MAX_VALIDATORS
            || new.user_discount_bps > 10_000
            || timeouts.contains(&0)
        {
            return Err(ISampling::InvalidParams {}.into());
        }
        honesty::check(
            new.challenge_ppm,
            new.validators,
            new.collusion_ppm,
            new.asserter_reward,
            new.slash_amount,
            new.cheat_cost,
        )
        .map_err(honesty_error)?;
        let p = &mut self.params;
        p.challenge_ppm.set(U32::from(new.challenge_ppm));
        p.validators.set(U8::from(new.validators));
        p.asserter_reward.set(new.asserter_reward);
        p.validator_reward.set(new.validator_reward);
        p.slash_amount.set(new.slash_amount);
        p.cheat_cost.set(new.cheat_cost);
        p.collusion_ppm.set(U32::from(new.collusion_ppm));
        p.user_discount_bps.set(U16::from(new.user_discount_bps));
        p.assert_timeout.set(U64::from(new.assert_timeout));
        p.commit_timeout.set(U64::from(new.commit_timeout));
        p.reveal_timeout.set(U64::from(new.reveal_timeout));
        p.batch_window.set(U64::from(new.batch_window));
        p.seed_reveal_grace.set(U64::from(new.seed_reveal_grace));
        assay_contract_kit::emit(
            self.vm(),
            ISampling::ParamsUpdated {
                challengePpm: new.challenge_ppm,
                validators: new.validators,
                asserterReward: new.asserter_reward,
                validatorReward: new.validator_reward,
                slashAmount: new.slash_amount,
            },
        );
        self._push_market_params()
    }
}
