//! ArbGasInfo (0x6c). This node has no L1 pricing: all L1 fees are zero.

use alloy_primitives::U256;
use alloy_sol_types::{SolCall, SolInterface, sol};
use revm::interpreter::InterpreterResult;

use super::call::PrecompileCall;
use crate::arbos::BASE_FEE;

sol! {
    interface ArbGasInfo {
        function getPricesInWei() external view returns (uint256, uint256, uint256, uint256, uint256, uint256);
        function getL1BaseFeeEstimate() external view returns (uint256);
        function getMinimumGasPrice() external view returns (uint256);
        function getCurrentTxL1GasFees() external view returns (uint256);
        function getL1GasPriceEstimate() external view returns (uint256);
    }
}

/// Serves ArbGasInfo.
pub(super) fn gas_info(call: PrecompileCall<'_>) -> InterpreterResult {
    use ArbGasInfo::ArbGasInfoCalls as C;
    let base = U256::from(BASE_FEE);
    let zero = U256::ZERO;
    match C::abi_decode(&call.input) {
        Ok(C::getPricesInWei(_)) => call.ok(ArbGasInfo::getPricesInWeiCall::abi_encode_returns(
            &ArbGasInfo::getPricesInWeiReturn {
                _0: zero,
                _1: zero,
                _2: zero,
                _3: base,
                _4: zero,
                _5: base,
            },
        )),
        Ok(C::getL1BaseFeeEstimate(_)) => {
            call.ok(ArbGasInfo::getL1BaseFeeEstimateCall::abi_encode_returns(&zero))
        }
        Ok(C::getMinimumGasPrice(_)) => {
            call.ok(ArbGasInfo::getMinimumGasPriceCall::abi_encode_returns(&base))
        }
        Ok(C::getCurrentTxL1GasFees(_)) => {
            call.ok(ArbGasInfo::getCurrentTxL1GasFeesCall::abi_encode_returns(&zero))
        }
        Ok(C::getL1GasPriceEstimate(_)) => {
            call.ok(ArbGasInfo::getL1GasPriceEstimateCall::abi_encode_returns(&zero))
        }
        Err(_) => call.revert(Vec::new()),
    }
}
