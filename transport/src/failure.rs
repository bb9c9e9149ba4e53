//! What went wrong with one attempt, and whether sending the request again is safe: the one
//! table of retryable failures, with its idempotency rule.

use std::time::Duration;

use reqwest::StatusCode;
use reqwest::header::HeaderMap;

use crate::retry_after::retry_after;

/// Whether a request may be sent twice without harm.
///
/// A paid or non-idempotent request (a chat completion, a judge's grading call) is
/// [`NonIdempotent`](Self::NonIdempotent): sending it again after the server may have done the
/// work bills it twice. That is the default; a caller opts in to more retries with
/// [`Idempotent`](Self::Idempotent).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Default)]
pub enum Idempotency {
    /// Sent again only when it provably never reached the server, or the server asked for it
    /// (429, or 503 with `Retry-After`).
    #[default]
    NonIdempotent,
    /// Also sent again after a timeout, a broken connection, or a 408, 409 or 5xx answer.
    Idempotent,
}

/// What one attempt came to, as far as retrying is concerned.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Failure {
    /// The request never reached the server: the connection was refused, the name did not
    /// resolve, TLS failed, or connecting timed out, all before a byte of the request was sent.
    NotSent,
    /// The request was sent and no answer came in time (a read or total timeout).
    TimedOut,
    /// The connection broke after the request may have been sent (reset, closed early).
    Interrupted,
    /// The server answered with an error status, and maybe a wait (`Retry-After`).
    Status {
        /// The HTTP status.
        status: StatusCode,
        /// The wait the server asked for, when it did.
        retry_after: Option<Duration>,
    },
    /// Anything else (a request that could not be built, a redirect loop, a body that did not
    /// decode): sending it again would fail the same way.
    Other,
}

impl Failure {
    /// The failure of a request that got no answer, from reqwest's error.
    ///
    /// reqwest reports every failure before the request was written (DNS, TCP connect, TLS
    /// handshake, connect timeout) as a connect error; a timeout that is not a connect error
    /// came after sending.
    pub fn from_reqwest(error: &reqwest::Error) -> Self {
        if error.is_connect() {
            Failure::NotSent
        } else if error.is_timeout() {
            Failure::TimedOut
        } else if error.is_request() || error.is_body() {
            Failure::Interrupted
        } else {
            Failure::Other
        }
    }

    /// The failure of an answer with `status` and `headers`; `None` for a success.
    ///
    /// ```
    /// use std::time::Duration;
    /// use llm_callbacks_transport::reqwest::StatusCode;
    /// use llm_callbacks_transport::reqwest::header::{HeaderMap, HeaderValue};
    /// use llm_callbacks_transport::Failure;
    ///
    /// let mut headers = HeaderMap::new();
    /// headers.insert("retry-after", HeaderValue::from_static("1"));
    /// assert_eq!(
    ///     Failure::from_status(StatusCode::SERVICE_UNAVAILABLE, &headers),
    ///     Some(Failure::Status {
    ///         status: StatusCode::SERVICE_UNAVAILABLE,
    ///         retry_after: Some(Duration::from_secs(1)),
    ///     })
    /// );
    /// assert_eq!(Failure::from_status(StatusCode::OK, &headers), None);
    /// ```
    pub fn from_status(status: StatusCode, headers: &HeaderMap) -> Option<Self> {
        if status.is_success() || status.is_informational() {
            return None;
        }
        Some(Failure::Status {
            status,
            retry_after: retry_after(headers),
        })
    }

    /// The wait the server asked for, if any.
    pub fn retry_after(&self) -> Option<Duration> {
        match self {
            Failure::Status { retry_after, .. } => *retry_after,
            _ => None,
        }
    }

    /// Whether sending the request again is worth it and safe, by the table below.
    ///
    /// | failure | non-idempotent (default) | idempotent |
    /// |---|---|---|
    /// | never sent (connect refused, DNS, TLS, connect timeout) | retry | retry |
    /// | 429 Too Many Requests | retry | retry |
    /// | 503 with `Retry-After` | retry | retry |
    /// | 408, 409, other 5xx | no: the server may have done the work | retry |
    /// | timed out, connection broken after sending | no: the server may have done the work | retry |
    /// | other 4xx, anything else | no | no |
    ///
    /// ```
    /// use llm_callbacks_transport::reqwest::StatusCode;
    /// use llm_callbacks_transport::{Failure, Idempotency, Retryable};
    ///
    /// let failed = Failure::Status { status: StatusCode::INTERNAL_SERVER_ERROR, retry_after: None };
    /// assert_eq!(failed.retryable(Idempotency::NonIdempotent), Retryable::MayHaveReachedServer);
    /// assert_eq!(failed.retryable(Idempotency::Idempotent), Retryable::Yes);
    /// assert_eq!(Failure::NotSent.retryable(Idempotency::NonIdempotent), Retryable::Yes);
    /// ```
    pub fn retryable(&self, idempotency: Idempotency) -> Retryable {
        let idempotent = idempotency == Idempotency::Idempotent;
        let may_have_reached = |safe: bool| {
            if safe || idempotent {
                Retryable::Yes
            } else {
                Retryable::MayHaveReachedServer
            }
        };
        match *self {
            Failure::NotSent => Retryable::Yes,
            Failure::TimedOut | Failure::Interrupted => may_have_reached(false),
            Failure::Status {
                status,
                retry_after,
            } => match status.as_u16() {
                429 => Retryable::Yes,
                503 => may_have_reached(retry_after.is_some()),
                408 | 409 | 500..=599 => may_have_reached(false),
                _ => Retryable::No,
            },
            Failure::Other => Retryable::No,
        }
    }
}

