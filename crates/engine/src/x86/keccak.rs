//! Keccak-256 (the original padding, as [`crate::hash::keccak`]) of several messages at once:
//! eight with AVX-512 ([`keccak256_x8`]), four with AVX2 ([`keccak256_x4`]). Lane `i` of each of
//! the 25 state vectors is word `x + 5y` of message `i`'s state. Messages of different lengths
//! run in lockstep; a lane's digest is read out after its last block, and a finished (or unused)
//! lane absorbs zeros until the longest message ends.

use core::arch::x86_64::*;

use crate::hash::Hash;

/// Bytes absorbed per permutation (1088-bit rate of Keccak-256).
const RATE: usize = 136;

/// Round constants of keccak-f[1600].
const RC: [u64; 24] = [
    0x0000000000000001,
    0x0000000000008082,
    0x800000000000808a,
    0x8000000080008000,
    0x000000000000808b,
    0x0000000080000001,
    0x8000000080008081,
    0x8000000000008009,
    0x000000000000008a,
    0x0000000000000088,
    0x0000000080008009,
    0x000000008000000a,
    0x000000008000808b,
    0x800000000000008b,
    0x8000000000008089,
    0x8000000000008003,
    0x8000000000008002,
    0x8000000000000080,
    0x000000000000800a,
    0x800000008000000a,
    0x8000000080008081,
    0x8000000000008080,
    0x0000000080000001,
    0x8000000080008008,
];

/// Rotation (rho) of lane `x + 5y`.
const RHO: [u32; 25] =
    [0, 1, 62, 28, 27, 36, 44, 6, 55, 20, 3, 10, 43, 25, 39, 41, 45, 15, 21, 8, 18, 2, 61, 56, 14];

/// Vectors of 64-bit words, one word per lane, with the steps keccak-f[1600] is made of.
///
/// Every method needs the target features of its implementation (the caller vouches for them).
trait Words: Copy {
    /// Every lane `v`.
    ///
    /// # Safety
    /// The CPU supports the implementation's target features (so for every method below).
    unsafe fn splat(v: u64) -> Self;
    /// `a ^ b`.
    unsafe fn xor(a: Self, b: Self) -> Self;
    /// `a ^ b ^ c`.
    unsafe fn xor3(a: Self, b: Self, c: Self) -> Self;
    /// `a` rotated left by `r < 64` bits.
    unsafe fn rol(a: Self, r: u32) -> Self;
    /// `a ^ (!b & c)`, the chi step.
    unsafe fn chi(a: Self, b: Self, c: Self) -> Self;
}

/// Runs `$body` for `$i` = 0, 1, 2, 3 and 4, unrolled: indices and rotations derived from `$i`
/// become constants.
macro_rules! unroll5 {
    ($i:ident => $body:expr) => {{
        {
            let $i = 0usize;
            $body;
        }
        {
            let $i = 1usize;
            $body;
        }
        {
            let $i = 2usize;
            $body;
        }
        {
            let $i = 3usize;
            $body;
        }
        {
            let $i = 4usize;
            $body;
        }
    }};
}

/// keccak-f[1600] on the states in the lanes of `a`. Rho and pi are applied a row of the output
/// at a time: output lane `x + 5y` is input lane `(x + 3y) % 5 + 5x`, rotated.
///
/// # Safety
/// The CPU supports the target features of `V`'s [`Words`] implementation.
#[inline(always)]
unsafe fn permute<V: Words>(a: &mut [V; 25]) {
    // SAFETY: the caller vouched for `V`'s target features.
    unsafe {
        for rc in RC {
            let mut c = [a[0]; 5];
            unroll5!(x => c[x] = V::xor3(V::xor3(a[x], a[x + 5], a[x + 10]), a[x + 15], a[x + 20]));
            let mut d = c;
            unroll5!(x => d[x] = V::xor(c[(x + 4) % 5], V::rol(c[(x + 1) % 5], 1)));
            let old = *a;
            unroll5!(y => {
                let mut b = [old[0]; 5];
                unroll5!(x => {
                    let s = (x + 3 * y) % 5 + 5 * x;
                    b[x] = V::rol(V::xor(old[s], d[s % 5]), RHO[s]);
                });
                unroll5!(x => a[x + 5 * y] = V::chi(b[x], b[(x + 1) % 5], b[(x + 2) % 5]));
            });
            a[0] = V::xor(a[0], V::splat(rc));
        }
    }
}

