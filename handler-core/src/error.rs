//! Errors: what a handler returns, and what a manager reports.

use std::fmt;

use thiserror::Error;
use uuid::Uuid;

use crate::event::EventKind;
// The error-to-`dyn Error` step goes through `payload::as_dyn_error`: a method in scope would clash
// with thiserror's.
use crate::payload::{ErrorInfo, dynamic_kind, short_type_name};

/// What a handler method returns.
pub type HandlerResult = Result<(), HandlerError>;

/// The error a handler method returns. Any `std::error::Error` converts into it with `?`, and
/// so do strings.
///
/// ```
/// use handler_core::{HandlerResult};
/// use handler_core::error::HandlerError;
///
/// fn parse(token: &str) -> HandlerResult {
///     let _n: u32 = token.parse()?; // ParseIntError converts
///     Ok(())
/// }
/// assert!(parse("x").is_err());
/// let err = HandlerError::msg("disk full");
/// assert_eq!(err.to_string(), "disk full");
/// ```
///
/// The handler's own error stays reachable: [`get_ref`](Self::get_ref) and
/// [`downcast_ref`](Self::downcast_ref) return it, and so does the `source()` of the
/// [`CallbackError`] a manager raises with it.
///
/// ```
/// use handler_core::error::HandlerError;
///
/// let err = HandlerError::from(std::io::Error::other("disk full"));
/// let io = err.downcast_ref::<std::io::Error>().map(|e| e.kind());
/// assert_eq!(io, Some(std::io::ErrorKind::Other));
/// // Usable wherever a `dyn Error` is expected:
/// let boxed: Box<dyn std::error::Error + Send + Sync> = err.into_error();
/// assert_eq!(boxed.to_string(), "disk full");
///
/// // And `?` passes it up where a `Box<dyn Error>` is returned:
/// fn report() -> Result<(), Box<dyn std::error::Error>> {
///     Err(HandlerError::msg("quota exceeded"))?
/// }
/// assert_eq!(report().unwrap_err().to_string(), "quota exceeded");
/// ```
///
/// Like `anyhow::Error` and `Box<dyn Error>`, it does not implement `std::error::Error` itself:
/// a type that converts from every error with `?` cannot also be one (its `From` would overlap
/// with `From<T> for T`). [`as_error`](Self::as_error), `AsRef<dyn Error>`,
/// [`into_error`](Self::into_error) and the conversion into `Box<dyn Error>` give the error view
/// instead.
pub struct HandlerError(Repr);

enum Repr {
    NotImplemented,
    Error(Box<dyn std::error::Error + Send + Sync + 'static>),
}

/// The error behind [`HandlerError::not_implemented`], when it is viewed as an error.
#[derive(Debug, Error)]
#[error("event not handled")]
struct NotHandled;

static NOT_HANDLED: NotHandled = NotHandled;

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

    /// The handler's error, as it returned it; `None` for
    /// [`not_implemented`](Self::not_implemented).
    pub fn get_ref(&self) -> Option<&(dyn std::error::Error + Send + Sync + 'static)> {
        match &self.0 {
            Repr::NotImplemented => None,
            Repr::Error(error) => Some(error.as_ref()),
        }
    }

    /// The handler's error, if it is an `E`.
    pub fn downcast_ref<E: std::error::Error + 'static>(&self) -> Option<&E> {
        self.get_ref()?.downcast_ref::<E>()
    }

    /// The handler's error, by value.
    pub fn into_inner(self) -> Option<Box<dyn std::error::Error + Send + Sync + 'static>> {
        match self.0 {
            Repr::NotImplemented => None,
            Repr::Error(error) => Some(error),
        }
    }

    /// This error as a boxed `dyn Error`: the handler's error itself, or an "event not
    /// handled" error.
    pub fn into_error(self) -> Box<dyn std::error::Error + Send + Sync + 'static> {
        match self.0 {
            Repr::NotImplemented => Box::new(NotHandled),
            Repr::Error(error) => error,
        }
    }

    /// This error as a `dyn Error`: the handler's error itself (so its `source()` chain is the
    /// handler's), or an "event not handled" error.
    pub fn as_error(&self) -> &(dyn std::error::Error + Send + Sync + 'static) {
        match &self.0 {
            Repr::NotImplemented => &NOT_HANDLED,
            Repr::Error(error) => error.as_ref(),
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

/// Lets `?` pass a handler error up through a function returning `Box<dyn Error>`. (The
/// `Send + Sync` box cannot have this conversion: see [`into_error`](HandlerError::into_error).)
impl From<HandlerError> for Box<dyn std::error::Error + 'static> {
    fn from(error: HandlerError) -> Self {
        error.into_error()
    }
}

impl AsRef<dyn std::error::Error + Send + Sync + 'static> for HandlerError {
    fn as_ref(&self) -> &(dyn std::error::Error + Send + Sync + 'static) {
        self.as_error()
    }
}

