//! Login attempts per source address: a token bucket each, so a person who mistypes
//! gets several tries at once while a password-guessing script gets a few a minute.

use std::collections::HashMap;
use std::net::IpAddr;
use std::sync::Mutex;
use std::time::{Duration, Instant};

/// Attempts a source may make at once.
pub const LOGIN_BURST: u32 = 10;
/// Time to earn one more attempt back.
pub const LOGIN_REFILL: Duration = Duration::from_secs(6);
/// Sources remembered at once; past it, full buckets are forgotten first, and a source
/// that cannot be remembered is refused (memory stays bounded under a flood).
const SOURCES_MAX: usize = 10_000;

#[derive(Debug, Clone, Copy)]
struct Bucket {
    tokens: u32,
    updated: Instant,
}

/// Token buckets of login attempts by source address.
#[derive(Debug, Default)]
pub struct LoginLimiter {
    buckets: Mutex<HashMap<IpAddr, Bucket>>,
}

impl Bucket {
    /// Adds the tokens earned since the last update.
    fn refill(&mut self, now: Instant) {
        let earned = now.saturating_duration_since(self.updated).as_secs_f64() / LOGIN_REFILL.as_secs_f64();
        let earned = earned.floor().min(f64::from(LOGIN_BURST)) as u32;
        if earned > 0 {
            self.tokens = (self.tokens + earned).min(LOGIN_BURST);
            self.updated += LOGIN_REFILL * earned;
            if self.tokens == LOGIN_BURST {
                self.updated = now;
            }
        }
    }
}

impl LoginLimiter {
    /// Takes an attempt for `source` at `now`; false when it has none left.
    pub fn try_attempt(&self, source: IpAddr, now: Instant) -> bool {
        let mut buckets = self.buckets.lock().expect("the limiter lock is never poisoned");
        if !buckets.contains_key(&source) && buckets.len() >= SOURCES_MAX {
            buckets.retain(|_, bucket| {
                bucket.refill(now);
                bucket.tokens < LOGIN_BURST
            });
            if buckets.len() >= SOURCES_MAX {
                return false;
            }
        }
        let bucket = buckets.entry(source).or_insert(Bucket { tokens: LOGIN_BURST, updated: now });
        bucket.refill(now);
        if bucket.tokens == 0 {
            return false;
        }
        bucket.tokens -= 1;
        true
    }

    /// A successful login gives the source its full allowance back.
    pub fn succeeded(&self, source: IpAddr) {
        self.buckets.lock().expect("the limiter lock is never poisoned").remove(&source);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_source_gets_its_burst_then_one_attempt_per_refill() {
        let limiter = LoginLimiter::default();
        let (one, two): (IpAddr, IpAddr) = ("192.0.2.1".parse().expect("ip"), "192.0.2.2".parse().expect("ip"));
        let start = Instant::now();
        for _ in 0..LOGIN_BURST {
            assert!(limiter.try_attempt(one, start));
        }
        assert!(!limiter.try_attempt(one, start));
        assert!(limiter.try_attempt(two, start), "another source is not held back");
        assert!(!limiter.try_attempt(one, start + LOGIN_REFILL / 2));
        assert!(limiter.try_attempt(one, start + LOGIN_REFILL));
        assert!(!limiter.try_attempt(one, start + LOGIN_REFILL));
        limiter.succeeded(one);
        assert!(limiter.try_attempt(one, start + LOGIN_REFILL));
    }
}
