//! Reconnection delays: exponential, capped, with "equal jitter" (half the delay fixed, half
//! random) so a fleet of workers does not reconnect in lockstep after a coordinator restart.

use std::time::Duration;

use alloy_primitives::B256;

/// Exponential backoff state.
#[derive(Debug, Clone)]
pub(crate) struct Backoff {
    initial: Duration,
    max: Duration,
    attempt: u32,
}

impl Backoff {
    /// Starts at `initial`, doubling per failed attempt up to `max`.
    pub(crate) fn new(initial: Duration, max: Duration) -> Self {
        Self { initial, max: max.max(initial), attempt: 0 }
    }

    /// The un-jittered delay of the next attempt: `min(max, initial * 2^attempt)`.
    pub(crate) fn base(&self) -> Duration {
        let factor = 1u32.checked_shl(self.attempt.min(20)).unwrap_or(u32::MAX);
        self.initial.saturating_mul(factor).min(self.max)
    }

    /// The next delay for a jitter sample `u` in `[0, 1)`: `base/2 + u * base/2`; advances.
    pub(crate) fn next_with(&mut self, u: f64) -> Duration {
        let base = self.base();
        self.attempt = self.attempt.saturating_add(1);
        base / 2 + (base / 2).mul_f64(u.clamp(0.0, 1.0))
    }

    /// The next delay with a random jitter; advances.
    pub(crate) fn next_delay(&mut self) -> Duration {
        let r = B256::random();
        let bits = u64::from_be_bytes(r[..8].try_into().expect("8 bytes"));
        self.next_with((bits >> 11) as f64 / (1u64 << 53) as f64)
    }

    /// Back to the initial delay (after a successful connection).
    pub(crate) fn reset(&mut self) {
        self.attempt = 0;
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn doubles_up_to_the_cap_with_bounded_jitter() {
        let mut b = Backoff::new(Duration::from_millis(100), Duration::from_secs(1));
        let bases: Vec<u128> = (0..6)
            .map(|_| {
                let base = b.base();
                b.next_with(0.0);
                base.as_millis()
            })
            .collect();
        assert_eq!(bases, [100, 200, 400, 800, 1000, 1000]);
        b.reset();
        assert_eq!(b.next_with(0.0), Duration::from_millis(50));
        assert_eq!(b.next_with(1.0), Duration::from_millis(200));
        // Many failures never overflow.
        for _ in 0..1000 {
            b.next_with(0.5);
        }
        assert_eq!(b.base(), Duration::from_secs(1));
        for _ in 0..100 {
            let d = b.next_delay();
            assert!(d >= Duration::from_millis(500) && d <= Duration::from_secs(1), "{d:?}");
        }
    }
}
