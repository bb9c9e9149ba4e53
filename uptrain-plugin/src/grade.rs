//! Grading a dataset in one call, as UpTrain's `EvalLLM.evaluate(data, checks)`: rows and
//! checks in, every row back in input order with its scores, at the evaluator's full
//! concurrency.
//!
//! The rows are cut into small batches and many batches are graded at once, so the evaluator's
//! own limiter (not this module) decides how many requests are in flight, and progress can be
//! reported as rows finish. A row the checks cannot read (a missing key, a value of the wrong
//! type) is returned as [`GradedRow::Rejected`] with the reason, and the other rows are graded.

use std::fmt;
use std::sync::Arc;

use futures_util::stream::{self, StreamExt};

use crate::check::Check;
use crate::error::EvaluationError;
use crate::evaluation::{CheckResult, RowResult};
use crate::evaluator::{EvaluationRequest, Evaluator};
use crate::row::{self, Row};
use crate::usage::JudgeUsage;

/// Rows finished so far, out of all rows, for a progress bar.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct GradeProgress {
    /// Rows graded or rejected so far.
    pub done: usize,
    /// Rows in the dataset.
    pub total: usize,
}

/// Called as rows finish (from the task driving [`grade`]).
pub type ProgressFn = Arc<dyn Fn(GradeProgress) + Send + Sync>;

/// How [`grade`] cuts the work.
///
/// ```
/// let options = uptrain_plugin::GradeOptions::default().batch_rows(8).concurrent_batches(64);
/// assert_eq!(options.rows_outstanding(), 512);
/// ```
#[derive(Clone)]
pub struct GradeOptions {
    batch_rows: usize,
    concurrent_batches: usize,
    progress: Option<ProgressFn>,
}

impl fmt::Debug for GradeOptions {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("GradeOptions")
            .field("batch_rows", &self.batch_rows)
            .field("concurrent_batches", &self.concurrent_batches)
            .field("progress", &self.progress.is_some())
            .finish()
    }
}

impl Default for GradeOptions {
    /// Batches of 4 rows, 256 batches at once (1,024 rows outstanding), no progress callback.
    fn default() -> Self {
        Self {
            batch_rows: 4,
            concurrent_batches: 256,
            progress: None,
        }
    }
}

impl GradeOptions {
    /// Rows per evaluator call (at least 1).
    pub fn batch_rows(mut self, rows: usize) -> Self {
        self.batch_rows = rows.max(1);
        self
    }

    /// Evaluator calls running at once (at least 1). The evaluator's limiter still bounds
    /// the requests in flight; this bounds the rows held in unfinished calls.
    pub fn concurrent_batches(mut self, batches: usize) -> Self {
        self.concurrent_batches = batches.max(1);
        self
    }

    /// Calls `progress` each time a batch finishes.
    pub fn on_progress(mut self, progress: impl Fn(GradeProgress) + Send + Sync + 'static) -> Self {
        self.progress = Some(Arc::new(progress));
        self
    }

    /// Rows held by unfinished evaluator calls, at most.
    pub fn rows_outstanding(&self) -> usize {
        self.batch_rows.saturating_mul(self.concurrent_batches)
    }
}

/// One row of a graded dataset.
#[derive(Debug, Clone, PartialEq)]
pub enum GradedRow {
    /// The row was graded: one result per check (a failed check carries its error).
    Scored(RowResult),
    /// The row was not graded, and why.
    Rejected {
        /// Position of the row in the input.
        index: usize,
        /// The row as given.
        input: Row,
        /// Why it was not graded.
        reason: String,
    },
}

impl GradedRow {
    /// Position of the row in the input.
    pub fn index(&self) -> usize {
        match self {
            GradedRow::Scored(r) => r.index,
            GradedRow::Rejected { index, .. } => *index,
        }
    }

    /// The check results (none for a rejected row).
    pub fn checks(&self) -> &[CheckResult] {
        match self {
            GradedRow::Scored(r) => &r.checks,
            GradedRow::Rejected { .. } => &[],
        }
    }

    /// What the judge spent on the row (`None` for a rejected row: nothing was sent).
    pub fn usage(&self) -> Option<&JudgeUsage> {
        match self {
            GradedRow::Scored(r) => Some(&r.usage),
            GradedRow::Rejected { .. } => None,
        }
    }
}

/// A graded dataset.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Graded {
    /// Every input row, in input order.
    pub rows: Vec<GradedRow>,
    /// What the judge spent on the whole dataset: requests, tokens and their cost (the sum of
    /// the evaluator calls' usage; see [`JudgeUsage`]).
    pub usage: JudgeUsage,
}

impl Graded {
    /// The rows that were not graded, as `(index, reason)`.
    pub fn rejected(&self) -> impl Iterator<Item = (usize, &str)> {
        self.rows.iter().filter_map(|r| match r {
            GradedRow::Rejected { index, reason, .. } => Some((*index, reason.as_str())),
            GradedRow::Scored(_) => None,
        })
    }
}

