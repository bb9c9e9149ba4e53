//! One evaluated row as the handler keeps, prints and writes it.

use std::collections::BTreeMap;
use std::fmt::Write as _;
use std::time::{SystemTime, UNIX_EPOCH};

use handler_core::Uuid;
use serde::Serialize;
use serde_json::Value;

use crate::check::Check;
use crate::error::EvaluationError;
use crate::evaluation::{CheckResult, RowResult};
use crate::row::Row;
use crate::usage::JudgeUsage;

/// The scores of one evaluated row: what [`flush`](super::UptrainHandler::flush) returns, what
/// the console shows and what the output file gets, one JSON object per line.
///
/// A row that could not be evaluated (queue full, deadline exceeded, handler shut down) is a
/// row too: every score is `null` and every check's error says why.
#[derive(Debug, Clone, PartialEq, Serialize)]
#[non_exhaustive]
pub struct EvaluatedRow {
    /// The project, e.g. `langchain_rag`.
    pub project: String,
    /// The evaluation's name (the flow, or the name given to `uptrain_evaluate`).
    pub evaluation: String,
    /// The run whose answer was evaluated, when it came from a run.
    pub run_id: Option<Uuid>,
    /// The root of that run's tree (its trace), when the run is not a root itself.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub root_run_id: Option<Uuid>,
    /// When the evaluation finished, RFC 3339 in UTC.
    pub time: String,
    /// The evaluated row: question, context, response, variants, ...
    pub input: Row,
    /// Score per check (wire name), `null` when the check failed.
    pub scores: BTreeMap<String, Option<f64>>,
    /// The judge's (or heuristic's) explanation per check.
    pub explanations: BTreeMap<String, String>,
    /// Why a check failed, per check.
    pub errors: BTreeMap<String, String>,
    /// Who graded: `"judge"`, `"uptrain_api"`, `"offline"`, or a custom evaluator's name.
    pub evaluator: String,
    /// True when the scores are offline lexical estimates, not a judge's verdict.
    pub estimate: bool,
    /// What the judge spent on the row: requests, tokens, cost and the prices' entry and
    /// date ("no judge" for the UpTrain API and offline evaluators); `null` when the row was
    /// never graded (queue full, deadline exceeded, shut down): nothing was reported.
    pub judge_usage: Option<JudgeUsage>,
    /// The typed results, in check order.
    #[serde(skip)]
    pub checks: Vec<CheckResult>,
}

impl EvaluatedRow {
    /// The (main) score of `check`, if it succeeded.
    pub fn score(&self, check: impl std::borrow::Borrow<Check>) -> Option<f64> {
        self.scores.get(&check.borrow().key()).copied().flatten()
    }

    /// True when every check scored.
    pub fn is_ok(&self) -> bool {
        self.errors.is_empty()
    }

    pub(crate) fn from_result(
        project: &str,
        evaluation: &str,
        run_id: Option<Uuid>,
        result: RowResult,
    ) -> Self {
        let mut row = Self::empty(project, evaluation, run_id, result.input);
        row.judge_usage = Some(result.usage);
        for check in &result.checks {
            let name = check.key.clone();
            row.scores.insert(name.clone(), check.score);
            if let Some(explanation) = &check.explanation {
                row.explanations.insert(name.clone(), explanation.clone());
            }
            if let Some(error) = &check.error {
                row.errors.insert(name, error.to_string());
            }
        }
        row.checks = result.checks;
        row
    }

    /// A row whose whole evaluation failed: every check carries the error.
    pub(crate) fn failed(
        project: &str,
        evaluation: &str,
        run_id: Option<Uuid>,
        input: Row,
        checks: &[Check],
        error: &EvaluationError,
    ) -> Self {
        let mut row = Self::empty(project, evaluation, run_id, input);
        for key in checks.iter().flat_map(Check::output_keys) {
            row.scores.insert(key.clone(), None);
            row.errors.insert(key, error.to_string());
        }
        row
    }

    fn empty(project: &str, evaluation: &str, run_id: Option<Uuid>, input: Row) -> Self {
        Self {
            project: project.to_owned(),
            evaluation: evaluation.to_owned(),
            run_id,
            root_run_id: None,
            time: rfc3339(SystemTime::now()),
            input,
            scores: BTreeMap::new(),
            explanations: BTreeMap::new(),
            errors: BTreeMap::new(),
            evaluator: String::new(),
            estimate: false,
            judge_usage: None,
            checks: Vec::new(),
        }
    }

    /// Sets the root of the graded run's tree.
    pub(crate) fn in_tree(mut self, root_run_id: Option<Uuid>) -> Self {
        self.root_run_id = root_run_id;
        self
    }

