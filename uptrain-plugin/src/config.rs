//! Settings shared by the remote evaluators: concurrency and rate limits, retries, timeouts,
//! the response size cap and progress display.

use std::time::Duration;

use crate::error::ConfigError;

/// Concurrency and rate limits, applied to every request of an evaluator (all rows, all
/// checks, all concurrent evaluations share them).
///
/// ```
/// let limits = uptrain_plugin::Limits::default();
/// assert_eq!(limits.max_in_flight, 16);
/// assert_eq!(limits.requests_per_minute, Some(100));
/// assert_eq!(limits.tokens_per_minute, Some(90_000));
/// assert_eq!(uptrain_plugin::Limits::unlimited(32).requests_per_minute, None);
/// let custom = uptrain_plugin::Limits::default().with_max_in_flight(4).with_tokens_per_minute(None);
/// assert_eq!((custom.max_in_flight, custom.tokens_per_minute), (4, None));
/// ```
///
/// A single request estimated larger than the whole per-minute token budget is never sent: it
/// fails at once with [`CheckError::OverTokenBudget`](crate::CheckError::OverTokenBudget), so it
/// cannot stall the requests behind it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub struct Limits {
    /// Requests in flight at once (at least 1).
    pub max_in_flight: usize,
    /// Requests started per minute; `None` = unlimited.
    pub requests_per_minute: Option<u32>,
    /// Estimated prompt tokens (characters / 3) sent per minute; `None` = unlimited.
    pub tokens_per_minute: Option<u32>,
}

impl Default for Limits {
    /// 16 in flight, UpTrain's 100 requests and 90,000 tokens per minute.
    fn default() -> Self {
        Self {
            max_in_flight: 16,
            requests_per_minute: Some(100),
            tokens_per_minute: Some(90_000),
        }
    }
}

impl Limits {
    /// `max_in_flight` requests at once and no rate limit.
    pub fn unlimited(max_in_flight: usize) -> Self {
        Self {
            max_in_flight,
            requests_per_minute: None,
            tokens_per_minute: None,
        }
    }

    /// Sets the requests in flight at once.
    pub fn with_max_in_flight(mut self, n: usize) -> Self {
        self.max_in_flight = n;
        self
    }

    /// Sets the requests per minute (`None` = unlimited).
    pub fn with_requests_per_minute(mut self, n: Option<u32>) -> Self {
        self.requests_per_minute = n;
        self
    }

    /// Sets the estimated tokens per minute (`None` = unlimited).
    pub fn with_tokens_per_minute(mut self, n: Option<u32>) -> Self {
        self.tokens_per_minute = n;
        self
    }

    pub(crate) fn validate(&self) -> Result<(), ConfigError> {
        if self.max_in_flight == 0 {
            return Err(invalid("limits.max_in_flight", "must be at least 1"));
        }
        if self.requests_per_minute == Some(0) || self.tokens_per_minute == Some(0) {
            return Err(invalid(
                "limits",
                "a per-minute limit of 0 would never send; use None for unlimited",
            ));
        }
        Ok(())
    }
}

/// Retry behaviour for 429, 408, 5xx, timeouts, refused connections and connections the
/// server reset or closed mid-reply.
///
/// Attempt `n` (from 1) that fails transiently sleeps `base_delay × 2^(n-1)`, capped at
/// `max_delay`, with jitter (a random 50–100 % of that), or what the server asked for in
/// `retry-after-ms` or `Retry-After` (also capped at `max_delay`). A 429 without either header
/// sleeps at least `rate_limited_delay × 2^(n-1)` (capped), so a rate-limited server gets a
/// real pause; the pause applies to every request of the evaluator, not just the one that got
/// the 429. An unparseable reply is retried at once. Other 4xx statuses and TLS certificate
/// failures are final. Requests that are not idempotent (the UpTrain API's
/// `log_and_evaluate`) are only resent when the connection was refused, so the server provably
/// never saw them.
///
/// ```
/// use std::time::Duration;
/// let policy = uptrain_plugin::RetryPolicy::default()
///     .with_max_attempts(2)
///     .with_base_delay(Duration::from_millis(10));
/// assert_eq!(policy.max_attempts, 2);
/// assert_eq!(policy.rate_limited_delay, Duration::from_secs(5));
/// ```
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub struct RetryPolicy {
    /// Attempts per request, the first included (at least 1).
    pub max_attempts: u32,
    /// Back-off before the second attempt.
    pub base_delay: Duration,
    /// Longest single sleep, `Retry-After` included.
    pub max_delay: Duration,
    /// Least back-off before the second attempt after a 429 that named no delay (doubles per
    /// attempt).
    pub rate_limited_delay: Duration,
}

