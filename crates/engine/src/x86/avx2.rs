//! AVX2 kernels: 32 bytes per step, sign-extended to i16 and multiplied with `vpmaddwd` (see the
//! parent module for the arithmetic). The plain product's tail (`k mod 32`) is scalar.

// Tiles index several arrays by the same row and column: index loops read best.
#![allow(clippy::needless_range_loop)]

use core::{arch::x86_64::*, array, ops::Range, slice};

use super::tiles::{LIMB_BITS, NR, Scales, recombine};
use crate::gemm::dot_i8_scalar;

/// Activation rows per tile (2 × 4 dot vectors and the operands fill the 16 registers).
const MR: usize = 2;

/// The weight rows of the tile of columns `c0..c0 + NR`, the last real one repeated past `last`.
///
/// # Safety
/// Rows `c0.min(last)..=last` of `k` bytes lie within `w`.
unsafe fn weight_rows(w: &[i8], k: usize, c0: usize, last: usize) -> [*const i8; NR] {
    // SAFETY: every row index is at most `last`.
    array::from_fn(|c| unsafe { w.as_ptr().add((c0 + c).min(last) * k) })
}

/// 32 bytes at `p` as two vectors of 16 sign-extended i16.
///
/// # Safety
/// AVX2, and 32 readable bytes at `p`.
#[inline]
#[target_feature(enable = "avx2")]
unsafe fn widen(p: *const i8) -> (__m256i, __m256i) {
    // SAFETY: the caller guarantees 32 bytes at `p`.
    unsafe {
        (
            _mm256_cvtepi8_epi16(_mm_loadu_si128(p.cast())),
            _mm256_cvtepi8_epi16(_mm_loadu_si128(p.add(16).cast())),
        )
    }
}

/// Sums of 8 vectors: lane `i` of the result is the sum of the lanes of `v[i]`.
#[inline]
#[target_feature(enable = "avx2")]
fn reduce8(v: [__m256i; 8]) -> __m256i {
    let q = |x, y| _mm256_add_epi32(_mm256_unpacklo_epi32(x, y), _mm256_unpackhi_epi32(x, y));
    let h = |x, y| _mm256_add_epi32(_mm256_unpacklo_epi64(x, y), _mm256_unpackhi_epi64(x, y));
    let lo = h(q(v[0], v[1]), q(v[2], v[3]));
    let hi = h(q(v[4], v[5]), q(v[6], v[7]));
    _mm256_add_epi32(
        _mm256_permute2x128_si256::<0x20>(lo, hi),
        _mm256_permute2x128_si256::<0x31>(lo, hi),
    )
}

/// `out[m, cols] = a[m, k] · w[cols, k]ᵀ`, each a wrapping i32 dot product.
///
/// # Safety
/// The CPU supports AVX2; `a` holds `m · k` bytes, `w` `cols.end · k`, and `out` is
/// `m · cols.len()` with both non-empty.
#[target_feature(enable = "avx2")]
pub(super) unsafe fn gemm_i8(
    a: &[i8],
    m: usize,
    k: usize,
    w: &[i8],
    cols: Range<usize>,
    out: &mut [i32],
) {
    let width = cols.len();
    for (t, c0) in cols.clone().step_by(NR).enumerate() {
        // SAFETY: `cols.end · k <= w.len()`.
        let wr = unsafe { weight_rows(w, k, c0, cols.end - 1) };
        for r0 in (0..m).step_by(MR) {
            let mut res = [[0i32; NR]; MR];
            // SAFETY: rows `r0..r0 + rows` of `k` bytes lie within `a`.
            unsafe {
                let ap = a.as_ptr().add(r0 * k);
                match m - r0 {
                    1 => plain_tile::<1>(ap, k, wr, &mut res),
                    _ => plain_tile::<2>(ap, k, wr, &mut res),
                }
            }
            for (r, row) in res.iter().enumerate().take(m - r0) {
                let dst = &mut out[(r0 + r) * width + t * NR..];
                let n = (width - t * NR).min(NR);
                dst[..n].copy_from_slice(&row[..n]);
            }
        }
    }
}

