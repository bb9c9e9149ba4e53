//! UpTrain's checks: wire names, the input keys each needs, the output keys it writes, how many
//! judge calls it costs and which way its score points.
//!
//! The wire name of a check is UpTrain's own (`context_relevance`, ...) and is also the suffix of
//! its output columns (`score_context_relevance`, `explanation_context_relevance`).

use std::fmt;
use std::str::FromStr;

use serde::{Deserialize, Serialize};

/// Which way a check's score points.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Polarity {
    /// 1.0 is the best outcome (every check implemented here).
    HigherIsBetter,
    /// 1.0 means a problem was detected (UpTrain's `prompt_injection`, `code_hallucination`).
    HigherIsWorse,
}

/// One UpTrain check.
///
/// ```
/// use uptrain_plugin::Check;
///
/// let check: Check = "context_relevance".parse().unwrap();
/// assert_eq!(check, Check::ContextRelevance);
/// assert_eq!(check.as_str(), "context_relevance");
/// assert_eq!(check.score_key(), "score_context_relevance");
/// assert_eq!(check.display_name(), "Context Relevance");
/// assert_eq!(check.required_keys(), &["question", "context"]);
/// assert_eq!(Check::FactualAccuracy.judge_calls(), 2);
///
/// let err = "context_reordering".parse::<Check>().unwrap_err();
/// assert!(err.to_string().contains("context_reranking"));
/// ```
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Check {
    /// Does the context hold what is needed to answer the question?
    ContextRelevance,
    /// Are the facts stated in the response supported by the context?
    FactualAccuracy,
    /// Does the response answer every part of the question?
    ResponseCompleteness,
    /// Does the response stay free of irrelevant information?
    ResponseConciseness,
    /// Harmonic mean (F1) of response completeness and response conciseness.
    ResponseRelevance,
    /// Does the response use all the relevant information the context holds?
    ResponseCompletenessWrtContext,
    /// Is the response consistent with the question and the context?
    ResponseConsistency,
    /// Does the response hold any information at all (not a refusal, not empty)?
    ValidResponse,
    /// Do the query variants ask the same thing as the question?
    MultiQueryAccuracy,
    /// Do the sub-questions together cover the question?
    SubQueryCompleteness,
    /// Does the reranked context put the relevant passages first?
    ContextReranking,
    /// Does the concise context keep the information needed to answer?
    ContextConciseness,
}

/// The error returned when a string names no known check.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("unknown check `{given}`: expected one of {}", Check::valid_names())]
pub struct UnknownCheck {
    /// The name that was given.
    pub given: String,
}

impl Check {
    /// Every check, in a stable order.
    pub const ALL: [Check; 12] = [
        Check::ContextRelevance,
        Check::FactualAccuracy,
        Check::ResponseCompleteness,
        Check::ResponseConciseness,
        Check::ResponseRelevance,
        Check::ResponseCompletenessWrtContext,
        Check::ResponseConsistency,
        Check::ValidResponse,
        Check::MultiQueryAccuracy,
        Check::SubQueryCompleteness,
        Check::ContextReranking,
        Check::ContextConciseness,
    ];

    /// The checks of LangChain's RAG flow: context relevance, factual accuracy, response
    /// completeness.
    pub const RAG: [Check; 3] = [
        Check::ContextRelevance,
        Check::FactualAccuracy,
        Check::ResponseCompleteness,
    ];

