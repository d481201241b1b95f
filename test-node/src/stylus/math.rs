//! The `math_*` host functions: 256-bit arithmetic in place in wasm memory (zero divisors and
//! moduli give zero, like the EVM).

use alloy_primitives::U256;
use wasmtime::{Linker, Result};

use super::{
    memory::{charge_ink, read_u256, write_u256},
    state::{Ctx, HostState},
};

fn binary(c: &mut Ctx<'_>, ink: u64, a: u32, b: u32, op: fn(U256, U256) -> U256) -> Result<()> {
    charge_ink(c, ink)?;
    let (x, y) = (read_u256(c, a)?, read_u256(c, b)?);
    write_u256(c, a, op(x, y))
}

fn ternary(
    c: &mut Ctx<'_>,
    ink: u64,
    a: u32,
    b: u32,
    m: u32,
    op: fn(U256, U256, U256) -> U256,
) -> Result<()> {
    charge_ink(c, ink)?;
    let (x, y, z) = (read_u256(c, a)?, read_u256(c, b)?, read_u256(c, m)?);
    write_u256(c, a, op(x, y, z))
}

/// Registers the math imports.
pub(crate) fn link(linker: &mut Linker<HostState>) -> Result<()> {
    linker.func_wrap("vm_hooks", "math_div", |mut c: Ctx<'_>, a: u32, b: u32| {
        binary(&mut c, 43_520, a, b, |x, y| x.checked_div(y).unwrap_or_default())
    })?;
    linker.func_wrap("vm_hooks", "math_mod", |mut c: Ctx<'_>, a: u32, b: u32| {
        binary(&mut c, 43_520, a, b, |x, y| x.checked_rem(y).unwrap_or_default())
    })?;
    linker.func_wrap("vm_hooks", "math_pow", |mut c: Ctx<'_>, a: u32, b: u32| {
        let exponent = read_u256(&mut c, b)?;
        let bytes = u64::from(exponent.bit_len().div_ceil(8) as u32);
        charge_ink(&mut c, 3_000 + 17_500 * bytes)?;
        binary(&mut c, 23_520, a, b, |x, y| x.pow(y))
    })?;
    linker.func_wrap("vm_hooks", "math_add_mod", |mut c: Ctx<'_>, a: u32, b: u32, m: u32| {
        ternary(
            &mut c,
            49_560,
            a,
            b,
            m,
            |x, y, z| if z.is_zero() { U256::ZERO } else { x.add_mod(y, z) },
        )
    })?;
    linker.func_wrap("vm_hooks", "math_mul_mod", |mut c: Ctx<'_>, a: u32, b: u32, m: u32| {
        ternary(
            &mut c,
            52_660,
            a,
            b,
            m,
            |x, y, z| if z.is_zero() { U256::ZERO } else { x.mul_mod(y, z) },
        )
    })?;
    Ok(())
}
