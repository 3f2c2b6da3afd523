//! Token buckets for the rate limits of a namespace (ADR-010): one for the
//! namespace and one per principal. A bucket is one atomic (the generic cell
//! rate algorithm: the "theoretical arrival time" of the next request), so
//! taking a token is a load and a compare-and-swap, with no lock.

use std::collections::HashMap;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use parking_lot::RwLock;

use crate::config::RateLimit;

/// Principals tracked per namespace before idle buckets are evicted.
const MAX_PRINCIPALS: usize = 10_000;

/// Nanoseconds since a process-wide origin, so buckets can be plain integers.
fn now_ns() -> u64 {
    static ORIGIN: std::sync::OnceLock<Instant> = std::sync::OnceLock::new();
    ORIGIN.get_or_init(Instant::now).elapsed().as_nanos() as u64
}

/// A zero burst means one second's worth (at least one token).
fn effective_burst(rate: f64, burst: u32) -> u32 {
    if burst == 0 {
        (rate.ceil().min(u32::MAX as f64) as u32).max(1)
    } else {
        burst
    }
}

/// A rate and burst; the bucket holds `burst` tokens and refills at `rate` per second.
#[derive(Debug)]
pub struct TokenBucket {
    /// Nanoseconds between tokens.
    interval: u64,
    /// `burst * interval`: how far ahead of now the arrival time may run.
    tolerance: u64,
    /// When the bucket will be full again (the theoretical arrival time).
    tat: AtomicU64,
    rate: f64,
    burst: u32,
}

impl TokenBucket {
    /// `rate` > 0 requests per second; a zero `burst` means one second's worth.
    pub fn new(rate: f64, burst: u32) -> Self {
        let burst = effective_burst(rate, burst);
        let interval = ((1e9 / rate) as u64).max(1);
        Self {
            interval,
            tolerance: interval.saturating_mul(burst as u64),
            tat: AtomicU64::new(0),
            rate,
            burst,
        }
    }

    /// Takes a token, or says how long until one is available.
    pub fn take(&self) -> Result<(), Duration> {
        self.take_at(now_ns())
    }

    fn take_at(&self, now: u64) -> Result<(), Duration> {
        let mut tat = self.tat.load(Ordering::Relaxed);
        loop {
            let next = tat.max(now).saturating_add(self.interval);
            if next - now > self.tolerance {
                return Err(Duration::from_nanos(next - now - self.tolerance));
            }
            match self.tat.compare_exchange_weak(tat, next, Ordering::Relaxed, Ordering::Relaxed) {
                Ok(_) => return Ok(()),
                Err(seen) => tat = seen,
            }
        }
    }

    /// Holds every token: forgetting it changes nothing.
    fn is_full_at(&self, now: u64) -> bool {
        self.tat.load(Ordering::Relaxed) <= now
    }

    pub fn rate(&self) -> f64 {
        self.rate
    }

    pub fn burst(&self) -> u32 {
        self.burst
    }
}

/// Why a call was not admitted; the layer turns it into RESOURCE_EXHAUSTED.
#[derive(Debug, Clone, PartialEq)]
pub enum Exceeded {
    Namespace { rate: f64, burst: u32, retry_after: Duration },
    Principal { rate: f64, burst: u32, retry_after: Duration },
}

/// One bucket per principal, created on first use. When the map is full, buckets
/// that are full again (idle principals) are forgotten; if that is not enough, the
/// fullest half goes (those principals may burst once more, a bounded leniency).
#[derive(Debug)]
pub struct PrincipalBuckets {
    rate: f64,
    burst: u32,
    buckets: RwLock<HashMap<String, Arc<TokenBucket>>>,
    capacity: usize,
}

impl PrincipalBuckets {
    pub fn new(rate: f64, burst: u32, capacity: usize) -> Self {
        let burst = effective_burst(rate, burst);
        Self { rate, burst, buckets: RwLock::new(HashMap::new()), capacity: capacity.max(2) }
    }

    pub fn take(&self, principal: &str) -> Result<(), Duration> {
        let now = now_ns();
        if let Some(bucket) = self.buckets.read().get(principal) {
            return bucket.take_at(now);
        }
        let mut map = self.buckets.write();
        if !map.contains_key(principal) && map.len() >= self.capacity {
            Self::evict(&mut map, now, self.capacity / 2);
        }
        let bucket = map
            .entry(principal.to_string())
            .or_insert_with(|| Arc::new(TokenBucket::new(self.rate, self.burst)))
            .clone();
        drop(map);
        bucket.take_at(now)
    }