    /// UpTrain's wire name, also the suffix of the output keys.
    pub const fn as_str(self) -> &'static str {
        match self {
            Check::ContextRelevance => "context_relevance",
            Check::FactualAccuracy => "factual_accuracy",
            Check::ResponseCompleteness => "response_completeness",
            Check::ResponseConciseness => "response_conciseness",
            Check::ResponseRelevance => "response_relevance",
            Check::ResponseCompletenessWrtContext => "response_completeness_wrt_context",
            Check::ResponseConsistency => "response_consistency",
            Check::ValidResponse => "valid_response",
            Check::MultiQueryAccuracy => "multi_query_accuracy",
            Check::SubQueryCompleteness => "sub_query_completeness",
            Check::ContextReranking => "context_reranking",
            Check::ContextConciseness => "context_conciseness",
        }
    }

    /// A readable name, e.g. "Context Relevance".
    pub const fn display_name(self) -> &'static str {
        match self {
            Check::ContextRelevance => "Context Relevance",
            Check::FactualAccuracy => "Factual Accuracy",
            Check::ResponseCompleteness => "Response Completeness",
            Check::ResponseConciseness => "Response Conciseness",
            Check::ResponseRelevance => "Response Relevance",
            Check::ResponseCompletenessWrtContext => "Response Completeness wrt Context",
            Check::ResponseConsistency => "Response Consistency",
            Check::ValidResponse => "Valid Response",
            Check::MultiQueryAccuracy => "Multi Query Accuracy",
            Check::SubQueryCompleteness => "Sub Query Completeness",
            Check::ContextReranking => "Context Reranking",
            Check::ContextConciseness => "Context Conciseness",
        }
    }

    /// The input keys a row must carry for this check.
    pub const fn required_keys(self) -> &'static [&'static str] {
        match self {
            Check::ContextRelevance => &["question", "context"],
            Check::FactualAccuracy
            | Check::ResponseCompletenessWrtContext
            | Check::ResponseConsistency => &["question", "context", "response"],
            Check::ResponseCompleteness
            | Check::ResponseConciseness
            | Check::ResponseRelevance
            | Check::ValidResponse => &["question", "response"],
            Check::MultiQueryAccuracy => &["question", "variants"],
            Check::SubQueryCompleteness => &["question", "sub_questions"],
            Check::ContextReranking => &["question", "context", "reranked_context"],
            Check::ContextConciseness => &["question", "context", "concise_context"],
        }
    }

    /// How many judge calls one row costs in local (LLM judge) mode.
    pub const fn judge_calls(self) -> usize {
        match self {
            Check::FactualAccuracy | Check::ResponseRelevance => 2,
            _ => 1,
        }
    }

    /// Which way the score points.
    pub const fn polarity(self) -> Polarity {
        Polarity::HigherIsBetter
    }

    /// The output key holding the score: `score_<check>`.
    pub fn score_key(self) -> String {
        format!("score_{}", self.as_str())
    }

    /// The output key holding the explanation: `explanation_<check>`.
    pub fn explanation_key(self) -> String {
        format!("explanation_{}", self.as_str())
    }

    /// The output key holding the failure reason, present only when the check failed:
    /// `error_<check>`.
    pub fn error_key(self) -> String {
        format!("error_{}", self.as_str())
    }

    /// The valid wire names, comma separated (used in error messages).
    pub fn valid_names() -> String {
        let names: Vec<&str> = Check::ALL.iter().map(|c| c.as_str()).collect();
        names.join(", ")
    }
}

impl fmt::Display for Check {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

impl FromStr for Check {
    type Err = UnknownCheck;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        let wanted = s.trim();
        Check::ALL
            .iter()
            .copied()
            .find(|c| c.as_str().eq_ignore_ascii_case(wanted))
            .ok_or_else(|| UnknownCheck {
                given: s.to_owned(),
            })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn wire_names_round_trip_through_fromstr_and_serde() {
        for check in Check::ALL {
            assert_eq!(check.as_str().parse::<Check>().unwrap(), check);
            let json = serde_json::to_string(&check).unwrap();
            assert_eq!(json, format!("\"{}\"", check.as_str()));
            assert_eq!(serde_json::from_str::<Check>(&json).unwrap(), check);
        }
    }

    #[test]
    fn unknown_name_lists_every_valid_name() {
        let err = "nope".parse::<Check>().unwrap_err();
        let msg = err.to_string();
        assert!(msg.contains("`nope`"));
        for check in Check::ALL {
            assert!(msg.contains(check.as_str()), "{msg}");
        }
    }

    #[test]
    fn every_check_needs_the_question_and_has_a_display_name() {
        for check in Check::ALL {
            assert!(check.required_keys().contains(&"question"));
            assert!(!check.display_name().is_empty());
            assert!(check.score_key().ends_with(check.as_str()));
        }
        assert_eq!(Check::ResponseRelevance.judge_calls(), 2);
        assert_eq!(Check::ContextConciseness.judge_calls(), 1);
    }
}
