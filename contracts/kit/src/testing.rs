//! A test host for contracts that call other contracts (feature `testing`, tests only).
//!
//! The SDK's `TestVM` answers every call with the return data of the most recently *mocked*
//! call, not of the call being made, so a test that mocks several calls up front reads the wrong
//! bytes. [`MockHost`] wraps a `TestVM` for everything else (storage, logs, block and message
//! values, all its setters through `Deref`) and answers each call with the data mocked for it.
//! An unmocked call reverts with empty data, like a call to an account without code that
//! returns nothing would fail to decode.

use alloc::vec::Vec;
use core::{cell::RefCell, ops::Deref, slice};
use std::{collections::HashMap, rc::Rc};

use alloy_primitives::{Address, B256, U256};
use stylus_sdk::{
    stylus_core::{
        AccountAccess, BlockAccess, CalldataAccess, ChainAccess, CryptographyAccess, Host,
        MemoryAccess, MessageAccess, MeteringAccess, RawLogAccess, StorageAccess,
        UnsafeCallAccess, UnsafeDeploymentAccess,
    },
    testing::TestVM,
};

type Reply = Result<Vec<u8>, Vec<u8>>;

/// `TestVM` with per-call mocked replies. See the module docs.
#[derive(Clone, Default)]
pub struct MockHost {
    vm: TestVM,
    calls: Rc<RefCell<HashMap<(Address, Vec<u8>, U256), Reply>>>,
    static_calls: Rc<RefCell<HashMap<(Address, Vec<u8>), Reply>>>,
}

impl Deref for MockHost {
    type Target = TestVM;

    fn deref(&self) -> &TestVM {
        &self.vm
    }
}

impl MockHost {
    /// Answers a mutating call of `data` with `value` to `to` with `reply` (Err = revert data).
    pub fn mock_call(&self, to: Address, data: Vec<u8>, value: U256, reply: Reply) {
        self.calls.borrow_mut().insert((to, data, value), reply);
    }

    /// Answers a static call of `data` to `to` with `reply`.
    pub fn mock_static_call(&self, to: Address, data: Vec<u8>, reply: Reply) {
        self.static_calls.borrow_mut().insert((to, data), reply);
    }

    fn answer(&self, reply: Option<Reply>, outs_len: &mut usize) -> u8 {
        let (status, data) = match reply {
            Some(Ok(data)) => (0, data),
            Some(Err(data)) => (1, data),
            None => (1, Vec::new()),
        };
        self.vm.write_result(&data);
        *outs_len = data.len();
        status
    }
}

impl Host for MockHost {}

// SAFETY: pointers come from the SDK's call wrappers, which pass valid buffers of the given
// lengths (20-byte address, `data_len` bytes of calldata, 32-byte value).
unsafe impl UnsafeCallAccess for MockHost {
    unsafe fn call_contract(
        &self,
        to: *const u8,
        data: *const u8,
        data_len: usize,
        value: *const u8,
        _gas: u64,
        outs_len: &mut usize,
    ) -> u8 {
        let to = Address::from_slice(slice::from_raw_parts(to, 20));
        let data = slice::from_raw_parts(data, data_len).to_vec();
        let value = U256::from_be_slice(slice::from_raw_parts(value, 32));
        let reply = self.calls.borrow().get(&(to, data, value)).cloned();
        self.answer(reply, outs_len)
    }

    unsafe fn static_call_contract(
        &self,
        to: *const u8,
        data: *const u8,
        data_len: usize,
        _gas: u64,
        outs_len: &mut usize,
    ) -> u8 {
        let to = Address::from_slice(slice::from_raw_parts(to, 20));
        let data = slice::from_raw_parts(data, data_len).to_vec();
        let reply = self.static_calls.borrow().get(&(to, data)).cloned();
        self.answer(reply, outs_len)
    }

    unsafe fn delegate_call_contract(
        &self,
        _to: *const u8,
        _data: *const u8,
        _data_len: usize,
        _gas: u64,
        outs_len: &mut usize,
    ) -> u8 {
        self.answer(None, outs_len)
    }
}