/// Words of `N` lanes that absorb blocks and give out digests.
trait Lanes<const N: usize>: Words {
    /// XORs one block of each lane (`RATE` bytes at `p[i]`) into the states `a`.
    ///
    /// # Safety
    /// As [`Words::splat`], and each `p[i]` points at `RATE` readable bytes.
    unsafe fn absorb(a: &mut [Self; 25], p: [*const u8; N]);

    /// The digest words: `out[w][i]` is word `w < 4` of lane `i`'s state.
    ///
    /// # Safety
    /// As [`Words::splat`].
    unsafe fn digests(a: &[Self; 25]) -> [[u64; N]; 4];
}

/// `out[i] = keccak(msgs[i])` for up to `N` messages, hashed in lockstep in the lanes of `V`.
///
/// # Safety
/// The CPU supports the target features of `V`'s [`Words`] and [`Lanes`] implementations.
///
/// # Panics
/// When there are more than `N` messages or `out` has another length.
#[inline(always)]
unsafe fn keccak256_lanes<const N: usize, V: Lanes<N>>(msgs: &[&[u8]], out: &mut [Hash]) {
    assert!(msgs.len() <= N && out.len() == msgs.len());
    // Blocks per message: the full ones, then the padded tail (a whole block when the length is
    // a multiple of the rate).
    let mut blocks = [0usize; N];
    let mut tail = [[0u8; RATE]; N];
    for (i, m) in msgs.iter().enumerate() {
        let full = m.len() / RATE;
        blocks[i] = full + 1;
        let rest = &m[full * RATE..];
        tail[i][..rest.len()].copy_from_slice(rest);
        tail[i][rest.len()] ^= 0x01;
        tail[i][RATE - 1] ^= 0x80;
    }
    let zero = [0u8; RATE];
    // SAFETY: the caller vouched for `V`'s target features.
    let mut a = [unsafe { V::splat(0) }; 25];
    for b in 0..blocks.iter().copied().max().unwrap_or(0) {
        // Unused lanes (`blocks[i] == 0`) and finished ones absorb zeros.
        let p: [*const u8; N] = core::array::from_fn(|i| {
            if b + 1 < blocks[i] {
                // SAFETY: block `b` is one of message `i`'s full blocks.
                unsafe { msgs[i].as_ptr().add(b * RATE) }
            } else if b + 1 == blocks[i] {
                tail[i].as_ptr()
            } else {
                zero.as_ptr()
            }
        });
        // SAFETY: every pointer addresses `RATE` bytes; the features as above.
        unsafe {
            V::absorb(&mut a, p);
            permute(&mut a);
        }
        if blocks.contains(&(b + 1)) {
            // SAFETY: as above.
            let words = unsafe { V::digests(&a) };
            for (i, o) in out.iter_mut().enumerate().filter(|&(i, _)| blocks[i] == b + 1) {
                for (chunk, w) in o.chunks_exact_mut(8).zip(&words) {
                    chunk.copy_from_slice(&w[i].to_le_bytes());
                }
            }
        }
    }
}

/// `out[i] = keccak(msgs[i])` for up to 8 messages.
///
/// # Safety
/// The CPU supports AVX-512F.
///
/// # Panics
/// When there are more than 8 messages or `out` has another length.
#[target_feature(enable = "avx512f")]
pub(super) unsafe fn keccak256_x8(msgs: &[&[u8]], out: &mut [Hash]) {
    // SAFETY: the caller vouched for AVX-512F.
    unsafe { keccak256_lanes::<8, __m512i>(msgs, out) }
}

/// `out[i] = keccak(msgs[i])` for up to 4 messages.
///
/// # Safety
/// The CPU supports AVX2.
///
/// # Panics
/// When there are more than 4 messages or `out` has another length.
#[target_feature(enable = "avx2")]
pub(super) unsafe fn keccak256_x4(msgs: &[&[u8]], out: &mut [Hash]) {
    // SAFETY: the caller vouched for AVX2.
    unsafe { keccak256_lanes::<4, __m256i>(msgs, out) }
}

