//! x86-64 kernels beyond the SSE2 baseline, chosen at run time: register-tiled GEMMs and a
//! four- or eight-way keccak-256.
//!
//! The engine is `no_std` and cannot detect CPU features itself: a caller that can (the native
//! worker, with `is_x86_feature_detected!`) vouches for a [`Level`] with [`Isa::new_unchecked`],
//! and [`Isa`] then runs the kernels of that level:
//! - [`Level::Avx2`]: tiles of 2 activation rows × 4 weight rows, bytes widened to i16 and
//!   multiplied with `vpmaddwd` (pair sums of at most 2·128², exact). Keccak-256 hashes four
//!   messages at once ([`Isa::keccak256_many`]);
//! - [`Level::Avx512Vnni`]: tiles of 4 × 4 rows (2 × 4 for block-scaled products), 64 bytes per
//!   step with `vpdpbusd`, which multiplies unsigned by signed bytes: the weights are biased to
//!   `w + 128` and each lane starts from `-128 · Σ a`, so it holds the exact `Σ a · w` (no
//!   saturation; lanes wrap modulo 2^32). Keccak-256 hashes eight messages at once
//!   ([`Isa::keccak256_many`]).
//!
//! Every plain dot product is the same integer as [`crate::gemm::dot_i8_scalar`] (wrapping i32
//! addition is associative), so the bits are those of the reference kernels whatever the level.
//!
//! Block-scaled products ([`crate::gemm::gemm_blocked_cols`] with 32-element blocks) are reduced
//! to one exact i32 per block and scaled in vectors too: with each block maximum split into
//! 11-bit limbs `a_s = a0 + a1·2^11 + a2·2^22`, `dot · a_l` fits an i32 (`|dot| ≤ 32·128² =
//! 2^19`) and `dot · a_l · w_s` an i64, and per-limb i64 sums stay exact while
//! `max|w_s| · blocks < 2^32` (real ratios are at most 2^16). Outside that bound the reference
//! kernel runs instead. The limb sums are recombined in i128, so the result is the exact sum the
//! reference computes.

use alloc::vec::Vec;
use core::ops::Range;

use crate::{
    gemm::MAX_K,
    hash::{Hash, keccak},
    kernels::Kernels,
    linear::Linear,
};

mod avx2;
mod avx512;
mod keccak;
mod rows16;
mod tiles;

pub use rows16::Packed;
use tiles::Scales;

/// An x86-64 instruction-set level with its own GEMM kernels.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord)]
pub enum Level {
    /// The x86-64 baseline: the reference kernels (SSE2 dot products).
    Sse2,
    /// AVX2: register-tiled `vpmaddwd` kernels.
    Avx2,
    /// AVX-512 F, BW, VL and VNNI: register-tiled `vpdpbusd` kernels.
    Avx512Vnni,
}

impl Level {
    /// Every level, narrowest first.
    pub const ALL: [Self; 3] = [Self::Sse2, Self::Avx2, Self::Avx512Vnni];
}

/// A [`Level`] the running CPU supports: the kernels of that level, as [`Kernels`] (one thread)
/// and as column kernels for callers that split the output themselves.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Isa(Level);

impl Isa {
    /// The baseline level, supported by every x86-64 CPU.
    pub const BASELINE: Self = Self(Level::Sse2);

    /// The kernels of `level`.
    ///
    /// # Safety
    /// The CPU must support the level's target features: `avx2` for [`Level::Avx2`]; `avx512f`,
    /// `avx512bw`, `avx512vl` and `avx512vnni` for [`Level::Avx512Vnni`].
    pub const unsafe fn new_unchecked(level: Level) -> Self {
        Self(level)
    }

    /// The level these kernels use.
    pub const fn level(self) -> Level {
        self.0
    }

