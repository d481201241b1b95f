//! The `vm_hooks` host functions a Stylus program imports, with Nitro's semantics: a storage
//! cache flushed on request, calls and creates with status codes and return data, logs, the
//! reentrancy flag, block and transaction values. Debug `console` imports print to the log.

use std::collections::BTreeMap;

use alloy_primitives::{Address, B256, Bytes, KECCAK256_EMPTY, Log, LogData, U256, keccak256};
use wasmtime::{Error, Linker, ResourceLimiter, Result};

use super::{
    api::{CallKind, EvmApi, FrameEnv},
    math,
    memory::{
        Ctx, INK_PRICE, charge_gas, charge_ink, gas_left, ink_left, read, read_address, read_ink,
        read_u256, read_word, refund_gas, write, write_ink, write_u256,
    },
};

/// Nitro's base ink per host call.
const HOSTIO_INK: u64 = 8_400;
/// Ink for host calls that reach into the EVM.
const EVM_API_INK: u64 = 59_673;
/// Pages Nitro lets a program use per transaction.
pub(crate) const PAGE_LIMIT: u64 = 128;
/// Size of a wasm page.
const PAGE_SIZE: usize = 65_536;

/// Why a program stopped early (`exit_early`).
#[derive(Debug, thiserror::Error)]
#[error("exit_early({0})")]
pub(crate) struct ExitEarly(pub(crate) u32);

/// Memory growth limits; also counts pages grown so they can be charged.
#[derive(Debug, Default)]
pub(crate) struct Limits {
    pub(crate) grown_pages: u64,
}

impl ResourceLimiter for Limits {
    fn memory_growing(
        &mut self,
        current: usize,
        desired: usize,
        _max: Option<usize>,
    ) -> Result<bool> {
        if desired / PAGE_SIZE > PAGE_LIMIT as usize {
            return Ok(false);
        }
        // Creating the memory (current = 0) is paid by the call's entry cost, not as growth.
        if current > 0 {
            self.grown_pages += ((desired - current) / PAGE_SIZE) as u64;
        }
        Ok(true)
    }

    fn table_growing(
        &mut self,
        _current: usize,
        desired: usize,
        _max: Option<usize>,
    ) -> Result<bool> {
        Ok(desired <= 4096)
    }
}

/// A slot in the storage cache.
#[derive(Clone, Copy, Debug)]
struct Slot {
    value: U256,
    dirty: bool,
}

/// Per-invocation state of a program.
pub(crate) struct HostState {
    /// The EVM running this program. Valid for the whole synchronous call that owns the store.
    pub(crate) api: *mut (dyn EvmApi + 'static),
    pub(crate) frame: FrameEnv,
    pub(crate) args: Bytes,
    pub(crate) outs: Vec<u8>,
    pub(crate) return_data: Bytes,
    pub(crate) limits: Limits,
    cache: BTreeMap<U256, Slot>,
}

impl HostState {
    /// State for a call with `args`.
    pub(crate) fn new(api: *mut (dyn EvmApi + 'static), frame: FrameEnv, args: Bytes) -> Self {
        Self {
            api,
            frame,
            args,
            outs: Vec::new(),
            return_data: Bytes::new(),
            limits: Limits::default(),
            cache: BTreeMap::new(),
        }
    }
}

fn api<'a>(caller: &Ctx<'_>) -> &'a mut dyn EvmApi {
    // SAFETY: `api` points at the EVM that created this store and is blocked in the wasm call
    // that runs this host function; nothing else touches it until the call returns, and the
    // store (with this pointer) is dropped before that EVM is used again.
    unsafe { &mut *caller.data().api }
}

fn write_protection() -> Error {
    Error::msg("write protection")
}

/// Registers every import of module `vm_hooks` (and the debug `console` module).
pub(crate) fn link(linker: &mut Linker<HostState>) -> Result<()> {
    link_io(linker)?;
    link_storage(linker)?;
    link_calls(linker)?;
    link_accounts(linker)?;
    link_values(linker)?;
    math::link(linker)?;
    link_console(linker)
}

