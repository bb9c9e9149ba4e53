//! The managed UpTrain API (`key_type = "uptrain"`): rows are sent to
//! `POST {server}/api/public/log_and_evaluate` in batches of at most 50, with the access key in
//! the `uptrain-access-token` header and nothing else secret in the body; results also show on
//! the UpTrain dashboard under the request's project and evaluation names.
//!
//! There is no reliable public default for the server URL, so it must be given (builder or
//! `UPTRAIN_SERVER_URL`).

use std::fmt;
use std::sync::atomic::{AtomicU64, Ordering};

use futures_util::future::{BoxFuture, join_all};
use llm_callbacks_transport::{Secret, redacted_url};
use reqwest::header::CONTENT_TYPE;
use serde_json::{Value, json};

use crate::check::Check;
use crate::config::{self, Limits, ProgressMode, RetryPolicy, Timeouts};
use crate::error::{BuildError, CheckError, EvaluationError};
use crate::evaluation::{CheckResult, Evaluation, RowResult};
use crate::evaluator::{EvaluationRequest, Evaluator};
use crate::http::{Reply, Transport, Verdict};
use crate::progress::Progress;
use crate::row::{self, Row};
use crate::usage::JudgeUsage;
use crate::{defaults, env};

/// The column names of UpTrain's schema object, each mapped to itself (`id_` to `id`).
const SCHEMA: [(&str, &str); 13] = [
    ("id_", "id"),
    ("question", "question"),
    ("response", "response"),
    ("context", "context"),
    ("ground_truth", "ground_truth"),
    ("conversation", "conversation"),
    ("cited_context", "cited_context"),
    ("scenario", "scenario"),
    ("objective", "objective"),
    ("sub_questions", "sub_questions"),
    ("reranked_context", "reranked_context"),
    ("concise_context", "concise_context"),
    ("variants", "variants"),
];

/// Evaluates rows on the managed UpTrain server.
///
/// ```
/// use uptrain_plugin::{BuildError, UptrainApiEvaluator};
///
/// let evaluator = UptrainApiEvaluator::builder()
///     .server_url("http://127.0.0.1:4300")
///     .api_key("up-key")
///     .build()
///     .unwrap();
/// assert_eq!(evaluator.endpoint(), "http://127.0.0.1:4300/api/public/log_and_evaluate");
///
/// // The server takes at most 50 rows a request.
/// let too_big = UptrainApiEvaluator::builder()
///     .server_url("http://127.0.0.1:4300")
///     .api_key("up-key")
///     .batch_size(51)
///     .build();
/// assert!(matches!(too_big, Err(BuildError::Invalid { name: "batch_size", .. })));
/// ```
pub struct UptrainApiEvaluator {
    endpoint: reqwest::Url,
    /// The access key as a header value, marked sensitive.
    access_key: reqwest::header::HeaderValue,
    batch_size: usize,
    progress: ProgressMode,
    transport: Transport,
}

impl fmt::Debug for UptrainApiEvaluator {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("UptrainApiEvaluator")
            .field("endpoint", &redacted_url(self.endpoint.as_str()))
            .field("access_key", &self.access_key)
            .field("batch_size", &self.batch_size)
            .finish_non_exhaustive()
    }
}

impl UptrainApiEvaluator {
    /// The header carrying the access key.
    pub const ACCESS_HEADER: &'static str = "uptrain-access-token";
    /// The endpoint path, appended to the server URL.
    pub const LOG_AND_EVALUATE_PATH: &'static str = "/api/public/log_and_evaluate";
    /// Most rows per request (UpTrain's own limit).
    pub const MAX_BATCH: usize = 50;

    /// A builder: server URL and key from the builder or `UPTRAIN_SERVER_URL` /
    /// `UPTRAIN_API_KEY`; batches of 50; 4 requests in flight and no rate limit;
    /// [`RetryPolicy::default`] (a batch is paid work: sent again only when it never reached
    /// the server or the server asked); 10 s to connect and 600 s per request (the server
    /// grades a whole batch).
    pub fn builder() -> UptrainApiBuilder {
        UptrainApiBuilder::default()
    }

    /// The URL requests go to.
    pub fn endpoint(&self) -> &str {
        self.endpoint.as_str()
    }

