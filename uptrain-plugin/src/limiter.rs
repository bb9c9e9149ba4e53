//! One limiter for every request of an evaluator: a fair semaphore bounds the requests in
//! flight, and two token buckets (requests per minute, estimated tokens per minute) pace them.
//!
//! The buckets start full (a burst of one minute's budget, as UpTrain allows) and refill
//! continuously. A caller reserves its cost at once, possibly driving a bucket negative, and
//! sleeps until the debt is repaid: reservations are served in order and no caller spins.

use std::sync::Mutex;
use std::time::{Duration, Instant};

use tokio::sync::{Semaphore, SemaphorePermit};

use crate::config::Limits;

#[derive(Debug)]
struct Bucket {
    capacity: f64,
    available: f64,
    per_sec: f64,
}

impl Bucket {
    fn per_minute(limit: Option<u32>) -> Option<Self> {
        limit.map(|l| {
            let capacity = f64::from(l.max(1));
            Self {
                capacity,
                available: capacity,
                per_sec: capacity / 60.0,
            }
        })
    }

    /// Takes `cost` and returns how long the caller must wait before the debt is repaid.
    fn reserve(&mut self, elapsed: f64, cost: f64) -> f64 {
        self.available = (self.available + elapsed * self.per_sec).min(self.capacity);
        self.available -= cost;
        if self.available >= 0.0 {
            0.0
        } else {
            -self.available / self.per_sec
        }
    }
}

#[derive(Debug)]
struct Rates {
    last: Instant,
    requests: Option<Bucket>,
    tokens: Option<Bucket>,
}

/// Bounds and paces requests.
#[derive(Debug)]
pub(crate) struct Limiter {
    in_flight: Semaphore,
    rates: Option<Mutex<Rates>>,
}

/// Held while a request is in flight.
#[derive(Debug)]
pub(crate) struct Slot<'a> {
    _permit: Option<SemaphorePermit<'a>>,
}

impl Limiter {
    pub(crate) fn new(limits: &Limits) -> Self {
        let requests = Bucket::per_minute(limits.requests_per_minute);
        let tokens = Bucket::per_minute(limits.tokens_per_minute);
        let rates = (requests.is_some() || tokens.is_some()).then(|| {
            Mutex::new(Rates {
                last: Instant::now(),
                requests,
                tokens,
            })
        });
        Self {
            in_flight: Semaphore::new(limits.max_in_flight.max(1)),
            rates,
        }
    }

    /// Waits for a free slot, then for the rate budget of one request of `tokens` estimated
    /// tokens.
    pub(crate) async fn acquire(&self, tokens: u64) -> Slot<'_> {
        // The semaphore is never closed, so acquire cannot fail; without a permit we would
        // merely lose the bound for this one request.
        let permit = self.in_flight.acquire().await.ok();
        let wait = self.reserve(tokens);
        if !wait.is_zero() {
            tokio::time::sleep(wait).await;
        }
        Slot { _permit: permit }
    }

    fn reserve(&self, tokens: u64) -> Duration {
        let Some(rates) = &self.rates else {
            return Duration::ZERO;
        };
        let mut rates = rates
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner());
        let now = Instant::now();
        let elapsed = now.duration_since(rates.last).as_secs_f64();
        rates.last = now;
        let req_wait = rates
            .requests
            .as_mut()
            .map_or(0.0, |b| b.reserve(elapsed, 1.0));
        // Token counts stay far below 2^53, so the conversion is exact in practice.
        #[allow(clippy::cast_precision_loss)]
        let cost = tokens as f64;
        let tok_wait = rates
            .tokens
            .as_mut()
            .map_or(0.0, |b| b.reserve(elapsed, cost));
        Duration::from_secs_f64(req_wait.max(tok_wait).max(0.0))
    }
}

/// Estimated tokens of a prompt: characters / 3, as UpTrain estimates.
pub(crate) fn estimate_tokens(text: &str) -> u64 {
    (text.chars().count() as u64).div_ceil(3)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn requests_beyond_the_burst_wait_their_turn() {
        let limiter = Limiter::new(&Limits {
            max_in_flight: 4,
            requests_per_minute: Some(60),
            tokens_per_minute: None,
        });
        for _ in 0..60 {
            assert_eq!(limiter.reserve(0), Duration::ZERO);
        }
        let wait = limiter.reserve(0);
        assert!(wait > Duration::from_millis(900) && wait <= Duration::from_millis(1001));
        let next = limiter.reserve(0);
        assert!(next > Duration::from_millis(1900), "{next:?}");
    }

    #[test]
    fn token_budget_paces_large_prompts() {
        let limiter = Limiter::new(&Limits {
            max_in_flight: 4,
            requests_per_minute: None,
            tokens_per_minute: Some(600),
        });
        assert_eq!(limiter.reserve(600), Duration::ZERO);
        let wait = limiter.reserve(10);
        assert!(wait >= Duration::from_millis(900), "{wait:?}");
    }

    #[test]
    fn unlimited_never_waits() {
        let limiter = Limiter::new(&Limits::unlimited(1));
        for _ in 0..1000 {
            assert_eq!(limiter.reserve(1_000_000), Duration::ZERO);
        }
    }

    #[tokio::test]
    async fn in_flight_is_bounded() {
        let limiter = Limiter::new(&Limits::unlimited(2));
        let a = limiter.acquire(1).await;
        let _b = limiter.acquire(1).await;
        let third = tokio::time::timeout(Duration::from_millis(20), limiter.acquire(1)).await;
        assert!(third.is_err());
        drop(a);
        let third = tokio::time::timeout(Duration::from_millis(200), limiter.acquire(1)).await;
        assert!(third.is_ok());
    }

    #[test]
    fn estimate_is_chars_over_three() {
        assert_eq!(estimate_tokens("abcdef"), 2);
        assert_eq!(estimate_tokens("abcd"), 2);
        assert_eq!(estimate_tokens("ééé"), 1);
    }
}
