//! Native kernels: the engine's exact int8 GEMMs (plain and block-scaled) split over output
//! channels with rayon. Each output element is still one exact integer expression computed by one
//! thread, so the bits are those of the scalar kernels (and of the WASM replay).

use assay_engine::gemm::{Kernels, MAX_K, gemm_blocked_cols, gemm_i8_cols};
use rayon::prelude::*;

/// Rayon-parallel kernels.
#[derive(Debug, Clone, Copy, Default)]
pub struct Parallel;

/// Output channels per rayon task.
const COLS_PER_TASK: usize = 32;

/// Runs `f(cols, buf)` for column ranges in parallel and scatters the `[m, cols]` buffers into
/// the `[m, n]` output.
fn by_columns<T: Copy + Default + Send>(
    m: usize,
    n: usize,
    out: &mut [T],
    f: impl Fn(core::ops::Range<usize>, &mut [T]) + Sync,
) {
    let blocks: Vec<(usize, Vec<T>)> = (0..n.div_ceil(COLS_PER_TASK))
        .into_par_iter()
        .map(|b| {
            let cols = b * COLS_PER_TASK..((b + 1) * COLS_PER_TASK).min(n);
            let mut buf = vec![T::default(); m * cols.len()];
            f(cols.clone(), &mut buf);
            (cols.start, buf)
        })
        .collect();
    for (start, buf) in blocks {
        let width = buf.len() / m.max(1);
        for i in 0..m {
            out[i * n + start..i * n + start + width]
                .copy_from_slice(&buf[i * width..(i + 1) * width]);
        }
    }
}

impl Kernels for Parallel {
    fn gemm_i8(&self, a: &[i8], m: usize, k: usize, w: &[i8], n: usize, out: &mut [i32]) {
        assert!(k <= MAX_K, "gemm K {k} exceeds {MAX_K}");
        by_columns(m, n, out, |cols, buf| gemm_i8_cols(a, m, k, w, cols, buf));
    }

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
        by_columns(m, n, out, |cols, buf| {
            gemm_blocked_cols(a, m, k, w, block, a_s, w_s, cols, buf)
        });
    }
}

#[cfg(test)]
mod tests {
    use assay_engine::{gemm::Scalar, prng::Prng};

    use super::*;

    #[test]
    fn parallel_gemms_equal_scalar() {
        let mut rng = Prng::new(3);
        for (m, k, n) in [(1, 1041, 100), (5, 64, 33), (3, 7, 1)] {
            let a: Vec<i8> = (0..m * k).map(|_| rng.next_u64() as i8).collect();
            let w: Vec<i8> = (0..n * k).map(|_| rng.next_u64() as i8).collect();
            let (mut p, mut s) = (vec![0; m * n], vec![0; m * n]);
            Parallel.gemm_i8(&a, m, k, &w, n, &mut p);
            Scalar.gemm_i8(&a, m, k, &w, n, &mut s);
            assert_eq!(p, s);
            let nb = k.div_ceil(32);
            let a_s: Vec<u32> = (0..m * nb).map(|_| rng.next_u64() as u32).collect();
            let w_s: Vec<i32> = (0..n * nb).map(|_| (rng.next_u64() >> 47) as i32).collect();
            let (mut p, mut s) = (vec![0i128; m * n], vec![0i128; m * n]);
            Parallel.gemm_blocked(&a, m, k, &w, n, 32, &a_s, &w_s, &mut p);
            Scalar.gemm_blocked(&a, m, k, &w, n, 32, &a_s, &w_s, &mut s);
            assert_eq!(p, s);
        }
    }
}
