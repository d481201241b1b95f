//! What the tiled GEMM kernels of both levels share: the tile width, the block scales rearranged
//! per tile, and the limbs the block maxima are split into (see the [`super`] docs).

use alloc::vec::Vec;
use core::ops::Range;

/// Weight rows per tile (both levels).
pub(super) const NR: usize = 4;

/// Block scales rearranged for the tiled kernels, blocks padded to an even count `nb2` with
/// zeros: `w[(tile · nb2 + b) · NR + c]` is the ratio of block `b` of the tile's column `c` (0
/// past the last column), `a[i · nb2 + b]` the maximum of block `b` of row `i`.
pub(super) struct Scales {
    pub(super) nb2: usize,
    pub(super) w: Vec<i32>,
    pub(super) a: Vec<u32>,
}

impl Scales {
    /// Whether `max|w_s| · blocks < 2^32` over columns `cols`: beyond, the per-limb i64 sums
    /// could wrap.
    pub(super) fn fits(nb: usize, w_s: &[i32], cols: Range<usize>) -> bool {
        let wmax = w_s[cols.start * nb..cols.end * nb].iter().map(|v| v.unsigned_abs()).max();
        u64::from(wmax.unwrap_or(0)) * (nb as u64) < 1 << 32
    }

    /// `None` when the ratios do not [`Self::fits`].
    pub(super) fn new(
        m: usize,
        nb: usize,
        a_s: &[u32],
        w_s: &[i32],
        cols: Range<usize>,
    ) -> Option<Self> {
        if !Self::fits(nb, w_s, cols.clone()) {
            return None;
        }
        let nb2 = nb.next_multiple_of(2);
        let tiles = cols.len().div_ceil(NR);
        let mut w = alloc::vec![0i32; tiles * nb2 * NR];
        for (c, j) in cols.enumerate() {
            let dst = &mut w[c / NR * nb2 * NR + c % NR..];
            for (b, &r) in w_s[j * nb..(j + 1) * nb].iter().enumerate() {
                dst[b * NR] = r;
            }
        }
        let mut a = alloc::vec![0u32; m * nb2];
        for (dst, src) in a.chunks_exact_mut(nb2).zip(a_s.chunks_exact(nb)) {
            dst[..nb].copy_from_slice(src);
        }
        Some(Self { nb2, w, a })
    }
}

/// Bits per limb of the block maxima (three limbs; the top one has 10 bits).
pub(super) const LIMB_BITS: u32 = 11;

/// Recombines the per-limb sums of one output: `Σ_l limbs[l] · 2^(11 l)`.
#[inline]
pub(super) fn recombine(limbs: [i64; 3]) -> i128 {
    i128::from(limbs[0])
        + (i128::from(limbs[1]) << LIMB_BITS)
        + (i128::from(limbs[2]) << (2 * LIMB_BITS))
}