/// One `R × NR` tile of the plain product over the whole of `k`.
///
/// # Safety
/// AVX2; `a` starts `R` rows of `k` bytes, each `w[c]` one row.
#[inline]
#[target_feature(enable = "avx2")]
unsafe fn plain_tile<const R: usize>(
    a: *const i8,
    k: usize,
    w: [*const i8; NR],
    res: &mut [[i32; NR]; MR],
) {
    let zero = _mm256_setzero_si256();
    let k32 = k / 32 * 32;
    let mut acc = [[zero; NR]; MR];
    for o in (0..k32).step_by(32) {
        let mut x = [(zero, zero); MR];
        for r in 0..R {
            // SAFETY: `o + 32 <= k` within row `r`.
            x[r] = unsafe { widen(a.add(r * k + o)) };
        }
        for c in 0..NR {
            // SAFETY: as above, within weight row `c`.
            let (wl, wh) = unsafe { widen(w[c].add(o)) };
            for r in 0..R {
                let d =
                    _mm256_add_epi32(_mm256_madd_epi16(x[r].0, wl), _mm256_madd_epi16(x[r].1, wh));
                acc[r][c] = _mm256_add_epi32(acc[r][c], d);
            }
        }
    }
    let [[v0, v1, v2, v3], [v4, v5, v6, v7]] = acc;
    let mut lanes = [0i32; 8];
    // SAFETY: `lanes` is 32 bytes.
    unsafe {
        _mm256_storeu_si256(lanes.as_mut_ptr().cast(), reduce8([v0, v1, v2, v3, v4, v5, v6, v7]))
    };
    for (r, row) in res.iter_mut().enumerate().take(R) {
        for (c, out) in row.iter_mut().enumerate() {
            // SAFETY: the tails `k32..k` of row `r` and weight row `c`.
            let tail = unsafe {
                dot_i8_scalar(
                    slice::from_raw_parts(a.add(r * k + k32), k - k32),
                    slice::from_raw_parts(w[c].add(k32), k - k32),
                )
            };
            *out = lanes[r * NR + c].wrapping_add(tail);
        }
    }
}

/// Exact block-scaled products of 32-element blocks (`k = 32 · blocks`), see the parent module.
///
/// # Safety
/// As for [`gemm_i8`], with `k` a multiple of 32 and `s` built for these rows and columns.
#[target_feature(enable = "avx2")]
pub(super) unsafe fn gemm_blocked(
    a: &[i8],
    m: usize,
    k: usize,
    w: &[i8],
    s: &Scales,
    cols: Range<usize>,
    out: &mut [i128],
) {
    let width = cols.len();
    for (t, c0) in cols.clone().step_by(NR).enumerate() {
        // SAFETY: `cols.end · k <= w.len()`.
        let wr = unsafe { weight_rows(w, k, c0, cols.end - 1) };
        let wt = &s.w[t * s.nb2 * NR..(t + 1) * s.nb2 * NR];
        for r0 in (0..m).step_by(MR) {
            let rows = (m - r0).min(MR);
            let at = &s.a[r0 * s.nb2..(r0 + rows) * s.nb2];
            let mut res = [[0i128; NR]; MR];
            // SAFETY: rows `r0..r0 + rows` of `k` bytes lie within `a`.
            unsafe {
                let ap = a.as_ptr().add(r0 * k);
                match rows {
                    1 => blocked_tile::<1>(ap, k, wr, at, wt, &mut res),
                    _ => blocked_tile::<2>(ap, k, wr, at, wt, &mut res),
                }
            }
            for (r, row) in res.iter().enumerate().take(rows) {
                let dst = &mut out[(r0 + r) * width + t * NR..];
                let n = (width - t * NR).min(NR);
                dst[..n].copy_from_slice(&row[..n]);
            }
        }
    }
}

