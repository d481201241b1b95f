//! Exact int8 GEMM with int32 accumulation: the reference the [`crate::kernels::Kernels`] seam
//! calls and a native caller parallelises.
//!
//! Weights are stored per output channel: `w` is `[n, k]` row-major, so output `(i, j)` is the dot
//! product of activation row `i` and weight row `j`. Every output element is one exact integer
//! dot product, so any partition of the output over threads gives the same bits.

use crate::linear::BLOCK;

/// Largest `k` for which an i8·i8 dot product cannot overflow i32 (`k · 128 · 128 < 2^31`).
pub const MAX_K: usize = 131_071;

/// One exact dot product of two int8 rows, accumulated in i32 (exact for `len ≤ MAX_K`).
#[cfg(not(any(all(target_arch = "wasm32", target_feature = "simd128"), target_arch = "x86_64")))]
pub fn dot_i8(a: &[i8], w: &[i8]) -> i32 {
    dot_i8_scalar(a, w)
}

/// [`dot_i8`] with x86-64 SSE2 (always present on x86-64): 16 lanes sign-extended to i16,
/// `pmaddwd` (each pair sum is at most 2·128² < 2^31, so exact), wrapping i32 lane sums. Integer
/// addition is associative modulo 2^32, so the result equals [`dot_i8_scalar`] bit for bit.
#[cfg(target_arch = "x86_64")]
pub fn dot_i8(a: &[i8], w: &[i8]) -> i32 {
    use core::arch::x86_64::{
        __m128i, _mm_add_epi32, _mm_cvtsi128_si32, _mm_loadu_si128, _mm_madd_epi16,
        _mm_setzero_si128, _mm_shuffle_epi32, _mm_srai_epi16, _mm_unpackhi_epi8, _mm_unpacklo_epi8,
    };
    let n = a.len().min(w.len()) / 16 * 16;
    // SAFETY: SSE2 is part of the x86-64 baseline; every load reads 16 bytes at `i + 16 <= n`,
    // within both slices, and `loadu` needs no alignment.
    unsafe {
        let mut acc = _mm_setzero_si128();
        for i in (0..n).step_by(16) {
            let va = _mm_loadu_si128(a.as_ptr().add(i).cast::<__m128i>());
            let vw = _mm_loadu_si128(w.as_ptr().add(i).cast::<__m128i>());
            // Interleaving a vector with itself and shifting right by 8 sign-extends each byte.
            let (alo, ahi) = (
                _mm_srai_epi16(_mm_unpacklo_epi8(va, va), 8),
                _mm_srai_epi16(_mm_unpackhi_epi8(va, va), 8),
            );
            let (wlo, whi) = (
                _mm_srai_epi16(_mm_unpacklo_epi8(vw, vw), 8),
                _mm_srai_epi16(_mm_unpackhi_epi8(vw, vw), 8),
            );
            acc = _mm_add_epi32(
                acc,
                _mm_add_epi32(_mm_madd_epi16(alo, wlo), _mm_madd_epi16(ahi, whi)),
            );
        }
        let acc = _mm_add_epi32(acc, _mm_shuffle_epi32(acc, 0b01_00_11_10));
        let acc = _mm_add_epi32(acc, _mm_shuffle_epi32(acc, 0b10_11_00_01));
        _mm_cvtsi128_si32(acc).wrapping_add(dot_i8_scalar(&a[n..], &w[n..]))
    }
}

/// The scalar definition of [`dot_i8`]: a wrapping i32 sum of the products.
pub fn dot_i8_scalar(a: &[i8], w: &[i8]) -> i32 {
    debug_assert_eq!(a.len(), w.len());
    a.iter().zip(w).fold(0i32, |acc, (&x, &y)| acc.wrapping_add(i32::from(x) * i32::from(y)))
}