/// Eight lanes: three-input steps in one `vpternlogq`, rotations in one `vprolvq`.
impl Words for __m512i {
    #[inline]
    #[target_feature(enable = "avx512f")]
    unsafe fn splat(v: u64) -> Self {
        _mm512_set1_epi64(v as i64)
    }

    #[inline]
    #[target_feature(enable = "avx512f")]
    unsafe fn xor(a: Self, b: Self) -> Self {
        _mm512_xor_si512(a, b)
    }

    #[inline]
    #[target_feature(enable = "avx512f")]
    unsafe fn xor3(a: Self, b: Self, c: Self) -> Self {
        _mm512_ternarylogic_epi64::<0x96>(a, b, c)
    }

    #[inline]
    #[target_feature(enable = "avx512f")]
    unsafe fn rol(a: Self, r: u32) -> Self {
        _mm512_rolv_epi64(a, _mm512_set1_epi64(i64::from(r)))
    }

    #[inline]
    #[target_feature(enable = "avx512f")]
    unsafe fn chi(a: Self, b: Self, c: Self) -> Self {
        _mm512_ternarylogic_epi64::<0xd2>(a, b, c)
    }
}

/// Transposes 8 × 8 words: `out[j]` holds word `j` of each row.
#[inline]
#[target_feature(enable = "avx512f")]
fn transpose8(r: [__m512i; 8]) -> [__m512i; 8] {
    const LO: i32 = 0b10_00_10_00;
    const HI: i32 = 0b11_01_11_01;
    let t: [__m512i; 8] = [
        _mm512_unpacklo_epi64(r[0], r[1]),
        _mm512_unpackhi_epi64(r[0], r[1]),
        _mm512_unpacklo_epi64(r[2], r[3]),
        _mm512_unpackhi_epi64(r[2], r[3]),
        _mm512_unpacklo_epi64(r[4], r[5]),
        _mm512_unpackhi_epi64(r[4], r[5]),
        _mm512_unpacklo_epi64(r[6], r[7]),
        _mm512_unpackhi_epi64(r[6], r[7]),
    ];
    // u0: words 0 and 4 of rows 0..4, u1: words 2 and 6, u2: 1 and 5, u3: 3 and 7; u4..u7 the
    // same for rows 4..8.
    let u = [
        _mm512_shuffle_i64x2::<LO>(t[0], t[2]),
        _mm512_shuffle_i64x2::<HI>(t[0], t[2]),
        _mm512_shuffle_i64x2::<LO>(t[1], t[3]),
        _mm512_shuffle_i64x2::<HI>(t[1], t[3]),
        _mm512_shuffle_i64x2::<LO>(t[4], t[6]),
        _mm512_shuffle_i64x2::<HI>(t[4], t[6]),
        _mm512_shuffle_i64x2::<LO>(t[5], t[7]),
        _mm512_shuffle_i64x2::<HI>(t[5], t[7]),
    ];
    [
        _mm512_shuffle_i64x2::<LO>(u[0], u[4]),
        _mm512_shuffle_i64x2::<LO>(u[2], u[6]),
        _mm512_shuffle_i64x2::<LO>(u[1], u[5]),
        _mm512_shuffle_i64x2::<LO>(u[3], u[7]),
        _mm512_shuffle_i64x2::<HI>(u[0], u[4]),
        _mm512_shuffle_i64x2::<HI>(u[2], u[6]),
        _mm512_shuffle_i64x2::<HI>(u[1], u[5]),
        _mm512_shuffle_i64x2::<HI>(u[3], u[7]),
    ]
}

impl Lanes<8> for __m512i {
    #[inline]
    #[target_feature(enable = "avx512f")]
    unsafe fn absorb(a: &mut [Self; 25], p: [*const u8; 8]) {
        for half in 0..2 {
            // SAFETY: bytes `64 · half..64 · half + 64` of each block.
            let rows = p.map(|q| unsafe { _mm512_loadu_si512(q.add(64 * half).cast()) });
            for (j, w) in transpose8(rows).into_iter().enumerate() {
                a[8 * half + j] = _mm512_xor_si512(a[8 * half + j], w);
            }
        }
        // SAFETY: bytes 128..136 of each block.
        let l = p.map(|q| unsafe { q.add(128).cast::<i64>().read_unaligned() });
        let w = _mm512_setr_epi64(l[0], l[1], l[2], l[3], l[4], l[5], l[6], l[7]);
        a[16] = _mm512_xor_si512(a[16], w);
    }