    /// [`crate::gemm::gemm_i8_cols`] with this level's kernels: the same bits.
    ///
    /// # Panics
    /// When a slice is shorter than the shapes say.
    pub fn gemm_i8_cols(
        self,
        a: &[i8],
        m: usize,
        k: usize,
        w: &[i8],
        cols: Range<usize>,
        out: &mut [i32],
    ) {
        assert!(a.len() >= m * k && w.len() >= cols.end * k && out.len() == m * cols.len());
        if m == 0 || cols.is_empty() {
            return;
        }
        match self.0 {
            Level::Sse2 => crate::gemm::gemm_i8_cols(a, m, k, w, cols, out),
            // SAFETY: `new_unchecked`'s caller vouched for the features; the shapes are checked.
            Level::Avx2 => unsafe { avx2::gemm_i8(a, m, k, w, cols, out) },
            // SAFETY: as above.
            Level::Avx512Vnni => unsafe { avx512::gemm_i8(a, m, k, w, cols, out) },
        }
    }

    /// [`crate::gemm::gemm_blocked_cols`] with this level's kernels: the same bits.
    ///
    /// # Panics
    /// When a slice is shorter than the shapes say.
    #[allow(clippy::too_many_arguments)]
    pub fn gemm_blocked_cols(
        self,
        a: &[i8],
        m: usize,
        k: usize,
        w: &[i8],
        block: usize,
        a_s: &[u32],
        w_s: &[i32],
        cols: Range<usize>,
        out: &mut [i128],
    ) {
        let reference = |out: &mut [i128]| {
            crate::gemm::gemm_blocked_cols(a, m, k, w, block, a_s, w_s, cols.clone(), out);
        };
        if self.0 == Level::Sse2 || block != BLOCK || !k.is_multiple_of(BLOCK) || k > MAX_K {
            return reference(out);
        }
        let nb = k / BLOCK;
        assert!(a.len() >= m * k && w.len() >= cols.end * k && out.len() == m * cols.len());
        assert!(a_s.len() >= m * nb && w_s.len() >= cols.end * nb);
        if m == 0 || cols.is_empty() {
            return;
        }
        let Some(scales) = Scales::new(m, nb, a_s, w_s, cols.clone()) else {
            return reference(out);
        };
        match self.0 {
            Level::Sse2 => unreachable!(),
            // SAFETY: `new_unchecked`'s caller vouched for the features; the shapes are checked.
            Level::Avx2 => unsafe { avx2::gemm_blocked(a, m, k, w, &scales, cols, out) },
            // SAFETY: as above.
            Level::Avx512Vnni => unsafe { avx512::gemm_blocked(a, m, k, w, &scales, cols, out) },
        }
    }
}

impl Isa {
    /// Packs the full 16-row tiles of a quantised input (`x_q`, `x_max` as
    /// [`crate::linear::quantize_blocks`] returns them, `rows` rows of `k`) for the row-lane
    /// kernel of [`Self::linear_cols`] (at [`Level::Avx512Vnni`]; empty otherwise).
    pub fn pack(self, x_q: &[i8], x_max: &[u32], rows: usize, k: usize) -> Packed {
        if self.0 != Level::Avx512Vnni || rows < rows16::ROWS || k == 0 || !k.is_multiple_of(BLOCK)
        {
            return Packed::default();
        }
        Packed::new(x_q, x_max, rows, k)
    }

