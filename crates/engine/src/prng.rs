//! Integer PRNG (SplitMix64, counter based) and token selection: greedy argmax and seeded sampling
//! from an integer CDF.

use assay_step::reduce::{self, Walk};

/// SplitMix64: a 64-bit counter mixed by a fixed bijection. Deterministic on every target.
#[derive(Debug, Clone)]
pub struct Prng {
    state: u64,
}

impl Prng {
    /// A generator seeded with `seed`.
    pub fn new(seed: u64) -> Self {
        Self { state: seed }
    }

    /// The next 64 random bits.
    pub fn next_u64(&mut self) -> u64 {
        self.state = self.state.wrapping_add(0x9E37_79B9_7F4A_7C15);
        let mut z = self.state;
        z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
        z ^ (z >> 31)
    }

    /// A uniform value in `[0, n)` for `n > 0` (rejection sampling, no modulo bias).
    pub fn below(&mut self, n: u64) -> u64 {
        let zone = u64::MAX - (u64::MAX % n);
        loop {
            let v = self.next_u64();
            if v < zone {
                return v % n;
            }
        }
    }
}

/// Index of the largest value; ties go to the lowest index. `None` for an empty slice.
pub fn argmax(xs: &[i32]) -> Option<usize> {
    xs.iter()
        .enumerate()
        .fold(None, |best, (i, &v)| reduce::argmax_step(best, i as u32, v))
        .map(|(i, _)| i as usize)
}

/// Draws an index with probability proportional to `weights` (an integer CDF walk); `None` when
/// all weights are zero.
pub fn sample(weights: &[u16], rng: &mut Prng) -> Option<usize> {
    let total: u64 = weights.iter().map(|&w| u64::from(w)).sum();
    if total == 0 {
        return None;
    }
    let walk = weights
        .iter()
        .enumerate()
        .fold(Walk::Left(rng.below(total)), |s, (i, &w)| reduce::cdf_step(s, i as u32, w));
    match walk {
        Walk::Chosen(i) => Some(i as usize),
        Walk::Left(_) => None,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn splitmix_reference_values() {
        // First outputs of SplitMix64 seeded with 0 (Vigna's reference implementation).
        let mut r = Prng::new(0);
        assert_eq!(r.next_u64(), 0xE220_A839_7B1D_CDAF);
        assert_eq!(r.next_u64(), 0x6E78_9E6A_A1B9_65F4);
    }

    #[test]
    fn argmax_prefers_lowest_index_on_ties() {
        assert_eq!(argmax(&[1, 5, 5, 2]), Some(1));
        assert_eq!(argmax(&[i32::MIN]), Some(0));
        assert_eq!(argmax(&[]), None);
    }

    #[test]
    fn sampling_follows_weights_and_skips_zeros() {
        let mut rng = Prng::new(7);
        let mut counts = [0u32; 3];
        for _ in 0..3000 {
            counts[sample(&[1000, 0, 3000], &mut rng).expect("some")] += 1;
        }
        assert_eq!(counts[1], 0);
        assert!((600..900).contains(&counts[0]), "{counts:?}");
        assert_eq!(sample(&[0, 0], &mut rng), None);
    }
}
