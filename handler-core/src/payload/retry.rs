//! The state of a retried call.

use serde::{Deserialize, Serialize};

use super::ErrorInfo;

/// What is known about a call that is about to be retried (`on_retry`).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct RetryState {
    /// The attempt that just finished, from 1.
    pub attempt: u32,
    /// Seconds slept between attempts so far.
    pub idle_for_secs: f64,
    /// Seconds the caller will sleep before the next attempt, if known.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub upcoming_sleep_secs: Option<f64>,
    /// How the last attempt ended.
    pub outcome: RetryOutcome,
}

impl RetryState {
    /// The state after attempt `attempt` (from 1) ended with `outcome`; no sleep so far or
    /// announced.
    ///
    /// ```
    /// use handler_core::payload::{RetryOutcome, RetryState};
    ///
    /// let state = RetryState::new(2, RetryOutcome::Unknown).with_upcoming_sleep_secs(0.5);
    /// assert_eq!(state.upcoming_sleep_secs, Some(0.5));
    /// ```
    pub fn new(attempt: u32, outcome: RetryOutcome) -> Self {
        Self {
            attempt,
            idle_for_secs: 0.0,
            upcoming_sleep_secs: None,
            outcome,
        }
    }

    /// Sets the seconds slept between attempts so far.
    #[must_use]
    pub fn with_idle_for_secs(mut self, secs: f64) -> Self {
        self.idle_for_secs = secs;
        self
    }

    /// Sets the seconds the caller will sleep before the next attempt.
    #[must_use]
    pub fn with_upcoming_sleep_secs(mut self, secs: f64) -> Self {
        self.upcoming_sleep_secs = Some(secs);
        self
    }
}

/// How the attempt before a retry ended.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(tag = "status", rename_all = "snake_case")]
#[non_exhaustive]
pub enum RetryOutcome {
    /// The attempt failed with this error.
    Failed {
        /// The attempt's error.
        error: ErrorInfo,
    },
    /// The attempt succeeded but its result was rejected.
    Succeeded,
    /// The outcome is not known.
    Unknown,
}
