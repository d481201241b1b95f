//! Exact int8 GEMMs through candle's f32 matmul, for devices without an integer GEMM (candle has
//! no int8 type). int8 values are exact in f32, and a dot product over at most [`K_CHUNK`] pairs
//! stays within ±2^24, where every integer is exact in f32, so each chunk's f32 result is the
//! exact integer whatever the summation order, FMA use or tiling. Chunk results are converted to
//! i64 and summed on the host. Block-scaled GEMMs use one batched matmul over the 32-wide blocks.
//! Reduced-precision f32 GEMM (TF32) is switched off, since it rounds the inputs' products.
//!
//! The kernels panic if the device fails (out of memory, driver errors).

use assay_engine::{gemm::MAX_K, kernels::Kernels};
use candle_core::{Device, Tensor};

/// Largest K per f32 matmul: `1024 · 128 · 128 = 2^24`.
pub const K_CHUNK: usize = 1024;

/// Kernels running the GEMMs on a candle device.
#[derive(Debug, Clone)]
pub struct CandleKernels {
    device: Device,
}

impl CandleKernels {
    /// Kernels on `device`; turns off reduced-precision f32 GEMMs.
    pub fn new(device: Device) -> Self {
        candle_core::cuda::set_gemm_reduced_precision_f32(false);
        Self { device }
    }

    /// `[rows, cols]` f32 copy of columns `c0..c0 + cols` of the row-major `[rows, k]` int8 `x`.
    fn slice(&self, x: &[i8], rows: usize, k: usize, c0: usize, cols: usize) -> Tensor {
        let v: Vec<f32> = (0..rows)
            .flat_map(|r| x[r * k + c0..r * k + c0 + cols].iter().map(|&q| f32::from(q)))
            .collect();
        Tensor::from_vec(v, (rows, cols), &self.device).expect("upload to the device")
    }
}

impl Kernels for CandleKernels {
    fn gemm_i8(&self, a: &[i8], m: usize, k: usize, w: &[i8], n: usize, out: &mut [i32]) {
        assert!(k <= MAX_K, "gemm K {k} exceeds {MAX_K}");
        let mut acc = vec![0i64; m * n];
        for c0 in (0..k).step_by(K_CHUNK) {
            let kc = K_CHUNK.min(k - c0);
            let (at, wt) = (self.slice(a, m, k, c0, kc), self.slice(w, n, k, c0, kc));
            let wt = wt.t().expect("transpose");
            let dots =
                at.matmul(&wt).and_then(|d| d.flatten_all()).and_then(|d| d.to_vec1::<f32>());
            for (s, d) in acc.iter_mut().zip(dots.expect("f32 matmul")) {
                // Exact: |d| <= 2^24 is an integer (see the module docs).
                *s += d as i64;
            }
        }
        for (o, s) in out.iter_mut().zip(acc) {
            *o = s as i32;
        }
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
        assert!(block <= K_CHUNK, "block {block} exceeds {K_CHUNK}");
        let nb = k.div_ceil(block);
        // [nb, rows, block] with a zero-padded last block (zeros add nothing to a dot product).
        let blocks = |x: &[i8], rows: usize| {
            let mut v = vec![0f32; nb * rows * block];
            for b in 0..nb {
                for r in 0..rows {
                    for c in 0..block.min(k - b * block) {
                        v[(b * rows + r) * block + c] = f32::from(x[r * k + b * block + c]);
                    }
                }
            }
            Tensor::from_vec(v, (nb, rows, block), &self.device).expect("upload to the device")
        };
        let wt = blocks(w, n).transpose(1, 2).expect("transpose");
        let dots =
            blocks(a, m).matmul(&wt).and_then(|d| d.flatten_all()).and_then(|d| d.to_vec1::<f32>());
        let dots = dots.expect("f32 batched matmul");
        for i in 0..m {
            for j in 0..n {
                out[i * n + j] = (0..nb)
                    .map(|b| {
                        let d = dots[(b * m + i) * n + j] as i64;
                        i128::from(d) * i128::from(a_s[i * nb + b]) * i128::from(w_s[j * nb + b])
                    })
                    .sum();
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use assay_engine::{kernels::Scalar, prng::Prng};

    use super::*;

    #[test]
    fn float_route_is_exact_for_extremes_and_long_k() {
        let kern = CandleKernels::new(Device::Cpu);
        let mut rng = Prng::new(11);
        for (m, k, n) in [(2, 1040, 3), (1, 1041, 5), (3, 2100, 4), (4, 64, 7), (1, 33, 2)] {
            for extreme in [false, true] {
                let draw = |rng: &mut Prng, len| -> Vec<i8> {
                    (0..len).map(|_| if extreme { -128 } else { rng.next_u64() as i8 }).collect()
                };
                let (a, w) = (draw(&mut rng, m * k), draw(&mut rng, n * k));
                let (mut f, mut s) = (vec![0; m * n], vec![0; m * n]);
                kern.gemm_i8(&a, m, k, &w, n, &mut f);
                Scalar.gemm_i8(&a, m, k, &w, n, &mut s);
                assert_eq!(f, s, "gemm m={m} k={k} n={n} extreme={extreme}");
                let nb = k.div_ceil(32);
                let a_s: Vec<u32> = (0..m * nb).map(|_| rng.next_u64() as u32).collect();
                let w_s: Vec<i32> = (0..n * nb).map(|_| (rng.next_u64() >> 47) as i32).collect();
                let (mut f, mut s) = (vec![0i128; m * n], vec![0i128; m * n]);
                kern.gemm_blocked(&a, m, k, &w, n, 32, &a_s, &w_s, &mut f);
                Scalar.gemm_blocked(&a, m, k, &w, n, 32, &a_s, &w_s, &mut s);
                assert_eq!(f, s, "blocked m={m} k={k} n={n} extreme={extreme}");
            }
        }
    }
}
