//! Native kernels: the engine's exact int8 GEMM split over output channels with rayon. Each
//! output element is still one exact integer dot product computed by one thread, so the bits are
//! those of the scalar kernels (and of the WASM replay).

use assay_engine::gemm::{Kernels, MAX_K, gemm_i8_cols};
use rayon::prelude::*;

/// Rayon-parallel kernels.
#[derive(Debug, Clone, Copy, Default)]
pub struct Parallel;

/// Output channels per rayon task.
const COLS_PER_TASK: usize = 32;

impl Kernels for Parallel {
    fn gemm_i8(&self, a: &[i8], m: usize, k: usize, w: &[i8], n: usize, out: &mut [i32]) {
        assert!(k <= MAX_K, "gemm K {k} exceeds {MAX_K}");
        let blocks: Vec<(usize, Vec<i32>)> = (0..n.div_ceil(COLS_PER_TASK))
            .into_par_iter()
            .map(|b| {
                let cols = b * COLS_PER_TASK..((b + 1) * COLS_PER_TASK).min(n);
                let mut buf = vec![0i32; m * cols.len()];
                gemm_i8_cols(a, m, k, w, cols.clone(), &mut buf);
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
}

#[cfg(test)]
mod tests {
    use assay_engine::{gemm::Scalar, prng::Prng};

    use super::*;

    #[test]
    fn parallel_gemm_equals_scalar() {
        let mut rng = Prng::new(3);
        for (m, k, n) in [(1, 1041, 100), (5, 64, 33), (3, 7, 1)] {
            let a: Vec<i8> = (0..m * k).map(|_| rng.next_u64() as i8).collect();
            let w: Vec<i8> = (0..n * k).map(|_| rng.next_u64() as i8).collect();
            let (mut p, mut s) = (vec![0; m * n], vec![0; m * n]);
            Parallel.gemm_i8(&a, m, k, &w, n, &mut p);
            Scalar.gemm_i8(&a, m, k, &w, n, &mut s);
            assert_eq!(p, s);
        }
    }
}
