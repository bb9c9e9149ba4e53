//! One limiter for every request of an evaluator: a fair semaphore bounds the requests in
//! flight, and two token buckets (requests per minute, estimated tokens per minute) pace them.
//!
//! The buckets start full (a burst of one minute's budget, as UpTrain allows) and refill
//! continuously. Callers that find the budget short queue in order (a fair async lock): the
//! one at the head sleeps until its cost is available, re-checking at least every
//! [`RECHECK`] so refunded budget counts at once, takes it and lets the next one in. Nobody
//! spins, and a large request is not overtaken by a stream of small ones.
//!
//! Three rules keep one caller from stalling the others:
//! - a request estimated larger than the whole per-minute token budget is refused at once
//!   (it could never be sent within the limit, and waiting for it would hold everyone up);
//! - a caller sleeps for its budget *before* taking an in-flight slot, so a sleeping caller
//!   never holds a slot that a ready one could use;
//! - an attempt that never reached the server (connection refused) gets its budget back.
//!
//! A 429 pauses the whole limiter: no new request starts until the pause ends.

use std::sync::Mutex;
use std::time::{Duration, Instant};

use llm_callbacks_transport::Deadline;
use tokio::sync::{Semaphore, SemaphorePermit};

use crate::config::Limits;
use crate::error::CheckError;

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

    fn refill(&mut self, elapsed: f64) {
        self.available = (self.available + elapsed * self.per_sec).min(self.capacity);
    }

    /// How long until `cost` is available (zero when it is now).
    fn shortfall(&self, cost: f64) -> f64 {
        if self.available >= cost {
            0.0
        } else {
            (cost - self.available) / self.per_sec
        }
    }

    /// Gives back `cost` taken for an attempt that was never sent.
    fn refund(&mut self, cost: f64) {
        self.available = (self.available + cost).min(self.capacity);
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
    /// The per-minute token budget, if any: larger requests are refused.
    token_budget: Option<u32>,
    /// Callers short of budget wait here, in order.
    queue: tokio::sync::Mutex<()>,
    /// No request starts before this instant (set by a 429).
    paused_until: Mutex<Option<Instant>>,
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
            token_budget: limits.tokens_per_minute,
            queue: tokio::sync::Mutex::new(()),
            paused_until: Mutex::new(None),
        }
    }

    /// Waits for any shared pause, then for the rate budget of one request of `tokens`
    /// estimated tokens, then for a free slot (never sleeping while holding one). Refuses a
    /// request larger than the whole per-minute token budget.
    pub(crate) async fn acquire(&self, tokens: u64) -> Result<Slot<'_>, CheckError> {
        if let Some(budget) = self.token_budget
            && tokens > u64::from(budget)
        {
            return Err(CheckError::OverTokenBudget {
                tokens,
                tokens_per_minute: budget,
            });
        }
        self.wait_for_pause().await;
        if !self.try_take(tokens).is_zero() {
            let _turn = self.queue.lock().await;
            loop {
                let wait = self.try_take(tokens);
                if wait.is_zero() {
                    break;
                }
                tokio::time::sleep(wait.min(RECHECK)).await;
            }
        }
        self.wait_for_pause().await;
        // The semaphore is never closed, so acquire cannot fail; without a permit we would
        // merely lose the bound for this one request.
        let permit = self.in_flight.acquire().await.ok();
        Ok(Slot { _permit: permit })
    }

    /// Gives back the budget of an attempt that never reached the server.
    pub(crate) fn refund(&self, tokens: u64) {
        let Some(rates) = &self.rates else { return };
        let mut rates = rates
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner());
        if let Some(bucket) = rates.requests.as_mut() {
            bucket.refund(1.0);
        }
        #[allow(clippy::cast_precision_loss)]
        let cost = tokens as f64;
        if let Some(bucket) = rates.tokens.as_mut() {
            bucket.refund(cost);
        }
    }

    /// Holds every new request back for `wait` (after a 429: the server is rate limiting
    /// all of them, not just the one it answered).
    pub(crate) fn pause(&self, wait: Duration) {
        // A wait too long to add to the clock (only with a policy that honours any
        // `Retry-After`) is not a pause the limiter can hold: the waiting request holds itself.
        let Some(until) = Deadline::after(wait).at() else {
            return;
        };
        let mut paused = self
            .paused_until
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner());
        if paused.is_none_or(|current| current < until) {
            *paused = Some(until);
        }
    }

    async fn wait_for_pause(&self) {
        loop {
            let until = *self
                .paused_until
                .lock()
                .unwrap_or_else(|poisoned| poisoned.into_inner());
            match until {
                Some(until) if until > Instant::now() => {
                    tokio::time::sleep_until(until.into()).await;
                }
                _ => return,
            }
        }
    }

    /// Takes the budget of one request of `tokens` when both buckets have it; else takes
    /// nothing and says how long until they should.
    fn try_take(&self, tokens: u64) -> Duration {
        let Some(rates) = &self.rates else {
            return Duration::ZERO;
        };
        let mut guard = rates
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner());
        let rates = &mut *guard;
        let now = Instant::now();
        let elapsed = now.duration_since(rates.last).as_secs_f64();
        rates.last = now;
        // Token counts stay far below 2^53, so the conversion is exact in practice.
        #[allow(clippy::cast_precision_loss)]
        let cost = tokens as f64;
        let mut wait: f64 = 0.0;
        for (bucket, cost) in [(&mut rates.requests, 1.0), (&mut rates.tokens, cost)] {
            if let Some(bucket) = bucket {
                bucket.refill(elapsed);
                wait = wait.max(bucket.shortfall(cost));
            }
        }
        if wait > 0.0 {
            // Round up so the next check finds the budget there.
            return Duration::from_secs_f64(wait + 0.001);
        }
        for (bucket, cost) in [(&mut rates.requests, 1.0), (&mut rates.tokens, cost)] {
            if let Some(bucket) = bucket {
                bucket.available -= cost;
            }
        }
        Duration::ZERO
    }
}

