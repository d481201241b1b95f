//! Calls out of the market: the model registry, staking, the token, the sampling contract, ArbSys
//! and dApp callbacks.
//! Every failure becomes `ExternalCallFailed(target)`, except callbacks, whose failure is only
//! logged so a broken consumer cannot block its own job.

use alloc::vec::Vec;

use alloy_primitives::{address, Address, B256, U256};
use alloy_sol_types::SolCall;
use assay_contract_kit::calls::{call_mut, call_view};
use stylus_sdk::{call::RawCall, prelude::*};

use crate::{
    IArbSys, IAssayJobConsumer, IAssayToken, IJobMarket, IModelRegistry, ISampling, IStaking,
    JobMarket, MarketError, Result,
};

/// The ArbSys precompile.
pub const ARB_SYS: Address = address!("0x0000000000000000000000000000000000000064");
/// Blocks back that `ArbSys.arbBlockHash` answers for.
pub const BLOCK_HASH_WINDOW: u64 = 256;
/// Gas given to a dApp's `onJobResult`.
pub const CALLBACK_GAS: u64 = 200_000;

fn failed(target: Address) -> MarketError {
    IJobMarket::ExternalCallFailed { target }.into()
}

impl JobMarket {
    /// `(price, active)` of a registered model.
    pub(crate) fn _model(&self, model_id: B256) -> Result<(U256, bool)> {
        let registry = self.registry.get();
        let entry = call_view(self, registry, &IModelRegistry::modelCall { modelId: model_id })
            .ok_or_else(|| failed(registry))?;
        if entry.owner.is_zero() {
            return Err(IJobMarket::UnknownModel { modelId: model_id }.into());
        }
        Ok((entry.pricePerUnit, entry.active))
    }

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

    pub(crate) fn _is_eligible(&self, operator: Address, role: u8) -> Result<bool> {
        let staking = self.staking.get();
        call_view(self, staking, &IStaking::isEligibleCall { operator, role })
            .ok_or_else(|| failed(staking))
    }

    /// Slashes up to `amount` and burns it; returns what was taken.
    pub(crate) fn _slash(&mut self, operator: Address, amount: U256) -> Result<U256> {
        let staking = self.staking.get();
        let call = IStaking::slashCall { operator, amount, recipient: Address::ZERO };
        call_mut(self, staking, &call).ok_or_else(|| failed(staking))
    }

    pub(crate) fn _adjust_reputation(&mut self, operator: Address, delta: i32) -> Result<()> {
        let staking = self.staking.get();
        call_mut(self, staking, &IStaking::adjustReputationCall { operator, delta })
            .map(|_| ())
            .ok_or_else(|| failed(staking))
    }

    /// Mints `amount` to the staking contract and credits it to `operator`'s pool.
    pub(crate) fn _pay_reward(&mut self, operator: Address, amount: U256) -> Result<()> {
        let (token, staking) = (self.token.get(), self.staking.get());
        call_mut(self, token, &IAssayToken::mintCall { to: staking, value: amount })
            .ok_or_else(|| failed(token))?;
        call_mut(self, staking, &IStaking::addRewardCall { operator, amount })
            .ok_or_else(|| failed(staking))?;
        Ok(())
    }

    /// Hands an asserted job to the sampling contract; returns whether anything (validators the
    /// coin drew, bonded claims) challenges it.
    #[allow(clippy::too_many_arguments)]
    pub(crate) fn _open_challenge(
        &mut self,
        job_id: U256,
        seed: B256,
        model_id: B256,
        asserter: Address,
        job_key: B256,
        output_hash: B256,
        challenged: bool,
    ) -> Result<bool> {
        let sampling = self.sampling.get();
        let call = ISampling::openChallengeCall {
            jobId: job_id,
            seed,
            modelId: model_id,
            asserter,
            jobKey: job_key,
            outputHash: output_hash,
            challenged,
        };
        call_mut(self, sampling, &call).ok_or_else(|| failed(sampling))
    }

    /// The current L2 block number.
    pub(crate) fn _l2_block(&self) -> Result<u64> {
        let number = call_view(self, ARB_SYS, &IArbSys::arbBlockNumberCall {})
            .ok_or_else(|| failed(ARB_SYS))?;
        u64::try_from(number).map_err(|_| failed(ARB_SYS))
    }

    /// The hash of L2 block `number` if it is inside the ArbSys window, else the hash of the
    /// block before `current` and `late = true`. Requires `number < current`.
    pub(crate) fn _draw_hash(&self, number: u64, current: u64) -> Result<(B256, bool)> {
        if current <= number {
            return Err(
                IJobMarket::TooEarly { notBefore: number.saturating_add(1), current }.into()
            );
        }
        let late = current.saturating_sub(number) > BLOCK_HASH_WINDOW;
        let target = if late { current.saturating_sub(1) } else { number };
        let call = IArbSys::arbBlockHashCall { arbBlockNum: U256::from(target) };
        let hash = call_view(self, ARB_SYS, &call).ok_or_else(|| failed(ARB_SYS))?;
        Ok((hash, late))
    }

    /// Calls the consumer's `onJobResult` with a bounded stipend; returns whether it succeeded.
    pub(crate) fn _deliver(
        &mut self,
        callback: Address,
        job_id: U256,
        output_hash: B256,
        trace_root: B256,
    ) -> bool {
        let data = IAssayJobConsumer::onJobResultCall {
            jobId: job_id,
            outputHash: output_hash,
            traceRoot: trace_root,
        }
        .abi_encode();
        self.vm().flush_cache(true);
        // SAFETY: the storage cache was flushed and cleared above, so the callee (which may call
        // back in) sees current state and we re-read storage afterwards.
        unsafe {
            RawCall::new(self.vm())
                .gas(CALLBACK_GAS)
                .skip_return_data()
                .call(callback, &data)
                .is_ok()
        }
    }
}
