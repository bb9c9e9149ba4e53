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

/// How the attempt before a retry ended.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(tag = "status", rename_all = "snake_case")]
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
