//! The result of an evaluation: per row, in input order, one typed result per check and what
//! the judge spent on it, plus the judge's total; and its UpTrain-style JSON form
//! (`score_<check>`, `explanation_<check>`, `error_<check>`, and `judge_usage`).

use std::borrow::Borrow;

use serde::Serialize;
use serde_json::Value;

use crate::check::Check;
use crate::error::CheckError;
use crate::row::Row;
use crate::usage::JudgeUsage;

/// The outcome of one check on one row.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct CheckResult {
    /// The check.
    pub check: Check,
    /// The suffix of the output keys this result is written under (`score_<key>`): the
    /// check's wire name, or one of its [`Check::output_keys`] when it writes several.
    pub key: String,
    /// The score in `0.0..=1.0` (a count for [`Polarity::Count`](crate::Polarity::Count)
    /// checks), or `None` when the check failed.
    pub score: Option<f64>,
    /// The judge's reasoning (or the heuristic's explanation).
    pub explanation: Option<String>,
    /// Why the check failed, when it did.
    pub error: Option<CheckError>,
}

impl CheckResult {
    /// A successful result. The score is clamped into `0.0..=1.0`; a NaN score becomes a
    /// parse error instead.
    pub fn scored(check: Check, score: f64, explanation: impl Into<String>) -> Self {
        let counted = Self::counted(check, score, explanation);
        match counted.score {
            Some(score) => Self {
                score: Some(score.clamp(0.0, 1.0)),
                ..counted
            },
            None => counted,
        }
    }

    /// A successful result whose score is a count (not clamped); a NaN or negative count
    /// becomes a parse error instead.
    pub fn counted(check: Check, score: f64, explanation: impl Into<String>) -> Self {
        if score.is_nan() || score < 0.0 {
            return Self::failed(
                check,
                CheckError::Parse {
                    reason: "score is not a number".into(),
                    reply: String::new(),
                },
            );
        }
        Self {
            key: check.key(),
            check,
            score: Some(score),
            explanation: Some(explanation.into()),
            error: None,
        }
    }

    /// A failed result: no score, the reason kept.
    pub fn failed(check: Check, error: CheckError) -> Self {
        Self {
            key: check.key(),
            check,
            score: None,
            explanation: None,
            error: Some(error),
        }
    }

    /// The same result, written under the output key suffix `key` (for checks that write
    /// several keys).
    pub fn keyed(mut self, key: impl Into<String>) -> Self {
        self.key = key.into();
        self
    }

    /// Whether the check produced a score.
    pub fn is_ok(&self) -> bool {
        self.error.is_none() && self.score.is_some()
    }
}

/// One input row and its check results.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct RowResult {
    /// Position of the row in the input.
    pub index: usize,
    /// The input row as given.
    pub input: Row,
    /// One result per requested check, in the order the checks were given.
    pub checks: Vec<CheckResult>,
    /// What the judge spent on this row: its requests, tokens and their cost (the
    /// [default](JudgeUsage::default), "no judge", for evaluators that call no judge model).
    pub usage: JudgeUsage,
}

impl RowResult {
    /// The (main) result of `check`, if it was requested.
    pub fn get(&self, check: impl Borrow<Check>) -> Option<&CheckResult> {
        let check = check.borrow();
        self.checks.iter().find(|r| &r.check == check)
    }

    /// The (main) score of `check`, if it was requested and succeeded.
    pub fn score(&self, check: impl Borrow<Check>) -> Option<f64> {
        self.get(check).and_then(|r| r.score)
    }

    /// The result written under the output key suffix `key` (`"fluency"`,
    /// `"refund_adherence"`, ...).
    pub fn get_key(&self, key: &str) -> Option<&CheckResult> {
        self.checks.iter().find(|r| r.key == key)
    }

