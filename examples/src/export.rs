//! Publishes UpTrain's scores through the core's evaluation bus (feature `otel`), where the
//! OpenTelemetry exporter picks them up: one [`EvaluationResult`] per check of an evaluated
//! row, about the run the row graded. (Only needed while the UpTrain plugin does not publish
//! its results itself.)

use llm_callbacks::evaluation::{self, EvaluationResult};
use llm_callbacks::uptrain::EvaluatedRow;

/// The evaluation results of `row`, one per check, in check order.
///
/// ```
/// use std::sync::Arc;
/// use llm_callbacks::CallbackManager;
/// use llm_callbacks::uptrain::UptrainHandler;
///
/// let uptrain = Arc::new(UptrainHandler::builder().log_results(false).build()?);
/// let manager = CallbackManager::new().with_handler(uptrain.clone());
/// let pipeline = examples::Pipeline::shipped()?;
/// let answer = pipeline.answer(&manager, "Which planet has the Great Red Spot?", examples::Retrieval::Keyword)?;
/// let rows = uptrain.flush();
/// let results = examples::export::evaluation_results(&rows[0]);
/// assert_eq!(results.len(), 3);
/// assert_eq!(results[0].run_id, Some(answer.runs.prompt));
/// assert_eq!(results[0].name, "context_relevance");
/// # Ok::<(), Box<dyn std::error::Error>>(())
/// ```
pub fn evaluation_results(row: &EvaluatedRow) -> Vec<EvaluationResult> {
    row.checks
        .iter()
        .map(|check| {
            let mut result = EvaluationResult::new("uptrain", check.check.as_str());
            if let Some(run_id) = row.run_id {
                result = result.with_run_ids(run_id, None);
            }
            if let Some(score) = check.score {
                result = result.with_score(score);
            }
            if let Some(explanation) = &check.explanation {
                result = result.with_explanation(explanation.clone());
            }
            if let Some(error) = &check.error {
                result = result.with_error(error.to_string());
            }
            result
        })
        .collect()
}

/// Publishes every check of `rows`; returns how many results were published.
pub fn publish_rows(rows: &[EvaluatedRow]) -> usize {
    let mut published = 0;
    for row in rows {
        for result in evaluation_results(row) {
            evaluation::publish(&result);
            published += 1;
        }
    }
    published
}