/// Longest sleep of a caller waiting for budget before it checks again (refunds may have
/// brought the budget back sooner).
const RECHECK: Duration = Duration::from_millis(250);

/// Estimated tokens of a prompt: characters / 3, as UpTrain estimates.
pub(crate) fn estimate_tokens(text: &str) -> u64 {
    (text.chars().count() as u64).div_ceil(3)
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Asserts that `wait` is what is left of `period` once the time since `started` has
    /// refilled the bucket: no more than `period`, and with that time, no less.
    fn assert_owes(wait: Duration, period: Duration, started: Instant) {
        let refilled = started.elapsed();
        let slack = Duration::from_millis(1); // the bucket's float arithmetic
        assert!(wait <= period + slack, "{wait:?} > {period:?}");
        assert!(
            wait + refilled + slack >= period,
            "{wait:?} + {refilled:?} < {period:?}"
        );
    }

    #[test]
    fn requests_beyond_the_burst_wait_their_turn() {
        let started = Instant::now();
        let limiter = Limiter::new(&Limits::unlimited(4).with_requests_per_minute(Some(60)));
        for _ in 0..60 {
            assert_eq!(limiter.try_take(0), Duration::ZERO);
        }
        // One request a second: the 61st owes a second, less what has refilled since.
        let wait = limiter.try_take(0);
        assert_owes(wait, Duration::from_secs(1), started);
        // Nothing was taken: the next caller is told the same.
        let next = limiter.try_take(0);
        assert_owes(next, Duration::from_secs(1), started);
    }

    #[test]
    fn token_budget_paces_large_prompts() {
        let started = Instant::now();
        let limiter = Limiter::new(&Limits::unlimited(4).with_tokens_per_minute(Some(600)));
        assert_eq!(limiter.try_take(600), Duration::ZERO);
        // Ten tokens a second: ten more owe a second.
        let wait = limiter.try_take(10);
        assert_owes(wait, Duration::from_secs(1), started);
    }

    #[test]
    fn unlimited_never_waits() {
        let limiter = Limiter::new(&Limits::unlimited(1));
        for _ in 0..1000 {
            assert_eq!(limiter.try_take(1_000_000), Duration::ZERO);
        }
    }

    // Paused time: a timeout fires only once nothing else can move.
    #[tokio::test(start_paused = true)]
    async fn in_flight_is_bounded() {
        let limiter = Limiter::new(&Limits::unlimited(2));
        let a = limiter.acquire(1).await;
        let _b = limiter.acquire(1).await;
        let third = tokio::time::timeout(Duration::from_secs(60), limiter.acquire(1)).await;
        assert!(third.is_err(), "a third slot of two");
        drop(a);
        let third = tokio::time::timeout(Duration::from_secs(60), limiter.acquire(1)).await;
        assert!(third.is_ok(), "the freed slot was not given");
    }

    #[tokio::test]
    async fn a_request_over_the_token_budget_is_refused_and_takes_nothing() {
        let limiter = Limiter::new(&Limits::unlimited(1).with_tokens_per_minute(Some(1_000)));
        let refused = limiter.acquire(1_001).await.map(|_| ()).unwrap_err();
        assert_eq!(
            refused,
            CheckError::OverTokenBudget {
                tokens: 1_001,
                tokens_per_minute: 1_000
            }
        );
        // The whole budget is still there for the requests behind it.
        assert_eq!(limiter.try_take(1_000), Duration::ZERO);
    }

    #[tokio::test(start_paused = true)]
    async fn a_caller_waiting_for_budget_holds_no_slot() {
        let limiter = Limiter::new(&Limits::unlimited(1).with_tokens_per_minute(Some(600)));
        assert_eq!(limiter.try_take(600), Duration::ZERO);
        // This one owes 3 tokens: it sleeps about 300 ms (of the wall clock the bucket reads),
        // without the only slot; paused, the timeout below fires while it sleeps.
        let waiting = limiter.acquire(3);
        tokio::pin!(waiting);
        assert!(
            tokio::time::timeout(Duration::from_millis(10), &mut waiting)
                .await
                .is_err()
        );
        assert_eq!(limiter.in_flight.available_permits(), 1);
        assert!(waiting.await.is_ok());
    }

    #[test]
    fn refunds_give_back_budget_of_unsent_attempts() {
        let limiter = Limiter::new(&Limits::unlimited(1).with_tokens_per_minute(Some(600)));
        assert_eq!(limiter.try_take(600), Duration::ZERO);
        limiter.refund(600);
        assert_eq!(limiter.try_take(600), Duration::ZERO);
    }

    #[tokio::test]
    async fn a_pause_holds_every_new_request_back() {
        let limiter = Limiter::new(&Limits::unlimited(4));
        let started = Instant::now();
        limiter.pause(Duration::from_millis(200));
        assert!(limiter.acquire(1).await.is_ok());
        // A lower bound only: a pause can end late, never early.
        assert!(started.elapsed() >= Duration::from_millis(200));
    }

    #[tokio::test]
    async fn the_longest_pause_does_not_panic() {
        let limiter = Limiter::new(&Limits::unlimited(4));
        limiter.pause(Duration::MAX);
        // A wait no clock can hold is not a pause of the limiter: the request that was told to
        // wait holds itself back (within its policy); the others go on. A limit that only
        // catches a hang.
        let waiting = limiter.acquire(1);
        assert!(
            tokio::time::timeout(Duration::from_secs(30), waiting)
                .await
                .is_ok_and(|permit| permit.is_ok()),
            "a pause of Duration::MAX froze the limiter"
        );
    }

    #[test]
    fn estimate_is_chars_over_three() {
        assert_eq!(estimate_tokens("abcdef"), 2);
        assert_eq!(estimate_tokens("abcd"), 2);
        assert_eq!(estimate_tokens("ééé"), 1);
    }
}