/// [`dot_i8`] with wasm simd128: 16 lanes widened to i16, `i32x4.dot_i16x8_s` (each pair sum is at
/// most 2·128² < 2^31, so exact), wrapping i32 lane sums. Integer addition is associative modulo
/// 2^32, so the result equals [`dot_i8_scalar`] bit for bit.
#[cfg(all(target_arch = "wasm32", target_feature = "simd128"))]
pub fn dot_i8(a: &[i8], w: &[i8]) -> i32 {
    use core::arch::wasm32::{
        i16x8_extend_high_i8x16, i16x8_extend_low_i8x16, i32x4_add, i32x4_dot_i16x8,
        i32x4_extract_lane, i32x4_splat, v128, v128_load,
    };
    let n = a.len().min(w.len()) / 16 * 16;
    let mut acc = i32x4_splat(0);
    for i in (0..n).step_by(16) {
        // SAFETY: `i + 16 <= n <= len` of both slices, and wasm loads need no alignment.
        let (va, vw) = unsafe {
            (
                v128_load(a.as_ptr().add(i).cast::<v128>()),
                v128_load(w.as_ptr().add(i).cast::<v128>()),
            )
        };
        let lo = i32x4_dot_i16x8(i16x8_extend_low_i8x16(va), i16x8_extend_low_i8x16(vw));
        let hi = i32x4_dot_i16x8(i16x8_extend_high_i8x16(va), i16x8_extend_high_i8x16(vw));
        acc = i32x4_add(acc, i32x4_add(lo, hi));
    }
    let lanes = [
        i32x4_extract_lane::<0>(acc),
        i32x4_extract_lane::<1>(acc),
        i32x4_extract_lane::<2>(acc),
        i32x4_extract_lane::<3>(acc),
    ];
    lanes.iter().fold(dot_i8_scalar(&a[n..], &w[n..]), |s, &l| s.wrapping_add(l))
}

/// Computes output columns `cols` of `a[m, k] · w[n, k]ᵀ` into `out`, which holds `m` rows of
/// `cols.len()` values each.
pub fn gemm_i8_cols(
    a: &[i8],
    m: usize,
    k: usize,
    w: &[i8],
    cols: core::ops::Range<usize>,
    out: &mut [i32],
) {
    let width = cols.len();
    debug_assert_eq!(out.len(), m * width);
    for (c, j) in cols.enumerate() {
        let wr = &w[j * k..(j + 1) * k];
        for i in 0..m {
            out[i * width + c] = dot_i8(&a[i * k..(i + 1) * k], wr);
        }
    }
}

/// Block-scaled dot product: `Σ_b dot(a[b], w[b]) · a_s[b] · w_s[b]` over blocks of `block`
/// elements, exact in i128.
///
/// Each block's `p = dot · w_s` (`|p| < block · 2^45`) is split as `p = ph · 2^32 + pl` with
/// `0 <= pl < 2^32`, so `p · a_s = ph · a_s · 2^32 + pl · a_s`: `ph · a_s` sums exactly in an i64
/// (below `k · 2^45 <= 2^62`), and `pl · a_s < 2^64` is split again into 32-bit halves whose sums
/// stay below `2^44`. Only the final recombination is 128-bit, so no block needs a 128-bit
/// product (a library call in wasm) or a branch; the sum is the same integer.
pub fn dot_blocked(a: &[i8], w: &[i8], block: usize, a_s: &[u32], w_s: &[i32]) -> i128 {
    let mut sum = BlockSum::default();
    if block == BLOCK && a.len() == w.len() {
        let (a32, w32) = (a.chunks_exact(BLOCK), w.chunks_exact(BLOCK));
        let (ra, rw) = (a32.remainder(), w32.remainder());
        let mut scales = a_s.iter().zip(w_s);
        for ((ab, wb), (&sa, &sw)) in a32.zip(w32).zip(scales.by_ref()) {
            sum.add(dot_i8_32(ab, wb), sa, sw);
        }
        if let Some((&sa, &sw)) = scales.next()
            && !ra.is_empty()
        {
            sum.add(dot_i8(ra, rw), sa, sw);
        }
    } else {
        for ((ab, wb), (&sa, &sw)) in a.chunks(block).zip(w.chunks(block)).zip(a_s.iter().zip(w_s))
        {
            sum.add(dot_i8(ab, wb), sa, sw);
        }
    }
    sum.total()
}