/// One `R × NR` tile of the block-scaled product; `at` holds the tile rows' padded block maxima,
/// `wt` the tile's transposed ratios (see [`Scales`]).
///
/// # Safety
/// As for [`plain_tile`], with `k` a multiple of 32.
#[inline]
#[target_feature(enable = "avx2")]
unsafe fn blocked_tile<const R: usize>(
    a: *const i8,
    k: usize,
    w: [*const i8; NR],
    at: &[u32],
    wt: &[i32],
    res: &mut [[i128; NR]; MR],
) {
    let nb2 = wt.len() / NR;
    let zero = _mm256_setzero_si256();
    let low = _mm256_set1_epi32((1 << LIMB_BITS) - 1);
    // Per limb, even then odd 32-bit lanes of the reduced dots, widened to i64.
    let mut acc = [zero; 6];
    for b in 0..k / 32 {
        let o = 32 * b;
        let mut x = [(zero, zero); MR];
        for r in 0..R {
            // SAFETY: `o + 32 <= k` within row `r`.
            x[r] = unsafe { widen(a.add(r * k + o)) };
        }
        let mut v = [[zero; NR]; MR];
        for c in 0..NR {
            // SAFETY: as above, within weight row `c`.
            let (wl, wh) = unsafe { widen(w[c].add(o)) };
            for r in 0..R {
                v[r][c] =
                    _mm256_add_epi32(_mm256_madd_epi16(x[r].0, wl), _mm256_madd_epi16(x[r].1, wh));
            }
        }
        // Lane 4h + c: row h, column c.
        let [[v0, v1, v2, v3], [v4, v5, v6, v7]] = v;
        let dots = reduce8([v0, v1, v2, v3, v4, v5, v6, v7]);
        // SAFETY: `wt` holds `nb2 · NR >= (b + 1) · NR` values.
        let ws =
            _mm256_broadcastsi128_si256(unsafe { _mm_loadu_si128(wt.as_ptr().add(b * NR).cast()) });
        let ws_odd = _mm256_srli_epi64::<32>(ws);
        let maxes = _mm256_set_m128i(
            _mm_set1_epi32(at[(R - 1) * nb2 + b] as i32),
            _mm_set1_epi32(at[b] as i32),
        );
        let limbs = [
            _mm256_and_si256(maxes, low),
            _mm256_and_si256(_mm256_srli_epi32::<{ LIMB_BITS as i32 }>(maxes), low),
            _mm256_srli_epi32::<{ 2 * LIMB_BITS as i32 }>(maxes),
        ];
        for (l, limb) in limbs.into_iter().enumerate() {
            // |dot| ≤ 2^19 and limb < 2^11: the product fits an i32.
            let t = _mm256_mullo_epi32(dots, limb);
            acc[2 * l] = _mm256_add_epi64(acc[2 * l], _mm256_mul_epi32(t, ws));
            let t_odd = _mm256_srli_epi64::<32>(t);
            acc[2 * l + 1] = _mm256_add_epi64(acc[2 * l + 1], _mm256_mul_epi32(t_odd, ws_odd));
        }
    }
    let mut lanes = [[0i64; 4]; 6];
    for (dst, v) in lanes.iter_mut().zip(acc) {
        // SAFETY: `dst` is 32 bytes.
        unsafe { _mm256_storeu_si256(dst.as_mut_ptr().cast(), v) };
    }
    // i64 lane 2h + c/2 of the even (odd) accumulators holds row h, column c for even (odd) c.
    for h in 0..R {
        for c in 0..NR {
            let (i, odd) = (2 * h + c / 2, c % 2);
            res[h][c] = recombine([lanes[odd][i], lanes[2 + odd][i], lanes[4 + odd][i]]);
        }
    }
}
