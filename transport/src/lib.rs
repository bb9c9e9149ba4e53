//! What every HTTP client of llm-callbacks shares, so each follows the same rules:
//!
//! - [`RetryPolicy`]: one retry policy, attempts counted one way (`max_retries` retries after the
//!   first attempt), exponential backoff with jitter, a cap on computed waits and on waits the
//!   server asks for, and one [`decide`](RetryPolicy::decide) for a failed attempt.
//! - [`retry_after`]: the server's `Retry-After` in whole or fractional seconds or as an HTTP
//!   date, and `retry-after-ms`.
//! - [`Failure`] and [`Idempotency`]: one table of retryable failures, with the rule that a paid
//!   or non-idempotent request is sent again only when it provably never reached the server or
//!   the server asked for it, unless the caller opts in.
//! - [`Deadline`]: deadlines that cannot overflow; [`Duration::MAX`](std::time::Duration::MAX)
//!   means none.
//! - [`Secret`] and [`redacted_headers`]: auth that never shows in `Debug`, `Display` or errors.
//!
//! It knows no plugin and no event: a client reports its retries itself.
//!
//! ```
//! use std::time::Duration;
//! use llm_callbacks_transport::reqwest::StatusCode;
//! use llm_callbacks_transport::{Deadline, Decision, Failure, GiveUp, RetryPolicy};
//!
//! let policy = RetryPolicy::default().with_jitter(false);
//! let deadline = Deadline::after(Duration::from_secs(600));
//! // A completion that timed out after it was sent is not sent again: it may be billed twice.
//! assert_eq!(
//!     policy.decide(&Failure::TimedOut, 0, deadline),
//!     Decision::GiveUp(GiveUp::MayHaveReachedServer)
//! );
//! // A 503 that says when to come back is.
//! let unavailable = Failure::Status {
//!     status: StatusCode::SERVICE_UNAVAILABLE,
//!     retry_after: Some(Duration::from_secs(2)),
//! };
//! assert_eq!(policy.decide(&unavailable, 0, deadline), Decision::Retry(Duration::from_secs(2)));
//! ```
#![deny(missing_docs)]

mod deadline;
mod failure;
mod not_resent;
mod policy;
mod retry_after;
mod secret;
mod url;

pub use deadline::Deadline;
pub use failure::{Failure, Idempotency, Retryable};
pub use not_resent::NotResent;
pub use policy::{Decision, GiveUp, RetryPolicy};
pub use retry_after::{
    RETRY_AFTER_MS, parse_retry_after, parse_retry_after_ms, retry_after, retry_after_at,
};
pub use secret::{REDACTED, RedactedHeaders, Secret, redacted_headers};
pub use url::{RedactedUrl, redacted_url};

pub use reqwest;
