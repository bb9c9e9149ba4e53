//! One judge evaluation: every check of every row starts at once and waits only on the shared
//! limiter; factual accuracy's second phase starts as soon as that row's facts are in, and
//! response relevance's two calls run side by side. Each check ends as a [`CheckResult`]:
//! failures are recorded, never dropped.

use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Mutex, PoisonError};

use handler_core::payload::TokenUsage;

use futures_util::future::{join, join_all};
use reqwest::header::{AUTHORIZATION, CONTENT_TYPE};

use super::cache::Lookup;
use super::parse;
use super::prompt::{self, GradedSpec};
use super::wire::{ChatRequest, ChatResponse, Message, ResponseFormat, Usage};
use super::{JudgeEvaluator, JudgeSettings};
use crate::check::Check;
use crate::error::{CheckError, excerpt};
use crate::evaluation::{CheckResult, Evaluation, RowResult};
use crate::http::{Reply, Verdict};
use crate::limiter::estimate_tokens;
use crate::progress::Progress;
use crate::row::Row;
use crate::usage::JudgeUsage;

/// Characters of an unparseable reply kept in the error.
const REPLY_EXCERPT: usize = 300;

/// What the calls for one row spent, summed across its concurrent calls.
#[derive(Debug, Default)]
struct UsageCounter {
    tokens: Mutex<TokenUsage>,
    requests: AtomicU64,
    /// Replies that reported no usage: their tokens are unknown.
    unreported: AtomicU64,
}

impl UsageCounter {
    fn add(&self, usage: Option<Usage>) {
        match usage {
            Some(usage) => {
                *self.tokens.lock().unwrap_or_else(PoisonError::into_inner) += usage.tokens();
            }
            None => {
                self.unreported.fetch_add(1, Ordering::Relaxed);
            }
        }
    }

    /// The row's usage, priced from the judge's model.
    fn priced(&self, settings: &JudgeSettings) -> JudgeUsage {
        let tokens = *self.tokens.lock().unwrap_or_else(PoisonError::into_inner);
        JudgeUsage::priced(
            self.requests.load(Ordering::Relaxed),
            tokens,
            &settings.model,
            &settings.prices,
        )
        .with_unreported(self.unreported.load(Ordering::Relaxed))
    }
}

/// State shared by the calls for one row.
pub(super) struct Run<'a> {
    judge: &'a JudgeEvaluator,
    usage: UsageCounter,
    progress: &'a Progress,
}

/// Evaluates validated rows with deduplicated checks; each row carries what its calls spent,
/// the evaluation their sum.
pub(super) async fn evaluate(judge: &JudgeEvaluator, rows: &[Row], checks: &[Check]) -> Evaluation {
    let calls_per_row: usize = checks.iter().map(Check::judge_calls).sum();
    let progress = Progress::new(
        judge.settings.progress,
        "judge calls",
        rows.len() * calls_per_row,
    );
    let progress = &progress;
    let results: Vec<RowResult> =
        join_all(rows.iter().enumerate().map(|(index, row)| async move {
            let run = Run {
                judge,
                usage: UsageCounter::default(),
                progress,
            };
            let run = &run;
            let checks = join_all(checks.iter().map(|check| async move {
                let results = run.check(row, check).await;
                run.progress.advance(check.judge_calls());
                results
            }))
            .await;
            RowResult {
                index,
                input: row.clone(),
                checks: checks.into_iter().flatten().collect(),
                usage: run.usage.priced(&judge.settings),
            }
        }))
        .await;
    Evaluation {
        usage: results.iter().map(|r| r.usage.clone()).sum(),
        rows: results,
    }
}