impl Default for RetryPolicy {
    /// 4 attempts, 500 ms base, 60 s cap, 5 s after a 429 without `Retry-After`.
    fn default() -> Self {
        Self {
            max_attempts: 4,
            base_delay: Duration::from_millis(500),
            max_delay: Duration::from_secs(60),
            rate_limited_delay: Duration::from_secs(5),
        }
    }
}

impl RetryPolicy {
    /// Sets the attempts per request, the first included.
    pub fn with_max_attempts(mut self, n: u32) -> Self {
        self.max_attempts = n;
        self
    }

    /// Sets the back-off before the second attempt.
    pub fn with_base_delay(mut self, delay: Duration) -> Self {
        self.base_delay = delay;
        self
    }

    /// Sets the longest single sleep.
    pub fn with_max_delay(mut self, delay: Duration) -> Self {
        self.max_delay = delay;
        self
    }

    /// Sets the least back-off after a 429 that named no delay.
    pub fn with_rate_limited_delay(mut self, delay: Duration) -> Self {
        self.rate_limited_delay = delay;
        self
    }

    pub(crate) fn validate(&self) -> Result<(), ConfigError> {
        if self.max_attempts == 0 {
            return Err(invalid("retry.max_attempts", "must be at least 1"));
        }
        Ok(())
    }

    /// The sleep before attempt `attempt + 1`, after attempt `attempt` (from 1) failed.
    pub(crate) fn backoff(&self, attempt: u32, retry_after: Option<Duration>) -> Duration {
        if let Some(wait) = retry_after {
            return wait.min(self.max_delay);
        }
        let factor = 2u32.saturating_pow(attempt.saturating_sub(1));
        let full = self.base_delay.saturating_mul(factor).min(self.max_delay);
        full.mul_f64(0.5 + fastrand::f64() * 0.5)
    }

    /// The sleep after a 429 that named no delay: the usual back-off, but at least
    /// `rate_limited_delay × 2^(attempt-1)` (capped at `max_delay`).
    pub(crate) fn rate_limited_backoff(&self, attempt: u32) -> Duration {
        let factor = 2u32.saturating_pow(attempt.saturating_sub(1));
        let floor = self
            .rate_limited_delay
            .saturating_mul(factor)
            .min(self.max_delay);
        self.backoff(attempt, None).max(floor)
    }
}

/// Per-request timeouts.
///
/// ```
/// use std::time::Duration;
/// let t = uptrain_plugin::Timeouts::default().with_total(Duration::from_secs(30));
/// assert_eq!((t.connect, t.total), (Duration::from_secs(10), Duration::from_secs(30)));
/// ```
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub struct Timeouts {
    /// Time allowed to open a connection.
    pub connect: Duration,
    /// Time allowed for a whole request, body included.
    pub total: Duration,
}

impl Default for Timeouts {
    /// 10 s to connect, 120 s in total.
    fn default() -> Self {
        Self {
            connect: Duration::from_secs(10),
            total: Duration::from_secs(120),
        }
    }
}

