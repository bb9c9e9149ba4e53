//! The HTTP layer of the remote evaluators: one reused `reqwest::Client`, the limiter, bounded
//! retries with back-off and `Retry-After` / `retry-after-ms`, a capped body read, and the
//! mapping of every failure to a [`CheckError`].
//!
//! What is retried depends on whether the call is idempotent: a judge call may be sent again
//! after any transient failure; `log_and_evaluate` (which logs and grades on the server) only
//! when the connection was refused, since then the server provably never saw it.

use std::time::Duration;

use reqwest::header::{CONTENT_TYPE, HeaderMap, RETRY_AFTER};

use crate::config::{Limits, RetryPolicy, Timeouts};
use crate::error::{CheckError, ConfigError, excerpt};
use crate::limiter::Limiter;

/// Characters of a body kept in error messages.
const EXCERPT_CHARS: usize = 300;

/// A response that was read completely.
#[derive(Debug)]
pub(crate) struct Reply {
    /// The HTTP status code.
    pub(crate) status: u16,
    /// The body, at most the configured cap.
    pub(crate) body: Vec<u8>,
    /// Whether the server said it sent HTML.
    html: bool,
    /// The server's `Retry-After`, in seconds, if it sent one.
    retry_after: Option<Duration>,
}

impl Reply {
    /// Whether the body is an HTML page rather than JSON.
    pub(crate) fn is_html(&self) -> bool {
        if self.html {
            return true;
        }
        let start = self
            .body
            .iter()
            .position(|b| !b.is_ascii_whitespace())
            .unwrap_or(self.body.len());
        let head = &self.body[start..self.body.len().min(start + 15)];
        let lower = head.to_ascii_lowercase();
        lower.starts_with(b"<!doctype") || lower.starts_with(b"<html")
    }

    /// The body as text (lossy), for error messages.
    pub(crate) fn text_excerpt(&self) -> String {
        excerpt(String::from_utf8_lossy(&self.body).trim(), EXCERPT_CHARS)
    }

    /// The error this reply stands for when it is not a success: HTML pages are named as such;
    /// JSON bodies contribute their `detail` or `error.message`.
    pub(crate) fn to_error(&self) -> CheckError {
        if self.is_html() {
            return CheckError::Html {
                status: self.status,
                excerpt: self.text_excerpt(),
            };
        }
        let detail = serde_json::from_slice::<serde_json::Value>(&self.body)
            .ok()
            .and_then(|v| {
                let found = v
                    .get("detail")
                    .or_else(|| v.get("error").and_then(|e| e.get("message")))
                    .or_else(|| v.get("error"))
                    .or_else(|| v.get("message"))?;
                Some(match found {
                    serde_json::Value::String(s) => s.clone(),
                    other => other.to_string(),
                })
            });
        CheckError::Http {
            status: self.status,
            body: detail.map_or_else(|| self.text_excerpt(), |d| excerpt(&d, EXCERPT_CHARS)),
        }
    }
}

/// What the caller makes of a successful (2xx) reply.
#[derive(Debug)]
pub(crate) enum Verdict<T> {
    /// Done.
    Accept(T),
    /// The reply was unusable but another attempt may do better: retry at once.
    RetryNow(CheckError),
    /// The reply was unusable and retrying will not help.
    Fail(CheckError),
}

/// One HTTP client, one limiter, one retry policy.
#[derive(Debug)]
pub(crate) struct Transport {
    client: reqwest::Client,
    limiter: Limiter,
    retry: RetryPolicy,
    max_body_bytes: usize,
}

impl Transport {
    pub(crate) fn new(
        limits: &Limits,
        retry: RetryPolicy,
        timeouts: &Timeouts,
        max_body_bytes: usize,
    ) -> Result<Self, ConfigError> {
        limits.validate()?;
        retry.validate()?;
        timeouts.validate()?;
        if max_body_bytes == 0 {
            return Err(ConfigError::Invalid {
                name: "max_body_bytes",
                reason: "must be greater than zero".into(),
            });
        }
        let client = reqwest::Client::builder()
            .connect_timeout(timeouts.connect)
            .timeout(timeouts.total)
            .pool_max_idle_per_host(limits.max_in_flight.max(1))
            .build()
            .map_err(|e| ConfigError::Client(e.to_string()))?;
        Ok(Self {
            client,
            limiter: Limiter::new(limits),
            retry,
            max_body_bytes,
        })
    }

