//! The judge's runs of the checks beyond the RAG family: each family's [`Ask`]s sent
//! concurrently, their answers parsed by shape and combined with UpTrain's mapping; one
//! result per output key, failures kept per key.

use futures_util::future::{join, join_all};

use super::parse;
use super::prompt;
use super::run::Run;
use crate::check::Check;
use crate::checks::matching::{self, KEYS};
use crate::checks::{Ask, ParametricCheck, guardrails, scenario, tone};
use crate::error::CheckError;
use crate::evaluation::CheckResult;
use crate::row::Row;

/// The one judge call of a single-call check, or `None` for checks run otherwise.
pub(crate) fn single_ask(check: &Check, row: &Row) -> Option<Ask> {
    Some(match check {
        Check::ResponseAlignmentWithScenario => scenario::alignment(row),
        Check::ResponseSincerityWithScenario => scenario::sincerity(row),
        Check::PromptInjection => guardrails::prompt_injection(row),
        Check::CodeHallucination => guardrails::code_hallucination(row),
        Check::Parametric(p) => match p {
            ParametricCheck::CritiqueTone(c) => c.ask(row),
            ParametricCheck::GuidelineAdherence(c) => c.ask(row),
            ParametricCheck::JailbreakDetection(c) => c.ask(row),
            ParametricCheck::CustomPromptEval(c) => c.ask(row),
            ParametricCheck::QueryResolution(c) => c.ask(row),
            ParametricCheck::ConversationSatisfaction(c) => c.ask(row),
            ParametricCheck::ConversationGuidelineAdherence(c) => c.ask(row),
            ParametricCheck::ConversationObjective(c) => c.ask(row),
            ParametricCheck::ConversationNumberOfTurns(c) => c.ask(row),
            ParametricCheck::ResponseMatching(_) => return None,
        },
        _ => return None,
    })
}

/// Every judge call of a check that is asked through [`Ask`]s (all but response matching's
/// LLM method, which reuses factual accuracy's prompts): one per aspect for
/// `critique_language`, none for `question_completeness`.
#[cfg(test)]
pub(crate) fn asks(check: &Check, row: &Row) -> Vec<Ask> {
    match check {
        Check::CritiqueLanguage => tone::critique_language(row),
        other => single_ask(other, row).into_iter().collect(),
    }
}

/// The result of one answered [`Ask`] for `check` under `key`.
fn result(check: &Check, outcome: Result<(f64, String), CheckError>) -> CheckResult {
    let counted = matches!(
        check,
        Check::Parametric(ParametricCheck::ConversationNumberOfTurns(_))
    );
    match outcome {
        Ok((score, why)) if counted => CheckResult::counted(check.clone(), score, why),
        Ok((score, why)) => CheckResult::scored(check.clone(), score, why),
        Err(e) => CheckResult::failed(check.clone(), e),
    }
}

impl Run<'_> {
    /// One judge call, its answer parsed by the ask's shape.
    async fn answer(&self, ask: &Ask) -> Result<(f64, String), CheckError> {
        self.ask(prompt::ask(ask), |text| parse::answer(text, &ask.answer))
            .await
    }

    /// The results of a check beyond the RAG family.
    pub(super) async fn beyond_rag(&self, row: &Row, check: Check) -> Vec<CheckResult> {
        if let Some(ask) = single_ask(&check, row) {
            let mut result = result(&check, self.answer(&ask).await);
            if !check.has_explanation() {
                result.explanation = None;
            }
            return vec![result];
        }
        match &check {
            Check::CritiqueLanguage => {
                let asks = tone::critique_language(row);
                let answers = join_all(asks.iter().map(|ask| self.answer(ask))).await;
                answers
                    .into_iter()
                    .zip(tone::ASPECTS.iter())
                    .map(|(outcome, aspect)| result(&check, outcome).keyed(aspect.key))
                    .collect()
            }
            Check::QuestionCompleteness => {
                let (score, why) = guardrails::question_completeness(row);
                vec![CheckResult::scored(check, score, why)]
            }
            Check::Parametric(ParametricCheck::ResponseMatching(m)) => {
                let scored = match m.without_judge(row) {
                    Some(scores) => Ok(scores),
                    None => self.match_facts(row).await,
                };
                match scored {
                    Ok(scores) => scores
                        .into_iter()
                        .zip(KEYS)
                        .map(|((score, why), key)| {
                            CheckResult::scored(check.clone(), score, why).keyed(key)
                        })
                        .collect(),
                    Err(e) => KEYS
                        .iter()
                        .map(|key| CheckResult::failed(check.clone(), e.clone()).keyed(*key))
                        .collect(),
                }
            }
            other => vec![CheckResult::failed(
                other.clone(),
                CheckError::Parse {
                    reason: format!("internal: no judge run for {other}"),
                    reply: String::new(),
                },
            )],
        }
    }

    /// Response matching's LLM method: factual accuracy both ways (four calls), combined as
    /// 4PR/(3P+R).
    async fn match_facts(&self, row: &Row) -> Result<[(f64, String); 3], CheckError> {
        let (precision_row, recall_row) = matching::fact_rows(row);
        let (precision, recall) = join(
            self.fact_score(&precision_row),
            self.fact_score(&recall_row),
        )
        .await;
        let ((p, why_p), (r, why_r)) = (precision?, recall?);
        let combined = matching::ResponseMatching::combine(p, r);
        Ok([
            (
                combined,
                format!("Precision {p:.2}, recall {r:.2}: 4PR/(3P+R) = {combined:.2}."),
            ),
            (
                p,
                format!("Facts of the response against the ground truth:\n{why_p}"),
            ),
            (
                r,
                format!("Facts of the ground truth against the response:\n{why_r}"),
            ),
        ])
    }
}

#[cfg(test)]
#[path = "beyond_tests.rs"]
mod tests;