fn link_io(linker: &mut Linker<HostState>) -> Result<()> {
    linker.func_wrap("vm_hooks", "read_args", |mut c: Ctx<'_>, dest: u32| {
        let args = c.data().args.clone();
        charge_ink(&mut c, HOSTIO_INK + write_ink(args.len() as u32))?;
        write(&mut c, dest, &args)
    })?;
    linker.func_wrap("vm_hooks", "write_result", |mut c: Ctx<'_>, ptr: u32, len: u32| {
        charge_ink(&mut c, HOSTIO_INK + 2 * read_ink(len))?;
        let data = read(&mut c, ptr, len)?;
        c.data_mut().outs = data;
        Ok(())
    })?;
    linker.func_wrap("vm_hooks", "exit_early", |_: Ctx<'_>, status: u32| -> Result<()> {
        Err(Error::new(ExitEarly(status)))
    })?;
    linker.func_wrap("vm_hooks", "pay_for_memory_grow", |mut c: Ctx<'_>, pages: u32| {
        charge_ink(&mut c, HOSTIO_INK)?;
        charge_gas(&mut c, memory_gas(u64::from(pages)))
    })?;
    linker.func_wrap(
        "vm_hooks",
        "native_keccak256",
        |mut c: Ctx<'_>, ptr: u32, len: u32, out: u32| {
            let words = u64::from(len.div_ceil(32));
            charge_ink(&mut c, 121_800 + 21_000 * words.saturating_sub(2))?;
            let data = read(&mut c, ptr, len)?;
            write(&mut c, out, keccak256(data).as_slice())
        },
    )?;
    Ok(())
}

/// Gas for growing memory by `pages` (Nitro's linear part: 1000 gas a page; the exponential
/// ramp is not modelled).
pub(crate) fn memory_gas(pages: u64) -> u64 {
    pages * 1_000
}

fn link_storage(linker: &mut Linker<HostState>) -> Result<()> {
    linker.func_wrap(
        "vm_hooks",
        "storage_load_bytes32",
        |mut c: Ctx<'_>, key: u32, dest: u32| {
            charge_ink(&mut c, 2 * HOSTIO_INK + 1_680)?;
            let key = read_u256(&mut c, key)?;
            let value = match c.data().cache.get(&key) {
                Some(slot) => slot.value,
                None => {
                    let acting = c.data().frame.acting;
                    let (value, cold) = api(&c).sload(acting, key);
                    charge_gas(&mut c, if cold { 2_100 } else { 100 })?;
                    c.data_mut().cache.insert(key, Slot { value, dirty: false });
                    value
                }
            };
            write_u256(&mut c, dest, value)
        },
    )?;
    linker.func_wrap(
        "vm_hooks",
        "storage_cache_bytes32",
        |mut c: Ctx<'_>, key: u32, value: u32| {
            charge_ink(&mut c, 2 * HOSTIO_INK + 1_680)?;
            let key = read_u256(&mut c, key)?;
            let value = read_u256(&mut c, value)?;
            c.data_mut().cache.insert(key, Slot { value, dirty: true });
            Ok(())
        },
    )?;
    linker.func_wrap("vm_hooks", "storage_flush_cache", |mut c: Ctx<'_>, clear: u32| {
        charge_ink(&mut c, 68_073)?;
        let dirty: Vec<(U256, U256)> =
            c.data().cache.iter().filter(|(_, s)| s.dirty).map(|(k, s)| (*k, s.value)).collect();
        if !dirty.is_empty() && c.data().frame.is_static {
            return Err(write_protection());
        }
        let acting = c.data().frame.acting;
        for (key, value) in dirty {
            let cost = api(&c).sstore(acting, key, value);
            charge_gas(&mut c, cost)?;
            c.data_mut().cache.insert(key, Slot { value, dirty: false });
        }
        if clear != 0 {
            c.data_mut().cache.clear();
        }
        Ok(())
    })?;
    linker.func_wrap(
        "vm_hooks",
        "transient_load_bytes32",
        |mut c: Ctx<'_>, key: u32, dest: u32| {
            charge_ink(&mut c, 78_153)?;
            charge_gas(&mut c, 100)?;
            let key = read_u256(&mut c, key)?;
            let value = api(&c).tload(c.data().frame.acting, key);
            write_u256(&mut c, dest, value)
        },
    )?;
    linker.func_wrap(
        "vm_hooks",
        "transient_store_bytes32",
        |mut c: Ctx<'_>, key: u32, value: u32| {
            charge_ink(&mut c, 78_153)?;
            charge_gas(&mut c, 100)?;
            if c.data().frame.is_static {
                return Err(write_protection());
            }
            let key = read_u256(&mut c, key)?;
            let value = read_u256(&mut c, value)?;
            api(&c).tstore(c.data().frame.acting, key, value);
            Ok(())
        },
    )?;
    Ok(())
}