/// The running sum of [`dot_blocked`] in three exact 64-bit parts.
#[derive(Default)]
struct BlockSum {
    /// `Σ ph · a_s`.
    high: i64,
    /// `Σ (pl · a_s) >> 32`.
    mid: u64,
    /// `Σ (pl · a_s) & (2^32 - 1)`.
    low: u64,
}

impl BlockSum {
    #[inline(always)]
    fn add(&mut self, dot: i32, sa: u32, sw: i32) {
        let p = i64::from(dot) * i64::from(sw);
        let (ph, pl) = (p >> 32, (p as u64) & 0xFFFF_FFFF);
        self.high = self.high.wrapping_add(ph.wrapping_mul(i64::from(sa)));
        let l = pl * u64::from(sa);
        self.mid = self.mid.wrapping_add(l >> 32);
        self.low = self.low.wrapping_add(l & 0xFFFF_FFFF);
    }

    fn total(&self) -> i128 {
        ((i128::from(self.high) + i128::from(self.mid)) << 32) + i128::from(self.low)
    }
}

/// [`dot_i8`] of the first 32 bytes of `a` and `w`, in straight-line code (one block of a
/// block-scaled row): the same wrapping i32 sum, with a single horizontal reduction.
#[inline(always)]
fn dot_i8_32(a: &[i8], w: &[i8]) -> i32 {
    #[cfg(all(target_arch = "wasm32", target_feature = "simd128"))]
    {
        use core::arch::wasm32::{
            i16x8_extend_high_i8x16, i16x8_extend_low_i8x16, i32x4_add, i32x4_dot_i16x8,
            i32x4_extract_lane, i32x4_shuffle, v128, v128_load,
        };
        assert!(a.len() >= BLOCK && w.len() >= BLOCK);
        // SAFETY: both slices hold at least 32 bytes (checked above); wasm loads need no
        // alignment.
        let (a0, a1, w0, w1) = unsafe {
            (
                v128_load(a.as_ptr().cast::<v128>()),
                v128_load(a.as_ptr().add(16).cast::<v128>()),
                v128_load(w.as_ptr().cast::<v128>()),
                v128_load(w.as_ptr().add(16).cast::<v128>()),
            )
        };
        let dot = |x, y| {
            i32x4_add(
                i32x4_dot_i16x8(i16x8_extend_low_i8x16(x), i16x8_extend_low_i8x16(y)),
                i32x4_dot_i16x8(i16x8_extend_high_i8x16(x), i16x8_extend_high_i8x16(y)),
            )
        };
        let v = i32x4_add(dot(a0, w0), dot(a1, w1));
        let v = i32x4_add(v, i32x4_shuffle::<2, 3, 0, 1>(v, v));
        let v = i32x4_add(v, i32x4_shuffle::<1, 0, 3, 2>(v, v));
        i32x4_extract_lane::<0>(v)
    }
    #[cfg(target_arch = "x86_64")]
    {
        use core::arch::x86_64::{
            __m128i, _mm_add_epi32, _mm_cvtsi128_si32, _mm_loadu_si128, _mm_madd_epi16,
            _mm_shuffle_epi32, _mm_srai_epi16, _mm_unpackhi_epi8, _mm_unpacklo_epi8,
        };
        assert!(a.len() >= BLOCK && w.len() >= BLOCK);
        // SAFETY: SSE2 is part of the x86-64 baseline; both slices hold at least 32 bytes
        // (checked above), and `loadu` needs no alignment.
        unsafe {
            let load = |p: *const i8| _mm_loadu_si128(p.cast::<__m128i>());
            // Interleaving a vector with itself and shifting right by 8 sign-extends each byte.
            let dot = |x: __m128i, y: __m128i| {
                _mm_add_epi32(
                    _mm_madd_epi16(
                        _mm_srai_epi16(_mm_unpacklo_epi8(x, x), 8),
                        _mm_srai_epi16(_mm_unpacklo_epi8(y, y), 8),
                    ),
                    _mm_madd_epi16(
                        _mm_srai_epi16(_mm_unpackhi_epi8(x, x), 8),
                        _mm_srai_epi16(_mm_unpackhi_epi8(y, y), 8),
                    ),
                )
            };
            let v = _mm_add_epi32(
                dot(load(a.as_ptr()), load(w.as_ptr())),
                dot(load(a.as_ptr().add(16)), load(w.as_ptr().add(16))),
            );
            let v = _mm_add_epi32(v, _mm_shuffle_epi32(v, 0b01_00_11_10));
            let v = _mm_add_epi32(v, _mm_shuffle_epi32(v, 0b10_11_00_01));
            _mm_cvtsi128_si32(v)
        }
    }
    #[cfg(not(any(
        all(target_arch = "wasm32", target_feature = "simd128"),
        target_arch = "x86_64"
    )))]
    {
        dot_i8(&a[..BLOCK], &w[..BLOCK])
    }
}

