//! Settings shared by the remote evaluators: concurrency and rate limits, retries, timeouts,
//! the response size cap and progress display.

use std::time::Duration;

use llm_callbacks_transport::Secret;

use crate::error::BuildError;

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

    pub(crate) fn validate(&self) -> Result<(), BuildError> {
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

/// Retries of the remote evaluators: the workspace's one policy, from `llm-callbacks-transport`
/// (the OpenAI client uses the same).
///
/// `max_retries` counts the retries after the first attempt. Waits double from
/// `initial_backoff` up to `max_backoff`, with jitter; a server's `Retry-After` (seconds,
/// fractions or an HTTP date) or `retry-after-ms` replaces the computed wait, up to
/// `max_server_wait`. A 429 pauses every request of the evaluator for the wait, not just the
/// one that got it.
///
/// Judge calls and the UpTrain API's `log_and_evaluate` are paid work: by default
/// ([`Idempotency::NonIdempotent`](crate::Idempotency::NonIdempotent)) a request is sent again
/// only when it provably never reached the server (connection refused, DNS) or the server
/// asked for it (429, or 503 with `Retry-After`). A timeout after sending, a reply cut short,
/// or a 408, 409 or 5xx answer may have been billed: it is sent again only with
/// [`Idempotency::Idempotent`](crate::Idempotency::Idempotent) (`UPTRAIN_RETRY_IDEMPOTENT`
/// for the handler). A judge reply that arrived but could not be parsed is asked again at once,
/// within the same retries. Other 4xx answers and TLS failures are final.
///
/// ```
/// use std::time::Duration;
/// use uptrain_plugin::{Idempotency, RetryPolicy};
///
/// let policy = RetryPolicy::default()
///     .with_max_retries(1)
///     .with_initial_backoff(Duration::from_millis(10));
/// assert_eq!(policy.max_retries, 1);
/// assert_eq!(policy.idempotency, Idempotency::NonIdempotent);
/// // Opting in: judge calls that timed out or failed with a 5xx are sent again.
/// let resend = policy.with_idempotency(Idempotency::Idempotent);
/// assert_eq!(resend.idempotency, Idempotency::Idempotent);
/// ```
pub use llm_callbacks_transport::RetryPolicy;

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

    pub(crate) fn validate(&self) -> Result<(), BuildError> {
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

fn invalid(name: &'static str, reason: &str) -> BuildError {
    BuildError::Invalid {
        name,
        reason: reason.to_owned(),
    }
}

/// Checks a server URL and drops any trailing slash.
pub(crate) fn normalize_url(url: &str) -> Result<String, BuildError> {
    let trimmed = url.trim().trim_end_matches('/');
    if trimmed.starts_with("http://") || trimmed.starts_with("https://") {
        Ok(trimmed.to_owned())
    } else {
        Err(BuildError::InvalidUrl {
            url: url.to_owned(),
        })
    }
}

/// Checks an API key: present and not blank; kept a [`Secret`] so it never prints.
pub(crate) fn check_key(key: Option<Secret>, env: &'static str) -> Result<Secret, BuildError> {
    match key {
        None => Err(BuildError::MissingKey { env }),
        Some(k) if k.expose().trim().is_empty() => Err(BuildError::EmptyKey),
        Some(k) => Ok(Secret::new(k.expose().trim())),
    }
}

/// The key from the builder, else from the environment variable `env`.
pub(crate) fn key_or_env(key: Option<Secret>, env: &'static str) -> Option<Secret> {
    key.or_else(|| std::env::var(env).ok().map(Secret::new))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn urls_and_keys_are_checked() {
        assert_eq!(normalize_url("http://x/v1/").unwrap(), "http://x/v1");
        assert!(normalize_url("x.com").is_err());
        assert_eq!(
            check_key(None, "K"),
            Err(BuildError::MissingKey { env: "K" })
        );
        assert_eq!(check_key(Some("  ".into()), "K"), Err(BuildError::EmptyKey));
        let key = check_key(Some(" k ".into()), "K").unwrap();
        assert_eq!(key.expose(), "k");
        assert_eq!(format!("{key:?}"), "***");
    }

    #[test]
    fn zero_limits_are_rejected() {
        assert!(Limits::unlimited(0).validate().is_err());
        let zero_rate = Limits::default().with_requests_per_minute(Some(0));
        assert!(zero_rate.validate().is_err());
        assert!(Limits::default().validate().is_ok());
    }
}
