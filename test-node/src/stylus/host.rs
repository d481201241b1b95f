//! The `vm_hooks` host functions a Stylus program imports, with Nitro's semantics: a storage
//! cache flushed on request, calls and creates with status codes and return data, logs, the
//! reentrancy flag, block and transaction values. Debug `console` imports print to the log.

use alloy_primitives::{U256, keccak256};
use wasmtime::{Error, Linker, Result};

use super::{
    calls, env, math,
    memory::{charge_gas, charge_ink, read, read_ink, read_u256, write, write_ink, write_u256},
    state::{Ctx, ExitEarly, HOSTIO_INK, HostState, Slot, api, write_protection},
};

/// Registers every import of module `vm_hooks` (and the debug `console` module).
pub(crate) fn link(linker: &mut Linker<HostState>) -> Result<()> {
    link_io(linker)?;
    link_storage(linker)?;
    calls::link(linker)?;
    env::link_accounts(linker)?;
    env::link_values(linker)?;
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