impl Timeouts {
    /// Sets the time allowed to open a connection.
    pub fn with_connect(mut self, d: Duration) -> Self {
        self.connect = d;
        self
    }

    /// Sets the time allowed for a whole request.
    pub fn with_total(mut self, d: Duration) -> Self {
        self.total = d;
        self
    }

    pub(crate) fn validate(&self) -> Result<(), ConfigError> {
        if self.connect.is_zero() || self.total.is_zero() {
            return Err(invalid("timeouts", "must be greater than zero"));
        }
        Ok(())
    }
}

/// When to draw a progress line on stderr.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub enum ProgressMode {
    /// Only when stderr is a terminal.
    #[default]
    Auto,
    /// Never.
    Never,
}

/// Default cap on a response body: 4 MiB.
pub const DEFAULT_MAX_BODY_BYTES: usize = 4 * 1024 * 1024;

fn invalid(name: &'static str, reason: &str) -> ConfigError {
    ConfigError::Invalid {
        name,
        reason: reason.to_owned(),
    }
}

/// Checks a server URL and drops any trailing slash.
pub(crate) fn normalize_url(url: &str) -> Result<String, ConfigError> {
    let trimmed = url.trim().trim_end_matches('/');
    if trimmed.starts_with("http://") || trimmed.starts_with("https://") {
        Ok(trimmed.to_owned())
    } else {
        Err(ConfigError::InvalidUrl {
            url: url.to_owned(),
        })
    }
}

/// Checks an API key: present and not blank.
pub(crate) fn check_key(key: Option<String>, env: &'static str) -> Result<String, ConfigError> {
    match key {
        None => Err(ConfigError::MissingKey { env }),
        Some(k) if k.trim().is_empty() => Err(ConfigError::EmptyKey),
        Some(k) => Ok(k.trim().to_owned()),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn backoff_grows_is_capped_and_honours_retry_after() {
        let policy = RetryPolicy::default()
            .with_base_delay(Duration::from_millis(100))
            .with_max_delay(Duration::from_millis(300))
            .with_rate_limited_delay(Duration::from_millis(120));
        let first = policy.backoff(1, None);
        assert!(first >= Duration::from_millis(50) && first <= Duration::from_millis(100));
        let second = policy.backoff(2, None);
        assert!(second >= Duration::from_millis(100) && second <= Duration::from_millis(200));
        let tenth = policy.backoff(10, None);
        assert!(tenth <= Duration::from_millis(300) && tenth >= Duration::from_millis(150));
        assert_eq!(
            policy.backoff(1, Some(Duration::from_millis(250))),
            Duration::from_millis(250)
        );
        assert_eq!(
            policy.backoff(1, Some(Duration::from_secs(9))),
            Duration::from_millis(300)
        );
        // A 429 without a delay waits at least the rate-limited floor, doubling, capped.
        assert!(policy.rate_limited_backoff(1) >= Duration::from_millis(120));
        assert!(policy.rate_limited_backoff(2) >= Duration::from_millis(240));
        assert_eq!(policy.rate_limited_backoff(5), Duration::from_millis(300));
    }

    #[test]
    fn urls_and_keys_are_checked() {
        assert_eq!(normalize_url("http://x/v1/").unwrap(), "http://x/v1");
        assert!(normalize_url("x.com").is_err());
        assert_eq!(
            check_key(None, "K"),
            Err(ConfigError::MissingKey { env: "K" })
        );
        assert_eq!(
            check_key(Some("  ".into()), "K"),
            Err(ConfigError::EmptyKey)
        );
        assert_eq!(check_key(Some(" k ".into()), "K").unwrap(), "k");
    }

    #[test]
    fn zero_limits_are_rejected() {
        assert!(Limits::unlimited(0).validate().is_err());
        let zero_rate = Limits::default().with_requests_per_minute(Some(0));
        assert!(zero_rate.validate().is_err());
        assert!(Limits::default().validate().is_ok());
    }
}