/// Grades every row with every check, at the evaluator's full concurrency.
///
/// Fails at once only when the checks themselves cannot run (none given, a parametric check
/// with a bad parameter, two checks writing one key); rows the checks cannot read are returned
/// as [`GradedRow::Rejected`].
///
/// ```
/// use uptrain_plugin::{Check, GradeOptions, GradedRow, OfflineEvaluator, grade};
///
/// # fn main() -> Result<(), Box<dyn std::error::Error>> {
/// let rows = vec![
///     uptrain_plugin::row([
///         ("question", "What is the capital of France?"),
///         ("context", "Paris is the capital of France."),
///         ("response", "Paris."),
///     ]),
///     uptrain_plugin::row([("question", "No context here")]),
/// ];
/// let runtime = tokio::runtime::Builder::new_current_thread().build()?;
/// let evaluator = OfflineEvaluator::new();
/// let graded = runtime.block_on(grade(
///     &evaluator,
///     rows,
///     &[Check::ContextRelevance],
///     &GradeOptions::default(),
/// ))?;
/// assert!(matches!(&graded.rows[0], GradedRow::Scored(r) if r.score(Check::ContextRelevance).is_some()));
/// let rejected: Vec<_> = graded.rejected().collect();
/// assert_eq!(rejected.len(), 1);
/// assert_eq!(rejected[0].0, 1);
/// assert!(rejected[0].1.contains("context"), "{}", rejected[0].1);
/// // The offline evaluator calls no judge model: nothing to price, and it says so.
/// assert_eq!(graded.usage.cost.to_string(), "no judge model: nothing to price");
/// # Ok(())
/// # }
/// ```
pub async fn grade(
    evaluator: &dyn Evaluator,
    rows: Vec<Row>,
    checks: &[Check],
    options: &GradeOptions,
) -> Result<Graded, EvaluationError> {
    // The checks alone: no rows, so only the checks can be wrong.
    row::validate(&[], checks)?;
    let total = rows.len();
    let mut out: Vec<Option<GradedRow>> = vec![None; total];
    let mut batches: Vec<Vec<(usize, Row)>> = Vec::new();
    let mut current = Vec::with_capacity(options.batch_rows);
    for (index, input) in rows.into_iter().enumerate() {
        match row::validate(std::slice::from_ref(&input), checks) {
            Ok(()) => {
                current.push((index, input));
                if current.len() == options.batch_rows {
                    batches.push(std::mem::take(&mut current));
                }
            }
            Err(e) => {
                out[index] = Some(GradedRow::Rejected {
                    index,
                    input,
                    reason: rejection(&e),
                });
            }
        }
    }
    if !current.is_empty() {
        batches.push(current);
    }
    let mut done = out.iter().filter(|r| r.is_some()).count();
    let mut usage = JudgeUsage::default();
    let mut finished = stream::iter(batches)
        .map(|batch| grade_batch(evaluator, batch, checks))
        .buffer_unordered(options.concurrent_batches);
    report(options, done, total);
    while let Some((graded, spent)) = finished.next().await {
        usage += spent;
        done += graded.len();
        for row in graded {
            let index = row.index();
            if let Some(slot) = out.get_mut(index) {
                *slot = Some(row);
            }
        }
        report(options, done, total);
    }
    let rows = out
        .into_iter()
        .enumerate()
        .map(|(index, row)| {
            row.unwrap_or_else(|| GradedRow::Rejected {
                index,
                input: Row::new(),
                reason: "internal: the row was not returned by the evaluator".into(),
            })
        })
        .collect();
    Ok(Graded { rows, usage })
}

/// One evaluator call; its rows come back with their dataset indices.
async fn grade_batch(
    evaluator: &dyn Evaluator,
    batch: Vec<(usize, Row)>,
    checks: &[Check],
) -> (Vec<GradedRow>, JudgeUsage) {
    let (indices, rows): (Vec<usize>, Vec<Row>) = batch.into_iter().unzip();
    let request = EvaluationRequest::new(rows, checks.iter().cloned());
    match evaluator.evaluate(&request).await {
        Ok(evaluation) if evaluation.rows.len() == indices.len() => {
            let rows = evaluation
                .rows
                .into_iter()
                .zip(&indices)
                .map(|(mut r, &index)| {
                    r.index = index;
                    GradedRow::Scored(r)
                })
                .collect();
            (rows, evaluation.usage)
        }
        Ok(evaluation) => {
            let reason = format!(
                "the evaluator returned {} rows for {} sent",
                evaluation.rows.len(),
                indices.len()
            );
            (
                rejected_batch(indices, request.rows, &reason),
                evaluation.usage,
            )
        }
        Err(e) => (
            rejected_batch(indices, request.rows, &format!("not graded: {e}")),
            JudgeUsage::default(),
        ),
    }
}