/// Runs a call for `call_contract` / `delegate_call_contract` / `static_call_contract`.
#[allow(clippy::too_many_arguments)]
fn do_call(
    c: &mut Ctx<'_>,
    kind: CallKind,
    target: u32,
    data: u32,
    len: u32,
    value: Option<u32>,
    gas: u64,
    ret_len: u32,
) -> Result<u32> {
    charge_ink(c, 83_193 + 2 * read_ink(len))?;
    let target = read_address(c, target)?;
    let input: Bytes = read(c, data, len)?.into();
    let value = match value {
        Some(ptr) => read_u256(c, ptr)?,
        None => U256::ZERO,
    };
    if c.data().frame.is_static && !value.is_zero() {
        return Err(write_protection());
    }
    let (_, cold) = api(c).balance(target);
    let mut base = if cold { 2_600 } else { 100 };
    if !value.is_zero() {
        base += 9_000;
        if api(c).is_empty(target) {
            base += 25_000;
        }
    }
    charge_gas(c, base)?;
    let available = gas_left(c);
    let passed = gas.min(available - available / 64);
    charge_gas(c, passed)?;
    let stipend = if value.is_zero() { 0 } else { 2_300 };
    let frame = c.data().frame.clone();
    let result = api(c).call(&frame, kind, target, input, value, passed + stipend);
    refund_gas(c, result.gas_left.min(passed))?;
    write(c, ret_len, &(result.output.len() as u32).to_le_bytes())?;
    c.data_mut().return_data = result.output;
    Ok(if result.success { 0 } else { 2 })
}

/// Runs `create1` / `create2`.
fn do_create(
    c: &mut Ctx<'_>,
    code: u32,
    len: u32,
    endowment: u32,
    salt: Option<u32>,
    out: u32,
    ret_len: u32,
) -> Result<()> {
    charge_ink(c, 83_193 + 2 * read_ink(len))?;
    if c.data().frame.is_static {
        return Err(write_protection());
    }
    let init: Bytes = read(c, code, len)?.into();
    let value = read_u256(c, endowment)?;
    let salt = match salt {
        Some(ptr) => Some(read_word(c, ptr)?),
        None => None,
    };
    let words = u64::from(len.div_ceil(32));
    let hashing = if salt.is_some() { 6 * words } else { 0 };
    charge_gas(c, 32_000 + 2 * words + hashing)?;
    let available = gas_left(c);
    let passed = available - available / 64;
    charge_gas(c, passed)?;
    let frame = c.data().frame.clone();
    let result = api(c).create(&frame, init, value, salt, passed);
    refund_gas(c, result.gas_left.min(passed))?;
    let address = result.created.unwrap_or(Address::ZERO);
    // Return data is kept only when the init code reverted.
    let data = if result.success { Bytes::new() } else { result.output };
    write(c, out, address.as_slice())?;
    write(c, ret_len, &(data.len() as u32).to_le_bytes())?;
    c.data_mut().return_data = data;
    Ok(())
}

