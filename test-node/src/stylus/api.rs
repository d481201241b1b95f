//! What a running Stylus program needs from the EVM around it: the interface the host
//! functions call, implemented by the node's EVM (`arb_evm`).

use alloy_primitives::{Address, B256, Bytes, Log, U256};

/// Kinds of calls a program can make.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum CallKind {
    Call,
    Delegate,
    Static,
}

/// The frame a program runs in.
#[derive(Clone, Debug)]
pub(crate) struct FrameEnv {
    /// The acting (storage) address; under DELEGATECALL the caller's.
    pub(crate) acting: Address,
    /// `msg.sender`.
    pub(crate) caller: Address,
    /// `msg.value`.
    pub(crate) value: U256,
    /// Static context: no storage writes, logs, creates or value calls.
    pub(crate) is_static: bool,
    /// Another frame of the same acting address is open below this one.
    pub(crate) reentrant: bool,
    /// Call depth of this frame.
    pub(crate) depth: usize,
}

/// Block and transaction values a program can read.
#[derive(Clone, Copy, Debug)]
pub(crate) struct BlockValues {
    pub(crate) basefee: U256,
    pub(crate) chain_id: u64,
    pub(crate) coinbase: Address,
    pub(crate) gas_limit: u64,
    pub(crate) number: u64,
    pub(crate) timestamp: u64,
    pub(crate) gas_price: U256,
    pub(crate) origin: Address,
}

/// The outcome of a nested call or create.
#[derive(Clone, Debug, Default)]
pub(crate) struct SubcallResult {
    pub(crate) success: bool,
    /// Return data: output on success, revert data on revert, empty on halt.
    pub(crate) output: Bytes,
    /// Gas the callee did not use.
    pub(crate) gas_left: u64,
    /// The created address (creates only, on success).
    pub(crate) created: Option<Address>,
}

/// EVM access for host functions. Costs follow EIP-2929: the `bool`s say "cold".
pub(crate) trait EvmApi {
    fn sload(&mut self, address: Address, key: U256) -> (U256, bool);
    /// Stores a slot and returns the gas the SSTORE costs.
    fn sstore(&mut self, address: Address, key: U256, value: U256) -> u64;
    fn tload(&mut self, address: Address, key: U256) -> U256;
    fn tstore(&mut self, address: Address, key: U256, value: U256);
    fn log(&mut self, log: Log);
    fn balance(&mut self, address: Address) -> (U256, bool);
    fn code(&mut self, address: Address) -> (Bytes, bool);
    fn code_hash(&mut self, address: Address) -> (B256, bool);
    /// Whether `address` is an empty account (for the new-account surcharge).
    fn is_empty(&mut self, address: Address) -> bool;
    fn block(&self) -> BlockValues;
    fn call(
        &mut self,
        frame: &FrameEnv,
        kind: CallKind,
        target: Address,
        input: Bytes,
        value: U256,
        gas: u64,
    ) -> SubcallResult;
    fn create(
        &mut self,
        frame: &FrameEnv,
        code: Bytes,
        value: U256,
        salt: Option<B256>,
        gas: u64,
    ) -> SubcallResult;
}
