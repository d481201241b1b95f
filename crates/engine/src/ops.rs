//! Single-op replay: re-executes one op from its committed inputs and returns the op's trace leaf
//! and output. This is what a dispute narrows down to.
//!
//! Encoding (little-endian): `kind u32 ‖ trace_op u32 ‖ args`, a tensor argument being
//! `rank u8 ‖ dims u32* ‖ data`. Kinds and arguments:
//! - 1 `gemm_i8`: a i8 `[m, k]`, w i8 `[n, k]` → i32 `[m, n]`
//! - 2 `linear`: x i32 `[m, k]`, w i8 `[n, k]`, mult `[n]`, r i32 `[n, k/32]`, b i32 `[n]` → i32
//!   `[m, n]` (see [`crate::linear`])
//! - 3 `layer_norm`: x i32 `[m, h]`, g i32 `[h]`, b i32 `[h]`, eps u64 → i32 `[m, h]`
//! - 4 `rms_norm`: x i32 `[m, h]`, g i32 `[h]`, eps u64 → i32 `[m, h]`
//! - 5 `softmax`: scores i32 `[.., t]`, exp lut i32 `[65536]` → u16 `[.., t]`
//! - 6 `lut`: x i32 `[..]`, lut i32 `[65536]` → i32 `[..]`
//! - 7 `residual`: a i32, b i32 of one shape → i32 (saturating sum)
//!
//! The result is `leaf ‖ dtype u8 ‖ rank u8 ‖ dims u32* ‖ data`, where `leaf` is
//! `tensor_leaf(trace_op, dims, data)`.

use alloc::{vec, vec::Vec};

use crate::{
    Error, Result,
    fixed::Multiplier,
    hash::{Element, tensor_leaf},
    kernels::{Kernels, Scalar},
    linear::{BLOCK, Linear},
    nonlin::{LUT_LEN, layer_norm, lut_act, rms_norm, softmax_u16},
};

/// Op kind: exact int8 GEMM.
pub const GEMM_I8: u32 = 1;
/// Op kind: quantised linear layer.
pub const LINEAR: u32 = 2;
/// Op kind: layer norm.
pub const LAYER_NORM: u32 = 3;
/// Op kind: RMS norm.
pub const RMS_NORM: u32 = 4;
/// Op kind: softmax.
pub const SOFTMAX: u32 = 5;
/// Op kind: lookup-table activation.
pub const LUT: u32 = 6;
/// Op kind: residual sum.
pub const RESIDUAL: u32 = 7;

struct Args<'a> {
    b: &'a [u8],
}

impl Args<'_> {
    fn take(&mut self, n: usize) -> Result<&[u8]> {
        if n > self.b.len() {
            return Err(Error::Input("op arguments are truncated".into()));
        }
        let (h, t) = self.b.split_at(n);
        self.b = t;
        Ok(h)
    }

    fn u32(&mut self) -> Result<u32> {
        Ok(u32::from_le_bytes(self.take(4)?.try_into().expect("4")))
    }

    fn u64(&mut self) -> Result<u64> {
        Ok(u64::from_le_bytes(self.take(8)?.try_into().expect("8")))
    }

    fn tensor<const W: usize, T>(&mut self, f: fn([u8; W]) -> T) -> Result<(Vec<u32>, Vec<T>)> {
        let rank = self.take(1)?[0];
        let dims = (0..rank).map(|_| self.u32()).collect::<Result<Vec<_>>>()?;
        let n = dims.iter().try_fold(1usize, |a, &d| a.checked_mul(d as usize));
        let n = n.filter(|n| n.checked_mul(W).is_some_and(|b| b <= self.b.len()));
        let n = n.ok_or_else(|| Error::Input("op tensor is larger than its data".into()))?;
        let data = self.take(n * W)?.chunks_exact(W).map(|c| f(c.try_into().expect("W"))).collect();
        Ok((dims, data))
    }

    fn i8s(&mut self) -> Result<(Vec<u32>, Vec<i8>)> {
        self.tensor::<1, i8>(|b| b[0] as i8)
    }

    fn i32s(&mut self) -> Result<(Vec<u32>, Vec<i32>)> {
        self.tensor(i32::from_le_bytes)
    }

    fn mults(&mut self) -> Result<(Vec<u32>, Vec<Multiplier>)> {
        self.tensor(Multiplier::from_le_bytes)
    }
}