    /// The check names in check order (or score order for rows that were never graded).
    pub(crate) fn check_names(&self) -> Vec<&str> {
        if self.checks.is_empty() {
            self.scores.keys().map(String::as_str).collect()
        } else {
            self.checks.iter().map(|c| c.key.as_str()).collect()
        }
    }

    /// One core evaluation result per check, for the evaluation listeners: evaluator
    /// `"uptrain"`, the graded run's ids, score, explanation, error, and metadata (project,
    /// evaluation, evaluator kind; offline estimates say so).
    pub(crate) fn evaluation_results(&self) -> Vec<handler_core::evaluation::EvaluationResult> {
        use handler_core::evaluation::EvaluationResult;
        self.check_names()
            .into_iter()
            .map(|name| {
                let mut result = EvaluationResult::new("uptrain", name)
                    .with_metadata("project", self.project.as_str())
                    .with_metadata("evaluation", self.evaluation.as_str())
                    .with_metadata("evaluator_kind", self.evaluator.as_str());
                if let Some(run_id) = self.run_id {
                    result = result.with_run_ids(run_id, self.root_run_id);
                }
                if let Some(score) = self.scores.get(name).copied().flatten() {
                    result = result.with_score(score);
                }
                if let Some(explanation) = self.explanations.get(name) {
                    result = result.with_explanation(explanation.as_str());
                }
                if let Some(error) = self.errors.get(name) {
                    result = result.with_error(error.as_str());
                }
                if self.estimate {
                    result = result
                        .with_metadata("estimate", true)
                        .with_metadata("method", "offline lexical heuristic");
                }
                result
            })
            .collect()
    }

    /// Names the evaluator, and whether its scores are estimates.
    pub(crate) fn graded_by(mut self, evaluator: &str, estimate: bool) -> Self {
        self.evaluator = evaluator.to_owned();
        self.estimate = estimate;
        self
    }

    /// The readable block printed when `log_results` is on: the question, the response (or
    /// the variants), then one line per score. Control characters of the model's text
    /// (terminal escapes, carriage returns, newlines) are shown escaped (`\u{1b}`, `\n`), so
    /// a block is always the lines it looks like. Offline scores say they are estimates. The
    /// last line says what grading the row cost (`Grading cost: 2 judge requests, 2000 in,
    /// 400 out, 2400 total, $0.000540 (gpt-4o-mini, prices of 2024-10-01)`), when it was
    /// graded.
    pub fn display_block(&self) -> String {
        let mut out = String::new();
        let text = |key: &str| {
            self.input
                .get(key)
                .and_then(Value::as_str)
                .map(escape_controls)
        };
        if let Some(question) = text("question") {
            let _ = writeln!(out, "Question: {question}");
        }
        if let Some(response) = text("response") {
            let _ = writeln!(out, "Response: {response}");
        }
        if let Some(Value::Array(variants)) = self.input.get("variants") {
            let _ = writeln!(out, "Multi Queries:");
            for variant in variants.iter().filter_map(Value::as_str) {
                let _ = writeln!(out, "  - {}", escape_controls(variant));
            }
        }
        let estimate = if self.estimate {
            " (offline lexical estimate)"
        } else {
            ""
        };
        for name in self.check_names() {
            let label = crate::check::label(name);
            match (
                self.scores.get(name).copied().flatten(),
                self.errors.get(name),
            ) {
                (Some(score), _) => {
                    let _ = writeln!(out, "{label} Score: {}{estimate}", format_score(score));
                }
                (None, Some(error)) => {
                    let _ = writeln!(out, "{label} Score: failed ({})", escape_controls(error));
                }
                (None, None) => {
                    let _ = writeln!(out, "{label} Score: none");
                }
            }
        }
        if let Some(usage) = &self.judge_usage {
            let _ = writeln!(out, "Grading cost: {}", escape_controls(&usage.to_string()));
        }
        out
    }
}

/// `text` with every control character escaped: `\n`, `\r`, `\t`, and `\u{..}` for the
/// others (ESC, BEL, DEL, C1 controls...).
pub(crate) fn escape_controls(text: &str) -> std::borrow::Cow<'_, str> {
    if !text.chars().any(char::is_control) {
        return std::borrow::Cow::Borrowed(text);
    }
    let mut out = String::with_capacity(text.len() + 8);
    for c in text.chars() {
        match c {
            '\n' => out.push_str("\\n"),
            '\r' => out.push_str("\\r"),
            '\t' => out.push_str("\\t"),
            c if c.is_control() => {
                let _ = write!(out, "\\u{{{:x}}}", u32::from(c));
            }
            c => out.push(c),
        }
    }
    std::borrow::Cow::Owned(out)
}

