//! AVX-512 VNNI kernels: 64 bytes per step with `vpdpbusd` (see the parent module for the
//! arithmetic). Tails are masked loads, which read zeros past the end of a row.

// Tiles index several arrays by the same row and column: index loops read best.
#![allow(clippy::needless_range_loop)]

use core::{arch::x86_64::*, array, ops::Range};

use super::tiles::{LIMB_BITS, NR, Scales, recombine};

/// Activation rows per tile of the plain product.
const MR: usize = 4;

/// Activation rows per tile of the block-scaled product (two rows fill one reduced vector).
const MR_BLOCKED: usize = 2;

/// The weight rows of the tile of columns `c0..c0 + NR`, the last real one repeated past `last`.
///
/// # Safety
/// Rows `c0.min(last)..=last` of `k` bytes lie within `w`.
unsafe fn weight_rows(w: &[i8], k: usize, c0: usize, last: usize) -> [*const i8; NR] {
    // SAFETY: every row index is at most `last`.
    array::from_fn(|c| unsafe { w.as_ptr().add((c0 + c).min(last) * k) })
}

/// `out[m, cols] = a[m, k] · w[cols, k]ᵀ`, each a wrapping i32 dot product.
///
/// # Safety
/// The CPU supports AVX-512 F, BW, VL and VNNI; `a` holds `m · k` bytes, `w` `cols.end · k`, and
/// `out` is `m · cols.len()` with both non-empty.
#[target_feature(enable = "avx512f,avx512bw,avx512vl,avx512vnni")]
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
                    2 => plain_tile::<2>(ap, k, wr, &mut res),
                    3 => plain_tile::<3>(ap, k, wr, &mut res),
                    _ => plain_tile::<4>(ap, k, wr, &mut res),
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
/// AVX-512 VNNI as for [`gemm_i8`]; `a` starts `R` rows of `k` bytes, each `w[c]` one row.
#[inline]
#[target_feature(enable = "avx512f,avx512bw,avx512vl,avx512vnni")]
unsafe fn plain_tile<const R: usize>(
    a: *const i8,
    k: usize,
    w: [*const i8; NR],
    res: &mut [[i32; NR]; MR],
) {
    let zero = _mm512_setzero_si512();
    let bias = _mm512_set1_epi8(-128);
    let mut acc = [[zero; NR]; R];
    let mut corr = [zero; R];
    let mut o = 0;
    while o < k {
        let mask = if o + 64 <= k { u64::MAX } else { (1u64 << (k - o)) - 1 };
        let mut x = [zero; R];
        for r in 0..R {
            // SAFETY: the masked bytes `o..min(o + 64, k)` lie within row `r`.
            x[r] = unsafe { _mm512_maskz_loadu_epi8(mask, a.add(r * k + o)) };
            corr[r] = _mm512_dpbusd_epi32(corr[r], bias, x[r]);
        }
        for c in 0..NR {
            // SAFETY: as above, within weight row `c`.
            let wv = _mm512_xor_si512(unsafe { _mm512_maskz_loadu_epi8(mask, w[c].add(o)) }, bias);
            for r in 0..R {
                acc[r][c] = _mm512_dpbusd_epi32(acc[r][c], wv, x[r]);
            }
        }
        o += 64;
    }
    for r in 0..R {
        // Σ (w + 128) · a − 128 · Σ a, all modulo 2^32.
        let cr = _mm512_reduce_add_epi32(corr[r]);
        for c in 0..NR {
            res[r][c] = _mm512_reduce_add_epi32(acc[r][c]).wrapping_sub(cr);
        }
    }
}