    /// Output columns `cols` of linear layer `lin` (rows of `cols.len()` values) for the
    /// quantised input `x_q`, `x_max` of `rows` rows, `packed` by [`Self::pack`]: the bits of
    /// [`Linear::forward`]. The packed tiles run the row-lane kernel, the other rows the tiled
    /// block-scaled kernels.
    ///
    /// # Panics
    /// When a slice is shorter than the shapes say.
    #[allow(clippy::too_many_arguments)]
    pub fn linear_cols(
        self,
        lin: &Linear,
        x_q: &[i8],
        x_max: &[u32],
        rows: usize,
        packed: &Packed,
        cols: Range<usize>,
        out: &mut [i32],
    ) {
        let (k, width) = (lin.k, cols.len());
        let nb = k / BLOCK;
        let mut acc = alloc::vec![0i128; rows * width];
        let mut done = 0;
        if packed.tiles > 0 && packed.k == k && Scales::fits(nb, &lin.r, cols.clone()) {
            assert!(lin.w.len() >= cols.end * k && lin.r.len() >= cols.end * nb);
            done = packed.tiles * rows16::ROWS;
            let tiles = &mut acc[..done * width];
            // SAFETY: the level has AVX-512 VNNI (`pack` packs nothing otherwise); the shapes,
            // the ratio bound and the limb count are checked.
            unsafe {
                if packed.limbs == 2 {
                    rows16::blocked::<2>(packed, &lin.w, &lin.r, cols.clone(), tiles);
                } else {
                    rows16::blocked::<3>(packed, &lin.w, &lin.r, cols.clone(), tiles);
                }
            }
        }
        if done < rows {
            self.gemm_blocked_cols(
                &x_q[done * k..],
                rows - done,
                k,
                &lin.w,
                BLOCK,
                &x_max[done * nb..],
                &lin.r,
                cols.clone(),
                &mut acc[done * width..],
            );
        }
        lin.requantize(&acc, cols, out);
    }

    /// `out[i] = keccak(msgs[i])`: eight messages at a time with AVX-512 (at
    /// [`Level::Avx512Vnni`]), four with AVX2 (at [`Level::Avx2`]), one by one at the baseline and
    /// for a run of one. Similar lengths in each run waste the least.
    ///
    /// # Panics
    /// When `out` has another length than `msgs`.
    pub fn keccak256_many(self, msgs: &[&[u8]], out: &mut [Hash]) {
        assert_eq!(msgs.len(), out.len());
        let lanes = match self.0 {
            Level::Sse2 => 1,
            Level::Avx2 => 4,
            Level::Avx512Vnni => 8,
        };
        for (m, o) in msgs.chunks(lanes).zip(out.chunks_mut(lanes)) {
            match (self.0, m) {
                // SAFETY: `new_unchecked`'s caller vouched for AVX2.
                (Level::Avx2, [_, _, ..]) => unsafe { keccak::keccak256_x4(m, o) },
                // SAFETY: `new_unchecked`'s caller vouched for AVX-512F.
                (Level::Avx512Vnni, [_, _, ..]) => unsafe { keccak::keccak256_x8(m, o) },
                // One message: the scalar permutation is cheaper than a vector one.
                _ => o.iter_mut().zip(m).for_each(|(o, m)| *o = keccak(m)),
            }
        }
    }
}

impl Kernels for Isa {
    fn linear(&self, layers: &[&Linear], x_q: &[i8], x_max: &[u32], rows: usize) -> Vec<Vec<i32>> {
        let k = layers.first().map_or(0, |l| l.k);
        let packed = self.pack(x_q, x_max, rows, k);
        layers
            .iter()
            .map(|l| {
                let mut y = alloc::vec![0i32; rows * l.n];
                self.linear_cols(l, x_q, x_max, rows, &packed, 0..l.n, &mut y);
                y
            })
            .collect()
    }

    fn gemm_i8(&self, a: &[i8], m: usize, k: usize, w: &[i8], n: usize, out: &mut [i32]) {
        assert!(k <= MAX_K, "gemm K {k} exceeds {MAX_K}");
        self.gemm_i8_cols(a, m, k, w, 0..n, out);
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
        self.gemm_blocked_cols(a, m, k, w, block, a_s, w_s, 0..n, out);
    }
}

/// The block size the tiled block-scaled kernels handle (others run the reference kernel).
const BLOCK: usize = 32;

#[cfg(test)]
mod tests {
    use alloc::{vec, vec::Vec};

    use proptest::prelude::*;

    use super::*;
    use crate::gemm::{dot_i8_scalar, gemm_blocked_cols, gemm_i8_cols};

