//! The limits every call of the instrumented client keeps, whatever HTTP client it sends with:
//! a timeout for a plain call (or the opening of a stream), and for a stream an idle timeout, a
//! total deadline and a cap on the bytes it accumulates.

use std::fmt;
use std::future::Future;
use std::time::Duration;

use llm_callbacks_transport::Deadline;

/// How long a call may take and how much a stream may hold. [`Duration::MAX`] turns a timeout
/// off, `usize::MAX` the byte cap.
///
/// The defaults are far above what a real server needs in normal use: 10 minutes for a plain
/// call or for a stream to open (retries and their waits included), 2 minutes without a chunk
/// and 30 minutes in all for a stream, and 16 MiB of streamed content and tool-call arguments.
/// A call that hits one fails with [`CallError::Limit`](crate::CallError::Limit), and its run ends with
/// an error event that names the limit and counts the tokens so far.
///
/// The timeouts run on tokio's timer, as reqwest's own timeouts do: the runtime needs its time
/// driver (`enable_time`, on with `#[tokio::main]`).
///
/// ```
/// use std::time::Duration;
/// use llm_callbacks_openai::Limits;
///
/// let limits = Limits::default();
/// assert_eq!(limits.request_timeout, Duration::from_secs(600));
/// assert_eq!(limits.stream_idle_timeout, Duration::from_secs(120));
/// assert_eq!(limits.stream_timeout, Duration::from_secs(1800));
/// assert_eq!(limits.max_stream_bytes, 16 * 1024 * 1024);
///
/// let patient = limits.with_stream_timeout(Duration::MAX);
/// assert_eq!(patient.stream_timeout, Duration::MAX);
/// ```
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub struct Limits {
    /// The longest a plain call, or the opening of a stream, may take: connecting, sending,
    /// waiting for the answer, retries and their waits.
    pub request_timeout: Duration,
    /// The longest a stream may go without a chunk (keep-alive comments do not count).
    pub stream_idle_timeout: Duration,
    /// The longest a streamed call may take in all, from sending the request to the last chunk.
    pub stream_timeout: Duration,
    /// The most bytes of content, refusals, tool-call names and arguments a stream may bring.
    pub max_stream_bytes: usize,
}

impl Default for Limits {
    fn default() -> Self {
        Self {
            request_timeout: Duration::from_secs(10 * 60),
            stream_idle_timeout: Duration::from_secs(2 * 60),
            stream_timeout: Duration::from_secs(30 * 60),
            max_stream_bytes: 16 * 1024 * 1024,
        }
    }
}

impl Limits {
    /// Sets the timeout of a plain call or the opening of a stream.
    #[must_use]
    pub fn with_request_timeout(mut self, timeout: Duration) -> Self {
        self.request_timeout = timeout;
        self
    }

    /// Sets the longest a stream may go without a chunk.
    #[must_use]
    pub fn with_stream_idle_timeout(mut self, timeout: Duration) -> Self {
        self.stream_idle_timeout = timeout;
        self
    }

    /// Sets the longest a streamed call may take in all.
    #[must_use]
    pub fn with_stream_timeout(mut self, timeout: Duration) -> Self {
        self.stream_timeout = timeout;
        self
    }

    /// Sets the most bytes a stream may bring.
    #[must_use]
    pub fn with_max_stream_bytes(mut self, bytes: usize) -> Self {
        self.max_stream_bytes = bytes;
        self
    }
}

/// Which limit a call hit, with its configured value.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum Limit {
    /// [`Limits::request_timeout`].
    RequestTimeout(Duration),
    /// [`Limits::stream_idle_timeout`].
    StreamIdleTimeout(Duration),
    /// [`Limits::stream_timeout`].
    StreamTimeout(Duration),
    /// [`Limits::max_stream_bytes`].
    MaxStreamBytes(usize),
}

/// A call stopped by one of its [`Limits`], with what it had received.
///
/// ```
/// use std::time::Duration;
/// use llm_callbacks_openai::{Limit, LimitExceeded};
///
/// let exceeded = LimitExceeded::new(Limit::StreamIdleTimeout(Duration::from_secs(120)), 57, 1234);
/// assert_eq!(
///     exceeded.to_string(),
///     "the stream sent no chunk for 120 s (its idle timeout); 57 tokens, 1234 bytes so far"
/// );
/// ```
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub struct LimitExceeded {
    /// The limit hit.
    pub limit: Limit,
    /// The token events sent before (one per choice delta).
    pub tokens: u64,
    /// The bytes of content, refusals, tool-call names and arguments received before.
    pub bytes: u64,
}

impl LimitExceeded {
    /// `limit` hit after `tokens` tokens and `bytes` bytes.
    pub fn new(limit: Limit, tokens: u64, bytes: u64) -> Self {
        Self {
            limit,
            tokens,
            bytes,
        }
    }
}

impl fmt::Display for LimitExceeded {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let secs = |d: &Duration| d.as_secs_f64();
        match &self.limit {
            Limit::RequestTimeout(d) => {
                return write!(f, "the call took over its timeout of {} s", secs(d));
            }
            Limit::StreamIdleTimeout(d) => write!(
                f,
                "the stream sent no chunk for {} s (its idle timeout)",
                secs(d)
            )?,
            Limit::StreamTimeout(d) => {
                write!(f, "the stream took over its deadline of {} s", secs(d))?
            }
            Limit::MaxStreamBytes(cap) => write!(
                f,
                "the stream brought more than its cap of {cap} bytes of content and tool-call \
                 arguments"
            )?,
        }
        write!(f, "; {} tokens, {} bytes so far", self.tokens, self.bytes)
    }
}

impl std::error::Error for LimitExceeded {}

/// Runs `future` until `deadline`: `None` when the deadline came first.
pub(crate) async fn within<F: Future>(deadline: Deadline, future: F) -> Option<F::Output> {
    match deadline.at() {
        None => Some(future.await),
        Some(at) => tokio::time::timeout_at(at.into(), future).await.ok(),
    }
}