/// Exact block-scaled products of 32-element blocks (`k = 32 · blocks`), see the parent module.
///
/// # Safety
/// As for [`gemm_i8`], with `k` a multiple of 32 and `s` built for these rows and columns.
#[target_feature(enable = "avx512f,avx512bw,avx512vl,avx512vnni")]
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
        for r0 in (0..m).step_by(MR_BLOCKED) {
            let rows = (m - r0).min(MR_BLOCKED);
            let at = &s.a[r0 * s.nb2..(r0 + rows) * s.nb2];
            let mut res = [[0i128; NR]; MR_BLOCKED];
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

/// Sums each 256-bit half of 8 vectors: the result's 128-bit lanes are `[v0..v3]` over the low
/// halves, `[v0..v3]` over the high halves, then the same for `v4..v7`.
#[inline]
#[target_feature(enable = "avx512f,avx512bw,avx512vl,avx512vnni")]
fn reduce8(v: [__m512i; 8]) -> __m512i {
    let q = |x, y| _mm512_add_epi32(_mm512_unpacklo_epi32(x, y), _mm512_unpackhi_epi32(x, y));
    let h = |x, y| _mm512_add_epi32(_mm512_unpacklo_epi64(x, y), _mm512_unpackhi_epi64(x, y));
    let lo = h(q(v[0], v[1]), q(v[2], v[3]));
    let hi = h(q(v[4], v[5]), q(v[6], v[7]));
    _mm512_add_epi32(
        _mm512_shuffle_i32x4::<0b10_00_10_00>(lo, hi),
        _mm512_shuffle_i32x4::<0b11_01_11_01>(lo, hi),
    )
}

/// One `R × NR` tile of the block-scaled product; `at` holds the tile rows' padded block maxima,
/// `wt` the tile's transposed ratios (see [`Scales`]).
///
/// # Safety
/// As for [`plain_tile`], with `k` a multiple of 32.
#[inline]
#[target_feature(enable = "avx512f,avx512bw,avx512vl,avx512vnni")]
unsafe fn blocked_tile<const R: usize>(
    a: *const i8,
    k: usize,
    w: [*const i8; NR],
    at: &[u32],
    wt: &[i32],
    res: &mut [[i128; NR]; MR_BLOCKED],
) {
    let nb2 = wt.len() / NR;
    let zero = _mm512_setzero_si512();
    let bias = _mm512_set1_epi8(-128);
    let spread = _mm512_setr_epi32(0, 0, 0, 0, 1, 1, 1, 1, 2, 2, 2, 2, 3, 3, 3, 3);
    let low = _mm512_set1_epi32((1 << LIMB_BITS) - 1);
    // Per limb, even then odd 32-bit lanes of the reduced dots, widened to i64.
    let mut acc = [zero; 6];
    for st in 0..nb2 / 2 {
        let o = 64 * st;
        let mask = if o + 64 <= k { u64::MAX } else { (1u64 << (k - o)) - 1 };
        let mut x = [zero; MR_BLOCKED];
        let mut neg = [zero; MR_BLOCKED];
        for r in 0..R {
            // SAFETY: the masked bytes `o..min(o + 64, k)` lie within row `r`.
            x[r] = unsafe { _mm512_maskz_loadu_epi8(mask, a.add(r * k + o)) };
            neg[r] = _mm512_sub_epi32(zero, _mm512_dpbusd_epi32(zero, bias, x[r]));
        }
        // Lanes of each v: 8 per 32-element block, starting from -128 · Σ a.
        let mut v = [[zero; NR]; MR_BLOCKED];
        for c in 0..NR {
            // SAFETY: as above, within weight row `c`.
            let wv = _mm512_xor_si512(unsafe { _mm512_maskz_loadu_epi8(mask, w[c].add(o)) }, bias);
            for r in 0..R {
                v[r][c] = _mm512_dpbusd_epi32(neg[r], wv, x[r]);
            }
        }
        // Lane 8h + 4p + c: row h, block 2·st + p, column c.
        let [[v0, v1, v2, v3], [v4, v5, v6, v7]] = v;
        let dots = reduce8([v0, v1, v2, v3, v4, v5, v6, v7]);
        // SAFETY: `wt` holds `nb2 · NR >= (2 · st + 2) · NR` values.
        let ws = _mm512_broadcast_i64x4(unsafe {
            _mm256_loadu_si256(wt.as_ptr().add(2 * st * NR).cast())
        });
        let ws_odd = _mm512_srli_epi64::<32>(ws);
        let r1 = (R - 1) * nb2;
        let pair = _mm_set_epi32(
            at[r1 + 2 * st + 1] as i32,
            at[r1 + 2 * st] as i32,
            at[2 * st + 1] as i32,
            at[2 * st] as i32,
        );
        let maxes = _mm512_permutexvar_epi32(spread, _mm512_castsi128_si512(pair));
        let limbs = [
            _mm512_and_si512(maxes, low),
            _mm512_and_si512(_mm512_srli_epi32::<LIMB_BITS>(maxes), low),
            _mm512_srli_epi32::<{ 2 * LIMB_BITS }>(maxes),
        ];
        for (l, limb) in limbs.into_iter().enumerate() {
            // |dot| ≤ 2^19 and limb < 2^11: the product fits an i32.
            let t = _mm512_mullo_epi32(dots, limb);
            acc[2 * l] = _mm512_add_epi64(acc[2 * l], _mm512_mul_epi32(t, ws));
            let t_odd = _mm512_srli_epi64::<32>(t);
            acc[2 * l + 1] = _mm512_add_epi64(acc[2 * l + 1], _mm512_mul_epi32(t_odd, ws_odd));
        }
    }
    // i64 lane 4h + 2p + c/2 of the even (odd) accumulators holds row h, block parity p and
    // column c for even (odd) c: add the two block parities (swap 128-bit lanes 0↔1 and 2↔3).
    let mut lanes = [[0i64; 8]; 6];
    for (dst, v) in lanes.iter_mut().zip(acc) {
        let v = _mm512_add_epi64(v, _mm512_shuffle_i64x2::<0b10_11_00_01>(v, v));
        // SAFETY: `dst` is 64 bytes.
        unsafe { _mm512_storeu_si512(dst.as_mut_ptr().cast(), v) };
    }
    for h in 0..R {
        for c in 0..NR {
            let (i, odd) = (4 * h + c / 2, c % 2);
            res[h][c] = recombine([lanes[odd][i], lanes[2 + odd][i], lanes[4 + odd][i]]);
        }
    }
}