    async fn batch(
        &self,
        request: &EvaluationRequest,
        checks: &[Check],
        first: usize,
        rows: &[Row],
        requests: &AtomicU64,
    ) -> Vec<RowResult> {
        // Named checks go by wire name, parametric ones as `{"check_name": ...}` objects.
        let names: Vec<Value> = checks
            .iter()
            .map(|c| serde_json::to_value(c).unwrap_or(Value::Null))
            .collect();
        let schema: serde_json::Map<String, Value> = SCHEMA
            .iter()
            .map(|(k, v)| ((*k).to_owned(), Value::String((*v).to_owned())))
            .collect();
        let body = json!({
            "data": rows,
            "checks": names,
            "metadata": {
                "project": request.project,
                "evaluation": request.evaluation,
                "schema": schema,
            },
        });
        let outcome = match serde_json::to_vec(&body) {
            Err(e) => Err(CheckError::Transport {
                message: format!("cannot encode the request: {e}"),
            }),
            Ok(bytes) => {
                self.transport
                    .call(
                        |client| {
                            requests.fetch_add(1, Ordering::Relaxed);
                            client
                                .post(self.endpoint.clone())
                                .header(UptrainApiEvaluator::ACCESS_HEADER, self.access_key.clone())
                                .header(CONTENT_TYPE, "application/json")
                                .body(bytes.clone())
                        },
                        // log_and_evaluate logs and grades (paid, not idempotent): by the
                        // policy's rule, sent again only when the server never received it
                        // or asked for it, unless the user opted in.
                        0,
                        |reply| interpret(&reply),
                    )
                    .await
            }
        };
        rows.iter()
            .enumerate()
            .map(|(offset, input)| RowResult {
                index: first + offset,
                input: input.clone(),
                checks: checks
                    .iter()
                    .flat_map(|check| match &outcome {
                        Ok(out) => read_results(out.get(offset), check, out.len(), rows.len()),
                        Err(e) => check
                            .output_keys()
                            .into_iter()
                            .map(|key| CheckResult::failed(check.clone(), e.clone()).keyed(key))
                            .collect(),
                    })
                    .collect(),
                // One request grades several rows: requests are counted on the evaluation.
                usage: JudgeUsage::default(),
            })
            .collect()
    }
}

/// A 2xx reply must be a JSON array of rows.
fn interpret(reply: &Reply) -> Verdict<Vec<Value>> {
    if reply.is_html() {
        return Verdict::Fail(reply.to_error());
    }
    match serde_json::from_slice::<Value>(&reply.body) {
        Ok(Value::Array(rows)) => Verdict::Accept(rows),
        Ok(_) => Verdict::Fail(CheckError::Parse {
            reason: "expected a JSON array of rows".into(),
            reply: reply.text_excerpt(),
        }),
        Err(e) => Verdict::Fail(CheckError::Parse {
            reason: format!("malformed JSON: {e}"),
            reply: reply.text_excerpt(),
        }),
    }
}

/// One check's results (one per output key) from one output row.
fn read_results(row: Option<&Value>, check: &Check, got: usize, sent: usize) -> Vec<CheckResult> {
    check
        .output_keys()
        .into_iter()
        .map(|key| read_result(row, check, &key, got, sent).keyed(key))
        .collect()
}

/// The result written under `key` in one output row.
fn read_result(
    row: Option<&Value>,
    check: &Check,
    key: &str,
    got: usize,
    sent: usize,
) -> CheckResult {
    let Some(row) = row else {
        return CheckResult::failed(
            check.clone(),
            CheckError::MissingScore {
                reason: format!("the server returned {got} rows for {sent}"),
            },
        );
    };
    let explanation = match row.get(format!("explanation_{key}")) {
        Some(Value::String(s)) => Some(s.clone()),
        None | Some(Value::Null) => None,
        Some(other) => Some(other.to_string()),
    };
    let score_key = format!("score_{key}");
    let counted = check.polarity() == crate::check::Polarity::Count;
    match row.get(&score_key).and_then(Value::as_f64) {
        Some(score) if counted => {
            CheckResult::counted(check.clone(), score, explanation.unwrap_or_default())
        }
        Some(score) => CheckResult::scored(check.clone(), score, explanation.unwrap_or_default()),
        None => CheckResult::failed(
            check.clone(),
            CheckError::MissingScore {
                reason: explanation.unwrap_or_else(|| format!("no {score_key}")),
            },
        ),
    }
}

impl Evaluator for UptrainApiEvaluator {
    fn name(&self) -> &'static str {
        "uptrain_api"
    }

    fn evaluate<'a>(
        &'a self,
        request: &'a EvaluationRequest,
    ) -> BoxFuture<'a, Result<Evaluation, EvaluationError>> {
        Box::pin(async move {
            row::validate(&request.rows, &request.checks)?;
            let checks = row::dedup_checks(&request.checks);
            let requests = AtomicU64::new(0);
            let batches: Vec<&[Row]> = request.rows.chunks(self.batch_size).collect();
            let progress = Progress::new(self.progress, "batches", batches.len());
            let (checks, requests, progress) = (&checks, &requests, &progress);
            let results = join_all(batches.iter().enumerate().map(|(i, rows)| async move {
                let out = self
                    .batch(request, checks, i * self.batch_size, rows, requests)
                    .await;
                progress.advance(1);
                out
            }))
            .await;
            Ok(Evaluation {
                rows: results.into_iter().flatten().collect(),
                usage: JudgeUsage::requests_only(requests.load(Ordering::Relaxed)),
            })
        })
    }
}

/// Builds an [`UptrainApiEvaluator`].
#[derive(Clone)]
pub struct UptrainApiBuilder {
    server_url: Option<String>,
    api_key: Option<Secret>,
    batch_size: usize,
    limits: Limits,
    retry: RetryPolicy,
    timeouts: Timeouts,
    max_body_bytes: usize,
    progress: ProgressMode,
}

