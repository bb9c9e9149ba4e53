//! Evaluation results: scores that an evaluator gives a run, published through the core so that
//! any plugin can receive them without knowing who made them.
//!
//! An evaluator (the UpTrain plugin, or your own) calls [`publish`] with an
//! [`EvaluationResult`] for each check of each graded run; a receiver (an OpenTelemetry
//! exporter, a metrics sink, a test) calls [`subscribe`] with an [`EvaluationListener`] and keeps
//! the [`Subscription`] for as long as it wants results. Neither names the other.
//!
//! Listeners are called on the publisher's thread, in subscription order, and must return at once
//! (enqueue and return): an evaluator publishes from its own background thread, and a slow
//! listener would hold it up. A listener that panics is logged and the others still run.
//!
//! ```
//! use std::sync::{Arc, Mutex};
//! use handler_core::evaluation::{self, EvaluationListener, EvaluationResult};
//!
//! #[derive(Default)]
//! struct Scores(Mutex<Vec<(String, Option<f64>)>>);
//!
//! impl EvaluationListener for Scores {
//!     fn on_evaluation(&self, result: &EvaluationResult) {
//!         if let Ok(mut scores) = self.0.lock() {
//!             scores.push((result.name.clone(), result.score));
//!         }
//!     }
//! }
//!
//! let scores = Arc::new(Scores::default());
//! let subscription = evaluation::subscribe(scores.clone());
//!
//! let result = EvaluationResult::new("my-evaluator", "politeness").with_score(0.9);
//! assert!(evaluation::publish(&result) >= 1);
//! assert!(scores.0.lock().map(|s| s.contains(&("politeness".into(), Some(0.9)))).unwrap_or(false));
//!
//! drop(subscription); // no more results from here on
//! ```

use std::fmt;
use std::panic::{AssertUnwindSafe, catch_unwind};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, PoisonError, RwLock};

use serde::{Deserialize, Serialize};
use uuid::Uuid;

use crate::payload::Metadata;
use crate::run_context::RunContext;

/// One check's result for one graded run: who graded it, the check, the score (or why there is
/// none), and what the evaluator wants to add.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[non_exhaustive]
pub struct EvaluationResult {
    /// The graded run (e.g. the RAG chain's run), when the evaluation belongs to one.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub run_id: Option<Uuid>,
    /// The root of the graded run's tree (the trace), when known.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub root_run_id: Option<Uuid>,
    /// Who graded it, e.g. `"uptrain"`.
    pub evaluator: String,
    /// The check, e.g. `"context_relevance"`.
    pub name: String,
    /// The score, usually in `0.0..=1.0`; `None` when the check failed.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub score: Option<f64>,
    /// A low-cardinality label for the score (`"pass"`, `"relevant"`), if the evaluator has one.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub label: Option<String>,
    /// The evaluator's reasoning.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub explanation: Option<String>,
    /// Why there is no score, when the check failed.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub error: Option<String>,
    /// Anything else the evaluator reports (project, evaluation, method).
    #[serde(default, skip_serializing_if = "Metadata::is_empty")]
    pub metadata: Metadata,
}

impl EvaluationResult {
    /// A result of `evaluator` for the check `name`, with no run, score or explanation yet.
    pub fn new(evaluator: impl Into<String>, name: impl Into<String>) -> Self {
        Self {
            run_id: None,
            root_run_id: None,
            evaluator: evaluator.into(),
            name: name.into(),
            score: None,
            label: None,
            explanation: None,
            error: None,
            metadata: Metadata::new(),
        }
    }

    /// Attributes the result to a run: its id and its tree's root.
    #[must_use]
    pub fn with_run(mut self, run: &RunContext) -> Self {
        self.run_id = Some(run.run_id);
        self.root_run_id = Some(run.root_id());
        self
    }

    /// Attributes the result to a run known by its ids only.
    #[must_use]
    pub fn with_run_ids(mut self, run_id: Uuid, root_run_id: Option<Uuid>) -> Self {
        self.run_id = Some(run_id);
        self.root_run_id = root_run_id;
        self
    }

    /// Sets the score.
    #[must_use]
    pub fn with_score(mut self, score: f64) -> Self {
        self.score = Some(score);
        self
    }

    /// Sets the label.
    #[must_use]
    pub fn with_label(mut self, label: impl Into<String>) -> Self {
        self.label = Some(label.into());
        self
    }

    /// Sets the explanation.
    #[must_use]
    pub fn with_explanation(mut self, explanation: impl Into<String>) -> Self {
        self.explanation = Some(explanation.into());
        self
    }

    /// Sets the error: why there is no score.
    #[must_use]
    pub fn with_error(mut self, error: impl Into<String>) -> Self {
        self.error = Some(error.into());
        self
    }

    /// Adds one metadata entry.
    #[must_use]
    pub fn with_metadata(
        mut self,
        key: impl Into<String>,
        value: impl Into<serde_json::Value>,
    ) -> Self {
        self.metadata.insert(key.into(), value.into());
        self
    }
}

/// Receives every published [`EvaluationResult`] while its [`Subscription`] lives.
pub trait EvaluationListener: Send + Sync + 'static {
    /// Called on the publisher's thread: enqueue the result and return.
    fn on_evaluation(&self, result: &EvaluationResult);
}

type Listeners = Vec<(u64, Arc<dyn EvaluationListener>)>;

/// The listeners, in subscription order. Only as many as live subscriptions.
static LISTENERS: RwLock<Listeners> = RwLock::new(Vec::new());
static NEXT_ID: AtomicU64 = AtomicU64::new(1);

/// Starts delivering published results to `listener`, until the returned [`Subscription`] is
/// dropped.
#[must_use = "dropping the subscription stops the deliveries at once"]
pub fn subscribe(listener: Arc<dyn EvaluationListener>) -> Subscription {
    let id = NEXT_ID.fetch_add(1, Ordering::Relaxed);
    LISTENERS
        .write()
        .unwrap_or_else(PoisonError::into_inner)
        .push((id, listener));
    Subscription { id }
}

/// Delivers `result` to every listener and returns how many it reached (`0`: nobody listens).
pub fn publish(result: &EvaluationResult) -> usize {
    // Listeners are called outside the lock, so one may subscribe or unsubscribe from inside.
    let listeners: Vec<Arc<dyn EvaluationListener>> = {
        let guard = LISTENERS.read().unwrap_or_else(PoisonError::into_inner);
        if guard.is_empty() {
            return 0;
        }
        guard.iter().map(|(_, l)| l.clone()).collect()
    };
    for listener in &listeners {
        if catch_unwind(AssertUnwindSafe(|| listener.on_evaluation(result))).is_err() {
            tracing::warn!(
                evaluator = %result.evaluator,
                check = %result.name,
                "an evaluation listener panicked"
            );
        }
    }
    listeners.len()
}

/// True when at least one listener is subscribed: an evaluator may skip building results that
/// nobody would receive.
pub fn has_listeners() -> bool {
    !LISTENERS
        .read()
        .unwrap_or_else(PoisonError::into_inner)
        .is_empty()
}

/// A live subscription; dropping it unsubscribes its listener.
pub struct Subscription {
    id: u64,
}

impl Drop for Subscription {
    fn drop(&mut self) {
        LISTENERS
            .write()
            .unwrap_or_else(PoisonError::into_inner)
            .retain(|(id, _)| *id != self.id);
    }
}

impl fmt::Debug for Subscription {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Subscription")
            .field("id", &self.id)
            .finish()
    }
}