    /// The levels this machine can run (each is tested explicitly, not only the widest).
    fn supported() -> Vec<Isa> {
        let avx2 = std::is_x86_feature_detected!("avx2");
        let vnni = std::is_x86_feature_detected!("avx512f")
            && std::is_x86_feature_detected!("avx512bw")
            && std::is_x86_feature_detected!("avx512vl")
            && std::is_x86_feature_detected!("avx512vnni");
        let mut out = vec![Isa::BASELINE];
        // SAFETY: the features were detected just above.
        unsafe {
            if avx2 {
                out.push(Isa::new_unchecked(Level::Avx2));
            }
            if vnni {
                out.push(Isa::new_unchecked(Level::Avx512Vnni));
            }
        }
        if out.len() < Level::ALL.len() {
            std::eprintln!("note: only {out:?} run on this CPU");
        }
        out
    }

    /// Fills with a PRNG stream, or with one of the adversarial patterns.
    fn fill(len: usize, pattern: u8, seed: &mut u64) -> Vec<i8> {
        (0..len)
            .map(|i| {
                *seed = seed.wrapping_mul(6364136223846793005).wrapping_add(1442695040888963407);
                let r = (*seed >> 56) as u8 as i8;
                match pattern % 5 {
                    0 => r,
                    1 => -128,
                    2 => 127,
                    3 => [-128, 127][i % 2],
                    _ => [-128, 127, 0, -1, 1][(r as u8 % 5) as usize],
                }
            })
            .collect()
    }

    fn plain_case(m: usize, k: usize, n: usize, pa: u8, pw: u8, seed: u64) {
        let mut s = seed;
        let a = fill(m * k, pa, &mut s);
        let w = fill(n * k, pw, &mut s);
        let mut want = vec![0i32; m * n];
        for i in 0..m {
            for j in 0..n {
                want[i * n + j] = dot_i8_scalar(&a[i * k..(i + 1) * k], &w[j * k..(j + 1) * k]);
            }
        }
        for isa in supported() {
            let mut out = vec![0i32; m * n];
            isa.gemm_i8(&a, m, k, &w, n, &mut out);
            assert_eq!(out, want, "{isa:?} m {m} k {k} n {n}");
            // A column range inside the matrix, as the parallel caller splits it.
            let cols = n / 3..n;
            let mut part = vec![0i32; m * cols.len()];
            let mut reference = part.clone();
            isa.gemm_i8_cols(&a, m, k, &w, cols.clone(), &mut part);
            gemm_i8_cols(&a, m, k, &w, cols, &mut reference);
            assert_eq!(part, reference, "{isa:?} columns");
        }
    }

    /// Ratios: normal (|r| ≤ 2^16), at the limb bound (`max|r| · blocks` just below 2^32, every
    /// block maximum `u32::MAX`, the widest partial sums), or beyond it (the reference runs).
    #[derive(Clone, Copy, Debug)]
    enum Ratios {
        Normal,
        AtBound,
        Beyond,
    }