impl AsRef<dyn std::error::Error + 'static> for HandlerError {
    fn as_ref(&self) -> &(dyn std::error::Error + 'static) {
        self.as_error()
    }
}

impl fmt::Display for HandlerError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        fmt::Display::fmt(self.as_error(), f)
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
///
/// As an error it is transparent: its message is the handler's (or the panic's), and its
/// `source()` is the handler's error's source.
#[derive(Debug)]
#[non_exhaustive]
pub enum Failure {
    /// The handler returned an error.
    Error(HandlerError),
    /// The handler panicked; the panic's message.
    Panic(String),
}

impl Failure {
    /// The handler's error, when it returned one (not when it panicked).
    pub fn handler_error(&self) -> Option<&(dyn std::error::Error + Send + Sync + 'static)> {
        match self {
            Failure::Error(error) => error.get_ref(),
            Failure::Panic(_) => None,
        }
    }
}

impl fmt::Display for Failure {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Failure::Error(error) => fmt::Display::fmt(error, f),
            Failure::Panic(message) => write!(f, "panicked: {message}"),
        }
    }
}

impl std::error::Error for Failure {
    fn source(&self) -> Option<&(dyn std::error::Error + 'static)> {
        match self {
            Failure::Error(error) => error.as_error().source(),
            Failure::Panic(_) => None,
        }
    }
}

/// An error a manager returns to its caller. One pointer wide, so that the `Result` every
/// emitting method returns costs nothing to pass back on the fast path; [`kind`](Self::kind)
/// tells what happened.
///
/// ```
/// use handler_core::{CallbackError, CallbackManager};
/// use handler_core::error::CallbackErrorKind;
///
/// let err = CallbackManager::new().dispatch_custom_event("progress", &serde_json::json!(1)).unwrap_err();
/// assert!(matches!(err.kind(), CallbackErrorKind::NoEnclosingRun { .. }));
/// assert_eq!(std::mem::size_of::<Result<(), CallbackError>>(), std::mem::size_of::<usize>());
/// ```
///
/// When a handler with `raise_error` fails, `source()` is the error the handler returned, so
/// error reporters print the whole chain and callers can downcast it:
///
/// ```
/// use std::error::Error as _;
/// use std::sync::Arc;
/// use handler_core::{CallbackHandler, CallbackManager, HandlerOptions, HandlerResult, RunOptions};
/// use handler_core::event::ChainStart;
///
/// struct Strict;
/// impl CallbackHandler for Strict {
///     fn options(&self) -> HandlerOptions {
///         HandlerOptions::new().raise_error(true)
///     }
///     fn on_chain_start(&self, _: &ChainStart<'_>) -> HandlerResult {
///         Err(std::io::Error::new(std::io::ErrorKind::PermissionDenied, "audit log read-only").into())
///     }
/// }
///
/// let manager = CallbackManager::new().with_handler(Arc::new(Strict));
/// let err = manager.on_chain_start(None, &serde_json::json!({}), RunOptions::new()).unwrap_err();
/// let io = err.source().and_then(|e| e.downcast_ref::<std::io::Error>());
/// assert_eq!(io.map(|e| e.kind()), Some(std::io::ErrorKind::PermissionDenied));
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

/// What a [`CallbackError`] reports. Its `source()` is the failed handler's error, if any.
#[derive(Debug)]
#[non_exhaustive]
pub enum CallbackErrorKind {
    /// A handler with `raise_error` failed.
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
    NoEnclosingRun {
        /// The custom event's name.
        name: String,
    },
    /// A run was ended twice, through two clones of its run manager.
    RunAlreadyEnded {
        /// The run.
        run_id: Uuid,
    },
    /// An async handler was given to a sync manager.
    AsyncHandlerInSyncManager {
        /// The handler's name.
        handler: String,
    },
}

