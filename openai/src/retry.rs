//! Retries that report themselves: an HTTP service for async-openai's client that retries
//! failed calls by the workspace's one [`RetryPolicy`] and sends an `on_retry` event to the
//! chat model run of the call for each retry.
//!
//! async-openai 0.43 retries by itself (429, 5xx and connection errors, 3 times, honouring
//! `Retry-After`), inside its HTTP executor, where nobody sees it: with the plain client those
//! retries happen but no retry event is sent. Installing [`RetryService`] replaces that
//! executor (`Client::with_http_service`); its retries are the ones that happen, and each one
//! is an event.
//!
//! Which failures are retried, and how long to wait, is the transport's
//! ([`llm_callbacks_transport`]): a chat completion is paid and not idempotent, so by default it
//! is sent again only when it never reached the server (connection refused, DNS, TLS) or when
//! the server asked for it (429, or 503 with `Retry-After`). A completion that timed out after
//! it was sent, or a 408, 409 or 5xx after the server may have done the work, is not sent again
//! unless the policy says the requests are idempotent
//! ([`RetryPolicy::with_idempotency`]).

use std::fmt;
use std::future::Future;
use std::pin::Pin;
use std::task::{Context, Poll};
use std::time::Duration;

use async_openai::error::{ApiError, ApiErrorResponse, OpenAIError, WrappedError};
use async_openai::middleware::HttpRequestFactory;
use handler_core::manager::AsyncLlmRunManager;
use handler_core::payload::{ErrorInfo, RetryOutcome, RetryState};
use llm_callbacks_transport::{Deadline, Decision, Failure, GiveUp, NotResent, RetryPolicy};
use reqwest::{Response, StatusCode};

use crate::call;
use crate::error::error_info;

/// An HTTP service for async-openai's client that retries by a [`RetryPolicy`] and reports
/// each retry as an `on_retry` event of the call's chat model run (calls made with nothing
/// current are retried all the same, silently). Retry waits end before the call's
/// [`request_timeout`](crate::Limits::request_timeout) would.
///
/// ```
/// use async_openai::Client;
/// use async_openai::config::OpenAIConfig;
/// use llm_callbacks_openai::{ClientExt, Idempotency, RetryPolicy, RetryService};
///
/// let http = reqwest::Client::builder()
///     .connect_timeout(std::time::Duration::from_secs(5))
///     .read_timeout(std::time::Duration::from_secs(60))
///     .build()?;
/// // Chat completions are paid: by default a 5xx or a timeout after sending is not retried.
/// let policy = RetryPolicy::default();
/// assert_eq!(policy.idempotency, Idempotency::NonIdempotent);
/// let client = Client::with_config(OpenAIConfig::new())
///     .with_http_service(RetryService::new(http, policy))
///     .instrumented();
/// # let _ = client;
/// # Ok::<(), Box<dyn std::error::Error>>(())
/// ```
#[derive(Clone)]
pub struct RetryService {
    http: reqwest::Client,
    policy: RetryPolicy,
}

/// The policy only: reqwest's client prints its default headers, where auth may be.
impl fmt::Debug for RetryService {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("RetryService")
            .field("policy", &self.policy)
            .finish_non_exhaustive()
    }
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
        // Called while the instrumented call's future is polled: its scope is set.
        let (run, deadline) = match call::current() {
            Some(scope) => (scope.run, scope.deadline),
            None => (None, Deadline::NONE),
        };
        Box::pin(attempts(
            self.http.clone(),
            self.policy,
            request,
            run,
            deadline,
        ))
    }
}

/// What one attempt came to.
enum Attempt {
    /// Hand this to the client: a success, or a failure that is final.
    Done(Result<Response, OpenAIError>),
    /// Worth another try: the failure, and the wait before it.
    Retry(ErrorInfo, Duration),
}

async fn attempts(
    http: reqwest::Client,
    policy: RetryPolicy,
    request: HttpRequestFactory,
    run: Option<AsyncLlmRunManager>,
    deadline: Deadline,
) -> Result<Response, OpenAIError> {
    let (mut retries, mut idle) = (0u32, Duration::ZERO);
    loop {
        let sent = http.execute(request.build().await?).await;
        let decide = |failure: &Failure| policy.decide(failure, retries, deadline);
        let (error, wait) = match attempt(sent, decide).await {
            Attempt::Done(result) => return result,
            Attempt::Retry(error, wait) => (error, wait),
        };
        retries += 1;
        if let Some(run) = &run {
            let state = RetryState {
                attempt: retries,
                idle_for_secs: idle.as_secs_f64(),
                upcoming_sleep_secs: Some(wait.as_secs_f64()),
                outcome: RetryOutcome::Failed { error },
            };
            // A raising handler fails the call, as it would anywhere else.
            // (The instrumented client turns it back into `CallError::Callback`.)
            run.on_retry(&state)
                .await
                .map_err(|error| OpenAIError::Boxed(Box::new(error)))?;
        }
        tokio::time::sleep(wait).await;
        idle += wait;
    }
}

async fn attempt(
    sent: Result<Response, reqwest::Error>,
    decide: impl Fn(&Failure) -> Decision,
) -> Attempt {
    let response = match sent {
        Ok(response) => response,
        Err(error) => {
            return match decide(&Failure::from_reqwest(&error)) {
                Decision::Retry(wait) => {
                    Attempt::Retry(error_info(&OpenAIError::Reqwest(error)), wait)
                }
                // Say why a request that may have been billed was not sent again.
                Decision::GiveUp(reason @ GiveUp::MayHaveReachedServer) => Attempt::Done(Err(
                    OpenAIError::Boxed(Box::new(NotResent::new(reason, error))),
                )),
                Decision::GiveUp(_) => Attempt::Done(Err(OpenAIError::Reqwest(error))),
            };
        }
    };
    let status = response.status();
    let Some(failure) = Failure::from_status(status, response.headers()) else {
        return Attempt::Done(Ok(response));
    };
    let Decision::Retry(wait) = decide(&failure) else {
        // The client makes its API error of the response, as without retries.
        return Attempt::Done(Ok(response));
    };
    let body = match response.text().await {
        Ok(body) => body,
        Err(error) => return Attempt::Done(Err(OpenAIError::Reqwest(error))),
    };
    let error = api_error(status, &body);
    if status == StatusCode::TOO_MANY_REQUESTS
        && error.api_error.r#type.as_deref() == Some("insufficient_quota")
    {
        // Waiting does not bring credit back.
        return Attempt::Done(Err(OpenAIError::ApiError(error)));
    }
    // The same form as the run's error event would have.
    Attempt::Retry(error_info(&OpenAIError::ApiError(error)), wait)
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