fn rejected_batch(indices: Vec<usize>, rows: Vec<Row>, reason: &str) -> Vec<GradedRow> {
    indices
        .into_iter()
        .zip(rows)
        .map(|(index, input)| GradedRow::Rejected {
            index,
            input,
            reason: reason.to_owned(),
        })
        .collect()
}

/// A single row's validation error, without the `row 0:` its one-row batch would name.
fn rejection(error: &EvaluationError) -> String {
    match error {
        EvaluationError::InvalidRows { issues } => issues
            .iter()
            .map(|issue| {
                let mut parts = Vec::new();
                if !issue.missing.is_empty() {
                    parts.push(format!("missing keys {}", issue.missing.join(", ")));
                }
                if !issue.wrong_type.is_empty() {
                    parts.push(format!("wrong type for {}", issue.wrong_type.join(", ")));
                }
                parts.join("; ")
            })
            .collect::<Vec<_>>()
            .join("; "),
        other => other.to_string(),
    }
}

fn report(options: &GradeOptions, done: usize, total: usize) {
    if let Some(progress) = &options.progress {
        progress(GradeProgress { done, total });
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::offline::OfflineEvaluator;
    use std::sync::Mutex;

    fn rag(i: usize) -> Row {
        let q = format!("What is item {i}?");
        let c = format!("Item {i} is a red apple.");
        crate::row::row([
            ("question", q.as_str()),
            ("context", c.as_str()),
            ("response", "A red apple."),
        ])
    }

    #[tokio::test]
    async fn every_row_comes_back_in_order_with_progress_to_the_end() {
        let mut rows: Vec<Row> = (0..23).map(rag).collect();
        rows[7].remove("context");
        let seen = Arc::new(Mutex::new(Vec::new()));
        let sink = seen.clone();
        let options = GradeOptions::default()
            .batch_rows(3)
            .concurrent_batches(2)
            .on_progress(move |p| sink.lock().unwrap().push(p));
        let graded = grade(&OfflineEvaluator::new(), rows, &Check::RAG, &options)
            .await
            .unwrap();
        assert_eq!(graded.rows.len(), 23);
        for (i, row) in graded.rows.iter().enumerate() {
            assert_eq!(row.index(), i);
            if i == 7 {
                assert!(
                    matches!(row, GradedRow::Rejected { reason, .. } if reason == "missing keys context")
                );
            } else {
                assert_eq!(row.checks().len(), 3, "row {i}");
            }
        }
        let seen = seen.lock().unwrap();
        assert_eq!(
            seen.first().map(|p| p.done),
            Some(1),
            "the rejected row counts at once"
        );
        assert_eq!(
            seen.last(),
            Some(&GradeProgress {
                done: 23,
                total: 23
            })
        );
        assert!(seen.windows(2).all(|w| w[0].done <= w[1].done));
    }

    /// Holds every call until `expected` calls are in flight at once.
    struct Gate {
        in_flight: std::sync::atomic::AtomicUsize,
        expected: usize,
        open: tokio::sync::Notify,
    }

    impl Evaluator for Gate {
        fn name(&self) -> &'static str {
            "gate"
        }

        fn evaluate<'a>(
            &'a self,
            request: &'a EvaluationRequest,
        ) -> futures_util::future::BoxFuture<'a, Result<crate::Evaluation, EvaluationError>>
        {
            Box::pin(async move {
                let open = self.open.notified();
                let now = self
                    .in_flight
                    .fetch_add(1, std::sync::atomic::Ordering::SeqCst)
                    + 1;
                if now >= self.expected {
                    self.open.notify_waiters();
                } else {
                    open.await;
                }
                OfflineEvaluator::new().evaluate(request).await
            })
        }
    }

    #[tokio::test]
    async fn batches_run_at_once_not_one_after_another() {
        let gate = Gate {
            in_flight: Default::default(),
            expected: 8,
            open: tokio::sync::Notify::new(),
        };
        let rows: Vec<Row> = (0..16).map(rag).collect();
        let options = GradeOptions::default().batch_rows(2).concurrent_batches(8);
        // One batch at a time would wait forever for the eighth; the timeout only catches
        // that hang.
        let graded = tokio::time::timeout(
            std::time::Duration::from_secs(60),
            grade(&gate, rows, &[Check::ContextRelevance], &options),
        )
        .await
        .expect("the batches did not run concurrently")
        .unwrap();
        assert_eq!(graded.rows.len(), 16);
        assert!(graded.rejected().next().is_none());
    }

    #[tokio::test]
    async fn bad_checks_fail_before_any_row() {
        let err = grade(
            &OfflineEvaluator::new(),
            vec![rag(0)],
            &[],
            &GradeOptions::default(),
        )
        .await
        .unwrap_err();
        assert!(matches!(err, EvaluationError::NoChecks));
    }
}