/// The table's answer for one failure; see [`Failure::retryable`].
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Retryable {
    /// Safe and worth sending again.
    Yes,
    /// Worth sending again only if the request is idempotent: the server may have done the work.
    MayHaveReachedServer,
    /// Sending it again would fail the same way.
    No,
}

#[cfg(test)]
mod tests {
    use super::*;

    fn status(code: u16, retry_after: Option<u64>) -> Failure {
        Failure::Status {
            status: StatusCode::from_u16(code).unwrap_or(StatusCode::IM_A_TEAPOT),
            retry_after: retry_after.map(Duration::from_secs),
        }
    }

    #[test]
    fn the_table() {
        use Retryable::{MayHaveReachedServer as Maybe, No, Yes};
        // failure, non-idempotent, idempotent
        let cases = [
            (Failure::NotSent, Yes, Yes),
            (Failure::TimedOut, Maybe, Yes),
            (Failure::Interrupted, Maybe, Yes),
            (Failure::Other, No, No),
            (status(429, None), Yes, Yes),
            (status(429, Some(2)), Yes, Yes),
            (status(503, Some(2)), Yes, Yes),
            (status(503, None), Maybe, Yes),
            (status(500, None), Maybe, Yes),
            (status(500, Some(2)), Maybe, Yes),
            (status(502, None), Maybe, Yes),
            (status(504, None), Maybe, Yes),
            (status(408, None), Maybe, Yes),
            (status(409, None), Maybe, Yes),
            (status(400, None), No, No),
            (status(401, None), No, No),
            (status(404, None), No, No),
            (status(422, None), No, No),
        ];
        for (failure, non_idempotent, idempotent) in cases {
            assert_eq!(
                failure.retryable(Idempotency::NonIdempotent),
                non_idempotent,
                "{failure:?}"
            );
            assert_eq!(
                failure.retryable(Idempotency::Idempotent),
                idempotent,
                "{failure:?}"
            );
        }
    }

    #[test]
    fn successes_are_no_failure() {
        for code in [200, 201, 204] {
            let code = StatusCode::from_u16(code).unwrap_or(StatusCode::OK);
            assert_eq!(Failure::from_status(code, &HeaderMap::new()), None);
        }
        let failure = Failure::from_status(StatusCode::TOO_MANY_REQUESTS, &HeaderMap::new());
        assert_eq!(failure, Some(status(429, None)));
    }

    /// reqwest's errors from real failures on 127.0.0.1 fall in the right row.
    #[tokio::test]
    async fn reqwest_errors_are_classified() -> Result<(), Box<dyn std::error::Error>> {
        // A port that was just free: nobody listens, the connection is refused.
        let closed = tokio::net::TcpListener::bind("127.0.0.1:0").await?;
        let refused = format!("http://{}/", closed.local_addr()?);
        drop(closed);
        let client = reqwest::Client::new();
        let error = client.post(&refused).send().await.err().ok_or("sent")?;
        assert_eq!(Failure::from_reqwest(&error), Failure::NotSent, "{error:?}");

        // A server that accepts and never answers: the request was sent, then a timeout.
        let silent = tokio::net::TcpListener::bind("127.0.0.1:0").await?;
        let url = format!("http://{}/", silent.local_addr()?);
        let accept = tokio::spawn(async move {
            let held = silent.accept().await;
            tokio::time::sleep(Duration::from_secs(30)).await;
            drop(held);
        });
        let client = reqwest::Client::builder()
            .read_timeout(Duration::from_millis(100))
            .build()?;
        let error = client.post(&url).send().await.err().ok_or("answered")?;
        assert_eq!(
            Failure::from_reqwest(&error),
            Failure::TimedOut,
            "{error:?}"
        );
        accept.abort();
        Ok(())
    }
}
