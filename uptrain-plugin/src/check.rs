//! UpTrain's checks: wire names, the input keys each needs, the output keys it writes, how many
//! judge calls it costs and which way its score points.
//!
//! The wire name of a named check is UpTrain's own (`context_relevance`, ...) and is also the
//! suffix of its output columns (`score_context_relevance`, `explanation_context_relevance`).
//! Two named checks write other columns, as UpTrain does: `critique_language` writes one pair
//! per aspect (`score_fluency`, `score_coherence`, `score_grammar`, `score_politeness`).
//! Parametric checks ([`ParametricCheck`]) carry their parameters and go by UpTrain's class name
//! on the wire (`GuidelineAdherence`, ...).

use std::fmt;
use std::str::FromStr;

use serde::{Deserialize, Deserializer, Serialize, Serializer};
use serde_json::Value;

use crate::checks::ParametricCheck;

/// Which way a check's score points.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Polarity {
    /// 1.0 is the best outcome.
    HigherIsBetter,
    /// 1.0 means a problem was detected (`prompt_injection`, `code_hallucination`,
    /// `JailbreakDetection`).
    HigherIsWorse,
    /// The score is a count, not a grade (`ConversationNumberOfTurns`).
    Count,
}

/// One UpTrain check.
///
/// ```
/// use uptrain_plugin::{Check, GuidelineAdherence};
///
/// let check: Check = "context_relevance".parse().unwrap();
/// assert_eq!(check, Check::ContextRelevance);
/// assert_eq!(check.as_str(), "context_relevance");
/// assert_eq!(check.score_key(), "score_context_relevance");
/// assert_eq!(check.display_name(), "Context Relevance");
/// assert_eq!(check.required_keys(), ["question", "context"]);
/// assert_eq!(Check::FactualAccuracy.judge_calls(), 2);
/// assert_eq!(
///     Check::CritiqueLanguage.output_keys(),
///     ["fluency", "coherence", "grammar", "politeness"]
/// );
///
/// let policy = Check::from(GuidelineAdherence::new("Never promise a refund.", "refund"));
/// assert_eq!(policy.as_str(), "GuidelineAdherence");
/// assert_eq!(policy.score_key(), "score_refund_adherence");
///
/// let err = "context_reordering".parse::<Check>().unwrap_err();
/// assert!(err.to_string().contains("context_reranking"));
/// ```
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
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
    /// Fluency, coherence, grammar and politeness of the response, each rated 1–5 (one judge
    /// call per aspect), written as `score_fluency`, `score_coherence`, `score_grammar`,
    /// `score_politeness`.
    CritiqueLanguage,
    /// Does the response act as the scenario description says it should?
    ResponseAlignmentWithScenario,
    /// Is the response sincere (no pretending, no empty promises) in the scenario described?
    ResponseSincerityWithScenario,
    /// Does the question try to inject instructions into the system (1.0 = detected)?
    PromptInjection,
    /// Does the code in the response use things the context does not have (1.0 = detected)?
    CodeHallucination,
    /// Is the question more than one word? (No judge call.)
    QuestionCompleteness,
    /// A check that carries parameters (tone, guideline, matching, custom prompt, jailbreak,
    /// conversation checks).
    Parametric(ParametricCheck),
}

/// The error returned when a string names no known check.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("unknown check `{given}`: expected one of {}", Check::valid_names())]
pub struct UnknownCheck {
    /// The name that was given.
    pub given: String,
}

impl Check {
    /// Every named (parameterless) check, in a stable order.
    pub const ALL: [Check; 18] = [
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
        Check::CritiqueLanguage,
        Check::ResponseAlignmentWithScenario,
        Check::ResponseSincerityWithScenario,
        Check::PromptInjection,
        Check::CodeHallucination,
        Check::QuestionCompleteness,
    ];

