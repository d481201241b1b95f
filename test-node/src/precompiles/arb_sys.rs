//! ArbSys (0x64): L2 block number and hashes, chain id, ArbOS version and the caller queries.

use std::convert::Infallible;

use alloy_primitives::U256;
use alloy_sol_types::{SolCall, SolInterface, sol};
use revm::{
    context::{Block, Cfg, ContextTr, JournalTr},
    database::Database,
    interpreter::InterpreterResult,
};

use super::PrecompileCall;
use crate::chain::ARBOS_VERSION;

sol! {
    interface ArbSys {
        function arbBlockNumber() external view returns (uint256);
        function arbBlockHash(uint256 arbBlockNum) external view returns (bytes32);
        function arbChainID() external view returns (uint256);
        function arbOSVersion() external view returns (uint256);
        function getStorageGasAvailable() external view returns (uint256);
        function isTopLevelCall() external view returns (bool);
        function wasMyCallersAddressAliased() external view returns (bool);
        function myCallersAddressWithoutAliasing() external view returns (address);
    }
}

/// Serves a call to ArbSys.
pub(super) fn run<CTX>(ctx: &mut CTX, call: PrecompileCall<'_>) -> InterpreterResult
where
    CTX: ContextTr<Db: Database<Error = Infallible>>,
{
    use ArbSys::ArbSysCalls as C;
    let Ok(decoded) = C::abi_decode(&call.input) else {
        return call.revert(Vec::new());
    };
    let number: U256 = ctx.block().number();
    match decoded {
        C::arbBlockNumber(_) => call.ok(ArbSys::arbBlockNumberCall::abi_encode_returns(&number)),
        C::arbBlockHash(args) => {
            let requested = args.arbBlockNum;
            if requested >= number || number - requested > U256::from(256) {
                return call.revert(alloy_sol_types::SolError::abi_encode(
                    &alloy_sol_types::Revert::from("invalid block number for ArbBlockHash"),
                ));
            }
            let hash = ctx
                .journal_mut()
                .db_mut()
                .block_hash(requested.saturating_to())
                .unwrap_or_else(|never| match never {});
            call.ok(ArbSys::arbBlockHashCall::abi_encode_returns(&hash))
        }
        C::arbChainID(_) => {
            let chain_id = U256::from(ctx.cfg().chain_id());
            call.ok(ArbSys::arbChainIDCall::abi_encode_returns(&chain_id))
        }
        // Nitro reports 55 + the ArbOS version.
        C::arbOSVersion(_) => {
            call.ok(ArbSys::arbOSVersionCall::abi_encode_returns(&U256::from(55 + ARBOS_VERSION)))
        }
        C::getStorageGasAvailable(_) => {
            call.ok(ArbSys::getStorageGasAvailableCall::abi_encode_returns(&U256::ZERO))
        }
        C::isTopLevelCall(_) => {
            let top = ctx.journal_mut().depth() <= 2;
            call.ok(ArbSys::isTopLevelCallCall::abi_encode_returns(&top))
        }
        C::wasMyCallersAddressAliased(_) => {
            call.ok(ArbSys::wasMyCallersAddressAliasedCall::abi_encode_returns(&false))
        }
        C::myCallersAddressWithoutAliasing(_) => {
            let caller = call.inputs.caller;
            call.ok(ArbSys::myCallersAddressWithoutAliasingCall::abi_encode_returns(&caller))
        }
    }
}
