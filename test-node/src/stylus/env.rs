//! Host functions that read the environment: accounts, block and transaction values, the
//! message, and ink.

use alloy_primitives::{B256, KECCAK256_EMPTY};
use wasmtime::{Linker, Result};

use super::{
    memory::{
        INK_PRICE, charge_gas, charge_ink, gas_left, ink_left, read_address, write, write_ink,
        write_u256,
    },
    state::{Ctx, EVM_API_INK, HOSTIO_INK, HostState, api},
};

/// Registers the account queries.
pub(super) fn link_accounts(linker: &mut Linker<HostState>) -> Result<()> {
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

/// Registers the block, transaction, message and ink queries.
pub(super) fn link_values(linker: &mut Linker<HostState>) -> Result<()> {
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
