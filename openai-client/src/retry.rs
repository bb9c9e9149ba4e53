//! Retries that report themselves: an HTTP service for async-openai's client that retries
//! failed calls by a [`RetryPolicy`] and sends an `on_retry` event to the chat model run of
//! the call for each retry.
//!
//! async-openai 0.43 retries by itself (429, 5xx and connection errors, 3 times, honouring
//! `Retry-After`), inside its HTTP executor, where nobody sees it: with the plain client those
//! retries happen but no retry event is sent. Installing [`RetryService`] replaces that
//! executor (`Client::with_http_service`); its retries are the ones that happen, and each one
//! is an event.

use std::future::Future;
use std::pin::Pin;
use std::task::{Context, Poll};
use std::time::Duration;

use async_openai::error::{ApiError, ApiErrorResponse, OpenAIError, WrappedError};
use async_openai::middleware::HttpRequestFactory;
use handler_core::AsyncLlmRunManager;
use handler_core::payload::{ErrorInfo, RetryOutcome, RetryState};
use reqwest::header::{HeaderMap, RETRY_AFTER};
use reqwest::{Response, StatusCode};

use crate::call;
use crate::error::error_info;

/// Which failed calls are tried again, how often, and how long to wait.
///
/// A call is retried when the server answered 408, 409, 429 or a 5xx status (except a 429 for
/// `insufficient_quota`, which waiting does not cure), or when it could not connect or timed
/// out. A streamed call is retried only until the stream has started. The waits double from
/// `initial_backoff`, no jitter; a `Retry-After` (in seconds) replaces the computed wait; no
/// wait is longer than `max_backoff`.
///
/// The default is two retries, waiting 0.5 s then 1 s, at most 8 s, as OpenAI's own SDKs do.
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
    /// The longest wait between two attempts, `Retry-After` included.
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
    /// No retries: every call is made once.
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

    /// The computed wait before retry number `retry` (from 1).
    pub fn backoff(&self, retry: u32) -> Duration {
        let factor = 2u32.saturating_pow(retry.saturating_sub(1));
        self.initial_backoff
            .saturating_mul(factor)
            .min(self.max_backoff)
    }
}

/// An HTTP service for async-openai's client that retries by a [`RetryPolicy`] and reports
/// each retry as an `on_retry` event of the call's chat model run (calls made with nothing
/// current are retried all the same, silently).
///
/// ```
/// use async_openai::Client;
/// use async_openai::config::OpenAIConfig;
/// use llm_callbacks_openai::{ClientExt, RetryPolicy, RetryService};
///
/// let http = reqwest::Client::builder()
///     .connect_timeout(std::time::Duration::from_secs(5))
///     .build()?;
/// let client = Client::with_config(OpenAIConfig::new())
///     .with_http_service(RetryService::new(http, RetryPolicy::default()))
///     .instrumented();
/// # let _ = client;
/// # Ok::<(), Box<dyn std::error::Error>>(())
/// ```
#[derive(Debug, Clone)]
pub struct RetryService {
    http: reqwest::Client,
    policy: RetryPolicy,
}

impl RetryService {
    /// Sends requests with `http`, retrying by `policy`.
    pub fn new(http: reqwest::Client, policy: RetryPolicy) -> Self {
        Self { http, policy }
    }

    /// The retry policy.
    pub fn policy(&self) -> &RetryPolicy {
        &self.policy
    }
}

type ResponseFuture = Pin<Box<dyn Future<Output = Result<Response, OpenAIError>> + Send>>;

impl tower_service::Service<HttpRequestFactory> for RetryService {
    type Response = Response;
    type Error = OpenAIError;
    type Future = ResponseFuture;

    fn poll_ready(&mut self, _cx: &mut Context<'_>) -> Poll<Result<(), OpenAIError>> {
        Poll::Ready(Ok(()))
    }

    fn call(&mut self, request: HttpRequestFactory) -> ResponseFuture {
        // Called while the instrumented call's future is polled: its run is set.
        let run = call::current();
        Box::pin(attempts(self.http.clone(), self.policy, request, run))
    }
}

/// What one attempt came to.
enum Attempt {
    /// Hand this to the client: a success, or a failure not worth retrying.
    Done(Result<Response, OpenAIError>),
    /// Worth another try: the failure, and the wait the server asked for.
    Retry(ErrorInfo, Option<Duration>),
}

async fn attempts(
    http: reqwest::Client,
    policy: RetryPolicy,
    request: HttpRequestFactory,
    run: Option<AsyncLlmRunManager>,
) -> Result<Response, OpenAIError> {
    let (mut retries, mut idle) = (0u32, Duration::ZERO);
    loop {
        let last = retries >= policy.max_retries;
        let sent = http.execute(request.build().await?).await;
        let (error, retry_after) = match attempt(sent, last).await {
            Attempt::Done(result) => return result,
            Attempt::Retry(error, retry_after) => (error, retry_after),
        };
        retries += 1;
        let wait = retry_after
            .unwrap_or_else(|| policy.backoff(retries))
            .min(policy.max_backoff);
        if let Some(run) = &run {
            let state = RetryState {
                attempt: retries,
                idle_for_secs: idle.as_secs_f64(),
                upcoming_sleep_secs: Some(wait.as_secs_f64()),
                outcome: RetryOutcome::Failed { error },
            };
            // A raising handler fails the call, as it would anywhere else.
            // (The instrumented client turns it back into `Error::Callback`.)
            run.on_retry(&state)
                .await
                .map_err(|error| OpenAIError::Boxed(Box::new(error)))?;
        }
        tokio::time::sleep(wait).await;
        idle += wait;
    }
}

async fn attempt(sent: Result<Response, reqwest::Error>, last: bool) -> Attempt {
    let response = match sent {
        Ok(response) => response,
        Err(error) if !last && (error.is_connect() || error.is_timeout()) => {
            return Attempt::Retry(error_info(&OpenAIError::Reqwest(error)), None);
        }
        Err(error) => return Attempt::Done(Err(OpenAIError::Reqwest(error))),
    };
    let status = response.status();
    let retryable = matches!(status.as_u16(), 408 | 409 | 429) || status.is_server_error();
    if status.is_success() || !retryable || last {
        return Attempt::Done(Ok(response));
    }
    let retry_after = retry_after(response.headers());
    let body = match response.text().await {
        Ok(body) => body,
        Err(error) => return Attempt::Done(Err(OpenAIError::Reqwest(error))),
    };
    let error = OpenAIError::ApiError(api_error(status, &body));
    if let OpenAIError::ApiError(response) = &error
        && status == StatusCode::TOO_MANY_REQUESTS
        && response.api_error.r#type.as_deref() == Some("insufficient_quota")
    {
        return Attempt::Done(Err(error));
    }
    // The same form as the run's error event would have.
    Attempt::Retry(error_info(&error), retry_after)
}

/// The error async-openai would have made of this failed response.
fn api_error(status: StatusCode, body: &str) -> ApiErrorResponse {
    let parsed = serde_json::from_str::<WrappedError>(body).ok();
    let api_error = match parsed {
        Some(wrapped) if !status.is_server_error() => wrapped.error,
        _ => ApiError {
            message: body.to_owned(),
            ..ApiError::default()
        },
    };
    ApiErrorResponse {
        status_code: status,
        api_error,
    }
}

fn retry_after(headers: &HeaderMap) -> Option<Duration> {
    let seconds = headers
        .get(RETRY_AFTER)?
        .to_str()
        .ok()?
        .trim()
        .parse()
        .ok()?;
    Some(Duration::from_secs(seconds))
}