    /// The checks a RAG pipeline needs (the first twelve of [`Check::ALL`]).
    pub const RAG_FAMILY: [Check; 12] = [
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

    /// UpTrain's wire name: the `Evals` value of a named check (also its output suffix), the
    /// class name of a parametric one.
    pub fn as_str(&self) -> &'static str {
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
            Check::CritiqueLanguage => "critique_language",
            Check::ResponseAlignmentWithScenario => "response_alignment_with_scenario",
            Check::ResponseSincerityWithScenario => "response_sincerity_with_scenario",
            Check::PromptInjection => "prompt_injection",
            Check::CodeHallucination => "code_hallucination",
            Check::QuestionCompleteness => "question_completeness",
            Check::Parametric(p) => p.class_name(),
        }
    }

    /// A readable name, e.g. "Context Relevance" (a parametric check's is its class's,
    /// e.g. "Guideline Adherence"; [`Check::output_keys`] tell two of them apart).
    pub fn display_name(&self) -> &'static str {
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
            Check::CritiqueLanguage => "Critique Language",
            Check::ResponseAlignmentWithScenario => "Response Alignment with Scenario",
            Check::ResponseSincerityWithScenario => "Response Sincerity with Scenario",
            Check::PromptInjection => "Prompt Injection",
            Check::CodeHallucination => "Code Hallucination",
            Check::QuestionCompleteness => "Question Completeness",
            Check::Parametric(p) => p.display_name(),
        }
    }

    /// The input keys a row must carry for this check.
    pub fn required_keys(&self) -> Vec<&str> {
        let keys: &[&'static str] = match self {
            Check::ContextRelevance => &["question", "context"],
            Check::FactualAccuracy
            | Check::ResponseCompletenessWrtContext
            | Check::ResponseConsistency
            | Check::CodeHallucination => &["question", "context", "response"],
            Check::ResponseCompleteness
            | Check::ResponseConciseness
            | Check::ResponseRelevance
            | Check::ValidResponse => &["question", "response"],
            Check::MultiQueryAccuracy => &["question", "variants"],
            Check::SubQueryCompleteness => &["question", "sub_questions"],
            Check::ContextReranking => &["question", "context", "reranked_context"],
            Check::ContextConciseness => &["question", "context", "concise_context"],
            Check::CritiqueLanguage => &["response"],
            Check::ResponseAlignmentWithScenario | Check::ResponseSincerityWithScenario => {
                &["question", "response", "scenario_description"]
            }
            Check::PromptInjection | Check::QuestionCompleteness => &["question"],
            Check::Parametric(p) => return p.required_keys(),
        };
        keys.to_vec()
    }

    /// How many judge calls one row costs in local (LLM judge) mode.
    pub fn judge_calls(&self) -> usize {
        match self {
            Check::FactualAccuracy | Check::ResponseRelevance => 2,
            Check::CritiqueLanguage => 4,
            Check::QuestionCompleteness => 0,
            Check::Parametric(p) => p.judge_calls(),
            _ => 1,
        }
    }

    /// Which way the score points.
    pub fn polarity(&self) -> Polarity {
        match self {
            Check::PromptInjection | Check::CodeHallucination => Polarity::HigherIsWorse,
            Check::Parametric(p) => p.polarity(),
            _ => Polarity::HigherIsBetter,
        }
    }

    /// The suffixes of the output keys this check writes, main score first: one for most
    /// checks, the four aspects for `critique_language`, the score, precision and recall for
    /// `ResponseMatching`.
    pub fn output_keys(&self) -> Vec<String> {
        match self {
            Check::CritiqueLanguage => crate::checks::TONE_ASPECTS
                .iter()
                .map(|a| a.key.to_owned())
                .collect(),
            Check::Parametric(p) => p.output_keys(),
            other => vec![other.as_str().to_owned()],
        }
    }

    /// The suffix of the main output key (the first of [`Check::output_keys`]).
    pub fn key(&self) -> String {
        self.output_keys()
            .into_iter()
            .next()
            .unwrap_or_else(|| self.as_str().to_owned())
    }

    /// The output key holding the (main) score: `score_<key>`.
    pub fn score_key(&self) -> String {
        format!("score_{}", self.key())
    }

    /// The output key holding the (main) explanation: `explanation_<key>`.
    pub fn explanation_key(&self) -> String {
        format!("explanation_{}", self.key())
    }

    /// The output key holding the failure reason, present only when the check failed:
    /// `error_<key>`.
    pub fn error_key(&self) -> String {
        format!("error_{}", self.key())
    }

    /// Whether the check writes an `explanation_<key>` column (all but `CustomPromptEval`).
    pub fn has_explanation(&self) -> bool {
        !matches!(
            self,
            Check::Parametric(ParametricCheck::CustomPromptEval(_))
        )
    }

    /// The valid wire names, comma separated (used in error messages).
    pub fn valid_names() -> String {
        let names: Vec<&str> = Check::ALL.iter().map(Check::as_str).collect();
        format!(
            "{}, or a parametric check ({})",
            names.join(", "),
            ParametricCheck::CLASS_NAMES.join(", ")
        )
    }
}

/// Why `checks` cannot run together, if two different checks would write the same output key
/// (two guidelines under one name, two matching methods), which would hide one of them.
pub(crate) fn key_clash(checks: &[Check]) -> Option<String> {
    let mut seen: Vec<(String, &Check)> = Vec::new();
    for check in checks {
        for key in check.output_keys() {
            match seen.iter().find(|(k, _)| *k == key) {
                Some((_, other)) if *other != check => {
                    return Some(format!(
                        "{other} and {check} both write score_{key}: give them different names \
                         or run them in separate requests"
                    ));
                }
                _ => seen.push((key, check)),
            }
        }
    }
    None
}