    fn blocked_case(m: usize, nb: usize, n: usize, pa: u8, pw: u8, seed: u64, ratios: Ratios) {
        let k = nb * BLOCK;
        let mut s = seed;
        let a = fill(m * k, pa, &mut s);
        let w = fill(n * k, pw, &mut s);
        let mut next = || {
            s = s.wrapping_mul(6364136223846793005).wrapping_add(1442695040888963407);
            s
        };
        let bound = (((1u64 << 32) - 1) / nb as u64).min(i32::MAX as u64);
        let a_s: Vec<u32> = (0..m * nb)
            .map(|i| match (ratios, i % 4) {
                (Ratios::AtBound, _) | (_, 0) => u32::MAX,
                (_, 1) => next() as u32 >> (next() % 32),
                _ => next() as u32,
            })
            .collect();
        let w_s: Vec<i32> = (0..n * nb)
            .map(|i| match (ratios, i % 3) {
                (Ratios::Beyond, _) if i % nb == 0 => i32::MIN,
                (Ratios::Beyond, _) => next() as i32,
                (Ratios::AtBound, _) => [bound as i32, -(bound as i32)][i % 2],
                (Ratios::Normal, 0) => 1 << 16,
                (Ratios::Normal, _) => (next() % (1 << 17)) as i32 - (1 << 16),
            })
            .collect();
        let fast = Scales::new(m, nb, &a_s, &w_s, 0..n).is_some();
        assert_eq!(fast, !matches!(ratios, Ratios::Beyond) || nb == 1);
        let mut want = vec![0i128; m * n];
        gemm_blocked_cols(&a, m, k, &w, BLOCK, &a_s, &w_s, 0..n, &mut want);
        for isa in supported() {
            let mut out = vec![0i128; m * n];
            isa.gemm_blocked(&a, m, k, &w, n, BLOCK, &a_s, &w_s, &mut out);
            assert_eq!(out, want, "{isa:?} m {m} k {k} n {n}");
            let cols = n / 2..n;
            let mut part = vec![0i128; m * cols.len()];
            let mut reference = part.clone();
            isa.gemm_blocked_cols(&a, m, k, &w, BLOCK, &a_s, &w_s, cols.clone(), &mut part);
            gemm_blocked_cols(&a, m, k, &w, BLOCK, &a_s, &w_s, cols, &mut reference);
            assert_eq!(part, reference, "{isa:?} columns");
        }
    }

    /// A layer of `n` outputs over `k` inputs and an input of `rows` rows, quantised: weights
    /// and codes from `pattern`, block maxima below 2^24 or not, ratios as `ratios`.
    fn layer_case(
        rows: usize,
        k: usize,
        n: usize,
        pattern: u8,
        wide_maxima: bool,
        ratios: Ratios,
        seed: u64,
    ) -> (Linear, Vec<i8>, Vec<u32>) {
        let nb = k / BLOCK;
        let mut s = seed;
        let w = fill(n * k, pattern, &mut s);
        let x_q = fill(rows * k, pattern / 5, &mut s);
        let mut next = || {
            s = s.wrapping_mul(6364136223846793005).wrapping_add(1442695040888963407);
            s
        };
        let x_max: Vec<u32> = (0..rows * nb)
            .map(|i| match (wide_maxima, i % 3) {
                (true, 0) => u32::MAX,
                (true, _) => next() as u32,
                (false, 0) => (1 << 24) - 1,
                (false, _) => (next() % (1 << 24)) as u32,
            })
            .collect();
        let bound = (((1u64 << 32) - 1) / nb as u64).min(i32::MAX as u64) as i32;
        let r: Vec<i32> = (0..n * nb)
            .map(|i| match ratios {
                Ratios::Normal => (next() % (1 << 16)) as i32,
                Ratios::AtBound => [bound, -bound][i % 2],
                Ratios::Beyond if i % nb == 0 => i32::MIN,
                Ratios::Beyond => next() as i32,
            })
            .collect();
        let m = (0..n)
            .map(|_| crate::fixed::Multiplier {
                m0: ((1 << 30) + next() % (1 << 30)) as i32,
                shift: (next() % 28) as i8 - 20,
            })
            .collect();
        let b = (0..n).map(|_| next() as i32 >> 8).collect();
        (Linear { w, m, r, b, n, k }, x_q, x_max)
    }

    #[test]
    fn linear_layers_equal_the_reference() {
        use crate::kernels::Scalar;
        let mut seed = 11;
        for rows in [1, 15, 16, 17, 31, 32, 33, 48] {
            for (k, n) in [(32, 5), (64, 9), (96, 4), (384, 7)] {
                for case in 0..4u8 {
                    seed += 1;
                    let ratios = [Ratios::Normal, Ratios::AtBound, Ratios::Normal, Ratios::Beyond]
                        [usize::from(case)];
                    let (l1, x_q, x_max) =
                        layer_case(rows, k, n, case * 6, case == 2, ratios, seed);
                    let (l2, ..) =
                        layer_case(rows, k, n + 3, case, case == 1, Ratios::Normal, seed);
                    let want = Scalar.linear(&[&l1, &l2], &x_q, &x_max, rows);
                    for isa in supported() {
                        let got = isa.linear(&[&l1, &l2], &x_q, &x_max, rows);
                        assert_eq!(got, want, "{isa:?} rows {rows} k {k} n {n} case {case}");
                        let packed = isa.pack(&x_q, &x_max, rows, k);
                        let cols = 1..n;
                        let mut part = vec![0i32; rows * cols.len()];
                        isa.linear_cols(&l1, &x_q, &x_max, rows, &packed, cols.clone(), &mut part);
                        for (i, row) in part.chunks_exact(cols.len()).enumerate() {
                            assert_eq!(row, &want[0][i * n + 1..(i + 1) * n], "{isa:?} columns");
                        }
                    }
                }
            }
        }
    }