    fn evict(map: &mut HashMap<String, Arc<TokenBucket>>, now: u64, keep: usize) {
        map.retain(|_, bucket| !bucket.is_full_at(now));
        if map.len() > keep {
            let mut tats: Vec<u64> = map.values().map(|b| b.tat.load(Ordering::Relaxed)).collect();
            let cut = tats.len() - keep;
            let (_, threshold, _) = tats.select_nth_unstable(cut);
            let threshold = *threshold;
            map.retain(|_, bucket| bucket.tat.load(Ordering::Relaxed) >= threshold);
        }
    }

    pub fn tracked(&self) -> usize {
        self.buckets.read().len()
    }
}

/// The buckets of one namespace. It survives a config reload that leaves the
/// `rate_limit` section unchanged, so a reload does not refill every bucket.
#[derive(Debug)]
pub struct RateBuckets {
    pub config: RateLimit,
    namespace: Option<TokenBucket>,
    principals: Option<PrincipalBuckets>,
}

impl RateBuckets {
    /// `None` when neither rate is set: unlimited namespaces pay nothing.
    pub fn new(config: &RateLimit) -> Option<Self> {
        Self::with_capacity(config, MAX_PRINCIPALS)
    }

    pub fn with_capacity(config: &RateLimit, principals: usize) -> Option<Self> {
        let namespace = (config.requests_per_second > 0.0)
            .then(|| TokenBucket::new(config.requests_per_second, config.burst));
        let principals = (config.per_principal_requests_per_second > 0.0).then(|| {
            PrincipalBuckets::new(
                config.per_principal_requests_per_second,
                config.per_principal_burst,
                principals,
            )
        });
        if namespace.is_none() && principals.is_none() {
            return None;
        }
        Some(Self { config: config.clone(), namespace, principals })
    }

    /// The principal's bucket first: a caller over its own limit must not spend the
    /// namespace's tokens and so starve everyone else.
    pub fn admit(&self, principal: &str) -> Result<(), Exceeded> {
        if let Some(buckets) = &self.principals {
            buckets.take(principal).map_err(|retry_after| Exceeded::Principal {
                rate: buckets.rate,
                burst: buckets.burst,
                retry_after,
            })?;
        }
        if let Some(bucket) = &self.namespace {
            bucket.take().map_err(|retry_after| Exceeded::Namespace {
                rate: bucket.rate(),
                burst: bucket.burst(),
                retry_after,
            })?;
        }
        Ok(())
    }

    pub fn principals_tracked(&self) -> usize {
        self.principals.as_ref().map_or(0, PrincipalBuckets::tracked)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const MS: u64 = 1_000_000;

    #[test]
    fn burst_then_one_token_per_interval() {
        let bucket = TokenBucket::new(10.0, 3); // a token every 100 ms
        let t0 = 1_000 * MS;
        for _ in 0..3 {
            assert!(bucket.take_at(t0).is_ok());
        }
        let wait = bucket.take_at(t0).unwrap_err();
        assert_eq!(wait, Duration::from_millis(100));
        assert_eq!(bucket.take_at(t0 + 40 * MS).unwrap_err(), Duration::from_millis(60));
        assert!(bucket.take_at(t0 + 100 * MS).is_ok());
        assert!(bucket.take_at(t0 + 100 * MS).is_err());
        // Idle long enough, the bucket is full again, never fuller.
        let later = t0 + 10_000 * MS;
        assert!((0..3).all(|_| bucket.take_at(later).is_ok()));
        assert!(bucket.take_at(later).is_err());
    }

    #[test]
    fn zero_burst_is_one_seconds_worth() {
        let bucket = TokenBucket::new(5.0, 0);
        assert_eq!(bucket.burst(), 5);
        let t0 = 1_000 * MS;
        assert_eq!((0..10).filter(|_| bucket.take_at(t0).is_ok()).count(), 5);
    }

    #[test]
    fn principal_map_stays_bounded() {
        let buckets = PrincipalBuckets::new(1.0, 1, 8);
        for i in 0..100 {
            assert!(buckets.take(&format!("p{i}")).is_ok(), "a new principal starts with a full bucket");
        }
        assert!(buckets.tracked() <= 8, "{}", buckets.tracked());
    }

    #[test]
    fn no_rates_no_buckets() {
        assert!(RateBuckets::new(&RateLimit::default()).is_none());
    }
}
