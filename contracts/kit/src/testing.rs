//! A test host for contracts that call other contracts (feature `testing`, tests only).
//!
//! The SDK's `TestVM` answers every call with the return data of the most recently *mocked*
//! call, not of the call being made, so a test that mocks several calls up front reads the wrong
//! bytes. [`MockHost`] wraps a `TestVM` for everything else (storage, logs, block and message
//! values, all its setters through `Deref`) and answers each call with the data mocked for it.
//! An unmocked call reverts with empty data, like a call to an account without code that
//! returns nothing would fail to decode.
//!
//! [`MockHost::route`] instead hands every call to an address to a handler, so a test can wire
//! two real contracts, each on its own `MockHost` (its own storage), to call each other.
#![allow(clippy::arithmetic_side_effects)] // test support, never in a contract

use alloc::vec::Vec;
use core::{cell::RefCell, ops::Deref, slice};
use std::{collections::HashMap, rc::Rc};

use alloy_primitives::{Address, B256, U256};
use stylus_sdk::{
    stylus_core::{
        AccountAccess, BlockAccess, CalldataAccess, ChainAccess, CryptographyAccess, Host,
        MemoryAccess, MessageAccess, MeteringAccess, RawLogAccess, StorageAccess, UnsafeCallAccess,
        UnsafeDeploymentAccess,
    },
    testing::TestVM,
};

type Reply = Result<Vec<u8>, Vec<u8>>;
type Mocks<K> = Rc<RefCell<HashMap<K, Reply>>>;
/// A live callee: `(calldata, value, is_static) -> reply`.
pub type Handler = Rc<dyn Fn(&[u8], U256, bool) -> Reply>;

/// `TestVM` with per-call mocked replies. See the module docs.
#[derive(Clone, Default)]
pub struct MockHost {
    vm: TestVM,
    calls: Mocks<(Address, Vec<u8>, U256)>,
    static_calls: Mocks<(Address, Vec<u8>)>,
    routes: Rc<RefCell<HashMap<Address, Handler>>>,
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

    /// Sends every call to `to` (mutating or static) to `handler` instead of the mocks.
    pub fn route(&self, to: Address, handler: Handler) {
        self.routes.borrow_mut().insert(to, handler);
    }

