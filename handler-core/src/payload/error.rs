//! Errors as events carry them: a kind and a message, serializable.

use std::fmt;

use serde::{Deserialize, Serialize};

/// An error reported by a run (`on_llm_error`, `on_chain_error`, ...), in a form that can be
/// serialized and replayed: the kind of error and its message, with its causes appended.
///
/// Any `std::error::Error` converts into it:
///
/// ```
/// use handler_core::payload::ErrorInfo;
///
/// let io = std::io::Error::new(std::io::ErrorKind::TimedOut, "model took too long");
/// let info = ErrorInfo::from(&io);
/// assert_eq!(info.message, "model took too long");
/// assert!(info.kind.ends_with("Error"));
/// ```
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ErrorInfo {
    /// What kind of error it is, e.g. the Rust type name or `"TimeoutError"`.
    pub kind: String,
    /// The error's message, followed by its causes (`": "`-separated).
    pub message: String,
}

impl ErrorInfo {
    /// An error of this kind with this message.
    pub fn new(kind: impl Into<String>, message: impl Into<String>) -> Self {
        Self {
            kind: kind.into(),
            message: message.into(),
        }
    }
}

impl ErrorInfo {
    /// The kind of the error event a run gets when its run manager is dropped without an end.
    pub const ABANDONED: &'static str = "abandoned";

    /// The error of a run whose run manager was dropped without an end (an early `?`, a panic,
    /// a cancelled future).
    ///
    /// ```
    /// use handler_core::payload::ErrorInfo;
    ///
    /// assert!(ErrorInfo::abandoned().is_abandoned());
    /// assert!(!ErrorInfo::new("TimeoutError", "late").is_abandoned());
    /// ```
    pub fn abandoned() -> Self {
        Self::new(
            Self::ABANDONED,
            "the run was abandoned: its run manager was dropped without an end event",
        )
    }

    /// True when this is the error of an abandoned run.
    pub fn is_abandoned(&self) -> bool {
        self.kind == Self::ABANDONED
    }
}

impl<E: std::error::Error + ?Sized> From<&E> for ErrorInfo {
    fn from(error: &E) -> Self {
        let mut message = error.to_string();
        let mut source = error.source();
        while let Some(cause) = source {
            message.push_str(": ");
            message.push_str(&cause.to_string());
            source = cause.source();
        }
        let kind = std::any::type_name::<E>();
        let kind = kind.rsplit("::").next().unwrap_or(kind);
        Self::new(kind, message)
    }
}

impl fmt::Display for ErrorInfo {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}: {}", self.kind, self.message)
    }
}
