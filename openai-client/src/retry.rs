//! The retry policy of the instrumented client.
//!
//! async-openai 0.43 retries nothing by itself (its retries live in an optional tower
//! middleware that reports nothing), so the instrumented client retries, and every retry
//! becomes an `on_retry` event of the chat model run.

use std::time::Duration;

use async_openai::error::OpenAIError;

/// Which failed calls the instrumented client tries again, how often, and how long it waits.
///
/// A call is retried when it failed with HTTP 408, 409, 429 or a 5xx status, or could not
/// connect or timed out; never after a stream has started (a stream cut midway ends its run
/// with an error instead). The waits double from `initial_backoff` up to `max_backoff`, with no
/// jitter. async-openai does not hand over the response headers of a failed call, so a
/// `Retry-After` header is not seen: choose backoffs that suit the server's rate limits.
///
/// The default is two retries after 0.5 s and 1 s, as OpenAI's own SDKs do.
///
/// ```
/// use std::time::Duration;
/// use llm_callbacks_openai::RetryPolicy;
///
/// let policy = RetryPolicy::default().with_max_retries(3);
/// assert_eq!(policy.backoff(1), Duration::from_millis(500));
/// assert_eq!(policy.backoff(3), Duration::from_secs(2));
/// assert_eq!(RetryPolicy::none().max_retries, 0);
/// ```
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct RetryPolicy {
    /// Retries after the first attempt; 0 turns retries off.
    pub max_retries: u32,
    /// The wait before the first retry.
    pub initial_backoff: Duration,
    /// The longest wait between two attempts.
    pub max_backoff: Duration,
}

impl Default for RetryPolicy {
    fn default() -> Self {
        Self {
            max_retries: 2,
            initial_backoff: Duration::from_millis(500),
            max_backoff: Duration::from_secs(8),
        }
    }
}

impl RetryPolicy {
    /// No retries: every call is made once, as async-openai makes it.
    pub fn none() -> Self {
        Self {
            max_retries: 0,
            ..Self::default()
        }
    }

    /// Sets the number of retries.
    #[must_use]
    pub fn with_max_retries(mut self, max_retries: u32) -> Self {
        self.max_retries = max_retries;
        self
    }

    /// Sets the first wait; later waits double up to [`max_backoff`](Self::max_backoff).
    #[must_use]
    pub fn with_initial_backoff(mut self, backoff: Duration) -> Self {
        self.initial_backoff = backoff;
        self
    }

    /// Sets the longest wait.
    #[must_use]
    pub fn with_max_backoff(mut self, backoff: Duration) -> Self {
        self.max_backoff = backoff;
        self
    }

    /// The wait before retry number `retry` (from 1).
    pub fn backoff(&self, retry: u32) -> Duration {
        let factor = 2u32.saturating_pow(retry.saturating_sub(1));
        self.initial_backoff
            .saturating_mul(factor)
            .min(self.max_backoff)
    }

    /// True when a call that failed with `error` is worth trying again.
    pub fn is_retryable(error: &OpenAIError) -> bool {
        match error {
            OpenAIError::ApiError(response) => {
                let status = response.status_code.as_u16();
                matches!(status, 408 | 409 | 429) || response.status_code.is_server_error()
            }
            OpenAIError::Reqwest(error) => error.is_connect() || error.is_timeout(),
            _ => false,
        }
    }
}
