//! What an instrumented call returns when it fails, and how a failure becomes an event's error.

use async_openai::error::{OpenAIError, WrappedError};
use handler_core::CallbackError;
use handler_core::payload::ErrorInfo;
use llm_callbacks_transport::NotResent;

use crate::limits::LimitExceeded;

/// The error of an instrumented call: the client's own error, unchanged, or the error of a
/// callback handler that asked for its failures to be raised (`raise_error`).
#[derive(Debug, thiserror::Error)]
pub enum CallError {
    /// The call failed: an API error (with its HTTP status), a transport or stream error, a
    /// response that did not parse. A transport failure that a [`RetryService`](crate::RetryService)
    /// did not send again because the server may have done the work is an
    /// `OpenAIError::Boxed` holding a [`NotResent<reqwest::Error>`](crate::NotResent), whose
    /// message says so.
    #[error(transparent)]
    OpenAi(#[from] OpenAIError),
    /// A handler with `raise_error` failed on one of the call's events.
    #[error("a callback handler failed: {0}")]
    Callback(#[from] CallbackError),
    /// The call hit one of the client's [`Limits`](crate::Limits): a timeout, or a stream's
    /// idle timeout, deadline or byte cap.
    #[error(transparent)]
    Limit(#[from] LimitExceeded),
}

impl CallError {
    /// The error of a client call: a callback error that the [`RetryService`](crate::RetryService)
    /// had to pass through the client is a callback error again.
    pub(crate) fn from_call(error: OpenAIError) -> Self {
        match error {
            OpenAIError::Boxed(boxed) => match boxed.downcast::<CallbackError>() {
                Ok(callback) => CallError::Callback(*callback),
                Err(other) => CallError::OpenAi(OpenAIError::Boxed(other)),
            },
            other => CallError::OpenAi(other),
        }
    }

    /// The client's error, when the call itself failed.
    pub fn as_openai(&self) -> Option<&OpenAIError> {
        match self {
            CallError::OpenAi(error) => Some(error),
            CallError::Callback(_) | CallError::Limit(_) => None,
        }
    }

    /// The limit the call hit, when one stopped it.
    pub fn as_limit(&self) -> Option<&LimitExceeded> {
        match self {
            CallError::Limit(exceeded) => Some(exceeded),
            CallError::OpenAi(_) | CallError::Callback(_) => None,
        }
    }

    /// The error event's payload for the run of the failed call; `None` for a callback error
    /// (a handler's failure is not the call's).
    pub(crate) fn event(&self) -> Option<ErrorInfo> {
        match self {
            CallError::OpenAi(error) => Some(error_info(error)),
            CallError::Limit(exceeded) => {
                Some(ErrorInfo::new(kinds::LIMIT_EXCEEDED, exceeded.to_string()))
            }
            CallError::Callback(_) => None,
        }
    }

    /// The HTTP status of an API error.
    pub fn status(&self) -> Option<u16> {
        match self.as_openai()? {
            OpenAIError::ApiError(response) => Some(response.status_code.as_u16()),
            _ => None,
        }
    }
}

/// The kinds ([`ErrorInfo::kind`](handler_core::payload::ErrorInfo::kind)) of the error events the client ends its runs with.
pub mod kinds {
    /// The kind of the error event of an API error (an HTTP error status).
    pub const API_ERROR: &str = "ApiError";

    /// The kind of the error event of a stream that ended before the model finished.
    pub const INCOMPLETE_STREAM: &str = "IncompleteStream";

    /// The kind of the error event of a call stopped by one of the client's [`Limits`](crate::Limits).
    pub const LIMIT_EXCEEDED: &str = "LimitExceeded";
}

/// The error event's payload for a failed call. An API error's message is
/// `HTTP <status>: <body>`, the body as the server sent it (JSON for OpenAI's errors). A
/// transport failure that was not sent again keeps the transport error's kind, and its message
/// says why it was not sent again.
///
/// ```
/// use async_openai::error::{ApiError, ApiErrorResponse, OpenAIError};
/// use llm_callbacks_openai::error_info;
///
/// let error = OpenAIError::ApiError(ApiErrorResponse {
///     status_code: 500u16.try_into()?,
///     api_error: ApiError { message: "upstream down".into(), ..ApiError::default() },
/// });
/// let info = error_info(&error);
/// assert_eq!(info.kind, "ApiError");
/// assert_eq!(info.message, "HTTP 500 Internal Server Error: upstream down");
/// # Ok::<(), Box<dyn std::error::Error>>(())
/// ```
pub fn error_info(error: &OpenAIError) -> ErrorInfo {
    match error {
        OpenAIError::ApiError(response) => {
            let status = response.status_code;
            let body = api_error_body(response);
            ErrorInfo::new(kinds::API_ERROR, format!("HTTP {status}: {body}"))
        }
        OpenAIError::Reqwest(inner) => ErrorInfo::from(inner),
        OpenAIError::StreamError(inner) => ErrorInfo::new("StreamError", inner.to_string()),
        OpenAIError::JSONDeserialize(inner, content) => ErrorInfo::new(
            "JSONDeserialize",
            format!("failed to parse the response ({inner}): {content}"),
        ),
        OpenAIError::Boxed(boxed) => match boxed.downcast_ref::<NotResent<reqwest::Error>>() {
            Some(not_resent) => {
                let mut info = ErrorInfo::from(not_resent.error());
                let reason = not_resent.reason();
                info.message = format!("{} (not sent again: {reason})", info.message);
                info
            }
            None => ErrorInfo::from(error),
        },
        other => ErrorInfo::from(other),
    }
}

/// The body of an API error as the server sent it: async-openai keeps a server error's body
/// (5xx) as the message text, and parses a client error's (4xx) `{"error": {...}}` object.
fn api_error_body(response: &async_openai::error::ApiErrorResponse) -> String {
    let error = &response.api_error;
    if response.status_code.is_server_error() {
        return error.message.clone();
    }
    let wrapped = WrappedError {
        error: error.clone(),
    };
    serde_json::to_string(&wrapped).unwrap_or_else(|_| error.message.clone())
}