fn link_calls(linker: &mut Linker<HostState>) -> Result<()> {
    linker.func_wrap(
        "vm_hooks",
        "call_contract",
        |mut c: Ctx<'_>, target: u32, data: u32, len: u32, value: u32, gas: u64, ret: u32| {
            do_call(&mut c, CallKind::Call, target, data, len, Some(value), gas, ret)
        },
    )?;
    linker.func_wrap(
        "vm_hooks",
        "delegate_call_contract",
        |mut c: Ctx<'_>, target: u32, data: u32, len: u32, gas: u64, ret: u32| {
            do_call(&mut c, CallKind::Delegate, target, data, len, None, gas, ret)
        },
    )?;
    linker.func_wrap(
        "vm_hooks",
        "static_call_contract",
        |mut c: Ctx<'_>, target: u32, data: u32, len: u32, gas: u64, ret: u32| {
            do_call(&mut c, CallKind::Static, target, data, len, None, gas, ret)
        },
    )?;
    linker.func_wrap(
        "vm_hooks",
        "create1",
        |mut c: Ctx<'_>, code: u32, len: u32, endowment: u32, out: u32, ret: u32| {
            do_create(&mut c, code, len, endowment, None, out, ret)
        },
    )?;
    linker.func_wrap(
        "vm_hooks",
        "create2",
        |mut c: Ctx<'_>, code: u32, len: u32, endowment: u32, salt: u32, out: u32, ret: u32| {
            do_create(&mut c, code, len, endowment, Some(salt), out, ret)
        },
    )?;
    linker.func_wrap(
        "vm_hooks",
        "read_return_data",
        |mut c: Ctx<'_>, dest: u32, offset: u32, size: u32| {
            charge_ink(&mut c, 68_073 + write_ink(size))?;
            let data = c.data().return_data.clone();
            let start = (offset as usize).min(data.len());
            let end = start.saturating_add(size as usize).min(data.len());
            write(&mut c, dest, &data[start..end])?;
            Ok((end - start) as u32)
        },
    )?;
    linker.func_wrap("vm_hooks", "return_data_size", |mut c: Ctx<'_>| {
        charge_ink(&mut c, HOSTIO_INK)?;
        Ok(c.data().return_data.len() as u32)
    })?;
    linker.func_wrap(
        "vm_hooks",
        "emit_log",
        |mut c: Ctx<'_>, data: u32, len: u32, topics: u32| {
            charge_ink(&mut c, 68_073 + read_ink(len))?;
            if c.data().frame.is_static {
                return Err(write_protection());
            }
            if topics > 4 || len < topics * 32 {
                return Err(Error::msg("bad log"));
            }
            let bytes = read(&mut c, data, len)?;
            let payload = (len - topics * 32) as u64;
            charge_gas(&mut c, 375 + 375 * u64::from(topics) + 8 * payload)?;
            let (head, body) = bytes.split_at(topics as usize * 32);
            let topics = head.chunks(32).map(B256::from_slice).collect();
            let log = Log {
                address: c.data().frame.acting,
                data: LogData::new_unchecked(topics, body.to_vec().into()),
            };
            api(&c).log(log);
            Ok(())
        },
    )?;
    Ok(())
}

fn link_accounts(linker: &mut Linker<HostState>) -> Result<()> {
    fn access(c: &mut Ctx<'_>, cold: bool) -> Result<()> {
        charge_gas(c, if cold { 2_600 } else { 100 })
    }
    linker.func_wrap("vm_hooks", "account_balance", |mut c: Ctx<'_>, addr: u32, dest: u32| {
        charge_ink(&mut c, EVM_API_INK + 18_480)?;
        let address = read_address(&mut c, addr)?;
        let (balance, cold) = api(&c).balance(address);
        access(&mut c, cold)?;
        write_u256(&mut c, dest, balance)
    })?;
    linker.func_wrap(
        "vm_hooks",
        "account_code",
        |mut c: Ctx<'_>, addr: u32, offset: u32, size: u32, dest: u32| {
            charge_ink(&mut c, 68_073 + write_ink(size))?;
            let address = read_address(&mut c, addr)?;
            let (code, cold) = api(&c).code(address);
            access(&mut c, cold)?;
            let start = (offset as usize).min(code.len());
            let end = start.saturating_add(size as usize).min(code.len());
            write(&mut c, dest, &code[start..end])?;
            Ok((end - start) as u32)
        },
    )?;
    linker.func_wrap("vm_hooks", "account_code_size", |mut c: Ctx<'_>, addr: u32| {
        charge_ink(&mut c, 68_073)?;
        let address = read_address(&mut c, addr)?;
        let (code, cold) = api(&c).code(address);
        access(&mut c, cold)?;
        Ok(code.len() as u32)
    })?;
    linker.func_wrap("vm_hooks", "account_codehash", |mut c: Ctx<'_>, addr: u32, dest: u32| {
        charge_ink(&mut c, EVM_API_INK + 18_480)?;
        let address = read_address(&mut c, addr)?;
        let (hash, cold) = api(&c).code_hash(address);
        access(&mut c, cold)?;
        let hash = if hash.is_zero() { KECCAK256_EMPTY } else { hash };
        write(&mut c, dest, hash.as_slice())
    })?;
    Ok(())
}

