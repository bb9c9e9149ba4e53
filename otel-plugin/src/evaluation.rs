//! Evaluation results as the exporter records them.
//!
//! Until the core's evaluation bus lands, this mirrors its `EvaluationResult`; the handler's
//! [`record_evaluation`](crate::OtelHandler::record_evaluation) is the entry point.

use handler_core::payload::Metadata;
use handler_core::{RunContext, Uuid};
use serde::{Deserialize, Serialize};

/// One check's verdict on one run.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[non_exhaustive]
pub struct EvaluationResult {
    /// The graded run.
    pub run_id: Option<Uuid>,
    /// Its tree's root, if known.
    pub root_run_id: Option<Uuid>,
    /// Who graded, e.g. `uptrain`.
    pub evaluator: String,
    /// The check, e.g. `context_relevance`.
    pub name: String,
    /// The score, 0..=1.
    pub score: Option<f64>,
    /// A low-cardinality label.
    pub label: Option<String>,
    /// Why that score.
    pub explanation: Option<String>,
    /// Why there is no score.
    pub error: Option<String>,
    /// Anything else.
    pub metadata: Metadata,
}

impl EvaluationResult {
    /// A result of `evaluator`'s check `name`, about no run yet.
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

    /// About this run.
    #[must_use]
    pub fn with_run(mut self, run: &RunContext) -> Self {
        self.run_id = Some(run.run_id);
        self
    }

    /// About the run with this id.
    #[must_use]
    pub fn with_run_id(mut self, run_id: Uuid) -> Self {
        self.run_id = Some(run_id);
        self
    }

    /// With a score.
    #[must_use]
    pub fn with_score(mut self, score: f64) -> Self {
        self.score = Some(score);
        self
    }

    /// With a label.
    #[must_use]
    pub fn with_label(mut self, label: impl Into<String>) -> Self {
        self.label = Some(label.into());
        self
    }

    /// With an explanation.
    #[must_use]
    pub fn with_explanation(mut self, explanation: impl Into<String>) -> Self {
        self.explanation = Some(explanation.into());
        self
    }

    /// With an error instead of a score.
    #[must_use]
    pub fn with_error(mut self, error: impl Into<String>) -> Self {
        self.error = Some(error.into());
        self
    }
}
