//! The reductions longer than a row, one term at a time. A dispute over an element they produce
//! is narrowed by a bisection over the running accumulator (`crates/engine/TRACE.md`), so its
//! one step is a single call of one of these.

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

#[cfg(test)]
mod tests {
    use super::*;

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
        assert_eq!(
            (walk(0), walk(2), walk(3), walk(7), walk(8)),
            (Walk::Chosen(0), Walk::Chosen(0), Walk::Chosen(2), Walk::Chosen(2), Walk::Left(0))
        );
    }
}