    /// The row in UpTrain's output form: the input keys, then for every check
    /// `score_<check>` (number or null), `explanation_<check>` (text or null) and, only when
    /// the check failed, `error_<check>`. A check that writes several keys has one set per
    /// key; `CustomPromptEval` has no explanation column, as in UpTrain. Then `judge_usage`:
    /// what the judge spent on the row (see [`JudgeUsage`]'s JSON form: `requests`, `tokens`,
    /// `cost_usd`, `cost`, `prices`).
    pub fn to_json(&self) -> Row {
        let mut out = self.input.clone();
        for result in &self.checks {
            let key = &result.key;
            let score = result
                .score
                .and_then(serde_json::Number::from_f64)
                .map_or(Value::Null, Value::Number);
            out.insert(format!("score_{key}"), score);
            if result.check.has_explanation() {
                out.insert(
                    format!("explanation_{key}"),
                    result
                        .explanation
                        .clone()
                        .map_or(Value::Null, Value::String),
                );
            }
            if let Some(error) = &result.error {
                out.insert(format!("error_{key}"), Value::String(error.to_string()));
            }
        }
        if let Ok(usage) = serde_json::to_value(&self.usage) {
            out.insert("judge_usage".into(), usage);
        }
        out
    }
}

/// The result of one evaluation.
///
/// ```
/// use uptrain_plugin::{Check, CheckResult, Evaluation, RowResult};
///
/// let row = uptrain_plugin::row([("question", "q"), ("context", "c")]);
/// let evaluation = Evaluation {
///     rows: vec![RowResult {
///         index: 0,
///         input: row,
///         checks: vec![CheckResult::scored(Check::ContextRelevance, 0.5, "partly")],
///         usage: Default::default(),
///     }],
///     usage: Default::default(),
/// };
/// let json = evaluation.to_json_rows();
/// assert_eq!(json[0]["score_context_relevance"], 0.5);
/// assert_eq!(json[0]["explanation_context_relevance"], "partly");
/// assert!(json[0].get("error_context_relevance").is_none());
/// assert_eq!(json[0]["judge_usage"]["cost"], "no judge model: nothing to price");
/// ```
#[derive(Debug, Clone, Default, PartialEq, Serialize)]
pub struct Evaluation {
    /// One entry per input row, in input order.
    pub rows: Vec<RowResult>,
    /// What the judge spent on the whole evaluation: the sum of the rows' usage (the UpTrain
    /// API evaluator counts its requests here only; evaluators that call no judge model
    /// spend the [default](JudgeUsage::default), "no judge").
    pub usage: JudgeUsage,
}

impl Evaluation {
    /// Every row in UpTrain's output form (see [`RowResult::to_json`]).
    pub fn to_json_rows(&self) -> Vec<Row> {
        self.rows.iter().map(RowResult::to_json).collect()
    }

    /// Every failed check, as `(row index, result)`.
    pub fn failures(&self) -> impl Iterator<Item = (usize, &CheckResult)> {
        self.rows
            .iter()
            .flat_map(|r| r.checks.iter().map(move |c| (r.index, c)))
            .filter(|(_, c)| !c.is_ok())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn failed_checks_write_null_score_and_the_reason() {
        let result = RowResult {
            index: 3,
            input: crate::row::row([("question", "q")]),
            checks: vec![
                CheckResult::failed(
                    Check::ValidResponse,
                    CheckError::Http {
                        status: 500,
                        body: "boom".into(),
                    },
                ),
                CheckResult::scored(Check::ContextRelevance, 1.7, "clamped"),
            ],
            usage: JudgeUsage::default(),
        };
        let json = result.to_json();
        assert_eq!(json["question"], "q");
        assert_eq!(json["score_valid_response"], Value::Null);
        assert_eq!(json["explanation_valid_response"], Value::Null);
        assert_eq!(json["error_valid_response"], "HTTP 500: boom");
        assert_eq!(json["score_context_relevance"], 1.0);
        assert_eq!(result.score(Check::ContextRelevance), Some(1.0));
        let evaluation = Evaluation {
            rows: vec![result],
            usage: JudgeUsage::default(),
        };
        let failures: Vec<_> = evaluation.failures().collect();
        assert_eq!(failures.len(), 1);
        assert_eq!(failures[0].0, 3);
    }

    #[test]
    fn nan_scores_become_errors() {
        let r = CheckResult::scored(Check::FactualAccuracy, f64::NAN, "x");
        assert!(!r.is_ok());
        assert_eq!(r.score, None);
    }
}