impl fmt::Display for CallbackErrorKind {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            CallbackErrorKind::Handler {
                handler,
                event,
                run_id,
                failure,
            } => write!(
                f,
                "handler `{handler}` failed on {event} (run {run_id}): {failure}"
            ),
            CallbackErrorKind::NoEnclosingRun { name } => write!(
                f,
                "custom event `{name}` dispatched outside any run: dispatch it from a run manager or a child manager"
            ),
            CallbackErrorKind::RunAlreadyEnded { run_id } => write!(
                f,
                "run {run_id} already ended: a run gets exactly one end or error event"
            ),
            CallbackErrorKind::AsyncHandlerInSyncManager { handler } => write!(
                f,
                "handler `{handler}` is asynchronous: add it to an AsyncCallbackManager"
            ),
        }
    }
}

impl std::error::Error for CallbackErrorKind {
    fn source(&self) -> Option<&(dyn std::error::Error + 'static)> {
        match self {
            CallbackErrorKind::Handler { failure, .. } => failure
                .handler_error()
                .map(|e| e as &(dyn std::error::Error + 'static)),
            _ => None,
        }
    }
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

/// Any error as an [`ErrorInfo`]: defined here, above the payloads, so that the crate's own
/// errors are recognised by name when they come boxed.
impl ErrorInfo {
    /// The kind and message of any error: the kind names the error's concrete type (found by
    /// downcasting when the error is a `dyn Error`), the message is its `Display` followed by
    /// every cause of its `source()` chain, `": "`-separated.
    ///
    /// ```
    /// use handler_core::payload::ErrorInfo;
    ///
    /// #[derive(Debug)]
    /// struct Upstream(std::io::Error);
    /// impl std::fmt::Display for Upstream {
    ///     fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
    ///         f.write_str("model server unreachable")
    ///     }
    /// }
    /// impl std::error::Error for Upstream {
    ///     fn source(&self) -> Option<&(dyn std::error::Error + 'static)> {
    ///         Some(&self.0)
    ///     }
    /// }
    ///
    /// let info = ErrorInfo::from_error(&Upstream(std::io::Error::other("connection refused")));
    /// assert_eq!(info.kind, "Upstream");
    /// assert_eq!(info.message, "model server unreachable: connection refused");
    /// ```
    pub fn from_error<E: crate::payload::AsDynError + ?Sized>(error: &E) -> Self {
        let error = crate::payload::as_dyn_error(error);
        if let Some(info) = error.downcast_ref::<ErrorInfo>() {
            return info.clone();
        }
        let kind = match E::static_kind() {
            Some(name) => short_type_name(name),
            None => own_kind(error).map_or_else(|| dynamic_kind(error), str::to_owned),
        };
        let mut message = error.to_string();
        let mut source = error.source();
        while let Some(cause) = source {
            message.push_str(": ");
            message.push_str(&cause.to_string());
            source = cause.source();
        }
        Self::new(kind, message)
    }
}

impl<E: crate::payload::AsDynError + ?Sized> From<&E> for ErrorInfo {
    fn from(error: &E) -> Self {
        Self::from_error(error)
    }
}

/// The kind of one of this crate's errors known only as `dyn Error`.
fn own_kind(error: &(dyn std::error::Error + 'static)) -> Option<&'static str> {
    if error.is::<CallbackError>() {
        Some("CallbackError")
    } else if error.is::<Failure>() {
        Some("Failure")
    } else {
        None
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_crates_own_errors_are_named_when_boxed() {
        let error: CallbackError = CallbackErrorKind::NoEnclosingRun {
            name: "progress".to_owned(),
        }
        .into();
        let boxed: Box<dyn std::error::Error + Send + Sync> = Box::new(error);
        assert_eq!(ErrorInfo::from(&*boxed).kind, "CallbackError");
        let boxed: Box<dyn std::error::Error> = Box::new(Failure::Panic("boom".to_owned()));
        assert_eq!(ErrorInfo::from(&*boxed).kind, "Failure");
    }
}