    /// Sends the request built by `build` until `judge` accepts a reply or the attempts run
    /// out. `tokens` is the estimated prompt size for the rate limiter. 429, 408 and 5xx
    /// statuses, timeouts, refused, reset and closed connections and broken bodies back off
    /// and retry (when `idempotent`; otherwise only refused connections do); other statuses
    /// and TLS failures fail at once; a 2xx reply goes to `judge`. A 429 pauses every request
    /// of this transport for its back-off.
    pub(crate) async fn call<T>(
        &self,
        build: impl Fn(&reqwest::Client) -> reqwest::RequestBuilder,
        tokens: u64,
        idempotent: bool,
        mut judge: impl FnMut(Reply) -> Verdict<T>,
    ) -> Result<T, CheckError> {
        let mut attempt = 0;
        loop {
            attempt += 1;
            let last = attempt >= self.retry.max_attempts;
            let outcome = {
                let _slot = self.limiter.acquire(tokens).await?;
                self.send(build(&self.client)).await
            };
            let (error, wait) = match outcome {
                Ok(reply) if (200..300).contains(&reply.status) => match judge(reply) {
                    Verdict::Accept(value) => return Ok(value),
                    Verdict::Fail(error) => return Err(error),
                    Verdict::RetryNow(error) if last || !idempotent => return Err(error),
                    Verdict::RetryNow(error) => {
                        tracing::debug!(attempt, %error, "unusable reply, retrying at once");
                        continue;
                    }
                },
                Ok(reply) if reply.status == 429 => {
                    let wait = match reply.retry_after {
                        Some(asked) => self.retry.backoff(attempt, Some(asked)),
                        None => self.retry.rate_limited_backoff(attempt),
                    };
                    // The server limits all our requests, not just this one.
                    self.limiter.pause(wait);
                    (reply.to_error(), wait)
                }
                Ok(reply) if is_retryable_status(reply.status) => {
                    let wait = self.retry.backoff(attempt, reply.retry_after);
                    (reply.to_error(), wait)
                }
                Ok(reply) => return Err(reply.to_error()),
                Err(error) if error.is_transient() => {
                    if error.never_sent() {
                        self.limiter.refund(tokens);
                    }
                    let wait = self.retry.backoff(attempt, None);
                    (error, wait)
                }
                Err(error) => return Err(error),
            };
            let resendable = idempotent || error.never_sent();
            if last || !resendable {
                return Err(error);
            }
            tracing::debug!(attempt, %error, wait_ms = wait.as_millis() as u64, "retrying");
            tokio::time::sleep(wait).await;
        }
    }

    /// One attempt: send, then read the body up to the cap.
    async fn send(&self, request: reqwest::RequestBuilder) -> Result<Reply, CheckError> {
        let mut response = request.send().await.map_err(transport_error)?;
        let status = response.status().as_u16();
        let headers = response.headers();
        let retry_after = parse_retry_after(headers);
        let html = is_html_type(headers);
        if let Some(len) = response.content_length()
            && len > self.max_body_bytes as u64
        {
            return Err(CheckError::BodyTooLarge {
                limit: self.max_body_bytes,
            });
        }
        let mut body = Vec::new();
        while let Some(chunk) = response.chunk().await.map_err(body_error)? {
            if body.len() + chunk.len() > self.max_body_bytes {
                return Err(CheckError::BodyTooLarge {
                    limit: self.max_body_bytes,
                });
            }
            body.extend_from_slice(&chunk);
        }
        Ok(Reply {
            status,
            body,
            html,
            retry_after,
        })
    }
}

/// 429 (rate limited), 408 (request timeout) and every 5xx are worth another try.
pub(crate) fn is_retryable_status(status: u16) -> bool {
    status == 429 || status == 408 || (500..600).contains(&status)
}

