//! Flood control for the HTTP API, per account: the same allowance a
//! connection has (`--rate` calls a second, `--burst` at once), so a
//! token cannot do over HTTP what its owner's client could not.

use std::collections::HashMap;
use std::time::{Duration, Instant};

use crate::protocol::Name;

/// Accounts tracked at most; past it, those whose allowance is whole are
/// forgotten (they lose nothing by it).
const TRACKED_MAX: usize = 4096;

/// Each account's allowance.
#[derive(Debug)]
pub struct ApiRate {
    /// Calls a second; 0 for no limit.
    rate: f64,
    burst: f64,
    /// Folded account name to calls left and when that was counted.
    left: HashMap<Name, (f64, Instant)>,
}

impl ApiRate {
    pub fn new(rate: f64, burst: u32) -> ApiRate {
        ApiRate {
            rate,
            burst: f64::from(burst),
            left: HashMap::new(),
        }
    }

    /// Spends one call of `account`'s (folded) allowance at `now`, or says
    /// how long until there is one.
    pub fn take(&mut self, account: &Name, now: Instant) -> Result<(), Duration> {
        if self.rate == 0.0 {
            return Ok(());
        }
        if self.left.len() >= TRACKED_MAX {
            let (rate, burst) = (self.rate, self.burst);
            self.left.retain(|_, (left, at)| {
                *left + now.saturating_duration_since(*at).as_secs_f64() * rate < burst
            });
        }
        let (left, at) = self
            .left
            .entry(account.clone())
            .or_insert((self.burst, now));
        *left =
            (*left + now.saturating_duration_since(*at).as_secs_f64() * self.rate).min(self.burst);
        *at = now;
        if *left >= 1.0 {
            *left -= 1.0;
            Ok(())
        } else {
            Err(Duration::from_secs_f64((1.0 - *left) / self.rate))
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn an_account_has_a_burst_then_the_rate() {
        let mut rate = ApiRate::new(2.0, 3);
        let (ann, eve): (Name, Name) = ("ann".into(), "eve".into());
        let now = Instant::now();
        for _ in 0..3 {
            assert_eq!(rate.take(&ann, now), Ok(()));
        }
        assert_eq!(rate.take(&ann, now), Err(Duration::from_millis(500)));
        assert_eq!(rate.take(&eve, now), Ok(()), "each account its own");
        assert_eq!(rate.take(&ann, now + Duration::from_millis(500)), Ok(()));
        let mut free = ApiRate::new(0.0, 1);
        for _ in 0..100 {
            assert_eq!(free.take(&ann, now), Ok(()));
        }
    }
}