    #[inline]
    #[target_feature(enable = "avx512f")]
    unsafe fn digests(a: &[Self; 25]) -> [[u64; 8]; 4] {
        let mut words = [[0u64; 8]; 4];
        for (w, v) in words.iter_mut().zip(&a[..4]) {
            // SAFETY: `w` is 64 bytes.
            unsafe { _mm512_storeu_si512(w.as_mut_ptr().cast(), *v) };
        }
        words
    }
}

/// Four lanes: rotations by two shifts and an or, chi with `vpandn`.
impl Words for __m256i {
    #[inline]
    #[target_feature(enable = "avx2")]
    unsafe fn splat(v: u64) -> Self {
        _mm256_set1_epi64x(v as i64)
    }

    #[inline]
    #[target_feature(enable = "avx2")]
    unsafe fn xor(a: Self, b: Self) -> Self {
        _mm256_xor_si256(a, b)
    }

    #[inline]
    #[target_feature(enable = "avx2")]
    unsafe fn xor3(a: Self, b: Self, c: Self) -> Self {
        _mm256_xor_si256(_mm256_xor_si256(a, b), c)
    }

    /// Variable shifts by 64 or more give zero, so `r = 0` is the identity too.
    #[inline]
    #[target_feature(enable = "avx2")]
    unsafe fn rol(a: Self, r: u32) -> Self {
        let l = _mm256_sllv_epi64(a, _mm256_set1_epi64x(i64::from(r)));
        _mm256_or_si256(l, _mm256_srlv_epi64(a, _mm256_set1_epi64x(i64::from(64 - r))))
    }

    #[inline]
    #[target_feature(enable = "avx2")]
    unsafe fn chi(a: Self, b: Self, c: Self) -> Self {
        _mm256_xor_si256(a, _mm256_andnot_si256(b, c))
    }
}

/// Transposes 4 × 4 words: `out[j]` holds word `j` of each row.
#[inline]
#[target_feature(enable = "avx2")]
fn transpose4(r: [__m256i; 4]) -> [__m256i; 4] {
    // t0: words 0 and 2 of rows 0 and 1, t1: words 1 and 3; t2, t3 the same for rows 2 and 3.
    let t = [
        _mm256_unpacklo_epi64(r[0], r[1]),
        _mm256_unpackhi_epi64(r[0], r[1]),
        _mm256_unpacklo_epi64(r[2], r[3]),
        _mm256_unpackhi_epi64(r[2], r[3]),
    ];
    [
        _mm256_permute2x128_si256::<0x20>(t[0], t[2]),
        _mm256_permute2x128_si256::<0x20>(t[1], t[3]),
        _mm256_permute2x128_si256::<0x31>(t[0], t[2]),
        _mm256_permute2x128_si256::<0x31>(t[1], t[3]),
    ]
}

impl Lanes<4> for __m256i {
    #[inline]
    #[target_feature(enable = "avx2")]
    unsafe fn absorb(a: &mut [Self; 25], p: [*const u8; 4]) {
        for quarter in 0..4 {
            // SAFETY: bytes `32 · quarter..32 · quarter + 32` of each block.
            let rows = p.map(|q| unsafe { _mm256_loadu_si256(q.add(32 * quarter).cast()) });
            for (j, w) in transpose4(rows).into_iter().enumerate() {
                a[4 * quarter + j] = _mm256_xor_si256(a[4 * quarter + j], w);
            }
        }
        // SAFETY: bytes 128..136 of each block.
        let l = p.map(|q| unsafe { q.add(128).cast::<i64>().read_unaligned() });
        a[16] = _mm256_xor_si256(a[16], _mm256_setr_epi64x(l[0], l[1], l[2], l[3]));
    }

    #[inline]
    #[target_feature(enable = "avx2")]
    unsafe fn digests(a: &[Self; 25]) -> [[u64; 4]; 4] {
        let mut words = [[0u64; 4]; 4];
        for (w, v) in words.iter_mut().zip(&a[..4]) {
            // SAFETY: `w` is 32 bytes.
            unsafe { _mm256_storeu_si256(w.as_mut_ptr().cast(), *v) };
        }
        words
    }
}
