//! Per-minute rate limits (requests or tokens per minute) as token buckets,
//! exact in integers and driven by a caller-supplied clock.
//!
//! A bucket holds at most `limit` units and refills at `limit` units per
//! minute. Levels are kept in sixty-thousandths of a unit, so a refill of
//! `limit × elapsed_ms` is exact.

/// Milliseconds per minute: the scale of a bucket's level.
const MINUTE_MS: i128 = 60_000;

/// A token bucket refilling `limit` units per minute.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct MinuteBucket {
    limit: u64,
    /// Units × 60,000; below zero after [`MinuteBucket::charge`] overdraws.
    level: i128,
    at_ms: i64,
}

impl MinuteBucket {
    /// A full bucket of `limit` units at time `now_ms`.
    pub fn new(limit: u64, now_ms: i64) -> Self {
        MinuteBucket { limit, level: i128::from(limit) * MINUTE_MS, at_ms: now_ms }
    }

    /// Units per minute.
    pub fn limit(&self) -> u64 {
        self.limit
    }

    fn refill(&mut self, now_ms: i64) {
        let elapsed = i128::from(now_ms.saturating_sub(self.at_ms).max(0));
        let full = i128::from(self.limit) * MINUTE_MS;
        self.level = self.level.saturating_add(elapsed.saturating_mul(i128::from(self.limit))).min(full);
        self.at_ms = self.at_ms.max(now_ms);
    }

    /// Takes `units` if the bucket holds them (or, for a request larger
    /// than the whole limit, if the bucket is full); otherwise takes
    /// nothing and returns how many milliseconds until it would succeed.
    pub fn try_take(&mut self, units: u64, now_ms: i64) -> Result<(), u64> {
        self.refill(now_ms);
        let needed = i128::from(units.min(self.limit)) * MINUTE_MS;
        if self.level >= needed {
            self.level -= i128::from(units) * MINUTE_MS;
            return Ok(());
        }
        if self.limit == 0 {
            return Err(u64::MAX);
        }
        let wait = (needed - self.level + i128::from(self.limit) - 1) / i128::from(self.limit);
        Err(u64::try_from(wait).unwrap_or(u64::MAX))
    }

    /// Takes `units` unconditionally (usage known only afterwards); the
    /// bucket may go below zero and later requests wait until it refills.
    pub fn charge(&mut self, units: u64, now_ms: i64) {
        self.refill(now_ms);
        self.level = self.level.saturating_sub(i128::from(units) * MINUTE_MS);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_full_bucket_serves_its_limit_then_waits_for_refill() {
        let mut b = MinuteBucket::new(60, 0);
        for _ in 0..60 {
            assert_eq!(b.try_take(1, 0), Ok(()));
        }
        assert_eq!(b.try_take(1, 0), Err(1_000), "one unit per second");
        assert_eq!(b.try_take(1, 999), Err(1));
        assert_eq!(b.try_take(1, 1_000), Ok(()));
        assert_eq!(b.try_take(1, 1_000), Err(1_000));
    }

    #[test]
    fn refill_never_exceeds_the_limit() {
        let mut b = MinuteBucket::new(3, 0);
        assert_eq!(b.try_take(3, 0), Ok(()));
        for _ in 0..3 {
            assert_eq!(b.try_take(1, 3_600_000), Ok(()));
        }
        assert_eq!(b.try_take(1, 3_600_000), Err(20_000));
    }

    #[test]
    fn overdraw_by_charge_delays_later_requests() {
        let mut b = MinuteBucket::new(1_000, 0);
        assert_eq!(b.try_take(200, 0), Ok(()));
        b.charge(1_800, 0);
        // Level is -1,000 units: 1,000 + 100 more are needed at 1,000/min.
        assert_eq!(b.try_take(100, 0), Err(66_000));
        assert_eq!(b.try_take(100, 66_000), Ok(()));
    }

    #[test]
    fn a_request_larger_than_the_limit_needs_a_full_bucket() {
        let mut b = MinuteBucket::new(100, 0);
        assert_eq!(b.try_take(1, 0), Ok(()));
        assert_eq!(b.try_take(500, 0), Err(600));
        assert_eq!(b.try_take(500, 600), Ok(()));
        assert_eq!(b.try_take(1, 600), Err(240_600), "400 units of debt plus one");
    }

    #[test]
    fn the_clock_going_back_adds_nothing() {
        let mut b = MinuteBucket::new(10, 10_000);
        assert_eq!(b.try_take(10, 10_000), Ok(()));
        assert!(b.try_take(1, 0).is_err());
        assert_eq!(b.try_take(1, 15_999), Err(1));
    }
}
