//! The reductions longer than a row, one term at a time. A dispute over an element they produce
//! is narrowed by a bisection over the running accumulator (`crates/engine/TRACE.md`), so its
//! one step is a single call of one of these.

use crate::{commit::OpLeaf, op};

/// The next state of the greedy choice after logit `v` at index `i`: the largest value so far,
/// ties to the lowest index. Start from `None`.
pub fn argmax_step(best: Option<(u32, i32)>, i: u32, v: i32) -> Option<(u32, i32)> {
    match best {
        Some((_, bv)) if bv >= v => best,
        _ => Some((i, v)),
    }
}

/// Where a sampling walk stands: the draw `r` still to pass, or the index it stopped at.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Walk {
    /// The draw left after the weights so far.
    Left(u64),
    /// The chosen index.
    Chosen(u32),
}

/// The next state of the integer CDF walk after weight `w` at index `i` (start from
/// `Walk::Left(r)` with `r` uniform below the weights' total).
pub fn cdf_step(state: Walk, i: u32, w: u16) -> Walk {
    match state {
        Walk::Left(r) if r < u64::from(w) => Walk::Chosen(i),
        Walk::Left(r) => Walk::Left(r - u64::from(w)),
        chosen => chosen,
    }
}

/// The points that divide the interval of terms `(lo, hi)` into `parts = min(k, hi − lo)` parts
/// (a dispute game's bisection over accumulators): `lo + (hi − lo)·m / parts` for
/// `m = 1 … parts − 1`, strictly increasing.
pub fn term_points(lo: u64, hi: u64, k: u64) -> impl Iterator<Item = u64> {
    let width = hi.saturating_sub(lo);
    let parts = k.min(width).max(1);
    (1..parts).map(move |m| lo.saturating_add(width.saturating_mul(m) / parts))
}

/// Which reduction longer than a row a disputed leaf's elements are (`crates/engine/TRACE.md`,
/// "The reductions' accumulators").
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[repr(u8)]
pub enum Kind {
    /// The attention context over the KV cache.
    Context = 1,
    /// A softmax row (its maximum, then its sum of table entries).
    Softmax = 2,
    /// Mean pooling over the rows.
    Pool = 3,
    /// The greedy choice of the next token over the logits.
    Choice = 4,
}

impl Kind {
    /// The reduction of leaf `header`'s elements, if they are one.
    pub fn of(header: &OpLeaf) -> Option<Self> {
        match (header.op, header.dtype) {
            (op::CONTEXT, op::DTYPE_I32) => Some(Self::Context),
            (op::SOFTMAX, op::DTYPE_U16) => Some(Self::Softmax),
            (op::POOL, op::DTYPE_I32) => Some(Self::Pool),
            (op::TOKENS, op::DTYPE_U32) if header.layer >= 1 => Some(Self::Choice),
            _ => None,
        }
    }

    /// From its stored code.
    pub fn from_code(code: u8) -> Option<Self> {
        [Self::Context, Self::Softmax, Self::Pool, Self::Choice]
            .into_iter()
            .find(|k| *k as u8 == code)
    }

    /// The accumulator before the first term.
    pub fn init(self) -> State {
        match self {
            Self::Context | Self::Pool => sum_state(0),
            Self::Softmax => softmax_state(i32::MIN, 0),
            Self::Choice => argmax_state(None),
        }
    }
}

/// A reduction's running accumulator as a dispute game posts it: a 32-byte word, little endian,
/// zero-padded (`crates/engine/TRACE.md`, "Narrowing"). Both sides post accumulators and the
/// game compares them as bytes, so each kind has one encoding.
pub type State = [u8; 32];

/// A running sum (the context over the KV cache, mean pooling): `sum i64`.
pub fn sum_state(sum: i64) -> State {
    let mut s = [0u8; 32];
    s[..8].copy_from_slice(&sum.to_le_bytes());
    s
}

/// The sum of a [`sum_state`].
pub fn sum_of(s: &State) -> i64 {
    i64::from_le_bytes([s[0], s[1], s[2], s[3], s[4], s[5], s[6], s[7]])
}

/// A softmax row's two passes: the running maximum (`i32::MIN` before the first score), then
/// the running sum of table entries: `max i32 ‖ sum i64`.
pub fn softmax_state(max: i32, sum: i64) -> State {
    let mut s = [0u8; 32];
    s[..4].copy_from_slice(&max.to_le_bytes());
    s[4..12].copy_from_slice(&sum.to_le_bytes());
    s
}

/// The `(max, sum)` of a [`softmax_state`].
pub fn softmax_of(s: &State) -> (i32, i64) {
    let max = i32::from_le_bytes([s[0], s[1], s[2], s[3]]);
    (max, i64::from_le_bytes([s[4], s[5], s[6], s[7], s[8], s[9], s[10], s[11]]))
}