fn matrix(dims: &[u32]) -> Result<(usize, usize)> {
    match dims {
        [m, k] => Ok((*m as usize, *k as usize)),
        _ => Err(Error::Input("expected a matrix".into())),
    }
}

fn check(ok: bool, what: &str) -> Result<()> {
    if ok { Ok(()) } else { Err(Error::Input(alloc::format!("op shapes do not agree: {what}"))) }
}

fn emit<T: Element + ToLe>(trace_op: u32, dims: &[u32], data: &[T]) -> Vec<u8> {
    let mut out = tensor_leaf(trace_op, dims, data).to_vec();
    out.push(T::DTYPE);
    out.push(dims.len() as u8);
    dims.iter().for_each(|d| out.extend_from_slice(&d.to_le_bytes()));
    data.iter().for_each(|v| v.put(&mut out));
    out
}

/// Little-endian serialisation of output elements.
trait ToLe {
    fn put(&self, out: &mut Vec<u8>);
}

impl ToLe for i32 {
    fn put(&self, out: &mut Vec<u8>) {
        out.extend_from_slice(&self.to_le_bytes());
    }
}

impl ToLe for u16 {
    fn put(&self, out: &mut Vec<u8>) {
        out.extend_from_slice(&self.to_le_bytes());
    }
}

/// Runs one encoded op (see the module docs) with the scalar kernels.
///
/// # Errors
/// [`Error::UnknownOp`] for an unknown kind, [`Error::Input`] for malformed arguments.
pub fn run(bytes: &[u8]) -> Result<Vec<u8>> {
    let mut a = Args { b: bytes };
    let kind = a.u32()?;
    let trace_op = a.u32()?;
    let out = match kind {
        GEMM_I8 => {
            let ((ad, av), (wd, wv)) = (a.i8s()?, a.i8s()?);
            let ((m, k), (n, k2)) = (matrix(&ad)?, matrix(&wd)?);
            check(k == k2 && k <= crate::gemm::MAX_K, "gemm inner dimensions")?;
            let mut out = vec![0i32; m * n];
            Scalar.gemm_i8(&av, m, k, &wv, n, &mut out);
            emit(trace_op, &[m as u32, n as u32], &out)
        }
        LINEAR => {
            let ((xd, x), (wd, w), (_, mv)) = (a.i32s()?, a.i8s()?, a.mults()?);
            let ((_, r), (_, b)) = (a.i32s()?, a.i32s()?);
            let ((m, k), (n, k2)) = (matrix(&xd)?, matrix(&wd)?);
            let ok = k == k2
                && k % BLOCK == 0
                && mv.len() == n
                && b.len() == n
                && r.len() == n * (k / BLOCK);
            check(ok, "linear")?;
            let out = Linear { w, m: mv, r, b, n, k }.forward(&Scalar, &x, m);
            emit(trace_op, &[m as u32, n as u32], &out)
        }
        LAYER_NORM | RMS_NORM => {
            let ((xd, x), (_, g)) = (a.i32s()?, a.i32s()?);
            let beta = if kind == LAYER_NORM { Some(a.i32s()?.1) } else { None };
            let eps = a.u64()?;
            let (_, h) = matrix(&xd)?;
            check(h > 0 && g.len() == h && beta.as_ref().is_none_or(|b| b.len() == h), "norm")?;
            let mut out = vec![0i32; x.len()];
            for (xr, or) in x.chunks_exact(h).zip(out.chunks_exact_mut(h)) {
                match &beta {
                    Some(b) => layer_norm(xr, &g, b, eps, or),
                    None => rms_norm(xr, &g, eps, or),
                }
            }
            emit(trace_op, &xd, &out)
        }
        SOFTMAX => {
            let ((sd, s), (_, lut)) = (a.i32s()?, a.i32s()?);
            let t = sd.last().copied().unwrap_or(0) as usize;
            check(t > 0 && lut.len() == LUT_LEN, "softmax")?;
            let mut out = vec![0u16; s.len()];
            for (sr, or) in s.chunks_exact(t).zip(out.chunks_exact_mut(t)) {
                softmax_u16(sr, &lut, or);
            }
            emit(trace_op, &sd, &out)
        }
        LUT => {
            let ((xd, x), (_, lut)) = (a.i32s()?, a.i32s()?);
            check(lut.len() == LUT_LEN, "lut")?;
            let out: Vec<i32> = x.iter().map(|&v| lut_act(&lut, v)).collect();
            emit(trace_op, &xd, &out)
        }
        RESIDUAL => {
            let ((ad, av), (bd, bv)) = (a.i32s()?, a.i32s()?);
            check(ad == bd, "residual")?;
            let out: Vec<i32> = av.iter().zip(&bv).map(|(x, y)| x.saturating_add(*y)).collect();
            emit(trace_op, &ad, &out)
        }
        k => return Err(Error::UnknownOp(k)),
    };
    Ok(out)
}

