//! Admission control: no client can hold more than its share of the server.
//!
//! - Requests in flight are capped per bearer token and per client address, so a client
//!   that opens many slow requests (a body sent a byte at a time) is refused with 429
//!   instead of tying up the server. The address cap is generous: one IdP's egress
//!   addresses serve many tenants.
//! - Each organization's SCIM requests are rate limited by a token bucket (per process),
//!   with `Retry-After`, which Okta and Entra both honour. The rate and burst are
//!   configuration with a per-organization override.
//!
//! The bucket arithmetic is a pure function; the maps hold only live keys (a key's entry
//! goes when its last request ends) or one entry per organization.

use ids::OrganizationId;
use std::collections::HashMap;
use std::hash::{Hash, Hasher};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

/// A token bucket's state.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Bucket {
    pub tokens: f64,
    pub at: Instant,
}

/// How fast an organization may call: `per_second` sustained, `burst` at once.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Quota {
    pub per_second: u32,
    pub burst: u32,
}

/// Takes one request from the bucket at `now`: the next state, and `Err(wait)` with how
/// long until a request would be admitted when the bucket is empty.
pub fn take(bucket: Option<Bucket>, quota: Quota, now: Instant) -> (Bucket, Result<(), Duration>) {
    let burst = f64::from(quota.burst.max(1));
    let rate = f64::from(quota.per_second);
    let tokens = match bucket {
        None => burst,
        Some(b) => {
            let elapsed = now.saturating_duration_since(b.at).as_secs_f64();
            (b.tokens + elapsed * rate).min(burst)
        }
    };
    if tokens >= 1.0 {
        return (
            Bucket {
                tokens: tokens - 1.0,
                at: now,
            },
            Ok(()),
        );
    }
    let wait = if rate > 0.0 {
        Duration::from_secs_f64((1.0 - tokens) / rate)
    } else {
        Duration::from_secs(3600)
    };
    (Bucket { tokens, at: now }, Err(wait))
}

/// Per-organization token buckets.
#[derive(Default)]
pub struct RateLimiter {
    buckets: Mutex<HashMap<OrganizationId, Bucket>>,
}

impl RateLimiter {
    /// Admits one request of the organization, or says how long to wait.
    pub fn check(&self, organization_id: &OrganizationId, quota: Quota) -> Result<(), Duration> {
        let now = Instant::now();
        let Ok(mut buckets) = self.buckets.lock() else {
            // A poisoned lock means a panic elsewhere; admitting is the safe failure.
            return Ok(());
        };
        let current = buckets.get(organization_id).copied();
        let (next, verdict) = take(current, quota, now);
        buckets.insert(organization_id.clone(), next);
        verdict
    }
}

/// Counts requests in flight per key and refuses past a limit.
pub struct InFlight {
    limit: usize,
    counts: Arc<Mutex<HashMap<u64, usize>>>,
}

/// One admitted request; its slot is given back when dropped.
pub struct Slot {
    key: u64,
    counts: Arc<Mutex<HashMap<u64, usize>>>,
}

impl Drop for Slot {
    fn drop(&mut self) {
        if let Ok(mut counts) = self.counts.lock()
            && let Some(n) = counts.get_mut(&self.key)
        {
            *n = n.saturating_sub(1);
            if *n == 0 {
                counts.remove(&self.key);
            }
        }
    }
}

impl InFlight {
    pub fn new(limit: usize) -> Self {
        InFlight {
            limit,
            counts: Arc::default(),
        }
    }

    /// A slot for `key` (hashed: the map never holds a token), or `None` when the key
    /// already has `limit` requests in flight.
    pub fn try_acquire(&self, key: &impl Hash) -> Option<Slot> {
        let mut h = std::collections::hash_map::DefaultHasher::new();
        key.hash(&mut h);
        let key = h.finish();
        let mut counts = self.counts.lock().ok()?;
        let n = counts.entry(key).or_insert(0);
        if *n >= self.limit {
            return None;
        }
        *n += 1;
        Some(Slot {
            key,
            counts: self.counts.clone(),
        })
    }

    /// Keys with requests in flight (for tests and metrics).
    pub fn keys(&self) -> usize {
        self.counts.lock().map(|c| c.len()).unwrap_or(0)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const Q: Quota = Quota {
        per_second: 10,
        burst: 3,
    };

    #[test]
    fn a_full_bucket_admits_the_burst_then_waits_for_the_rate() {
        let t0 = Instant::now();
        let mut b = None;
        for _ in 0..3 {
            let (next, ok) = take(b, Q, t0);
            assert!(ok.is_ok());
            b = Some(next);
        }
        let (next, refused) = take(b, Q, t0);
        let wait = refused.expect_err("empty");
        assert!((wait.as_secs_f64() - 0.1).abs() < 1e-9, "{wait:?}");
        // 100 ms later one request is admitted again, not two.
        let later = t0 + Duration::from_millis(100);
        let (next, ok) = take(Some(next), Q, later);
        assert!(ok.is_ok());
        assert!(take(Some(next), Q, later).1.is_err());
    }

    #[test]
    fn the_bucket_never_holds_more_than_the_burst() {
        let t0 = Instant::now();
        let (b, _) = take(None, Q, t0);
        let (b, _) = take(Some(b), Q, t0 + Duration::from_secs(3600));
        assert!(b.tokens <= 2.0 + 1e-9, "{}", b.tokens);
    }

    #[test]
    fn slots_are_capped_per_key_and_given_back() {
        let f = InFlight::new(2);
        let a1 = f.try_acquire(&"a").expect("first");
        let _a2 = f.try_acquire(&"a").expect("second");
        assert!(f.try_acquire(&"a").is_none(), "third refused");
        assert!(f.try_acquire(&"b").is_some(), "another key is not affected");
        drop(a1);
        assert!(f.try_acquire(&"a").is_some());
    }

    #[test]
    fn keys_without_requests_are_forgotten() {
        let f = InFlight::new(1);
        drop(f.try_acquire(&"a"));
        assert_eq!(f.keys(), 0);
    }
}