/// `1.0`, `0.5`, `0.333`: at least one decimal, at most three.
pub(crate) fn format_score(score: f64) -> String {
    let text = format!("{score:.3}");
    let trimmed = text.trim_end_matches('0');
    if trimmed.ends_with('.') {
        format!("{trimmed}0")
    } else {
        trimmed.to_owned()
    }
}

/// Formats a time as RFC 3339 in UTC, to the millisecond.
pub(crate) fn rfc3339(time: SystemTime) -> String {
    let since = time.duration_since(UNIX_EPOCH).unwrap_or_default();
    let secs = since.as_secs();
    let (days, rest) = (secs / 86_400, secs % 86_400);
    // Days since 1970-01-01 to a civil date (Howard Hinnant's algorithm).
    let z = days as i64 + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z.rem_euclid(146_097);
    let yoe = (doe - doe / 1_460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let day = doy - (153 * mp + 2) / 5 + 1;
    let month = if mp < 10 { mp + 3 } else { mp - 9 };
    let year = yoe + era * 400 + i64::from(month <= 2);
    format!(
        "{year:04}-{month:02}-{day:02}T{:02}:{:02}:{:02}.{:03}Z",
        rest / 3_600,
        rest % 3_600 / 60,
        rest % 60,
        since.subsec_millis()
    )
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::time::Duration;

    #[test]
    fn control_characters_are_escaped_in_blocks() {
        assert_eq!(escape_controls("plain"), "plain");
        assert_eq!(
            escape_controls("a\u{1b}[31mred\r\nb\u{7}\u{9b}"),
            "a\\u{1b}[31mred\\r\\nb\\u{7}\\u{9b}"
        );
        let input = crate::row([
            ("question", "Q\u{1b}]0;pwned\u{7}?"),
            ("response", "line1\nline2"),
        ]);
        let result = RowResult {
            index: 0,
            input,
            checks: vec![CheckResult::scored(Check::ContextRelevance, 0.5, "x")],
            usage: Default::default(),
        };
        let row = EvaluatedRow::from_result("p", "rag", None, result).graded_by("offline", true);
        let block = row.display_block();
        assert!(
            !block.chars().any(|c| c.is_control() && c != '\n'),
            "{block:?}"
        );
        assert_eq!(block.lines().count(), 4, "{block}");
        assert!(
            block.ends_with("Grading cost: 0 requests, no judge model: nothing to price\n"),
            "{block}"
        );
        assert!(block.contains("Response: line1\\nline2"), "{block}");
        assert!(
            block.contains("Context Relevance Score: 0.5 (offline lexical estimate)"),
            "{block}"
        );
    }

    #[test]
    fn scores_are_printed_readably() {
        assert_eq!(format_score(1.0), "1.0");
        assert_eq!(format_score(0.5), "0.5");
        assert_eq!(format_score(1.0 / 3.0), "0.333");
        assert_eq!(format_score(0.0), "0.0");
    }

    #[test]
    fn times_are_rfc3339_utc() {
        assert_eq!(rfc3339(UNIX_EPOCH), "1970-01-01T00:00:00.000Z");
        let t = UNIX_EPOCH + Duration::from_millis(1_764_079_200_123);
        assert_eq!(rfc3339(t), "2025-11-25T14:00:00.123Z");
        let leap = UNIX_EPOCH + Duration::from_secs(951_782_400); // 2000-02-29
        assert_eq!(rfc3339(leap), "2000-02-29T00:00:00.000Z");
    }

    #[test]
    fn the_block_names_each_score_and_failure() {
        let input = crate::row([("question", "Q?"), ("response", "R.")]);
        let result = RowResult {
            index: 0,
            input,
            checks: vec![
                CheckResult::scored(Check::ContextRelevance, 1.0, "fits"),
                CheckResult::failed(
                    Check::FactualAccuracy,
                    crate::CheckError::Timeout {
                        message: "after 30s".into(),
                    },
                ),
            ],
            usage: Default::default(),
        };
        let row = EvaluatedRow::from_result("p_rag", "rag", None, result);
        let block = row.display_block();
        assert!(block.starts_with("Question: Q?\nResponse: R.\n"), "{block}");
        assert!(block.contains("Context Relevance Score: 1.0\n"), "{block}");
        assert!(
            block.contains("Factual Accuracy Score: failed (timed out: after 30s)"),
            "{block}"
        );
        assert_eq!(row.score(Check::ContextRelevance), Some(1.0));
        assert!(!row.is_ok());
        let json = serde_json::to_value(&row).unwrap();
        assert_eq!(json["scores"]["factual_accuracy"], Value::Null);
        assert_eq!(json["explanations"]["context_relevance"], "fits");
    }
}
