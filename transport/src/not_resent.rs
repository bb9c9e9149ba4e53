//! A final failure that carries why the request was not sent again.

use std::fmt;

use crate::policy::GiveUp;

/// A request's final failure together with why it was not sent again: its `Display` is the
/// failure's, then the reason.
///
/// ```
/// use llm_callbacks_transport::{GiveUp, NotResent};
///
/// let error = NotResent::new(GiveUp::RetriesExhausted { retries: 2 }, std::fmt::Error);
/// assert_eq!(
///     error.to_string(),
///     "an error occurred when formatting an argument (not sent again: no retries left after 2)"
/// );
/// ```
#[derive(Debug)]
pub struct NotResent<E> {
    reason: GiveUp,
    error: E,
}

impl<E> NotResent<E> {
    /// `error`, not sent again for `reason`.
    pub fn new(reason: GiveUp, error: E) -> Self {
        Self { reason, error }
    }

    /// Why the request was not sent again.
    pub fn reason(&self) -> GiveUp {
        self.reason
    }

    /// The last attempt's error.
    pub fn error(&self) -> &E {
        &self.error
    }

    /// The last attempt's error back.
    pub fn into_error(self) -> E {
        self.error
    }
}

impl<E: fmt::Display> fmt::Display for NotResent<E> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{} (not sent again: {})", self.error, self.reason)
    }
}

impl<E: std::error::Error + 'static> std::error::Error for NotResent<E> {
    fn source(&self) -> Option<&(dyn std::error::Error + 'static)> {
        Some(&self.error)
    }
}
