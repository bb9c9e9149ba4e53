//! Offline results per check: the RAG family's lexical methods, the estimates that exist for
//! the checks beyond it, and "needs a judge" for the rest.

use super::lexical::words;
use super::methods::{self, HEURISTIC};
use crate::check::Check;
use crate::checks::ParametricCheck;
use crate::checks::matching::{KEYS, MatchMethod, ResponseMatching};
use crate::checks::{guardrails, tone};
use crate::error::CheckError;
use crate::evaluation::CheckResult;
use crate::row::{self, Row};

/// Phrases that mark a prompt-injection attempt.
const INJECTIONS: &[&str] = &[
    "ignore previous",
    "ignore all previous",
    "ignore the above",
    "ignore your instructions",
    "disregard previous",
    "disregard the above",
    "forget your instructions",
    "system prompt",
    "reveal your prompt",
    "you are now",
    "developer mode",
];

/// The offline results of `check` on `row`, one per output key.
pub(crate) fn results(check: &Check, row: &Row) -> Vec<CheckResult> {
    if let Some(scored) = methods::score(check, row) {
        return vec![match scored {
            Ok((score, why)) => CheckResult::scored(check.clone(), score, why),
            Err(e) => CheckResult::failed(check.clone(), e),
        }];
    }
    match check {
        Check::QuestionCompleteness => {
            let (score, why) = guardrails::question_completeness(row);
            vec![CheckResult::scored(check.clone(), score, why)]
        }
        Check::PromptInjection => vec![prompt_injection(check, row)],
        Check::Parametric(ParametricCheck::ResponseMatching(m)) => {
            let lexical = ResponseMatching::new(MatchMethod::Lexical);
            let (scores, estimate) = match m.without_judge(row) {
                Some(scores) => (scores, false),
                None => (lexical.without_judge(row).unwrap_or_default(), true),
            };
            scores
                .into_iter()
                .zip(KEYS)
                .map(|((score, why), key)| {
                    let why = if estimate {
                        format!("{HEURISTIC} (estimating the LLM method): {why}")
                    } else {
                        why
                    };
                    CheckResult::scored(check.clone(), score, why).keyed(key)
                })
                .collect()
        }
        Check::Parametric(ParametricCheck::ConversationNumberOfTurns(c)) => {
            let turns = c.user_turns(row);
            #[allow(clippy::cast_precision_loss)]
            let count = turns as f64;
            vec![CheckResult::counted(
                check.clone(),
                count,
                format!(
                    "{HEURISTIC}: the conversation has {turns} turns by \"{}\" (all of them, \
                     resolved or not).",
                    c.user_role()
                ),
            )]
        }
        Check::CritiqueLanguage => tone::ASPECTS
            .iter()
            .map(|aspect| needs_judge(check).keyed(aspect.key))
            .collect(),
        other => vec![needs_judge(other)],
    }
}

fn needs_judge(check: &Check) -> CheckResult {
    CheckResult::failed(
        check.clone(),
        CheckError::NeedsJudge {
            check: check.to_string(),
        },
    )
}

/// 1.0 when the question holds an injection phrase, else 0.0.
fn prompt_injection(check: &Check, row: &Row) -> CheckResult {
    let question = row::text(row, "question").to_lowercase();
    let question = words(&question).len().max(1);
    let text = row::text(row, "question").to_lowercase();
    let (score, why) = match INJECTIONS.iter().find(|p| text.contains(*p)) {
        Some(phrase) => (
            1.0,
            format!("{HEURISTIC}: the question holds the injection phrase \"{phrase}\"."),
        ),
        None => (
            0.0,
            format!(
                "{HEURISTIC}: none of {} known injection phrases in the question's {question} \
                 content words.",
                INJECTIONS.len()
            ),
        ),
    };
    CheckResult::scored(check.clone(), score, why)
}
