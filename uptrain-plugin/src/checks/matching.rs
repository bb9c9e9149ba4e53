//! [`ResponseMatching`]: the response against a ground-truth answer. The LLM method (UpTrain's
//! default) is factual accuracy both ways, two judge calls each: precision P = the share of the
//! response's facts the ground truth supports, recall R = the share of the ground truth's facts
//! the response holds; the score is 4PR/(3P+R) (UpTrain's combination). The `exact` and
//! `lexical` methods call no judge.

use serde::{Deserialize, Serialize};
use serde_json::Value;

use crate::offline::lexical::{ratio, tokens};
use crate::row::{self, Row};

/// Output key suffixes: the score, then precision and recall.
pub(crate) const KEYS: [&str; 3] = [
    "response_match",
    "response_match_precision",
    "response_match_recall",
];

/// How the response is matched against the ground truth.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum MatchMethod {
    /// Facts both ways, graded by the judge (4 judge calls).
    #[default]
    Llm,
    /// 1.0 when the response equals the ground truth (ignoring case and surrounding space).
    Exact,
    /// ROUGE-L over lower-cased words: precision and recall of the longest common
    /// subsequence, combined like the LLM method. UpTrain's wire name is `rouge`.
    #[serde(rename = "rouge", alias = "lexical")]
    Lexical,
}

/// Matches the response against the row's `ground_truth`. Output keys
/// `score_response_match`, `score_response_match_precision`, `score_response_match_recall`
/// (and their explanations); inputs `question`, `response`, `ground_truth`.
///
/// ```
/// use uptrain_plugin::{Check, MatchMethod, ResponseMatching};
///
/// assert_eq!(Check::from(ResponseMatching::default()).judge_calls(), 4);
/// assert_eq!(Check::from(ResponseMatching::new(MatchMethod::Exact)).judge_calls(), 0);
/// assert_eq!(ResponseMatching::combine(1.0, 0.5), 4.0 * 0.5 / 3.5);
/// ```
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub struct ResponseMatching {
    /// The method.
    #[serde(default)]
    method: MatchMethod,
}

impl ResponseMatching {
    /// Matching with `method`.
    pub fn new(method: MatchMethod) -> Self {
        Self { method }
    }

    /// The method.
    pub fn method(&self) -> MatchMethod {
        self.method
    }

    pub(crate) fn judge_calls(&self) -> usize {
        match self.method {
            MatchMethod::Llm => 4,
            MatchMethod::Exact | MatchMethod::Lexical => 0,
        }
    }

    /// UpTrain's combination of precision and recall, 4PR/(3P+R) (0 when both are 0).
    pub fn combine(precision: f64, recall: f64) -> f64 {
        let denominator = 3.0 * precision + recall;
        if denominator <= 0.0 {
            0.0
        } else {
            4.0 * precision * recall / denominator
        }
    }

    /// The score, precision and recall of a method that needs no judge; `None` for the LLM
    /// method.
    pub(crate) fn without_judge(&self, row: &Row) -> Option<[(f64, String); 3]> {
        let response = row::text(row, "response");
        let truth = row::text(row, "ground_truth");
        match self.method {
            MatchMethod::Llm => None,
            MatchMethod::Exact => {
                let same = response.trim().to_lowercase() == truth.trim().to_lowercase();
                let score = if same { 1.0 } else { 0.0 };
                let why = if same {
                    "Exact match: the response equals the ground truth."
                } else {
                    "Exact match: the response differs from the ground truth."
                };
                Some([0, 1, 2].map(|_| (score, why.to_owned())))
            }
            MatchMethod::Lexical => {
                let (r, t) = (tokens(&response), tokens(&truth));
                let common = lcs(&r, &t);
                let (p, rc) = (ratio(common, r.len()), ratio(common, t.len()));
                let why = format!(
                    "ROUGE-L: the longest common word sequence has {common} words, of {} in \
                     the response and {} in the ground truth.",
                    r.len(),
                    t.len()
                );
                Some([
                    (Self::combine(p, rc), why.clone()),
                    (p, why.clone()),
                    (rc, why),
                ])
            }
        }
    }
}

/// The length of the longest common subsequence of two word lists.
pub(crate) fn lcs(a: &[String], b: &[String]) -> usize {
    let mut previous = vec![0usize; b.len() + 1];
    for x in a {
        let mut current = vec![0usize; b.len() + 1];
        for (j, y) in b.iter().enumerate() {
            current[j + 1] = if x == y {
                previous[j] + 1
            } else {
                current[j].max(previous[j + 1])
            };
        }
        previous = current;
    }
    previous[b.len()]
}

/// The rows the LLM method grades: for precision, the response's facts against the ground
/// truth (as the context); for recall, the ground truth's facts against the response.
pub(crate) fn fact_rows(row: &Row) -> (Row, Row) {
    let question = row.get("question").cloned().unwrap_or(Value::Null);
    let response = Value::String(row::text(row, "response"));
    let truth = Value::String(row::text(row, "ground_truth"));
    let make = |response: &Value, context: &Value| -> Row {
        [
            ("question".to_owned(), question.clone()),
            ("response".to_owned(), response.clone()),
            ("context".to_owned(), context.clone()),
        ]
        .into_iter()
        .collect()
    };
    (make(&response, &truth), make(&truth, &response))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn combine_is_uptrains_weighted_mean() {
        for (p, r, want) in [
            (1.0, 1.0, 1.0),
            (0.0, 1.0, 0.0),
            (1.0, 0.0, 0.0),
            (0.5, 1.0, 0.8),
        ] {
            assert!(
                (ResponseMatching::combine(p, r) - want).abs() < 1e-12,
                "{p} {r}"
            );
        }
        assert_eq!(ResponseMatching::combine(0.0, 0.0), 0.0);
    }

    #[test]
    fn lcs_counts_words_in_order() {
        let words = |s: &str| tokens(s);
        assert_eq!(lcs(&words("a b c d"), &words("a c d")), 3);
        assert_eq!(lcs(&words("d c b a"), &words("a b c d")), 1);
        assert_eq!(lcs(&words(""), &words("a")), 0);
    }

    #[test]
    fn methods_travel_by_uptrains_names() {
        let wire = serde_json::to_value(ResponseMatching::new(MatchMethod::Lexical)).unwrap();
        assert_eq!(wire["method"], "rouge");
        let lexical: ResponseMatching =
            serde_json::from_value(serde_json::json!({"method": "lexical"})).unwrap();
        assert_eq!(lexical.method(), MatchMethod::Lexical);
        let default: ResponseMatching = serde_json::from_str("{}").unwrap();
        assert_eq!(default.method(), MatchMethod::Llm);
    }
}