/// The greedy choice so far ([`argmax_step`]): `0` before the first logit, else
/// `1 ‖ index u32 ‖ value i32`.
pub fn argmax_state(best: Option<(u32, i32)>) -> State {
    let mut s = [0u8; 32];
    if let Some((i, v)) = best {
        s[0] = 1;
        s[1..5].copy_from_slice(&i.to_le_bytes());
        s[5..9].copy_from_slice(&v.to_le_bytes());
    }
    s
}

/// The choice of an [`argmax_state`].
pub fn argmax_of(s: &State) -> Option<(u32, i32)> {
    (s[0] == 1).then(|| {
        (u32::from_le_bytes([s[1], s[2], s[3], s[4]]), i32::from_le_bytes([s[5], s[6], s[7], s[8]]))
    })
}

#[cfg(test)]
mod tests {
    use proptest::prelude::*;
    use std::vec::Vec;

    use super::*;
    use crate::{
        attention::{context_element, context_term},
        nonlin::{LUT_LEN, exp_index, softmax_element, softmax_u16},
    };

    /// A softmax row's accumulators, folded term by term as a dispute game walks them: the
    /// maximum over the first `len` terms, then the table entries' sum.
    fn softmax_fold(row: &[i32], lut: &[i32]) -> State {
        let mut acc = Kind::Softmax.init();
        for m in 0..2 * row.len() {
            let (max, sum) = softmax_of(&acc);
            acc = match m.checked_sub(row.len()) {
                None => softmax_state(max.max(row[m]), sum),
                Some(j) => softmax_state(max, sum + i64::from(lut[exp_index(max, row[j])])),
            };
        }
        acc
    }

    proptest! {
        /// The reductions' accumulators, folded one term at a time, give the engine's elements,
        /// on random and extreme rows.
        #[test]
        fn folded_accumulators_give_the_engines_elements(
            row in proptest::collection::vec(prop_oneof![any::<i32>(), -40_000i32..40_000], 1..48),
            probs in proptest::collection::vec(any::<u16>(), 1..48),
            values in proptest::collection::vec(any::<i32>(), 48),
        ) {
            let lut: Vec<i32> = (0..LUT_LEN)
                .map(|i| ((-(i as f64) / 4096.0).exp() * 65536.0).round() as i32)
                .collect();
            let mut engine = std::vec![0u16; row.len()];
            softmax_u16(&row, &lut, &mut engine);
            let (max, sum) = softmax_of(&softmax_fold(&row, &lut));
            for (j, p) in engine.iter().enumerate() {
                prop_assert_eq!(softmax_element(lut[exp_index(max, row[j])], sum), *p);
            }
            // The greedy choice: the engine's fold, lowest index on ties.
            let best = row.iter().enumerate().fold(argmax_state(None), |acc, (i, &v)| {
                argmax_state(argmax_step(argmax_of(&acc), i as u32, v))
            });
            let first_max = row.iter().position(|v| Some(v) == row.iter().max()).unwrap();
            prop_assert_eq!(argmax_of(&best).map(|(i, _)| i as usize), Some(first_max));
            // The context over the KV cache: the running sum of probability times value.
            let acc = probs.iter().zip(&values).fold(Kind::Context.init(), |acc, (p, v)| {
                sum_state(sum_of(&acc).wrapping_add(context_term(*p, *v)))
            });
            let direct: i64 = probs.iter().zip(&values).map(|(p, v)| context_term(*p, *v)).sum();
            prop_assert_eq!(context_element(sum_of(&acc)), context_element(direct));
        }
    }

    #[test]
    fn reductions_by_hand() {
        let best =
            [5, 9, 9, 2].iter().enumerate().fold(None, |b, (i, &v)| argmax_step(b, i as u32, v));
        assert_eq!(best, Some((1, 9)));
        let walk = |r: u64| {
            [3u16, 0, 5]
                .iter()
                .enumerate()
                .fold(Walk::Left(r), |s, (i, &w)| cdf_step(s, i as u32, w))
        };
        let points = |lo, hi, k| term_points(lo, hi, k).collect::<std::vec::Vec<u64>>();
        assert_eq!(points(0, 100, 8), [12, 25, 37, 50, 62, 75, 87]);
        assert_eq!(points(10, 13, 8), [11, 12]);
        assert_eq!(points(4, 5, 8), []);
        assert_eq!(sum_of(&sum_state(-5)), -5);
        assert_eq!(sum_state(-1)[..9], [255, 255, 255, 255, 255, 255, 255, 255, 0]);
        assert_eq!(softmax_of(&softmax_state(i32::MIN, 7)), (i32::MIN, 7));
        assert_eq!(argmax_of(&argmax_state(Some((3, -9)))), Some((3, -9)));
        assert_eq!((argmax_state(None), argmax_of(&[0; 32])), ([0; 32], None));
        assert_eq!(
            (walk(0), walk(2), walk(3), walk(7), walk(8)),
            (Walk::Chosen(0), Walk::Chosen(0), Walk::Chosen(2), Walk::Chosen(2), Walk::Left(0))
        );
    }
}