fn link_values(linker: &mut Linker<HostState>) -> Result<()> {
    linker.func_wrap("vm_hooks", "evm_gas_left", |mut c: Ctx<'_>| {
        charge_ink(&mut c, HOSTIO_INK)?;
        Ok(gas_left(&c))
    })?;
    linker.func_wrap("vm_hooks", "evm_ink_left", |mut c: Ctx<'_>| {
        charge_ink(&mut c, HOSTIO_INK)?;
        Ok(ink_left(&c))
    })?;
    linker.func_wrap("vm_hooks", "tx_ink_price", |mut c: Ctx<'_>| {
        charge_ink(&mut c, HOSTIO_INK)?;
        Ok(INK_PRICE as u32)
    })?;
    linker.func_wrap("vm_hooks", "chainid", |mut c: Ctx<'_>| {
        charge_ink(&mut c, HOSTIO_INK)?;
        Ok(api(&c).block().chain_id)
    })?;
    linker.func_wrap("vm_hooks", "block_gas_limit", |mut c: Ctx<'_>| {
        charge_ink(&mut c, HOSTIO_INK)?;
        Ok(api(&c).block().gas_limit)
    })?;
    linker.func_wrap("vm_hooks", "block_number", |mut c: Ctx<'_>| {
        charge_ink(&mut c, HOSTIO_INK)?;
        Ok(api(&c).block().number)
    })?;
    linker.func_wrap("vm_hooks", "block_timestamp", |mut c: Ctx<'_>| {
        charge_ink(&mut c, HOSTIO_INK)?;
        Ok(api(&c).block().timestamp)
    })?;
    linker.func_wrap("vm_hooks", "msg_reentrant", |mut c: Ctx<'_>| {
        charge_ink(&mut c, HOSTIO_INK)?;
        Ok(u32::from(c.data().frame.reentrant))
    })?;
    type Word = fn(&Ctx<'_>) -> [u8; 32];
    let words: [(&str, Word); 5] = [
        ("block_basefee", |c| api(c).block().basefee.to_be_bytes()),
        ("msg_value", |c| c.data().frame.value.to_be_bytes()),
        ("tx_gas_price", |c| api(c).block().gas_price.to_be_bytes()),
        ("block_coinbase", |c| B256::left_padding_from(api(c).block().coinbase.as_slice()).0),
        ("msg_sender", |c| B256::left_padding_from(c.data().frame.caller.as_slice()).0),
    ];
    for (name, get) in words {
        let is_address = matches!(name, "block_coinbase" | "msg_sender");
        linker.func_wrap("vm_hooks", name, move |mut c: Ctx<'_>, dest: u32| {
            charge_ink(&mut c, HOSTIO_INK + 5_040)?;
            let word = get(&c);
            write(&mut c, dest, if is_address { &word[12..] } else { &word[..] })
        })?;
    }
    linker.func_wrap("vm_hooks", "tx_origin", |mut c: Ctx<'_>, dest: u32| {
        charge_ink(&mut c, HOSTIO_INK + 5_040)?;
        let origin = api(&c).block().origin;
        write(&mut c, dest, origin.as_slice())
    })?;
    linker.func_wrap("vm_hooks", "contract_address", |mut c: Ctx<'_>, dest: u32| {
        charge_ink(&mut c, HOSTIO_INK + 5_040)?;
        let acting = c.data().frame.acting;
        write(&mut c, dest, acting.as_slice())
    })?;
    Ok(())
}

fn link_console(linker: &mut Linker<HostState>) -> Result<()> {
    linker.func_wrap("console", "log_txt", |mut c: Ctx<'_>, ptr: u32, len: u32| {
        let text = read(&mut c, ptr, len)?;
        tracing::info!(target: "stylus", "{}", String::from_utf8_lossy(&text));
        Ok(())
    })?;
    linker.func_wrap(
        "console",
        "log_i32",
        |_: Ctx<'_>, v: i32| tracing::info!(target: "stylus", "{v}"),
    )?;
    linker.func_wrap(
        "console",
        "log_i64",
        |_: Ctx<'_>, v: i64| tracing::info!(target: "stylus", "{v}"),
    )?;
    linker.func_wrap(
        "console",
        "log_f32",
        |_: Ctx<'_>, v: f32| tracing::info!(target: "stylus", "{v}"),
    )?;
    linker.func_wrap(
        "console",
        "log_f64",
        |_: Ctx<'_>, v: f64| tracing::info!(target: "stylus", "{v}"),
    )?;
    linker.func_wrap("console", "tee_i32", |_: Ctx<'_>, v: i32| v)?;
    linker.func_wrap("console", "tee_i64", |_: Ctx<'_>, v: i64| v)?;
    linker.func_wrap("console", "tee_f32", |_: Ctx<'_>, v: f32| v)?;
    linker.func_wrap("console", "tee_f64", |_: Ctx<'_>, v: f64| v)?;
    linker.func_wrap("debug", "null_host", |_: Ctx<'_>| {})?;
    linker.func_wrap("debug", "start_benchmark", |_: Ctx<'_>| {})?;
    linker.func_wrap("debug", "end_benchmark", |_: Ctx<'_>| {})?;
    Ok(())
}
