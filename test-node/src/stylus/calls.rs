//! Host functions that leave the program: calls, creates, return data and logs.

use alloy_primitives::{Address, B256, Bytes, Log, LogData, U256};
use wasmtime::{Error, Linker, Result};

use super::{
    api::CallKind,
    memory::{
        charge_gas, charge_ink, gas_left, read, read_address, read_ink, read_u256, read_word,
        refund_gas, write, write_ink,
    },
    state::{Ctx, HOSTIO_INK, HostState, api, write_protection},
};

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

/// Registers the call, create, return-data and log imports.
pub(super) fn link(linker: &mut Linker<HostState>) -> Result<()> {
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
