//! One element of the attention and feed-forward ops between the linear layers: the rotary
//! embedding of a pair, a query-key score, a context accumulator, the gated activation.

use crate::fixed::{Multiplier, round_shift_i64, sat_i32};

/// Rotates the pair `(a, b)` by the Q14 angle `(cos, sin)`:
/// `(a·cos − b·sin, a·sin + b·cos) / 2^14`, each rounded half away from zero and saturated.
pub fn rope_pair(a: i32, b: i32, cos: i32, sin: i32) -> (i32, i32) {
    let (a, b, c, s) = (i64::from(a), i64::from(b), i64::from(cos), i64::from(sin));
    (sat_i32(round_shift_i64(a * c - b * s, 14)), sat_i32(round_shift_i64(a * s + b * c, 14)))
}

/// `Σ a_i · b_i` of two int8 vectors, exact in i32 (at most 131 071 terms).
pub fn dot_i8(a: &[i8], b: &[i8]) -> i32 {
    a.iter().zip(b).map(|(&x, &y)| i32::from(x) * i32::from(y)).sum()
}

/// A Q12 attention score from the int8 dot product of a query and a key head quantised with
/// maxima `q_max` and `k_max` ([`crate::fixed::quantize_max`]): `q·k` in Q12 is
/// `dot · q_max · k_max / (127² · 2^12)`, and `scale` folds in `1 / (127² · sqrt(head_dim))`.
pub fn score(dot: i32, q_max: u32, k_max: u32, scale: Multiplier) -> i32 {
    scale.apply_wide(i128::from(dot) * i128::from(q_max) * i128::from(k_max), 12)
}

/// One term of a context element's accumulator: probability (Q16) times value (Q12).
pub fn context_term(p: u16, v: i32) -> i64 {
    i64::from(p) * i64::from(v)
}

/// A context element (Q12) from its accumulator `Σ_j p_j · v_j` (Q28); the engine keeps the low
/// 32 bits of the rounded value (it fits whenever the probabilities sum to at most 1).
pub fn context_element(acc: i64) -> i32 {
    round_shift_i64(acc, 16) as i32
}

/// A gated feed-forward element: `act(gate) · up / 2^12` (both Q12), rounded and saturated;
/// `act` is the activation table's value for the gate ([`crate::nonlin::lut_act`]).
pub fn gated(act: i32, up: i32) -> i32 {
    sat_i32(round_shift_i64(i64::from(act) * i64::from(up), 12))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn elements_by_hand() {
        // A quarter turn (cos 0, sin 1.0 = 2^14) maps (a, b) to (−b, a).
        assert_eq!(rope_pair(100, 7, 0, 1 << 14), (-7, 100));
        assert_eq!(rope_pair(i32::MAX, i32::MAX, 1 << 14, 1 << 14), (0, i32::MAX));
        assert_eq!(dot_i8(&[1, -2, 127], &[3, 4, -127]), 3 - 8 - 16129);
        // scale 2^-20 (m0 = 2^30, shift = -19): 10 · 2^10 · 2^10 / 2^(12 + 20) · ... = 10 / 2^12.
        let scale = Multiplier { m0: 1 << 30, shift: -19 };
        assert_eq!(score(1 << 12, 1 << 10, 1 << 10, scale), 1);
        assert_eq!(context_term(65535, -3), -196_605);
        assert_eq!(context_element(3 << 15), 2);
        assert_eq!(context_element(-(3 << 15)), -2);
        assert_eq!(gated(4096, 8192), 8192);
        assert_eq!(gated(i32::MAX, i32::MAX), i32::MAX);
    }
}