impl Run<'_> {
    /// The results of one check on one row: one per output key.
    async fn check(&self, row: &Row, check: &Check) -> Vec<CheckResult> {
        let check = check.clone();
        if let Some(spec) = prompt::graded_spec(&check) {
            return vec![match self.graded(spec, row).await {
                Ok((score, reasoning)) => CheckResult::scored(check, score, reasoning),
                Err(e) => CheckResult::failed(check, e),
            }];
        }
        vec![match check {
            Check::FactualAccuracy => self.factual_accuracy(row).await,
            Check::ResponseRelevance => self.response_relevance(row).await,
            Check::ResponseConsistency => {
                match self.ask(prompt::consistency(row), parse::score).await {
                    Ok((score, explanation)) => CheckResult::scored(check, score, explanation),
                    Err(e) => CheckResult::failed(check, e),
                }
            }
            other => return self.beyond_rag(row, other).await,
        }]
    }

    async fn graded(
        &self,
        spec: &'static GradedSpec,
        row: &Row,
    ) -> Result<(f64, String), CheckError> {
        self.ask(prompt::graded(spec, row), |text| {
            parse::graded(text, spec.options)
        })
        .await
    }

    /// Phase 1 extracts the facts, phase 2 judges them; the score is the mean judgement.
    async fn factual_accuracy(&self, row: &Row) -> CheckResult {
        let check = Check::FactualAccuracy;
        match self.fact_score(row).await {
            Ok((score, explanation)) => CheckResult::scored(check, score, explanation),
            Err(e) => CheckResult::failed(check, e),
        }
    }

    /// The mean judgement of the response's facts against the context (two calls).
    pub(super) async fn fact_score(&self, row: &Row) -> Result<(f64, String), CheckError> {
        let max = self.judge.settings.max_facts;
        let facts = self
            .ask(prompt::extract_facts(row), |t| parse::facts(t, max))
            .await?;
        if facts.is_empty() {
            return Err(CheckError::NoFacts);
        }
        let verdicts = self
            .ask(prompt::judge_facts(row, &facts), parse::verdicts)
            .await?;
        #[allow(clippy::cast_precision_loss)]
        let score = verdicts.iter().map(|v| v.score).sum::<f64>() / verdicts.len() as f64;
        let explanation = verdicts
            .iter()
            .enumerate()
            .map(|(i, v)| {
                let fact = if v.fact.is_empty() {
                    facts.get(i).map_or("", String::as_str)
                } else {
                    &v.fact
                };
                format!("{}. {} — {}: {}", i + 1, fact, v.judgement, v.reasoning)
            })
            .collect::<Vec<_>>()
            .join("\n");
        Ok((score, explanation))
    }

    /// The harmonic mean of completeness and conciseness (0 when either is 0).
    async fn response_relevance(&self, row: &Row) -> CheckResult {
        let check = Check::ResponseRelevance;
        let (Some(complete), Some(concise)) = (
            prompt::graded_spec(&Check::ResponseCompleteness),
            prompt::graded_spec(&Check::ResponseConciseness),
        ) else {
            return CheckResult::failed(
                check,
                CheckError::Parse {
                    reason: "internal: missing prompt".into(),
                    reply: String::new(),
                },
            );
        };
        match join(self.graded(complete, row), self.graded(concise, row)).await {
            (Ok((c, why_c)), Ok((s, why_s))) => {
                let f1 = if c <= 0.0 || s <= 0.0 {
                    0.0
                } else {
                    2.0 * c * s / (c + s)
                };
                CheckResult::scored(
                    check,
                    f1,
                    format!("Completeness {c}: {why_c}\nConciseness {s}: {why_s}"),
                )
            }
            (Err(e), _) | (_, Err(e)) => CheckResult::failed(check, e),
        }
    }

    /// One judge call: send the prompt, read the first choice, parse it with `parse`.
    /// Unparseable replies are asked again at once (by the transport), within the policy's
    /// retries; failed calls are sent again by the policy's rule (paid: by default only when
    /// they never reached the server or the server asked).
    pub(super) async fn ask<T>(
        &self,
        prompt: String,
        parse: impl Fn(&str) -> Result<T, String>,
    ) -> Result<T, CheckError> {
        let settings = &self.judge.settings;
        let request = ChatRequest {
            model: &settings.model,
            messages: [Message {
                role: "user",
                content: &prompt,
            }],
            temperature: settings.temperature,
            seed: settings.seed,
            response_format: settings.json_mode.then_some(ResponseFormat {
                kind: "json_object",
            }),
        };
        let body = serde_json::to_vec(&request).map_err(|e| CheckError::Transport {
            message: format!("cannot encode the request: {e}"),
        })?;
        let cached = match &self.judge.cache {
            Some(cache) => Some((cache, cache.lookup(&body, &settings.model, &prompt)?)),
            None => None,
        };
        let key = match cached {
            Some((_, Lookup::Hit(answer))) => {
                return parse(&answer).map_err(|reason| CheckError::Parse {
                    reason: format!("cached answer: {reason}"),
                    reply: excerpt(answer.trim(), REPLY_EXCERPT),
                });
            }
            Some((cache, Lookup::Miss(key))) => Some((cache, key)),
            None => None,
        };
        let tokens = estimate_tokens(&prompt);
        let (value, content) = self
            .judge
            .transport
            .call(
                |client| {
                    self.usage.requests.fetch_add(1, Ordering::Relaxed);
                    client
                        .post(settings.url.clone())
                        .header(AUTHORIZATION, settings.authorization.clone())
                        .header(CONTENT_TYPE, "application/json")
                        .body(body.clone())
                },
                tokens,
                |reply| self.interpret(&reply, &parse),
            )
            .await?;
        if let Some((cache, key)) = key {
            cache.store(key, &settings.model, &content);
        }
        Ok(value)
    }

    /// The parsed answer, and its text (for the cache).
    fn interpret<T>(
        &self,
        reply: &Reply,
        parse: impl Fn(&str) -> Result<T, String>,
    ) -> Verdict<(T, String)> {
        if reply.is_html() {
            return Verdict::Fail(reply.to_error());
        }
        let response: ChatResponse = match serde_json::from_slice(&reply.body) {
            Ok(r) => r,
            Err(e) => {
                return Verdict::RetryNow(CheckError::Parse {
                    reason: format!("not a chat completion: {e}"),
                    reply: reply.text_excerpt(),
                });
            }
        };
        self.usage.add(response.usage);
        let Some(content) = response.content() else {
            return Verdict::RetryNow(CheckError::Parse {
                reason: "the reply has no message content".into(),
                reply: reply.text_excerpt(),
            });
        };
        match parse(&content) {
            Ok(value) => Verdict::Accept((value, content)),
            Err(reason) => Verdict::RetryNow(CheckError::Parse {
                reason,
                reply: excerpt(content.trim(), REPLY_EXCERPT),
            }),
        }
    }
}
