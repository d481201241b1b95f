//! Keccak-256 (the original padding, as [`crate::hash::keccak`]) of eight messages at once with
//! AVX-512: lane `i` of each of the 25 state vectors is word `x + 5y` of message `i`'s state.
//! Messages of different lengths run in lockstep; a lane's digest is read out after its last
//! block, and a finished lane absorbs zeros until the longest message ends.

// Tiles index several arrays by the same row and column: index loops read best.
#![allow(clippy::needless_range_loop)]

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

/// Rotation of each lane visited by the combined rho and pi steps.
const RHO: [u32; 24] =
    [1, 3, 6, 10, 15, 21, 28, 36, 45, 55, 2, 14, 27, 41, 56, 8, 25, 43, 62, 18, 39, 61, 20, 44];

/// Order in which the combined rho and pi steps visit the lanes.
const PI: [usize; 24] =
    [10, 7, 11, 17, 18, 3, 5, 16, 8, 21, 24, 4, 15, 23, 19, 13, 12, 2, 20, 14, 22, 9, 6, 1];

/// `a ^ b ^ c`.
const XOR3: i32 = 0x96;

/// `a ^ (!b & c)`, the chi step.
const CHI: i32 = 0xd2;

/// keccak-f[1600] on eight states.
#[inline]
#[target_feature(enable = "avx512f")]
fn permute(a: &mut [__m512i; 25]) {
    for rc in RC {
        let mut c = [_mm512_setzero_si512(); 5];
        for (x, cx) in c.iter_mut().enumerate() {
            let t = _mm512_ternarylogic_epi64::<XOR3>(a[x], a[x + 5], a[x + 10]);
            *cx = _mm512_ternarylogic_epi64::<XOR3>(t, a[x + 15], a[x + 20]);
        }
        for x in 0..5 {
            let r = _mm512_rol_epi64::<1>(c[(x + 1) % 5]);
            for y in 0..5 {
                a[x + 5 * y] = _mm512_ternarylogic_epi64::<XOR3>(a[x + 5 * y], c[(x + 4) % 5], r);
            }
        }
        let mut last = a[1];
        for (&j, &r) in PI.iter().zip(&RHO) {
            let t = a[j];
            a[j] = _mm512_rolv_epi64(last, _mm512_set1_epi64(i64::from(r)));
            last = t;
        }
        for y in 0..5 {
            let b = [a[5 * y], a[5 * y + 1], a[5 * y + 2], a[5 * y + 3], a[5 * y + 4]];
            for x in 0..5 {
                a[5 * y + x] =
                    _mm512_ternarylogic_epi64::<CHI>(b[x], b[(x + 1) % 5], b[(x + 2) % 5]);
            }
        }
        a[0] = _mm512_xor_si512(a[0], _mm512_set1_epi64(rc as i64));
    }
}

/// Transposes 8 × 8 words: `out[j]` holds word `j` of each row.
#[inline]
#[target_feature(enable = "avx512f")]
fn transpose(r: [__m512i; 8]) -> [__m512i; 8] {
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

/// XORs one block of each lane into the state.
///
/// # Safety
/// AVX-512F, and each `p[i]` points at `RATE` readable bytes.
#[inline]
#[target_feature(enable = "avx512f")]
unsafe fn absorb(a: &mut [__m512i; 25], p: [*const u8; 8]) {
    for half in 0..2 {
        // SAFETY: bytes `64 · half..64 · half + 64` of each block.
        let rows = p.map(|q| unsafe { _mm512_loadu_si512(q.add(64 * half).cast()) });
        for (j, w) in transpose(rows).into_iter().enumerate() {
            a[8 * half + j] = _mm512_xor_si512(a[8 * half + j], w);
        }
    }
    // SAFETY: bytes 128..136 of each block.
    let last = p.map(|q| unsafe { q.add(128).cast::<i64>().read_unaligned() });
    let w =
        _mm512_setr_epi64(last[0], last[1], last[2], last[3], last[4], last[5], last[6], last[7]);
    a[16] = _mm512_xor_si512(a[16], w);
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
    assert!(msgs.len() <= 8 && out.len() == msgs.len());
    // Blocks per message: the full ones, then the padded tail (a whole block when the length is
    // a multiple of the rate).
    let mut blocks = [0usize; 8];
    let mut tail = [[0u8; RATE]; 8];
    for (i, m) in msgs.iter().enumerate() {
        let full = m.len() / RATE;
        blocks[i] = full + 1;
        let rest = &m[full * RATE..];
        tail[i][..rest.len()].copy_from_slice(rest);
        tail[i][rest.len()] ^= 0x01;
        tail[i][RATE - 1] ^= 0x80;
    }
    let zero = [0u8; RATE];
    let mut a = [_mm512_setzero_si512(); 25];
    for b in 0..blocks.iter().copied().max().unwrap_or(0) {
        let p: [*const u8; 8] = core::array::from_fn(|i| match b.cmp(&(blocks[i].max(1) - 1)) {
            // SAFETY: block `b` is one of message `i`'s full blocks.
            core::cmp::Ordering::Less => unsafe { msgs[i].as_ptr().add(b * RATE) },
            core::cmp::Ordering::Equal if i < msgs.len() => tail[i].as_ptr(),
            _ => zero.as_ptr(),
        });
        // SAFETY: every pointer addresses `RATE` bytes.
        unsafe { absorb(&mut a, p) };
        permute(&mut a);
        if (0..msgs.len()).any(|i| blocks[i] == b + 1) {
            let mut words = [[0u64; 8]; 4];
            for (w, v) in words.iter_mut().zip(&a[..4]) {
                // SAFETY: `w` is 64 bytes.
                unsafe { _mm512_storeu_si512(w.as_mut_ptr().cast(), *v) };
            }
            for (i, o) in out.iter_mut().enumerate().filter(|&(i, _)| blocks[i] == b + 1) {
                for (chunk, w) in o.chunks_exact_mut(8).zip(&words) {
                    chunk.copy_from_slice(&w[i].to_le_bytes());
                }
            }
        }
    }
}