impl fmt::Debug for UptrainApiBuilder {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("UptrainApiBuilder")
            .field("server_url", &self.server_url)
            .field("api_key", &self.api_key)
            .field("batch_size", &self.batch_size)
            .finish_non_exhaustive()
    }
}

impl Default for UptrainApiBuilder {
    fn default() -> Self {
        Self {
            server_url: None,
            api_key: None,
            batch_size: UptrainApiEvaluator::MAX_BATCH,
            limits: Limits::unlimited(4),
            retry: RetryPolicy::default(),
            timeouts: Timeouts::default().with_total(std::time::Duration::from_secs(600)),
            max_body_bytes: defaults::MAX_BODY_BYTES,
            progress: ProgressMode::Auto,
        }
    }
}

impl UptrainApiBuilder {
    /// The UpTrain server, e.g. `https://your-uptrain-host`; the path is appended.
    pub fn server_url(mut self, url: impl Into<String>) -> Self {
        self.server_url = Some(url.into());
        self
    }

    /// The UpTrain access key (sent only as the `uptrain-access-token` header).
    pub fn api_key(mut self, key: impl Into<String>) -> Self {
        self.api_key = Some(Secret::new(key));
        self
    }

    /// Rows per request, 1 to 50.
    pub fn batch_size(mut self, rows: usize) -> Self {
        self.batch_size = rows;
        self
    }

    /// Concurrency and rate limits for batch requests.
    pub fn limits(mut self, limits: Limits) -> Self {
        self.limits = limits;
        self
    }

    /// Retry policy.
    pub fn retry(mut self, retry: RetryPolicy) -> Self {
        self.retry = retry;
        self
    }

    /// Connect and total timeouts.
    pub fn timeouts(mut self, timeouts: Timeouts) -> Self {
        self.timeouts = timeouts;
        self
    }

    /// Largest response body read, in bytes (default 4 MiB).
    pub fn max_body_bytes(mut self, bytes: usize) -> Self {
        self.max_body_bytes = bytes;
        self
    }

    /// When to show a progress line on stderr.
    pub fn progress(mut self, mode: ProgressMode) -> Self {
        self.progress = mode;
        self
    }

    /// Builds the evaluator.
    pub fn build(self) -> Result<UptrainApiEvaluator, BuildError> {
        let url = self
            .server_url
            .or_else(|| {
                std::env::var(env::UPTRAIN_SERVER_URL)
                    .ok()
                    .filter(|v| !v.trim().is_empty())
            })
            .ok_or(BuildError::MissingUrl {
                hint: "set the UpTrain server URL in the builder or UPTRAIN_SERVER_URL",
            })?;
        let url = config::normalize_url(&url)?;
        let access_key = config::check_key(
            config::key_or_env(self.api_key, env::UPTRAIN_API_KEY),
            env::UPTRAIN_API_KEY,
        )?;
        if !(1..=UptrainApiEvaluator::MAX_BATCH).contains(&self.batch_size) {
            return Err(BuildError::Invalid {
                name: "batch_size",
                reason: format!("must be between 1 and {}", UptrainApiEvaluator::MAX_BATCH),
            });
        }
        let transport = Transport::new(
            &self.limits,
            self.retry,
            &self.timeouts,
            self.max_body_bytes,
        )?;
        let endpoint = reqwest::Url::parse(&format!(
            "{url}{}",
            UptrainApiEvaluator::LOG_AND_EVALUATE_PATH
        ))
        .map_err(|_| BuildError::InvalidUrl { url: url.clone() })?;
        let access_key = access_key.header_value().map_err(|_| BuildError::Invalid {
            name: "api_key",
            reason: "contains characters not allowed in a header".into(),
        })?;
        Ok(UptrainApiEvaluator {
            endpoint,
            access_key,
            batch_size: self.batch_size,
            progress: self.progress,
            transport,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn output_rows_become_typed_results() {
        let row = json!({"score_context_relevance": 0.5, "explanation_context_relevance": "half"});
        let r = read_result(
            Some(&row),
            &Check::ContextRelevance,
            "context_relevance",
            1,
            1,
        );
        assert_eq!(r.score, Some(0.5));
        assert_eq!(r.explanation.as_deref(), Some("half"));
        let null = json!({"score_factual_accuracy": null});
        let r = read_result(
            Some(&null),
            &Check::FactualAccuracy,
            "factual_accuracy",
            1,
            1,
        );
        assert!(matches!(r.error, Some(CheckError::MissingScore { .. })));
        let r = read_result(None, &Check::FactualAccuracy, "factual_accuracy", 1, 2);
        assert!(r.error.unwrap().to_string().contains("1 rows for 2"));
    }

    #[test]
    fn batch_size_is_bounded() {
        let b = || {
            UptrainApiEvaluator::builder()
                .server_url("http://127.0.0.1:9")
                .api_key("k")
        };
        assert!(b().batch_size(51).build().is_err());
        assert!(b().batch_size(0).build().is_err());
        assert!(b().batch_size(50).build().is_ok());
        assert_eq!(b().api_key(" ").build().unwrap_err(), BuildError::EmptyKey);
    }
}
