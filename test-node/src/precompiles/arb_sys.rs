//! ArbSys (0x64): L2 block number and hashes, chain id, ArbOS version and the caller queries.

use std::convert::Infallible;

use alloy_primitives::{Address, Log, U256};
use alloy_sol_types::{SolCall, SolEvent, SolInterface, sol};
use revm::{
    context::{Block, Cfg, ContextTr, JournalTr, Transaction},
    context_interface::journaled_state::account::JournaledAccountTr,
    database::Database,
    interpreter::InterpreterResult,
};

use super::{
    call::PrecompileCall,
    merkle::{self, SendItem},
};
use crate::arbos::{ARB_SYS, ARBOS_VERSION};

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
        function mapL1SenderContractAddressToL2Alias(address sender, address unused) external pure returns (address);
        function sendTxToL1(address destination, bytes data) external payable returns (uint256);
        function withdrawEth(address destination) external payable returns (uint256);
    }
    event L2ToL1Tx(address caller, address indexed destination, uint256 indexed hash, uint256 indexed position, uint256 arbBlockNum, uint256 ethBlockNum, uint256 timestamp, uint256 callvalue, bytes data);
    event SendMerkleUpdate(uint256 indexed reserved, bytes32 indexed hash, uint256 indexed position);
}

/// Serves a call to ArbSys; `in_retry` tells whether the transaction is a retryable's retry,
/// whose sender is an aliased L1 address.
pub(super) fn run<CTX>(ctx: &mut CTX, call: PrecompileCall<'_>, in_retry: bool) -> InterpreterResult
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
            let aliased = in_retry && caller_called_by_origin(ctx);
            call.ok(ArbSys::wasMyCallersAddressAliasedCall::abi_encode_returns(&aliased))
        }
        C::mapL1SenderContractAddressToL2Alias(args) => {
            let alias = crate::retryables::l1_to_l2_alias(args.sender);
            call.ok(ArbSys::mapL1SenderContractAddressToL2AliasCall::abi_encode_returns(&alias))
        }
        C::sendTxToL1(args) => send_to_l1(ctx, call, args.destination, args.data.to_vec()),
        C::withdrawEth(args) => send_to_l1(ctx, call, args.destination, Vec::new()),
        C::myCallersAddressWithoutAliasing(_) => {
            // In a retry, the contract the retry called learns the L1 sender.
            let caller = if in_retry && caller_called_by_origin(ctx) {
                crate::retryables::l2_to_l1_alias(ctx.tx().caller())
            } else {
                call.inputs.caller
            };
            call.ok(ArbSys::myCallersAddressWithoutAliasingCall::abi_encode_returns(&caller))
        }
    }
}

/// Whether ArbSys's caller was called by the transaction's sender (the caller is the
/// transaction's target: this call is at depth 2).
fn caller_called_by_origin<CTX: ContextTr>(ctx: &mut CTX) -> bool {
    ctx.journal_mut().depth() == 2
}

/// `sendTxToL1` / `withdrawEth`: appends to the send accumulator, burns the value and emits
/// `L2ToL1Tx` (and `SendMerkleUpdate` for completed subtrees).
fn send_to_l1<CTX>(
    ctx: &mut CTX,
    mut call: PrecompileCall<'_>,
    destination: Address,
    data: Vec<u8>,
) -> InterpreterResult
where
    CTX: ContextTr<Db: Database<Error = Infallible>>,
{
    if call.inputs.is_static {
        return call.revert(Vec::new());
    }
    if !call.charge(20_000 + 375 * 4 + 8 * data.len() as u64) {
        return call.out_of_gas();
    }
    let value = call.inputs.value.get();
    let item = SendItem {
        caller: call.inputs.caller,
        destination,
        l2_block: ctx.block().number(),
        l1_block: ctx.block().number(),
        timestamp: ctx.block().timestamp(),
        value,
        data,
    };
    let hash = merkle::send_hash(&item);
    let (index, updates) = merkle::append(ctx, hash);
    let journal = ctx.journal_mut();
    if !value.is_zero() {
        let mut account = journal.load_account_mut(ARB_SYS).unwrap_or_else(|never| match never {});
        account.data.decr_balance(value);
    }
    for (level, node) in updates {
        let position = (U256::from(level) << 192) | U256::from(index);
        let update = SendMerkleUpdate { reserved: U256::ZERO, hash: node, position };
        journal.log(Log { address: ARB_SYS, data: update.encode_log_data() });
    }
    let event = L2ToL1Tx {
        caller: item.caller,
        destination,
        hash: hash.into(),
        position: U256::from(index),
        arbBlockNum: item.l2_block,
        ethBlockNum: item.l1_block,
        timestamp: item.timestamp,
        callvalue: value,
        data: item.data.into(),
    };
    journal.log(Log { address: ARB_SYS, data: event.encode_log_data() });
    call.ok(ArbSys::sendTxToL1Call::abi_encode_returns(&U256::from(index)))
}