    fn routed(&self, to: Address, data: &[u8], value: U256, is_static: bool) -> Option<Reply> {
        let handler = self.routes.borrow().get(&to).cloned()?;
        Some(handler(data, value, is_static))
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

/// A handler that runs calls through contract `C`'s router on `callee` (the contract's own
/// host and storage), as `caller`: the callee sees `msg.sender == caller` and the call's value,
/// both restored afterwards. Returns what the entry point returned or reverted with.
pub fn contract_handler<C>(callee: &MockHost, caller: Address) -> Handler
where
    C: for<'a> From<&'a MockHost>
        + stylus_sdk::abi::Router<C>
        + stylus_sdk::stylus_core::storage::TopLevelStorage
        + core::borrow::BorrowMut<<C as stylus_sdk::abi::Router<C>>::Storage>
        + stylus_sdk::stylus_core::ValueDenier,
{
    let callee = callee.clone();
    Rc::new(move |data: &[u8], value: U256, _is_static: bool| {
        let (sender, old_value) = (callee.msg_sender(), callee.msg_value());
        callee.set_sender(caller);
        callee.set_value(value);
        let mut contract = C::from(&callee);
        let reply = match data.get(..4) {
            Some(selector) => {
                let selector =
                    u32::from_be_bytes([selector[0], selector[1], selector[2], selector[3]]);
                <C as stylus_sdk::abi::Router<C>>::route(&mut contract, selector, &data[4..])
                    .unwrap_or(Err(Vec::new()))
            }
            None => Err(Vec::new()),
        };
        callee.flush_cache(false);
        callee.set_sender(sender);
        callee.set_value(old_value);
        reply
    })
}

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
        let reply = match self.routed(to, &data, value, false) {
            Some(reply) => Some(reply),
            None => self.calls.borrow().get(&(to, data, value)).cloned(),
        };
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
        let reply = match self.routed(to, &data, U256::ZERO, true) {
            Some(reply) => Some(reply),
            None => self.static_calls.borrow().get(&(to, data)).cloned(),
        };
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
    unsafe fn create1(
        &self,
        code: *const u8,
        len: usize,
        endowment: *const u8,
        contract: *mut u8,
        revert: *mut usize,
    ) {
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

/// Checks a contract's ABI as `cargo stylus export-abi` prints it (`exported`) against the
/// committed copy at `committed` (rewritten instead when `UPDATE_ABI=1`), and checks that its
/// function and error selectors are exactly `functions` and `errors`, the selectors of the
/// hand-written `.sol` interfaces the contract claims to implement.
///
/// # Panics
/// On any drift, with a message naming the missing and unexpected signatures.
pub fn check_abi(
    exported: &str,
    committed: &std::path::Path,
    functions: &[[u8; 4]],
    errors: &[[u8; 4]],
) {
    if std::env::var_os("UPDATE_ABI").is_some() {
        std::fs::write(committed, exported).expect("write the committed ABI");
    }
    let on_disk = std::fs::read_to_string(committed).unwrap_or_default();
    assert!(
        on_disk == exported,
        "exported ABI drifted from {} (run the test with UPDATE_ABI=1 to accept):\n{exported}",
        committed.display()
    );
    compare("function", exported, functions);
    compare("error", exported, errors);
}

fn compare(kind: &str, exported: &str, expected: &[[u8; 4]]) {
    let found = signatures(kind, exported);
    let found_selectors: std::collections::BTreeSet<[u8; 4]> =
        found.iter().map(|s| selector(s)).collect();
    let expected: std::collections::BTreeSet<[u8; 4]> = expected.iter().copied().collect();
    let unexpected: Vec<&String> =
        found.iter().filter(|s| !expected.contains(&selector(s))).collect();
    let missing = expected.difference(&found_selectors).count();
    assert!(
        unexpected.is_empty() && missing == 0,
        "{kind}s differ from the .sol interface: not in the interface {unexpected:?}, {missing} missing from the contract"
    );
}

fn selector(signature: &str) -> [u8; 4] {
    let hash = alloy_primitives::keccak256(signature.as_bytes());
    [hash[0], hash[1], hash[2], hash[3]]
}

/// Canonical signatures (`name(type,type)`) of every `kind` item in an exported ABI.
fn signatures(kind: &str, exported: &str) -> Vec<String> {
    let prefix = alloc::format!("{kind} ");
    exported
        .lines()
        .map(str::trim)
        .filter_map(|line| line.strip_prefix(prefix.as_str()))
        .filter_map(|rest| {
            let (name, tail) = rest.split_once('(')?;
            let params = tail.split(')').next()?;
            let types: Vec<&str> = params
                .split(',')
                .map(str::trim)
                .filter(|p| !p.is_empty())
                .filter_map(|p| p.split_whitespace().next())
                .collect();
            Some(alloc::format!("{name}({})", types.join(",")))
        })
        .collect()
}

/// Defines the test `exported_abi_matches_interface` for `$contract`: its export must equal the
/// committed `contracts/abi/$file` and its selectors those of the listed `sol!` interfaces.
///
/// ```ignore
/// assay_contract_kit::abi_test!(Staking, "Staking.sol", [IStaking::IStakingCalls, IOwnable::IOwnableCalls],
///     [IStaking::IStakingErrors, IOwnable::IOwnableErrors]);
/// ```
#[macro_export]
macro_rules! abi_test {
    ($contract:ty, $file:literal, [$($calls:ty),*], [$($errors:ty),*]) => {
        #[test]
        fn exported_abi_matches_interface() {
            use ::alloy_sol_types::SolInterface;
            let functions: Vec<[u8; 4]> = [$(<$calls>::selectors().collect::<Vec<_>>()),*].concat();
            let errors: Vec<[u8; 4]> = [$(<$errors>::selectors().collect::<Vec<_>>()),*].concat();
            let path = ::std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join(concat!("../abi/", $file));
            $crate::testing::check_abi(&$crate::exported_abi!($contract), &path, &functions, &errors);
        }
    };
}

/// Renders a contract's exported ABI text.
#[macro_export]
macro_rules! exported_abi {
    ($contract:ty) => {{
        struct Render;
        impl ::core::fmt::Display for Render {
            fn fmt(&self, f: &mut ::core::fmt::Formatter<'_>) -> ::core::fmt::Result {
                <$contract as ::stylus_sdk::abi::GenerateAbi>::fmt_abi(f)
            }
        }
        Render.to_string()
    }};
}