impl CryptographyAccess for MockHost {
    fn native_keccak256(&self, input: &[u8]) -> B256 {
        self.vm.native_keccak256(input)
    }
}

impl CalldataAccess for MockHost {
    fn read_args(&self, len: usize) -> Vec<u8> {
        self.vm.read_args(len)
    }
    fn read_return_data(&self, offset: usize, size: Option<usize>) -> Vec<u8> {
        self.vm.read_return_data(offset, size)
    }
    fn return_data_size(&self) -> usize {
        self.vm.return_data_size()
    }
    fn write_result(&self, data: &[u8]) {
        self.vm.write_result(data)
    }
}

// SAFETY: forwards the caller's pointers unchanged to `TestVM`.
unsafe impl UnsafeDeploymentAccess for MockHost {
    unsafe fn create1(&self, code: *const u8, len: usize, endowment: *const u8, contract: *mut u8, revert: *mut usize) {
        self.vm.create1(code, len, endowment, contract, revert)
    }
    unsafe fn create2(
        &self,
        code: *const u8,
        len: usize,
        endowment: *const u8,
        salt: *const u8,
        contract: *mut u8,
        revert: *mut usize,
    ) {
        self.vm.create2(code, len, endowment, salt, contract, revert)
    }
}

impl StorageAccess for MockHost {
    fn storage_load_bytes32(&self, key: U256) -> B256 {
        self.vm.storage_load_bytes32(key)
    }
    unsafe fn storage_cache_bytes32(&self, key: U256, value: B256) {
        self.vm.storage_cache_bytes32(key, value)
    }
    fn flush_cache(&self, clear: bool) {
        self.vm.flush_cache(clear)
    }
}

impl BlockAccess for MockHost {
    fn block_basefee(&self) -> U256 {
        self.vm.block_basefee()
    }
    fn block_coinbase(&self) -> Address {
        self.vm.block_coinbase()
    }
    fn block_number(&self) -> u64 {
        self.vm.block_number()
    }
    fn block_timestamp(&self) -> u64 {
        self.vm.block_timestamp()
    }
    fn block_gas_limit(&self) -> u64 {
        self.vm.block_gas_limit()
    }
}

impl ChainAccess for MockHost {
    fn chain_id(&self) -> u64 {
        self.vm.chain_id()
    }
}

impl AccountAccess for MockHost {
    fn balance(&self, account: Address) -> U256 {
        self.vm.balance(account)
    }
    fn contract_address(&self) -> Address {
        self.vm.contract_address()
    }
    fn code(&self, account: Address) -> Vec<u8> {
        self.vm.code(account)
    }
    fn code_size(&self, account: Address) -> usize {
        self.vm.code_size(account)
    }
    fn code_hash(&self, account: Address) -> B256 {
        self.vm.code_hash(account)
    }
}

impl MemoryAccess for MockHost {
    fn pay_for_memory_grow(&self, pages: u16) {
        self.vm.pay_for_memory_grow(pages)
    }
}

impl MessageAccess for MockHost {
    fn msg_sender(&self) -> Address {
        self.vm.msg_sender()
    }
    fn msg_reentrant(&self) -> bool {
        self.vm.msg_reentrant()
    }
    fn msg_value(&self) -> U256 {
        self.vm.msg_value()
    }
    fn tx_origin(&self) -> Address {
        self.vm.tx_origin()
    }
}

impl MeteringAccess for MockHost {
    fn evm_gas_left(&self) -> u64 {
        self.vm.evm_gas_left()
    }
    fn evm_ink_left(&self) -> u64 {
        self.vm.evm_ink_left()
    }
    fn tx_gas_price(&self) -> U256 {
        self.vm.tx_gas_price()
    }
    fn tx_ink_price(&self) -> u32 {
        self.vm.tx_ink_price()
    }
}

impl RawLogAccess for MockHost {
    fn emit_log(&self, input: &[u8], num_topics: usize) {
        self.vm.emit_log(input, num_topics)
    }
    fn raw_log(&self, topics: &[B256], data: &[u8]) -> Result<(), &'static str> {
        self.vm.raw_log(topics, data)
    }
}
