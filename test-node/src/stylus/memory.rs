//! Access to a program's linear memory and to its ink from inside host functions.
//!
//! Ink is wasmtime fuel scaled by [`INK_PER_FUEL`]: most wasm operators cost one fuel, the
//! expensive ones (calls, branches, memory access, division) their Nitro price in fuel, and one
//! gas is [`INK_PRICE`] ink, as on Nitro.

use alloy_primitives::{Address, B256, U256};
use wasmtime::{Error, Extern, Memory, Result, Trap};

use super::state::Ctx;

/// Ink per gas (`tx_ink_price`, Nitro's `InkPrice`).
pub const INK_PRICE: u64 = 10_000;
/// Ink per unit of wasmtime fuel.
pub const INK_PER_FUEL: u64 = 50;
/// Fuel per gas.
pub(crate) const FUEL_PER_GAS: u64 = INK_PRICE / INK_PER_FUEL;

fn memory(caller: &mut Ctx<'_>) -> Result<Memory> {
    caller
        .get_export("memory")
        .and_then(Extern::into_memory)
        .ok_or_else(|| Error::msg("program exports no memory"))
}

/// Reads `len` bytes at `ptr`; out of bounds traps.
pub(crate) fn read(caller: &mut Ctx<'_>, ptr: u32, len: u32) -> Result<Vec<u8>> {
    let memory = memory(caller)?;
    // Check the range before allocating: `len` comes from the program.
    let end = u64::from(ptr) + u64::from(len);
    if end > memory.data_size(&*caller) as u64 {
        return Err(Error::msg("out of bounds read"));
    }
    let mut buf = vec![0u8; len as usize];
    memory.read(&*caller, ptr as usize, &mut buf).map_err(|_| Error::msg("out of bounds read"))?;
    Ok(buf)
}

/// Writes `data` at `ptr`; out of bounds traps.
pub(crate) fn write(caller: &mut Ctx<'_>, ptr: u32, data: &[u8]) -> Result<()> {
    let memory = memory(caller)?;
    memory.write(&mut *caller, ptr as usize, data).map_err(|_| Error::msg("out of bounds write"))
}

/// Reads a 32-byte word.
pub(crate) fn read_word(caller: &mut Ctx<'_>, ptr: u32) -> Result<B256> {
    Ok(B256::from_slice(&read(caller, ptr, 32)?))
}

/// Reads a big-endian 256-bit number.
pub(crate) fn read_u256(caller: &mut Ctx<'_>, ptr: u32) -> Result<U256> {
    Ok(read_word(caller, ptr)?.into())
}

/// Reads a 20-byte address.
pub(crate) fn read_address(caller: &mut Ctx<'_>, ptr: u32) -> Result<Address> {
    Ok(Address::from_slice(&read(caller, ptr, 20)?))
}

/// Writes a big-endian 256-bit number.
pub(crate) fn write_u256(caller: &mut Ctx<'_>, ptr: u32, value: U256) -> Result<()> {
    write(caller, ptr, &value.to_be_bytes::<32>())
}

/// Ink left.
pub(crate) fn ink_left(caller: &Ctx<'_>) -> u64 {
    caller.get_fuel().unwrap_or(0).saturating_mul(INK_PER_FUEL)
}

/// Gas left.
pub(crate) fn gas_left(caller: &Ctx<'_>) -> u64 {
    caller.get_fuel().unwrap_or(0) / FUEL_PER_GAS
}

/// Charges ink; running out traps with `OutOfFuel` like the wasm itself would.
pub(crate) fn charge_ink(caller: &mut Ctx<'_>, ink: u64) -> Result<()> {
    let fuel = ink.div_ceil(INK_PER_FUEL);
    let left = caller.get_fuel()?;
    if left < fuel {
        caller.set_fuel(0)?;
        return Err(Error::new(Trap::OutOfFuel));
    }
    caller.set_fuel(left - fuel)
}

/// Charges gas.
pub(crate) fn charge_gas(caller: &mut Ctx<'_>, gas: u64) -> Result<()> {
    charge_ink(caller, gas.saturating_mul(INK_PRICE))
}

/// Gives gas back (what a subcall did not use).
pub(crate) fn refund_gas(caller: &mut Ctx<'_>, gas: u64) -> Result<()> {
    let left = caller.get_fuel()?;
    caller.set_fuel(left.saturating_add(gas.saturating_mul(FUEL_PER_GAS)))
}

/// Nitro's ink for reading `n` bytes from wasm memory.
pub(crate) fn read_ink(n: u32) -> u64 {
    16_381 + 55 * u64::from(n.saturating_sub(32))
}

/// Nitro's ink for writing `n` bytes into wasm memory.
pub(crate) fn write_ink(n: u32) -> u64 {
    5_040 + 30 * u64::from(n.saturating_sub(32))
}