/// `snake_case` as "Title Case".
pub(crate) fn title_case(key: &str) -> String {
    key.split('_')
        .filter(|w| !w.is_empty())
        .map(|w| {
            let mut chars = w.chars();
            chars.next().map_or_else(String::new, |c| {
                c.to_uppercase().collect::<String>() + chars.as_str()
            })
        })
        .collect::<Vec<_>>()
        .join(" ")
}

/// A readable label for an output key suffix (`fluency` → "Fluency", `context_relevance` →
/// "Context Relevance", `refund_adherence` → "Refund Adherence").
pub(crate) fn label(key: &str) -> String {
    match key.parse::<Check>() {
        Ok(check) if !matches!(check, Check::Parametric(_)) => check.display_name().to_owned(),
        _ => title_case(key),
    }
}

impl From<ParametricCheck> for Check {
    fn from(check: ParametricCheck) -> Self {
        Check::Parametric(check)
    }
}

impl fmt::Display for Check {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Check::Parametric(p) => write!(f, "{}({})", p.class_name(), self.key()),
            other => f.write_str(other.as_str()),
        }
    }
}

impl FromStr for Check {
    type Err = UnknownCheck;

    /// A named check by its wire name, or a parametric check that needs no parameter by its
    /// class name (with its defaults).
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        let wanted = s.trim();
        Check::ALL
            .iter()
            .find(|c| c.as_str().eq_ignore_ascii_case(wanted))
            .cloned()
            .or_else(|| ParametricCheck::with_defaults(wanted).map(Check::Parametric))
            .ok_or_else(|| UnknownCheck {
                given: s.to_owned(),
            })
    }
}

/// A named check as its wire name; a parametric check as UpTrain's object
/// `{"check_name": "<ClassName>", ...parameters}`.
impl Serialize for Check {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        match self {
            Check::Parametric(p) => p.serialize(serializer),
            other => serializer.serialize_str(other.as_str()),
        }
    }
}

impl<'de> Deserialize<'de> for Check {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        match Value::deserialize(deserializer)? {
            Value::String(name) => name.parse().map_err(serde::de::Error::custom),
            object @ Value::Object(_) => serde_json::from_value::<ParametricCheck>(object)
                .map(Check::Parametric)
                .map_err(serde::de::Error::custom),
            other => Err(serde::de::Error::custom(format!(
                "a check is a wire name or a {{\"check_name\": ...}} object, not {other}"
            ))),
        }
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
        assert!(msg.contains("GuidelineAdherence"), "{msg}");
    }

    #[test]
    fn every_check_has_keys_a_display_name_and_a_cost() {
        for check in Check::ALL {
            assert!(!check.required_keys().is_empty());
            assert!(!check.display_name().is_empty());
            assert!(check.score_key().starts_with("score_"));
        }
        assert_eq!(Check::ResponseRelevance.judge_calls(), 2);
        assert_eq!(Check::ContextConciseness.judge_calls(), 1);
        assert_eq!(Check::CritiqueLanguage.judge_calls(), 4);
        assert_eq!(Check::QuestionCompleteness.judge_calls(), 0);
        assert_eq!(Check::CritiqueLanguage.score_key(), "score_fluency");
        assert_eq!(Check::PromptInjection.polarity(), Polarity::HigherIsWorse);
        assert_eq!(label("fluency"), "Fluency");
        assert_eq!(label("refund_adherence"), "Refund Adherence");
    }

    #[test]
    fn two_checks_writing_one_key_clash() {
        use crate::checks::{GuidelineAdherence, MatchMethod, ResponseMatching};
        let a = Check::from(GuidelineAdherence::new("Be brief.", "style"));
        let b = Check::from(GuidelineAdherence::new("Be kind.", "style"));
        let c = Check::from(GuidelineAdherence::new("Be kind.", "tone"));
        let why = key_clash(&[a.clone(), b]).unwrap();
        assert!(why.contains("score_style_adherence"), "{why}");
        assert_eq!(key_clash(&[a.clone(), c, a]), None);
        let llm = Check::from(ResponseMatching::default());
        let exact = Check::from(ResponseMatching::new(MatchMethod::Exact));
        assert!(key_clash(&[llm, exact]).is_some());
        assert_eq!(key_clash(&Check::ALL), None);
        assert_eq!(label("context_relevance"), "Context Relevance");
    }
}
