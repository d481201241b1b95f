//! The row-lane AVX-512 VNNI kernel for block-scaled products of tiles of 16 activation rows.
//!
//! The tile is packed so that lane `r` of vector `g` holds bytes `4g..4g + 4` of row `r`, biased
//! to `a + 128` (the unsigned operand of `vpdpbusd`); eight `vpdpbusd` with the weight bytes
//! broadcast then give the 16 rows' dot products of one 32-element block in the lanes, with no
//! horizontal sums. Each block starts from `-128 · Σ w` over the block, so the lanes hold the exact
//! `Σ a · w` (at most 2^19 in magnitude). Scaling is as in the parent module, with 12-bit limbs of
//! the block maxima (`dot · limb < 2^31`), two of them while every maximum is below 2^24.

// Index loops over lanes, limbs and blocks read best.
#![allow(clippy::needless_range_loop)]

use alloc::{vec, vec::Vec};
use core::{arch::x86_64::*, ops::Range};

/// Rows per tile (one per 32-bit lane of a 512-bit vector).
pub(super) const ROWS: usize = 16;

/// Bits per limb of the block maxima.
const LIMB: u32 = 12;

/// Full 16-row tiles of an input, packed for `blocked`.
#[derive(Debug, Clone, Default)]
pub struct Packed {
    pub(super) tiles: usize,
    pub(super) k: usize,
    /// Limbs per block maximum: 2 when all are below 2^24, else 3.
    pub(super) limbs: usize,
    /// `[tile][k / 4][ROWS]`: four biased bytes of each row.
    a: Vec<u32>,
    /// `[tile][block][limb][ROWS]`: the limbs of each row's block maxima.
    s: Vec<u32>,
}

impl Packed {
    /// Packs the full tiles of `rows` rows of `k` codes (`k` a multiple of 32) and their maxima.
    pub(super) fn new(x_q: &[i8], x_max: &[u32], rows: usize, k: usize) -> Self {
        let (tiles, groups, nb) = (rows / ROWS, k / 4, k / 32);
        let n = tiles * ROWS;
        let limbs = if x_max[..n * nb].iter().all(|&m| m < 1 << (2 * LIMB)) { 2 } else { 3 };
        let mut a = vec![0u32; tiles * groups * ROWS];
        for (i, row) in x_q[..n * k].chunks_exact(k).enumerate() {
            let (t, r) = (i / ROWS, i % ROWS);
            for (g, b) in row.chunks_exact(4).enumerate() {
                let biased =
                    [b[0] as u8 ^ 0x80, b[1] as u8 ^ 0x80, b[2] as u8 ^ 0x80, b[3] as u8 ^ 0x80];
                a[(t * groups + g) * ROWS + r] = u32::from_le_bytes(biased);
            }
        }
        let mut s = vec![0u32; tiles * nb * limbs * ROWS];
        for (i, maxes) in x_max[..n * nb].chunks_exact(nb).enumerate() {
            let (t, r) = (i / ROWS, i % ROWS);
            for (b, &m) in maxes.iter().enumerate() {
                for l in 0..limbs {
                    s[((t * nb + b) * limbs + l) * ROWS + r] = (m >> (LIMB * l as u32)) & 0xfff;
                }
            }
        }
        Self { tiles, k, limbs, a, s }
    }
}

/// Exact block-scaled accumulators of the packed rows for columns `cols`: `out` holds
/// `16 · tiles` rows of `cols.len()` values.
///
/// # Safety
/// The CPU supports AVX-512 F, BW, VL and VNNI; `w` holds `cols.end` rows of `p.k` bytes and
/// `w_s` their ratios, with `max|w_s| · blocks < 2^32`; `p.limbs == L`.
#[target_feature(enable = "avx512f,avx512bw,avx512vl,avx512vnni")]
pub(super) unsafe fn blocked<const L: usize>(
    p: &Packed,
    w: &[i8],
    w_s: &[i32],
    cols: Range<usize>,
    out: &mut [i128],
) {
    let (k, groups, nb, width) = (p.k, p.k / 4, p.k / 32, cols.len());
    debug_assert!(p.limbs == L && out.len() == p.tiles * ROWS * width);
    let mut sums = vec![0i32; nb];
    for (c, j) in cols.enumerate() {
        let wr = &w[j * k..(j + 1) * k];
        for (s, blk) in sums.iter_mut().zip(wr.chunks_exact(32)) {
            *s = -128 * blk.iter().map(|&v| i32::from(v)).sum::<i32>();
        }
        let ws = &w_s[j * nb..(j + 1) * nb];
        for t in 0..p.tiles {
            let a = &p.a[t * groups * ROWS..(t + 1) * groups * ROWS];
            let s = &p.s[t * nb * L * ROWS..(t + 1) * nb * L * ROWS];
            let zero = _mm512_setzero_si512();
            // Per limb, the i64 sums of the even then the odd rows.
            let mut acc = [zero; 6];
            for b in 0..nb {
                let mut d = _mm512_set1_epi32(sums[b]);
                for g in 0..8 {
                    // SAFETY: group `8b + g` of the tile has `ROWS` lanes, and 4 bytes of the
                    // weight row at `32b + 4g < k`.
                    let (av, wv) = unsafe {
                        (
                            _mm512_loadu_si512(a.as_ptr().add((8 * b + g) * ROWS).cast()),
                            wr.as_ptr().add(32 * b + 4 * g).cast::<i32>().read_unaligned(),
                        )
                    };
                    d = _mm512_dpbusd_epi32(d, av, _mm512_set1_epi32(wv));
                }
                let r = _mm512_set1_epi32(ws[b]);
                for l in 0..L {
                    // SAFETY: limb `l` of block `b` has `ROWS` lanes.
                    let limb =
                        unsafe { _mm512_loadu_si512(s.as_ptr().add((b * L + l) * ROWS).cast()) };
                    let t = _mm512_mullo_epi32(d, limb);
                    acc[2 * l] = _mm512_add_epi64(acc[2 * l], _mm512_mul_epi32(t, r));
                    let t_odd = _mm512_srli_epi64::<32>(t);
                    acc[2 * l + 1] = _mm512_add_epi64(acc[2 * l + 1], _mm512_mul_epi32(t_odd, r));
                }
            }
            let mut lanes = [[0i64; 8]; 6];
            for l in 0..2 * L {
                // SAFETY: `lanes[l]` is 64 bytes.
                unsafe { _mm512_storeu_si512(lanes[l].as_mut_ptr().cast(), acc[l]) };
            }
            for r in 0..ROWS {
                let (i, odd) = (r / 2, r % 2);
                let mut v = 0i128;
                for l in 0..L {
                    v += i128::from(lanes[2 * l + odd][i]) << (LIMB * l as u32);
                }
                out[(t * ROWS + r) * width + c] = v;
            }
        }
    }
}