fn is_html_type(headers: &HeaderMap) -> bool {
    headers
        .get(CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .is_some_and(|v| v.to_ascii_lowercase().contains("text/html"))
}

/// The delay a server asked for: `retry-after-ms` (milliseconds, as OpenAI sends), else
/// `Retry-After` in seconds (whole or fractional); HTTP dates are ignored.
pub(crate) fn parse_retry_after(headers: &HeaderMap) -> Option<Duration> {
    let number = |name| -> Option<f64> {
        let value: f64 = headers.get(name)?.to_str().ok()?.trim().parse().ok()?;
        (value.is_finite() && value >= 0.0).then_some(value)
    };
    if let Some(ms) = number(RETRY_AFTER_MS) {
        return Some(Duration::from_secs_f64((ms / 1000.0).min(86_400.0)));
    }
    number(RETRY_AFTER.as_str()).map(|secs| Duration::from_secs_f64(secs.min(86_400.0)))
}

/// OpenAI's millisecond variant of `Retry-After`.
const RETRY_AFTER_MS: &str = "retry-after-ms";

fn transport_error(error: reqwest::Error) -> CheckError {
    let message = describe(&error);
    if is_tls_failure(&error) {
        CheckError::Tls { message }
    } else if error.is_timeout() {
        CheckError::Timeout { message }
    } else if error.is_connect() {
        CheckError::Connect { message }
    } else if is_reset(&error) {
        CheckError::Reset { message }
    } else if error.is_body() || error.is_decode() {
        CheckError::Body { message }
    } else {
        CheckError::Transport { message }
    }
}

fn body_error(error: reqwest::Error) -> CheckError {
    if error.is_timeout() {
        CheckError::Timeout {
            message: describe(&error),
        }
    } else {
        CheckError::Body {
            message: describe(&error),
        }
    }
}

/// The error's causes, the error itself excluded.
fn causes(error: &reqwest::Error) -> impl Iterator<Item = &(dyn std::error::Error + 'static)> {
    let mut next = std::error::Error::source(error);
    std::iter::from_fn(move || {
        let current = next?;
        next = current.source();
        Some(current)
    })
}

/// A certificate the TLS layer rejected, or a failed handshake: retrying cannot help.
fn is_tls_failure(error: &reqwest::Error) -> bool {
    causes(error).any(|cause| {
        let text = cause.to_string().to_ascii_lowercase();
        text.contains("certificate") || text.contains("tls handshake") || text.contains("ssl")
    })
}

/// The connection was reset or closed before the reply was complete.
fn is_reset(error: &reqwest::Error) -> bool {
    causes(error).any(|cause| {
        if let Some(io) = cause.downcast_ref::<std::io::Error>()
            && matches!(
                io.kind(),
                std::io::ErrorKind::ConnectionReset
                    | std::io::ErrorKind::ConnectionAborted
                    | std::io::ErrorKind::BrokenPipe
                    | std::io::ErrorKind::UnexpectedEof
            )
        {
            return true;
        }
        let text = cause.to_string().to_ascii_lowercase();
        text.contains("connection closed before message completed")
            || text.contains("connection reset")
            || text.contains("incomplete message")
    })
}

/// The error and its sources on one line.
fn describe(error: &reqwest::Error) -> String {
    let mut text = error.to_string();
    let mut source = std::error::Error::source(error);
    while let Some(inner) = source {
        let inner_text = inner.to_string();
        if !text.contains(&inner_text) {
            text.push_str(": ");
            text.push_str(&inner_text);
        }
        source = inner.source();
    }
    text
}

#[cfg(test)]
mod tests {
    use super::*;
    use reqwest::header::HeaderValue;

    #[test]
    fn retry_after_accepts_seconds_only() {
        let mut headers = HeaderMap::new();
        assert_eq!(parse_retry_after(&headers), None);
        headers.insert(RETRY_AFTER, HeaderValue::from_static("2"));
        assert_eq!(parse_retry_after(&headers), Some(Duration::from_secs(2)));
        headers.insert(RETRY_AFTER, HeaderValue::from_static("0.25"));
        assert_eq!(
            parse_retry_after(&headers),
            Some(Duration::from_millis(250))
        );
        headers.insert(
            RETRY_AFTER,
            HeaderValue::from_static("Wed, 21 Oct 2015 07:28:00 GMT"),
        );
        assert_eq!(parse_retry_after(&headers), None);
        headers.insert(RETRY_AFTER, HeaderValue::from_static("-1"));
        assert_eq!(parse_retry_after(&headers), None);
        // OpenAI's millisecond header wins over the seconds one.
        headers.insert(RETRY_AFTER, HeaderValue::from_static("20"));
        headers.insert(RETRY_AFTER_MS, HeaderValue::from_static("1500"));
        assert_eq!(
            parse_retry_after(&headers),
            Some(Duration::from_millis(1500))
        );
    }

    #[test]
    fn statuses_worth_retrying() {
        for s in [429, 408, 500, 502, 503, 599] {
            assert!(is_retryable_status(s), "{s}");
        }
        for s in [400, 401, 403, 404, 422] {
            assert!(!is_retryable_status(s), "{s}");
        }
    }

    #[test]
    fn error_replies_surface_detail_or_html() {
        let reply = Reply {
            status: 422,
            body: br#"{"detail": "bad checks"}"#.to_vec(),
            html: false,
            retry_after: None,
        };
        assert_eq!(
            reply.to_error(),
            CheckError::Http {
                status: 422,
                body: "bad checks".into()
            }
        );
        let page = Reply {
            status: 502,
            body: b"  <!DOCTYPE html><html><body>Bad gateway</body></html>".to_vec(),
            html: false,
            retry_after: None,
        };
        assert!(matches!(
            page.to_error(),
            CheckError::Html { status: 502, .. }
        ));
        let openai = Reply {
            status: 401,
            body: br#"{"error": {"message": "Incorrect API key"}}"#.to_vec(),
            html: false,
            retry_after: None,
        };
        assert!(openai.to_error().to_string().contains("Incorrect API key"));
    }
}