    proptest! {
        #[test]
        fn linear_layers_of_random_shapes_equal_the_reference(
            rows in 1usize..50, nb in 1usize..14, n in 1usize..10, pattern in 0u8..25,
            wide in any::<bool>(), seed in any::<u64>(),
        ) {
            let (l, x_q, x_max) = layer_case(rows, nb * BLOCK, n, pattern, wide, Ratios::Normal, seed);
            let want = crate::kernels::Scalar.linear(&[&l], &x_q, &x_max, rows);
            for isa in supported() {
                prop_assert_eq!(&isa.linear(&[&l], &x_q, &x_max, rows), &want);
            }
        }
    }

    #[test]
    fn many_way_keccak_equals_keccak() {
        let mut seed = 5u64;
        let lens = [0, 1, 7, 8, 63, 64, 127, 128, 135, 136, 137, 200, 271, 272, 273, 1000, 4103];
        let msgs: Vec<Vec<u8>> = lens
            .iter()
            .map(|&n| fill(n, 0, &mut seed).into_iter().map(|b| b as u8).collect())
            .collect();
        let want: Vec<Hash> = msgs.iter().map(|m| keccak(m)).collect();
        for isa in supported() {
            // Every run size from every start: mixed lengths in one group of four or eight, and
            // leftovers of each size.
            for start in 0..msgs.len() {
                for end in start + 1..=msgs.len().min(start + 17) {
                    let refs: Vec<&[u8]> = msgs[start..end].iter().map(Vec::as_slice).collect();
                    let mut out = vec![[0u8; 32]; refs.len()];
                    isa.keccak256_many(&refs, &mut out);
                    assert_eq!(out, want[start..end], "{isa:?} {start}..{end}");
                }
            }
            // Longest first, as the worker sorts them, and the same length four and eight times.
            let mut order: Vec<usize> = (0..msgs.len()).collect();
            order.sort_by_key(|&i| core::cmp::Reverse(lens[i]));
            let refs: Vec<&[u8]> = order.iter().map(|&i| msgs[i].as_slice()).collect();
            let mut out = vec![[0u8; 32]; refs.len()];
            isa.keccak256_many(&refs, &mut out);
            assert!(order.iter().zip(&out).all(|(&i, h)| *h == want[i]), "{isa:?} sorted");
            for (m, w) in msgs.iter().zip(&want) {
                for n in [4, 8] {
                    let mut out = vec![[0u8; 32]; n];
                    isa.keccak256_many(&vec![m.as_slice(); n], &mut out);
                    assert!(out.iter().all(|h| h == w), "{isa:?} {} x {n}", m.len());
                }
            }
            isa.keccak256_many(&[], &mut []);
        }
    }

    /// Message lengths: any below 700, or a multiple of the rate (up to five blocks) give or
    /// take one.
    fn message_len() -> impl Strategy<Value = usize> {
        prop_oneof![0usize..700, (0usize..6, 0usize..3).prop_map(|(k, d)| (k * 136 + d).max(1) - 1)]
    }