/// Builds op encodings (used by the verifier and by tests).
#[derive(Debug, Clone)]
pub struct OpBuilder(Vec<u8>);

impl OpBuilder {
    /// Starts an op of `kind` whose output is hashed under `trace_op`.
    pub fn new(kind: u32, trace_op: u32) -> Self {
        let mut b = kind.to_le_bytes().to_vec();
        b.extend_from_slice(&trace_op.to_le_bytes());
        Self(b)
    }

    /// Appends a tensor argument given its dims and raw little-endian data.
    pub fn tensor(mut self, dims: &[u32], le_data: &[u8]) -> Self {
        self.0.push(dims.len() as u8);
        dims.iter().for_each(|d| self.0.extend_from_slice(&d.to_le_bytes()));
        self.0.extend_from_slice(le_data);
        self
    }

    /// Appends a u64 argument.
    pub fn u64(mut self, v: u64) -> Self {
        self.0.extend_from_slice(&v.to_le_bytes());
        self
    }

    /// The encoding.
    pub fn finish(self) -> Vec<u8> {
        self.0
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::trace::Op;

    fn i32_le(v: &[i32]) -> Vec<u8> {
        v.iter().flat_map(|x| x.to_le_bytes()).collect()
    }

    #[test]
    fn gemm_op_hashes_like_the_trace() {
        let a = [1i8, -2, 3, 4];
        let w = [5i8, 6, -7, 8, 1, 1];
        let op = OpBuilder::new(GEMM_I8, Op::Query as u32)
            .tensor(&[2, 2], &a.map(|v| v as u8))
            .tensor(&[3, 2], &w.map(|v| v as u8))
            .finish();
        let out = run(&op).expect("run");
        let want = [5 - 2 * 6, -7 - 16, 1 - 2, 15 + 24, -21 + 32, 3 + 4];
        assert_eq!(&out[..32], &tensor_leaf(Op::Query as u32, &[2, 3], &want));
        assert_eq!(&out[32 + 2 + 8..], &i32_le(&want)[..]);
    }

    #[test]
    fn unknown_and_malformed_ops_are_rejected() {
        assert!(matches!(run(&OpBuilder::new(99, 0).finish()), Err(Error::UnknownOp(99))));
        let short = OpBuilder::new(RESIDUAL, 0).tensor(&[4], &i32_le(&[1, 2])).finish();
        assert!(matches!(run(&short), Err(Error::Input(_))));
        let mismatched = OpBuilder::new(RESIDUAL, 0)
            .tensor(&[1], &i32_le(&[1]))
            .tensor(&[2], &i32_le(&[1, 2]))
            .finish();
        assert!(matches!(run(&mismatched), Err(Error::Input(_))));
    }
}
