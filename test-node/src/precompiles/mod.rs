//! Arbitrum precompiles, served next to Ethereum's: ArbSys (0x64, with the L2 -> L1 send
//! accumulator), ArbWasm (0x71), ArbOwnerPublic (0x6b), ArbGasInfo (0x6c), ArbRetryableTx (0x6e,
//! retryable tickets), NodeInterface (0xc8), and ArbDebug / ArbOwner (0xff, 0x70) as accepted
//! no-ops.

mod arb_retryable;
mod arb_sys;
mod arb_wasm;
mod call;
mod fees;
pub mod merkle;
mod node_interface;

use std::convert::Infallible;

use alloy_primitives::Address;
use alloy_sol_types::{SolCall, SolInterface, sol};
use revm::{
    context::{Cfg, ContextTr},
    database::Database,
    handler::{EthPrecompiles, PrecompileProvider},
    interpreter::{CallInputs, Gas, InterpreterResult},
    primitives::{AddressSet, hardfork::SpecId},
};

pub use self::arb_wasm::ProgramNotActivated;
pub(crate) use self::arb_wasm::program_not_activated;
use self::call::PrecompileCall;
pub use crate::arbos::{
    ARB_DEBUG, ARB_GAS_INFO, ARB_OWNER, ARB_OWNER_PUBLIC, ARB_RETRYABLE_TX, ARB_SYS, ARB_WASM,
    NETWORK_FEE_ACCOUNT, NODE_INTERFACE,
};
use crate::retryables::retry::CurrentRetry;

/// Every Arbitrum precompile this node serves.
const ARBITRUM: [Address; 8] = [
    ARB_SYS,
    ARB_OWNER_PUBLIC,
    ARB_GAS_INFO,
    ARB_RETRYABLE_TX,
    ARB_OWNER,
    ARB_WASM,
    ARB_DEBUG,
    NODE_INTERFACE,
];
sol! {
    interface ArbOwnerPublic {
        function getMaxStylusContractFragments() external view returns (uint8);
        function getNetworkFeeAccount() external view returns (address);
        function getInfraFeeAccount() external view returns (address);
        function isChainOwner(address addr) external view returns (bool);
        function getAllChainOwners() external view returns (address[]);
        function getBrotliCompressionLevel() external view returns (uint64);
    }
}

/// Ethereum's precompiles plus Arbitrum's.
#[derive(Debug)]
pub(crate) struct ArbPrecompiles {
    eth: EthPrecompiles,
    warm: AddressSet,
    /// The retry the transaction runs (an `ArbitrumRetryTx`), for ArbRetryableTx.
    current_retry: Option<CurrentRetry>,
}

impl ArbPrecompiles {
    /// Precompiles for `spec`.
    pub(crate) fn new(spec: SpecId) -> Self {
        let mut this = Self {
            eth: EthPrecompiles::new(spec),
            warm: AddressSet::default(),
            current_retry: None,
        };
        this.rebuild_warm();
        this
    }

    /// Marks the transaction as the retry `retry` (or as none).
    pub(crate) fn set_current_retry(&mut self, retry: Option<CurrentRetry>) {
        self.current_retry = retry;
    }

    fn rebuild_warm(&mut self) {
        let mut warm = self.eth.precompiles.addresses_set().clone();
        warm.extend(ARBITRUM);
        self.warm = warm;
    }
}

/// ArbOwnerPublic: the dev account owns the chain, fees go to [`NETWORK_FEE_ACCOUNT`].
fn owner_public(call: PrecompileCall<'_>) -> InterpreterResult {
    use ArbOwnerPublic::{ArbOwnerPublicCalls as C, *};
    let owner = crate::genesis::DEV_ACCOUNT;
    match C::abi_decode(&call.input) {
        Ok(C::getMaxStylusContractFragments(_)) => {
            call.ok(getMaxStylusContractFragmentsCall::abi_encode_returns(&2))
        }
        Ok(C::getNetworkFeeAccount(_)) => {
            call.ok(getNetworkFeeAccountCall::abi_encode_returns(&NETWORK_FEE_ACCOUNT))
        }
        Ok(C::getInfraFeeAccount(_)) => {
            call.ok(getInfraFeeAccountCall::abi_encode_returns(&NETWORK_FEE_ACCOUNT))
        }
        Ok(C::isChainOwner(args)) => {
            call.ok(isChainOwnerCall::abi_encode_returns(&(args.addr == owner)))
        }
        Ok(C::getAllChainOwners(_)) => {
            call.ok(getAllChainOwnersCall::abi_encode_returns(&vec![owner]))
        }
        Ok(C::getBrotliCompressionLevel(_)) => {
            call.ok(getBrotliCompressionLevelCall::abi_encode_returns(&1))
        }
        Err(_) => call.revert(Vec::new()),
    }
}

impl<CTX> PrecompileProvider<CTX> for ArbPrecompiles
where
    CTX: ContextTr<Db: Database<Error = Infallible>>,
{
    type Output = InterpreterResult;

    fn set_spec(&mut self, spec: <CTX::Cfg as Cfg>::Spec) -> bool {
        let changed = <EthPrecompiles as PrecompileProvider<CTX>>::set_spec(&mut self.eth, spec);
        if changed {
            self.rebuild_warm();
        }
        changed
    }

    fn run(
        &mut self,
        context: &mut CTX,
        inputs: &CallInputs,
    ) -> Result<Option<InterpreterResult>, String> {
        let address = inputs.bytecode_address;
        if !ARBITRUM.contains(&address) {
            return self.eth.run(context, inputs);
        }
        let mut call = PrecompileCall {
            inputs,
            input: inputs.input.bytes(context),
            gas: Gas::new(inputs.gas_limit),
        };
        // Every precompile call costs at least a warm account access.
        if !call.charge(100) {
            return Ok(Some(call.out_of_gas()));
        }
        let result = match address {
            ARB_SYS => arb_sys::run(context, call, self.current_retry.is_some()),
            ARB_WASM => arb_wasm::run(context, call),
            NODE_INTERFACE => node_interface::run(context, call),
            ARB_GAS_INFO => fees::gas_info(call),
            ARB_RETRYABLE_TX => arb_retryable::run(context, call, self.current_retry),
            ARB_OWNER_PUBLIC => owner_public(call),
            // ArbOwner and ArbDebug accept anything and do nothing.
            _ => call.ok(Vec::new()),
        };
        Ok(Some(result))
    }

    fn warm_addresses(&self) -> &AddressSet {
        &self.warm
    }
}
