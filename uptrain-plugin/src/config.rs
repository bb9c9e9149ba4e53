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
/// ```
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
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

/// Retry behaviour for 429, 408, 5xx, timeouts and connection errors.
///
/// Attempt `n` (from 1) that fails transiently sleeps `base_delay × 2^(n-1)`, capped at
/// `max_delay`, with jitter (a random 50–100 % of that), or the server's `Retry-After`
/// seconds (also capped at `max_delay`) when it sent one. An unparseable reply is retried at
/// once. Other 4xx statuses are not retried.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct RetryPolicy {
    /// Attempts per request, the first included (at least 1).
    pub max_attempts: u32,
    /// Back-off before the second attempt.
    pub base_delay: Duration,
    /// Longest single sleep, `Retry-After` included.
    pub max_delay: Duration,
}

impl Default for RetryPolicy {
    /// 4 attempts, 500 ms base, 60 s cap.
    fn default() -> Self {
        Self {
            max_attempts: 4,
            base_delay: Duration::from_millis(500),
            max_delay: Duration::from_secs(60),
        }
    }
}

impl RetryPolicy {
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
}

/// Per-request timeouts.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
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
        let policy = RetryPolicy {
            max_attempts: 4,
            base_delay: Duration::from_millis(100),
            max_delay: Duration::from_millis(300),
        };
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
        let zero_rate = Limits {
            requests_per_minute: Some(0),
            ..Limits::default()
        };
        assert!(zero_rate.validate().is_err());
        assert!(Limits::default().validate().is_ok());
    }
}