/// Columns `cols` of the block-scaled product: `out[i, c] = dot_blocked(a_i, w_j, ..)` for
/// `j = cols.start + c`; `a_s` is `[m, k / block]`, `w_s` is `[n, k / block]`.
#[allow(clippy::too_many_arguments)]
pub fn gemm_blocked_cols(
    a: &[i8],
    m: usize,
    k: usize,
    w: &[i8],
    block: usize,
    a_s: &[u32],
    w_s: &[i32],
    cols: core::ops::Range<usize>,
    out: &mut [i128],
) {
    let nb = k.div_ceil(block);
    let width = cols.len();
    for (c, j) in cols.enumerate() {
        let (wr, wsr) = (&w[j * k..(j + 1) * k], &w_s[j * nb..(j + 1) * nb]);
        for i in 0..m {
            out[i * width + c] =
                dot_blocked(&a[i * k..(i + 1) * k], wr, block, &a_s[i * nb..(i + 1) * nb], wsr);
        }
    }
}

#[cfg(test)]
mod tests {
    use alloc::vec;

    use proptest::prelude::*;

    use super::*;
    use crate::kernels::{Kernels, Scalar};

    fn naive(a: &[i8], m: usize, k: usize, w: &[i8], n: usize) -> alloc::vec::Vec<i64> {
        let mut out = vec![0i64; m * n];
        for i in 0..m {
            for j in 0..n {
                out[i * n + j] =
                    (0..k).map(|t| i64::from(a[i * k + t]) * i64::from(w[j * k + t])).sum();
            }
        }
        out
    }

    #[test]
    fn extreme_values_at_k_1040_and_1041_are_exact() {
        for k in [1040usize, 1041, 4096] {
            let a = vec![-128i8; k];
            let w = vec![-128i8; k];
            let mut out = [0i32; 1];
            Scalar.gemm_i8(&a, 1, k, &w, 1, &mut out);
            assert_eq!(i64::from(out[0]), 16384 * k as i64);
        }
    }

    #[test]
    fn column_split_matches_whole() {
        let (m, k, n) = (3, 17, 10);
        let a: alloc::vec::Vec<i8> =
            (0..m * k).map(|i| (i as i32 * 37 % 255 - 127) as i8).collect();
        let w: alloc::vec::Vec<i8> =
            (0..n * k).map(|i| (i as i32 * 91 % 255 - 127) as i8).collect();
        let mut whole = vec![0i32; m * n];
        Scalar.gemm_i8(&a, m, k, &w, n, &mut whole);
        let mut left = vec![0i32; m * 4];
        let mut right = vec![0i32; m * 6];
        gemm_i8_cols(&a, m, k, &w, 0..4, &mut left);
        gemm_i8_cols(&a, m, k, &w, 4..10, &mut right);
        for i in 0..m {
            assert_eq!(&whole[i * n..i * n + 4], &left[i * 4..i * 4 + 4]);
            assert_eq!(&whole[i * n + 4..i * n + 10], &right[i * 6..i * 6 + 6]);
        }
    }

