//! The offline evaluator: deterministic, no network, no key. Each check is scored by a
//! documented lexical method over content words (lower-cased, stop words dropped, plurals
//! folded):
//!
//! | check | method |
//! |---|---|
//! | `context_relevance` | share of the question's content words found in the context |
//! | `response_completeness` | share of the question's content words found in the response |
//! | `sub_query_completeness` | share of the question's content words found in the sub-questions |
//! | `response_conciseness` | share of response sentences sharing a word with the question or context |
//! | `response_relevance` | harmonic mean of the two above |
//! | `factual_accuracy` | each response sentence is a fact: yes (≥ 80 % of its words in the context), unclear (≥ 50 %), no; mean |
//! | `response_consistency` | as factual accuracy, against the question and the context |
//! | `response_completeness_wrt_context` | share of the words of question-related context passages found in the response |
//! | `context_conciseness` | the same, found in the concise context |
//! | `valid_response` | 0 for an empty response or a refusal phrase, else 1 |
//! | `multi_query_accuracy` | mean Dice overlap of the question with each variant |
//! | `context_reranking` | nDCG of the reranked passages, relevance = question-word coverage |
//!
//! Beyond the RAG family, estimates exist where words say something:
//!
//! | check | method |
//! |---|---|
//! | `question_completeness` | UpTrain's own rule, exact: more than one word |
//! | `prompt_injection` | 1 when the question holds an injection phrase ("ignore previous instructions", ...), else 0 |
//! | `ResponseMatching` | exact and lexical methods as the judge runs them; the LLM method estimated by the lexical one |
//! | `ConversationNumberOfTurns` | the number of turns by the user's role |
//!
//! Every other check (language, tone, scenario, guideline, jailbreak, code hallucination,
//! custom prompt, conversation grades) has no meaningful lexical estimate: its row says
//! "needs a judge" ([`CheckError::NeedsJudge`](crate::CheckError::NeedsJudge)) instead of a
//! made-up score.
//!
//! Every estimate's explanation starts with "Offline lexical heuristic" so nobody mistakes it
//! for a judge's verdict. It is what examples and tests use by default.

mod beyond;
pub(crate) mod lexical;
mod methods;

use futures_util::future::BoxFuture;

use crate::error::EvaluationError;
use crate::evaluation::{Evaluation, RowResult};
use crate::evaluator::{EvaluationRequest, Evaluator};
use crate::row;

/// Scores rows with lexical heuristics; no network, no key, same input → same output.
///
/// ```
/// use uptrain_plugin::{Check, EvaluationRequest, Evaluator, OfflineEvaluator};
///
/// let rows = vec![
///     uptrain_plugin::row([
///         ("question", "When was the Eiffel tower built?"),
///         ("context", "The Eiffel tower was built between 1887 and 1889."),
///     ]),
///     uptrain_plugin::row([
///         ("question", "When was the Eiffel tower built?"),
///         ("context", "Bananas are rich in potassium."),
///     ]),
/// ];
/// let request = EvaluationRequest::new(rows, [Check::ContextRelevance]);
/// let evaluation = OfflineEvaluator::new().evaluate_now(&request).unwrap();
/// let relevant = evaluation.rows[0].score(Check::ContextRelevance).unwrap();
/// let irrelevant = evaluation.rows[1].score(Check::ContextRelevance).unwrap();
/// assert!(relevant > irrelevant);
/// ```
#[derive(Debug, Clone, Copy, Default)]
pub struct OfflineEvaluator {
    _private: (),
}

impl OfflineEvaluator {
    /// The offline evaluator.
    pub const fn new() -> Self {
        Self { _private: () }
    }

    /// Evaluates synchronously (the [`Evaluator`] future is this, already complete).
    pub fn evaluate_now(&self, request: &EvaluationRequest) -> Result<Evaluation, EvaluationError> {
        row::validate(&request.rows, &request.checks)?;
        let checks = row::dedup_checks(&request.checks);
        let rows = request
            .rows
            .iter()
            .enumerate()
            .map(|(index, input)| RowResult {
                index,
                input: input.clone(),
                checks: checks
                    .iter()
                    .flat_map(|check| beyond::results(check, input))
                    .collect(),
                // No judge model: nothing to price.
                usage: Default::default(),
            })
            .collect();
        Ok(Evaluation {
            rows,
            usage: Default::default(),
        })
    }
}

impl Evaluator for OfflineEvaluator {
    fn name(&self) -> &'static str {
        "offline"
    }

    fn evaluate<'a>(
        &'a self,
        request: &'a EvaluationRequest,
    ) -> BoxFuture<'a, Result<Evaluation, EvaluationError>> {
        let result = self.evaluate_now(request);
        Box::pin(std::future::ready(result))
    }
}
