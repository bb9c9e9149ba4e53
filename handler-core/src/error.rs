//! Errors: what a handler returns, and what a manager reports.

use std::fmt;

use thiserror::Error;
use uuid::Uuid;

use crate::event::EventKind;

/// What a handler method returns.
pub type HandlerResult = Result<(), HandlerError>;

/// The error a handler method returns. Any `std::error::Error` converts into it with `?`, and
/// so do strings.
///
/// ```
/// use handler_core::{HandlerError, HandlerResult};
///
/// fn parse(token: &str) -> HandlerResult {
///     let _n: u32 = token.parse()?; // ParseIntError converts
///     Ok(())
/// }
/// assert!(parse("x").is_err());
/// let err = HandlerError::msg("disk full");
/// assert_eq!(err.to_string(), "disk full");
/// ```
pub struct HandlerError(Repr);

enum Repr {
    NotImplemented,
    Error(Box<dyn std::error::Error + Send + Sync + 'static>),
}

impl HandlerError {
    /// Says that the handler does not handle this event. The manager skips it silently, except
    /// for `on_chat_model_start`, where it falls back to `on_llm_start`. Never an error, even
    /// with `raise_error`.
    pub const fn not_implemented() -> Self {
        Self(Repr::NotImplemented)
    }

    /// An error with this message.
    pub fn msg(message: impl fmt::Display) -> Self {
        Self(Repr::Error(message.to_string().into()))
    }

    /// True for [`HandlerError::not_implemented`].
    pub const fn is_not_implemented(&self) -> bool {
        matches!(self.0, Repr::NotImplemented)
    }

    /// The underlying error, if any.
    pub fn source(&self) -> Option<&(dyn std::error::Error + Send + Sync + 'static)> {
        match &self.0 {
            Repr::NotImplemented => None,
            Repr::Error(error) => Some(error.as_ref()),
        }
    }
}

impl<E> From<E> for HandlerError
where
    E: Into<Box<dyn std::error::Error + Send + Sync + 'static>>,
{
    fn from(error: E) -> Self {
        Self(Repr::Error(error.into()))
    }
}

impl fmt::Display for HandlerError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match &self.0 {
            Repr::NotImplemented => f.write_str("event not handled"),
            Repr::Error(error) => fmt::Display::fmt(error, f),
        }
    }
}

impl fmt::Debug for HandlerError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match &self.0 {
            Repr::NotImplemented => f.write_str("NotImplemented"),
            Repr::Error(error) => fmt::Debug::fmt(error, f),
        }
    }
}

/// Converts what a handler method returns (`()` or `Result<(), E>`) into a [`HandlerResult`].
/// Used by the derive macro; rarely needed by hand.
pub trait IntoHandlerResult {
    /// The conversion.
    fn into_handler_result(self) -> HandlerResult;
}

impl IntoHandlerResult for () {
    fn into_handler_result(self) -> HandlerResult {
        Ok(())
    }
}

impl<E: Into<HandlerError>> IntoHandlerResult for Result<(), E> {
    fn into_handler_result(self) -> HandlerResult {
        self.map_err(Into::into)
    }
}

/// How a handler failed.
#[derive(Debug, Error)]
pub enum Failure {
    /// The handler returned an error.
    #[error("{0}")]
    Error(HandlerError),
    /// The handler panicked; the panic's message.
    #[error("panicked: {0}")]
    Panic(String),
}

/// An error a manager returns to its caller. One pointer wide, so that the `Result` every
/// emitting method returns costs nothing to pass back on the fast path; [`kind`](Self::kind)
/// tells what happened.
///
/// ```
/// use handler_core::{CallbackError, CallbackErrorKind, CallbackManager};
///
/// let err = CallbackManager::new().dispatch_custom_event("progress", &serde_json::json!(1)).unwrap_err();
/// assert!(matches!(err.kind(), CallbackErrorKind::NoEnclosingRun { .. }));
/// assert_eq!(std::mem::size_of::<Result<(), CallbackError>>(), std::mem::size_of::<usize>());
/// ```
#[derive(Debug, Error)]
#[error(transparent)]
pub struct CallbackError(Box<CallbackErrorKind>);

impl CallbackError {
    /// What happened.
    pub fn kind(&self) -> &CallbackErrorKind {
        &self.0
    }

    /// What happened, by value.
    pub fn into_kind(self) -> CallbackErrorKind {
        *self.0
    }
}

impl From<CallbackErrorKind> for CallbackError {
    fn from(kind: CallbackErrorKind) -> Self {
        Self(Box::new(kind))
    }
}

/// What a [`CallbackError`] reports.
#[derive(Debug, Error)]
#[non_exhaustive]
pub enum CallbackErrorKind {
    /// A handler with `raise_error` failed.
    #[error("handler `{handler}` failed on {event} (run {run_id}): {failure}")]
    Handler {
        /// The handler's name.
        handler: String,
        /// The event it was handling.
        event: EventKind,
        /// The run.
        run_id: Uuid,
        /// How it failed.
        failure: Failure,
    },
    /// A custom event was dispatched outside any run.
    #[error(
        "custom event `{name}` dispatched outside any run: dispatch it from a run manager or a child manager"
    )]
    NoEnclosingRun {
        /// The custom event's name.
        name: String,
    },
    /// A run was ended twice, through two clones of its run manager.
    #[error("run {run_id} already ended: a run gets exactly one end or error event")]
    RunAlreadyEnded {
        /// The run.
        run_id: Uuid,
    },
    /// An async handler was given to a sync manager.
    #[error("handler `{handler}` is asynchronous: add it to an AsyncCallbackManager")]
    AsyncHandlerInSyncManager {
        /// The handler's name.
        handler: String,
    },
}

impl CallbackError {
    /// The failed handler's error, when a handler returned one.
    pub fn handler_error(&self) -> Option<&HandlerError> {
        match self.kind() {
            CallbackErrorKind::Handler {
                failure: Failure::Error(error),
                ..
            } => Some(error),
            _ => None,
        }
    }
}
