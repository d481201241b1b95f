//! NodeInterface (0xc8): the outbox proof for L2 -> L1 sends and the block-number queries
//! tools make. Served like a precompile, so it answers `eth_call` and `eth_estimateGas`.

use std::convert::Infallible;

use alloy_sol_types::{SolCall, SolInterface, sol};
use revm::{context::ContextTr, database::Database, interpreter::InterpreterResult};

use super::{call::PrecompileCall, merkle};

sol! {
    interface NodeInterface {
        function constructOutboxProof(uint64 size, uint64 leaf) external view returns (bytes32 send, bytes32 root, bytes32[] proof);
        function nitroGenesisBlock() external pure returns (uint256 number);
        function blockL1Num(uint64 l2BlockNum) external view returns (uint64 l1BlockNum);
    }
}

/// Serves a call to NodeInterface.
pub(super) fn run<CTX>(ctx: &mut CTX, call: PrecompileCall<'_>) -> InterpreterResult
where
    CTX: ContextTr<Db: Database<Error = Infallible>>,
{
    use NodeInterface::NodeInterfaceCalls as C;
    let Ok(decoded) = C::abi_decode(&call.input) else {
        return call.revert(Vec::new());
    };
    match decoded {
        C::constructOutboxProof(args) => {
            let sends = merkle::sends(ctx);
            if args.size == 0 || args.size > sends.len() as u64 || args.leaf >= args.size {
                let reason = format!("leaf {} is not in a tree of size {}", args.leaf, args.size);
                return call.revert(alloy_sol_types::SolError::abi_encode(
                    &alloy_sol_types::Revert::from(reason),
                ));
            }
            let sends = &sends[..args.size as usize];
            let result = NodeInterface::constructOutboxProofReturn {
                send: sends[args.leaf as usize],
                root: merkle::root(sends),
                proof: merkle::proof(sends, args.leaf),
            };
            call.ok(NodeInterface::constructOutboxProofCall::abi_encode_returns(&result))
        }
        C::nitroGenesisBlock(_) => {
            call.ok(NodeInterface::nitroGenesisBlockCall::abi_encode_returns(&Default::default()))
        }
        // This node has no separate L1: the L1 block number is the L2 one.
        C::blockL1Num(args) => {
            call.ok(NodeInterface::blockL1NumCall::abi_encode_returns(&args.l2BlockNum))
        }
    }
}
