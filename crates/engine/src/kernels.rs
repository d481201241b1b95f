//! The compute seam of the engine: the forward passes call the [`Kernels`] a caller passes in.
//! [`Scalar`] is the single-threaded reference (what the WASM module runs) over the exact GEMM of
//! [`crate::gemm`]; a native caller overrides methods to split output channels over threads or run
//! them on SIMD units, which cannot change the result (each element is one exact integer
//! expression). [`Linear::forward`] and [`Linear::forward_all`], the linear layers' passes through
//! the kernels, are here too, so that [`crate::linear`] stays below the seam.

use alloc::{vec, vec::Vec};

use crate::{
    gemm::{MAX_K, gemm_blocked_cols, gemm_i8_cols},
    hash::BatchHasher,
    linear::{BLOCK, Linear, quantize_blocks},
};

/// The compute kernels the forward passes call. The default methods are the scalar reference;
/// a native worker may override them to split output channels over threads, which cannot change
/// the result (each element is one exact integer expression).
pub trait Kernels {
    /// `out[m, n] = a[m, k] · w[n, k]ᵀ`, exact.
    fn gemm_i8(&self, a: &[i8], m: usize, k: usize, w: &[i8], n: usize, out: &mut [i32]) {
        assert!(k <= MAX_K, "gemm K {k} exceeds {MAX_K}");
        gemm_i8_cols(a, m, k, w, 0..n, out);
    }

    /// `out[m, n]` of [`gemm_blocked_cols`] over all columns, exact.
    #[allow(clippy::too_many_arguments)]
    fn gemm_blocked(
        &self,
        a: &[i8],
        m: usize,
        k: usize,
        w: &[i8],
        n: usize,
        block: usize,
        a_s: &[u32],
        w_s: &[i32],
        out: &mut [i128],
    ) {
        gemm_blocked_cols(a, m, k, w, block, a_s, w_s, 0..n, out);
    }

    /// Linear layers reading the same input, quantised by [`crate::linear::quantize_blocks`]
    /// (`x_q`, `x_max`, `rows` rows): `out[l]` is `layers[l]`'s output `y = x · wᵀ + b` (see
    /// [`crate::linear`]).
    /// The default runs [`Self::gemm_blocked`] and [`Linear::requantize`] layer by layer; a
    /// native caller may split all the layers' output channels over threads at once.
    fn linear(&self, layers: &[&Linear], x_q: &[i8], x_max: &[u32], rows: usize) -> Vec<Vec<i32>> {
        layers
            .iter()
            .map(|l| {
                let mut acc = vec![0i128; rows * l.n];
                self.gemm_blocked(x_q, rows, l.k, &l.w, l.n, BLOCK, x_max, &l.r, &mut acc);
                let mut y = vec![0i32; rows * l.n];
                l.requantize(&acc, 0..l.n, &mut y);
                y
            })
            .collect()
    }

    /// How a run's trace hashes op outputs: `None` (the default) hashes each one as it is
    /// recorded; a native caller may return a [`BatchHasher`] that hashes a step's leaves on
    /// several threads (see [`crate::trace::Trace::with_batch_hasher`]). The leaves are the same.
    fn batch_hasher(&self) -> Option<BatchHasher> {
        None
    }
}

/// The single-threaded reference kernels (what the WASM module runs).
#[derive(Clone, Copy, Debug, Default)]
pub struct Scalar;

impl Kernels for Scalar {}

impl Linear {
    /// `y = x · wᵀ + b` for `rows` rows of Q12 input (see the module docs).
    pub fn forward<K: Kernels + ?Sized>(&self, kern: &K, x: &[i32], rows: usize) -> Vec<i32> {
        let [y] = Self::forward_all(kern, [self], x, rows);
        y
    }

    /// [`Self::forward`] of several layers reading the same input: it is quantised once and the
    /// kernels get all the layers in one call ([`Kernels::linear`]).
    pub fn forward_all<K: Kernels + ?Sized, const N: usize>(
        kern: &K,
        layers: [&Self; N],
        x: &[i32],
        rows: usize,
    ) -> [Vec<i32>; N] {
        let k = layers.first().map_or(0, |l| l.k);
        debug_assert!(x.len() == rows * k && layers.iter().all(|l| l.k == k));
        let (q, maxes) = quantize_blocks(x, k);
        let out = kern.linear(&layers, &q, &maxes, rows);
        out.try_into().unwrap_or_else(|_| panic!("one output per layer"))
    }
}
