//! ArbGasInfo (0x6c) and ArbRetryableTx (0x6e). This node has no L1 pricing (all L1 fees are
//! zero) and no L1 inbox, so no retryable tickets exist: ticket queries answer
//! `NoTicketWithID()` like Nitro does for unknown tickets.

use alloy_primitives::U256;
use alloy_sol_types::{SolCall, SolError, SolInterface, sol};
use revm::interpreter::InterpreterResult;

use super::PrecompileCall;
use crate::evm::BASE_FEE;

sol! {
    interface ArbGasInfo {
        function getPricesInWei() external view returns (uint256, uint256, uint256, uint256, uint256, uint256);
        function getL1BaseFeeEstimate() external view returns (uint256);
        function getMinimumGasPrice() external view returns (uint256);
        function getCurrentTxL1GasFees() external view returns (uint256);
        function getL1GasPriceEstimate() external view returns (uint256);
    }
    interface ArbRetryableTx {
        function getLifetime() external view returns (uint256);
        function getTimeout(bytes32 ticketId) external view returns (uint256);
        function getBeneficiary(bytes32 ticketId) external view returns (address);
        function keepalive(bytes32 ticketId) external returns (uint256);
        function redeem(bytes32 ticketId) external returns (bytes32);
        function cancel(bytes32 ticketId) external;
        function getCurrentRedeemer() external view returns (address);
        function submitRetryable(bytes32 requestId, uint256 l1BaseFee, uint256 deposit, uint256 callvalue, uint256 gasFeeCap, uint64 gasLimit, uint256 maxSubmissionFee, address feeRefundAddress, address beneficiary, address retryTo, bytes retryData) external;
    }
    error NoTicketWithID();
    error NotCallable();
}

/// Retryable lifetime: 7 days.
const LIFETIME_SECONDS: u64 = 604_800;

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

/// Serves ArbRetryableTx.
pub(super) fn retryable(call: PrecompileCall<'_>) -> InterpreterResult {
    use ArbRetryableTx::ArbRetryableTxCalls as C;
    match C::abi_decode(&call.input) {
        Ok(C::getLifetime(_)) => call
            .ok(ArbRetryableTx::getLifetimeCall::abi_encode_returns(&U256::from(LIFETIME_SECONDS))),
        Ok(C::getCurrentRedeemer(_)) => {
            call.ok(ArbRetryableTx::getCurrentRedeemerCall::abi_encode_returns(&Default::default()))
        }
        Ok(C::submitRetryable(_)) => call.revert(NotCallable {}.abi_encode()),
        Ok(
            C::getTimeout(_) | C::getBeneficiary(_) | C::keepalive(_) | C::redeem(_) | C::cancel(_),
        ) => call.revert(NoTicketWithID {}.abi_encode()),
        Err(_) => call.revert(Vec::new()),
    }
}
