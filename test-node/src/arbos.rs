//! ArbOS as this node presents it: the addresses of its precompiles, the account that collects
//! the network's fees, the version it reports and its L2 base fee. Everything that speaks to
//! ArbOS (the precompiles, retryable tickets, blocks, the EVM configuration) reads them here.

use alloy_primitives::{Address, address};

/// ArbSys.
pub const ARB_SYS: Address = address!("0000000000000000000000000000000000000064");
/// ArbGasInfo.
pub const ARB_GAS_INFO: Address = address!("000000000000000000000000000000000000006c");
/// ArbRetryableTx.
pub const ARB_RETRYABLE_TX: Address = address!("000000000000000000000000000000000000006e");
/// NodeInterface.
pub const NODE_INTERFACE: Address = address!("00000000000000000000000000000000000000c8");
/// ArbOwnerPublic.
pub const ARB_OWNER_PUBLIC: Address = address!("000000000000000000000000000000000000006b");
/// ArbOwner.
pub const ARB_OWNER: Address = address!("0000000000000000000000000000000000000070");
/// ArbWasm.
pub const ARB_WASM: Address = address!("0000000000000000000000000000000000000071");
/// ArbDebug.
pub const ARB_DEBUG: Address = address!("00000000000000000000000000000000000000ff");
/// Where ArbWasm sends activation data fees on this node.
pub const NETWORK_FEE_ACCOUNT: Address = address!("00000000000000000000000000000000000a4b05");

/// ArbOS version reported in the header's mix digest.
pub(crate) const ARBOS_VERSION: u64 = 60;

/// Nitro's default (and on this node, constant) L2 base fee: 0.1 gwei.
pub const BASE_FEE: u64 = 100_000_000;