    /// `Σ_b dot(a_b, w_b) · a_s[b] · w_s[b]` in i128, block by block (the definition).
    fn blocked_definition(a: &[i8], w: &[i8], block: usize, a_s: &[u32], w_s: &[i32]) -> i128 {
        a.chunks(block)
            .zip(w.chunks(block))
            .zip(a_s.iter().zip(w_s))
            .map(|((ab, wb), (&sa, &sw))| {
                i128::from(dot_i8_scalar(ab, wb)) * i128::from(sa) * i128::from(sw)
            })
            .sum()
    }

    #[test]
    fn blocked_dot_is_exact_at_the_extremes() {
        for (k, block) in [(32, 32), (4096, 32), (4099, 32), (96, 16), (MAX_K / 32 * 32, 32)] {
            let nb = k.div_ceil(block);
            for (x, sa, sw) in [
                (-128i8, u32::MAX, i32::MIN),
                (-128, u32::MAX, i32::MAX),
                (127, u32::MAX, i32::MIN),
                (-128, 1, -1),
            ] {
                let (a, w) = (vec![x; k], vec![-128i8; k]);
                let (a_s, w_s) = (vec![sa; nb], vec![sw; nb]);
                assert_eq!(
                    dot_blocked(&a, &w, block, &a_s, &w_s),
                    blocked_definition(&a, &w, block, &a_s, &w_s),
                    "k {k} block {block} x {x} sa {sa} sw {sw}"
                );
            }
        }
    }

    proptest! {
        #[test]
        fn blocked_dot_equals_its_definition(
            k in 1usize..200,
            block in prop_oneof![Just(32usize), 1usize..40],
            seed in any::<u64>(),
        ) {
            let mut s = seed;
            let mut next = || { s = s.wrapping_mul(6364136223846793005).wrapping_add(1442695040888963407); s };
            let a: alloc::vec::Vec<i8> = (0..k).map(|_| (next() >> 56) as u8 as i8).collect();
            let w: alloc::vec::Vec<i8> = (0..k).map(|_| (next() >> 56) as u8 as i8).collect();
            let nb = k.div_ceil(block);
            let a_s: alloc::vec::Vec<u32> = (0..nb).map(|_| (next() >> 32) as u32).collect();
            let w_s: alloc::vec::Vec<i32> = (0..nb).map(|_| (next() >> 32) as u32 as i32).collect();
            prop_assert_eq!(dot_blocked(&a, &w, block, &a_s, &w_s), blocked_definition(&a, &w, block, &a_s, &w_s));
        }

        #[test]
        fn dot_equals_the_scalar_definition(v in proptest::collection::vec((any::<i8>(), any::<i8>()), 0..200)) {
            let (a, w): (alloc::vec::Vec<i8>, alloc::vec::Vec<i8>) = v.into_iter().unzip();
            prop_assert_eq!(dot_i8(&a, &w), dot_i8_scalar(&a, &w));
        }

        #[test]
        fn gemm_matches_i64_reference(m in 1usize..4, k in 1usize..70, n in 1usize..5, seed in any::<u64>()) {
            let mut s = seed;
            let mut next = || { s = s.wrapping_mul(6364136223846793005).wrapping_add(1442695040888963407); (s >> 56) as u8 as i8 };
            let a: alloc::vec::Vec<i8> = (0..m * k).map(|_| next()).collect();
            let w: alloc::vec::Vec<i8> = (0..n * k).map(|_| next()).collect();
            let mut out = vec![0i32; m * n];
            Scalar.gemm_i8(&a, m, k, &w, n, &mut out);
            let want = naive(&a, m, k, &w, n);
            prop_assert!(out.iter().zip(&want).all(|(&o, &r)| i64::from(o) == r));
        }
    }
}