    proptest! {
        #[test]
        fn many_way_keccak_of_random_messages(
            msgs in proptest::collection::vec(
                message_len().prop_flat_map(|n| proptest::collection::vec(any::<u8>(), n)),
                0..20,
            ),
        ) {
            let refs: Vec<&[u8]> = msgs.iter().map(Vec::as_slice).collect();
            let want: Vec<Hash> = msgs.iter().map(|m| keccak(m)).collect();
            for isa in supported() {
                let mut out = vec![[0u8; 32]; msgs.len()];
                isa.keccak256_many(&refs, &mut out);
                prop_assert_eq!(&out, &want, "{:?}", isa);
            }
        }
    }

    #[test]
    fn extremes_at_k_1040_and_1041() {
        for k in [1, 31, 32, 33, 63, 64, 65, 1040, 1041, 4096] {
            for p in 1..5 {
                plain_case(5, k, 7, p, p, k as u64);
                plain_case(1, k, 9, p, (p + 1) % 5, k as u64);
            }
        }
        let k = 1040;
        let a = vec![-128i8; 3 * k];
        let mut out = vec![0i32; 9];
        for isa in supported() {
            isa.gemm_i8(&a, 3, k, &a, 3, &mut out);
            assert!(out.iter().all(|&v| i64::from(v) == 16384 * k as i64), "{isa:?}");
        }
    }

    #[test]
    fn blocked_extremes() {
        for nb in [1, 2, 3, 12, 13, 48] {
            for p in 0..5 {
                blocked_case(5, nb, 6, p, p, nb as u64, Ratios::Normal);
                blocked_case(4, nb, 8, p, (p + 3) % 5, nb as u64, Ratios::Normal);
                blocked_case(3, nb, 5, p, (p + 1) % 5, nb as u64, Ratios::AtBound);
            }
        }
    }

    #[test]
    fn blocked_ratios_beyond_the_limb_bound_fall_back_exactly() {
        blocked_case(3, 13, 5, 1, 2, 7, Ratios::Beyond);
        blocked_case(6, 4, 9, 0, 0, 8, Ratios::Beyond);
    }

    #[test]
    fn blocked_other_block_sizes_and_empty_shapes() {
        for isa in supported() {
            let (m, k, n) = (3, 40, 5);
            let a: Vec<i8> = (0..m * k).map(|i| (i * 37 % 255) as i8).collect();
            let w: Vec<i8> = (0..n * k).map(|i| (i * 91 % 255) as i8).collect();
            let a_s = vec![1000u32; m * 4];
            let w_s = vec![300i32; n * 4];
            let (mut out, mut want) = (vec![0i128; m * n], vec![0i128; m * n]);
            isa.gemm_blocked(&a, m, k, &w, n, 10, &a_s, &w_s, &mut out);
            gemm_blocked_cols(&a, m, k, &w, 10, &a_s, &w_s, 0..n, &mut want);
            assert_eq!(out, want);
            isa.gemm_blocked(&a, 0, 32, &w, n, 32, &[], &w_s, &mut []);
            isa.gemm_i8(&a, 0, k, &w, n, &mut []);
            isa.gemm_i8(&a, m, k, &w, 0, &mut []);
            let mut zero_k = vec![7i32; m * n];
            isa.gemm_i8(&[], m, 0, &[], n, &mut zero_k);
            assert!(zero_k.iter().all(|&v| v == 0));
        }
    }

    proptest! {
        #[test]
        fn tiled_gemm_equals_the_scalar_definition(
            m in 1usize..11, k in 1usize..300, n in 1usize..12, pa in 0u8..5, pw in 0u8..5,
            seed in any::<u64>(),
        ) {
            plain_case(m, k, n, pa, pw, seed);
        }

        #[test]
        fn tiled_blocked_gemm_equals_the_reference(
            m in 1usize..11, nb in 1usize..20, n in 1usize..12, pa in 0u8..5, pw in 0u8..5,
            seed in any::<u64>(), ratios in 0u8..10,
        ) {
            let ratios = match ratios {
                0 => Ratios::Beyond,
                1 => Ratios::AtBound,
                _ => Ratios::Normal,
            };
            blocked_case(m, nb, n, pa, pw, seed, ratios);
        }
    }
}
