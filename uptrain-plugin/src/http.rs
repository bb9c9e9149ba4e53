//! The HTTP layer of the remote evaluators: one reused `reqwest::Client`, the limiter, retries
//! by the workspace's one [`RetryPolicy`] (from `llm-callbacks-transport`), a capped body read,
//! and the mapping of every failure to a [`CheckError`].
//!
//! Which failures are sent again is the transport's rule, read with the policy's
//! [`Idempotency`](llm_callbacks_transport::Idempotency): judge calls and `log_and_evaluate` are
//! paid work, so by default a request is sent again only when it provably never reached the
//! server (connection refused, DNS) or the server asked for it (429, or 503 with
//! `Retry-After`). A timeout after sending, a broken reply or a 408, 409 or 5xx is sent again
//! only when the policy says the requests are idempotent (the user's opt-in).

use std::time::Duration;

use llm_callbacks_transport::{Deadline, Decision, Failure, RetryPolicy, retry_after};
use reqwest::StatusCode;
use reqwest::header::{CONTENT_TYPE, HeaderMap};

use crate::config::{Limits, Timeouts};
use crate::error::{BuildError, CheckError, excerpt};
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

    /// What this reply, when it is not a success, means for retrying.
    fn failure(&self) -> Failure {
        Failure::Status {
            // The status came from a `StatusCode`, so it converts back.
            status: StatusCode::from_u16(self.status).unwrap_or(StatusCode::INTERNAL_SERVER_ERROR),
            retry_after: self.retry_after,
        }
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

/// An attempt that got no usable reply: the error to report, and what it means for retrying.
#[derive(Debug)]
struct Failed {
    error: CheckError,
    failure: Failure,
}

impl Transport {
    pub(crate) fn new(
        limits: &Limits,
        retry: RetryPolicy,
        timeouts: &Timeouts,
        max_body_bytes: usize,
    ) -> Result<Self, BuildError> {
        limits.validate()?;
        timeouts.validate()?;
        if max_body_bytes == 0 {
            return Err(BuildError::Invalid {
                name: "max_body_bytes",
                reason: "must be greater than zero".into(),
            });
        }
        let client = reqwest::Client::builder()
            .connect_timeout(timeouts.connect)
            .timeout(timeouts.total)
            .pool_max_idle_per_host(limits.max_in_flight.max(1))
            .build()
            .map_err(|e| BuildError::Client(e.to_string()))?;
        Ok(Self {
            client,
            limiter: Limiter::new(limits),
            retry,
            max_body_bytes,
        })
    }

    /// Sends the request built by `build` until `judge` accepts a reply or the policy gives
    /// up; `tokens` is the estimated prompt size for the rate limiter. (No deadline here: the
    /// handler bounds a whole evaluation by its own.)
    ///
    /// A failed attempt is sent again by the policy's one rule ([`RetryPolicy::decide`]). A
    /// 2xx reply goes to `judge`; one it finds unusable is asked again at once, within the
    /// policy's retries (that answer is in, so nothing is billed twice for it). A 429 pauses
    /// every request of this transport; an attempt that never reached the server gets its
    /// rate budget back.
    pub(crate) async fn call<T>(
        &self,
        build: impl Fn(&reqwest::Client) -> reqwest::RequestBuilder,
        tokens: u64,
        mut judge: impl FnMut(Reply) -> Verdict<T>,
    ) -> Result<T, CheckError> {
        let mut retries = 0;
        loop {
            let outcome = {
                let _slot = self.limiter.acquire(tokens).await?;
                self.send(build(&self.client)).await
            };
            let Failed { error, failure } = match outcome {
                Ok(reply) if (200..300).contains(&reply.status) => match judge(reply) {
                    Verdict::Accept(value) => return Ok(value),
                    Verdict::Fail(error) => return Err(error),
                    Verdict::RetryNow(error) if retries >= self.retry.max_retries => {
                        return Err(error);
                    }
                    Verdict::RetryNow(error) => {
                        retries += 1;
                        tracing::debug!(retries, %error, "unusable reply, asking again at once");
                        continue;
                    }
                },
                Ok(reply) => Failed {
                    failure: reply.failure(),
                    error: reply.to_error(),
                },
                Err(failed) => failed,
            };
            if failure == Failure::NotSent {
                self.limiter.refund(tokens);
            }
            let decision = self.retry.decide(&failure, retries, Deadline::NONE);
            if is_rate_limited(&failure) {
                // The server limits all our requests, not just this one.
                let pause = match decision {
                    Decision::Retry(wait) => wait,
                    Decision::GiveUp(_) => failure
                        .retry_after()
                        .unwrap_or_else(|| self.retry.backoff(retries.saturating_add(1)))
                        .min(self.retry.max_server_wait),
                };
                self.limiter.pause(pause);
            }
            let wait = match decision {
                Decision::Retry(wait) => wait,
                Decision::GiveUp(reason) => {
                    tracing::debug!(retries, %error, %reason, "not sent again");
                    return Err(error);
                }
            };
            retries += 1;
            tracing::debug!(retries, %error, wait_ms = wait.as_millis() as u64, "retrying");
            tokio::time::sleep(wait).await;
        }
    }

    /// One attempt: send, then read the body up to the cap.
    async fn send(&self, request: reqwest::RequestBuilder) -> Result<Reply, Failed> {
        let mut response = request.send().await.map_err(|error| Failed {
            failure: unanswered(&error),
            error: transport_error(error),
        })?;
        let status = response.status().as_u16();
        let headers = response.headers();
        let retry_after = retry_after(headers);
        let html = is_html_type(headers);
        let too_large = || Failed {
            error: CheckError::BodyTooLarge {
                limit: self.max_body_bytes,
            },
            // The same body would come again.
            failure: Failure::Other,
        };
        if let Some(len) = response.content_length()
            && len > self.max_body_bytes as u64
        {
            return Err(too_large());
        }
        let mut body = Vec::new();
        loop {
            let chunk = response.chunk().await.map_err(|error| Failed {
                // The server has the request and was answering.
                failure: if error.is_timeout() {
                    Failure::TimedOut
                } else {
                    Failure::Interrupted
                },
                error: body_error(error),
            })?;
            let Some(chunk) = chunk else { break };
            if body.len() + chunk.len() > self.max_body_bytes {
                return Err(too_large());
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

/// A 429: the server is limiting every request of this client.
fn is_rate_limited(failure: &Failure) -> bool {
    matches!(
        failure,
        Failure::Status {
            status: StatusCode::TOO_MANY_REQUESTS,
            ..
        }
    )
}

/// What a request that got no answer means for retrying: the transport's reading of reqwest's
/// error, except that a TLS failure (a certificate refused) is final, since a retry meets the
/// same certificate.
fn unanswered(error: &reqwest::Error) -> Failure {
    if is_tls_failure(error) {
        Failure::Other
    } else {
        Failure::from_reqwest(error)
    }
}

fn is_html_type(headers: &HeaderMap) -> bool {
    headers
        .get(CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .is_some_and(|v| v.to_ascii_lowercase().contains("text/html"))
}

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

    #[test]
    fn a_failed_reply_carries_its_status_and_wait_to_the_policy() {
        let reply = Reply {
            status: 503,
            body: Vec::new(),
            html: false,
            retry_after: Some(Duration::from_secs(2)),
        };
        assert_eq!(
            reply.failure(),
            Failure::Status {
                status: StatusCode::SERVICE_UNAVAILABLE,
                retry_after: Some(Duration::from_secs(2)),
            }
        );
        assert!(!is_rate_limited(&reply.failure()));
        let busy = Reply {
            status: 429,
            retry_after: None,
            ..reply
        };
        assert!(is_rate_limited(&busy.failure()));
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
