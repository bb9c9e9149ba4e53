//! The LLM judge: UpTrain's checks graded by any OpenAI-compatible chat-completions server
//! (OpenAI, vLLM, llama.cpp, Ollama, LiteLLM), with our own prompts, lenient parsing and
//! UpTrain's grade-to-score mapping. Every judge call of an evaluation runs concurrently under
//! the evaluator's one limiter.

mod beyond;
mod cache;
mod parse;
mod prompt;
mod run;
mod wire;

use std::fmt;
use std::sync::Arc;

use futures_util::future::BoxFuture;
use handler_core::cost::PriceTable;
use llm_callbacks_transport::{Secret, redacted_url};

use crate::config::{self, Limits, ProgressMode, RetryPolicy, Timeouts};
use crate::error::{BuildError, EvaluationError};
use crate::evaluation::Evaluation;
use crate::evaluator::{EvaluationRequest, Evaluator};
use crate::http::Transport;
use crate::row;
use crate::{defaults, env};

pub use cache::{CacheError, CacheMiss, JudgeCache};

/// Grades rows with an LLM judge.
///
/// ```no_run
/// use uptrain_plugin::{Check, EvaluationRequest, Evaluator, JudgeEvaluator, Limits};
///
/// # async fn demo() -> Result<(), Box<dyn std::error::Error>> {
/// let judge = JudgeEvaluator::builder()
///     .base_url("http://127.0.0.1:8080/v1")
///     .api_key("sk-local")
///     .model("gpt-4o-mini")
///     .json_mode(true)
///     .limits(Limits::unlimited(32))
///     .build()?;
/// let rows = vec![uptrain_plugin::row([
///     ("question", "Who wrote Hamlet?"),
///     ("context", "Hamlet is a tragedy by William Shakespeare."),
///     ("response", "Shakespeare wrote Hamlet."),
/// ])];
/// let evaluation = judge.evaluate(&EvaluationRequest::new(rows, Check::RAG)).await?;
/// // What the judge spent, per row and in total: requests, tokens, cost and its prices.
/// println!("row 1: {}", evaluation.rows[0].usage);
/// println!("total: {}", evaluation.usage);
/// # Ok(())
/// # }
/// ```
pub struct JudgeEvaluator {
    settings: JudgeSettings,
    transport: Transport,
    cache: Option<Arc<JudgeCache>>,
}

/// What each judge request carries.
struct JudgeSettings {
    url: reqwest::Url,
    /// `Bearer <key>`, marked sensitive so it never shows in logs.
    authorization: reqwest::header::HeaderValue,
    model: String,
    temperature: f64,
    seed: Option<u64>,
    json_mode: bool,
    max_facts: usize,
    progress: ProgressMode,
    /// Prices the judge's tokens.
    prices: Arc<PriceTable>,
}

impl fmt::Debug for JudgeEvaluator {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("JudgeEvaluator")
            .field("url", &redacted_url(self.settings.url.as_str()))
            .field("authorization", &self.settings.authorization)
            .field("model", &self.settings.model)
            .field("temperature", &self.settings.temperature)
            .field("seed", &self.settings.seed)
            .field("json_mode", &self.settings.json_mode)
            .field("prices", &self.settings.prices.version())
            .finish_non_exhaustive()
    }
}

impl JudgeEvaluator {
    /// A builder with the defaults: base URL from `OPENAI_BASE_URL` (else
    /// `https://api.openai.com/v1`), key from `OPENAI_API_KEY`, model `gpt-3.5-turbo`,
    /// temperature 0.1, no seed, JSON mode off, [`Limits::default`], [`RetryPolicy::default`],
    /// [`Timeouts::default`].
    pub fn builder() -> JudgeBuilder {
        JudgeBuilder::default()
    }

    /// The chat-completions URL requests go to.
    pub fn url(&self) -> &str {
        self.settings.url.as_str()
    }

    /// The judge model.
    pub fn model(&self) -> &str {
        &self.settings.model
    }

    /// The cache of judge answers, when one was given.
    pub fn cache(&self) -> Option<&Arc<JudgeCache>> {
        self.cache.as_ref()
    }

    /// The table that prices the judge's tokens.
    pub fn prices(&self) -> &PriceTable {
        &self.settings.prices
    }
}

impl Evaluator for JudgeEvaluator {
    fn name(&self) -> &'static str {
        "judge"
    }

    fn evaluate<'a>(
        &'a self,
        request: &'a EvaluationRequest,
    ) -> BoxFuture<'a, Result<Evaluation, EvaluationError>> {
        Box::pin(async move {
            row::validate(&request.rows, &request.checks)?;
            let checks = row::dedup_checks(&request.checks);
            Ok(run::evaluate(self, &request.rows, &checks).await)
        })
    }
}

/// Builds a [`JudgeEvaluator`]; see [`JudgeEvaluator::builder`] for the defaults.
#[derive(Clone)]
pub struct JudgeBuilder {
    base_url: Option<String>,
    api_key: Option<Secret>,
    model: String,
    temperature: f64,
    seed: Option<u64>,
    json_mode: bool,
    limits: Limits,
    retry: RetryPolicy,
    timeouts: Timeouts,
    max_body_bytes: usize,
    max_facts: usize,
    progress: ProgressMode,
    cache: Option<Arc<JudgeCache>>,
    prices: Option<Arc<PriceTable>>,
}

impl fmt::Debug for JudgeBuilder {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("JudgeBuilder")
            .field("base_url", &self.base_url.as_deref().map(redacted_url))
            .field("api_key", &self.api_key)
            .field("model", &self.model)
            .field("limits", &self.limits)
            .field("retry", &self.retry)
            .field("timeouts", &self.timeouts)
            .finish_non_exhaustive()
    }
}

impl Default for JudgeBuilder {
    fn default() -> Self {
        Self {
            base_url: None,
            api_key: None,
            model: defaults::MODEL.to_owned(),
            temperature: defaults::TEMPERATURE,
            seed: None,
            json_mode: false,
            limits: Limits::default(),
            retry: RetryPolicy::default(),
            timeouts: Timeouts::default(),
            max_body_bytes: defaults::MAX_BODY_BYTES,
            max_facts: 5,
            progress: ProgressMode::Auto,
            cache: None,
            prices: None,
        }
    }
}

impl JudgeBuilder {
    /// Base URL of the OpenAI-compatible API, usually ending in `/v1`; requests go to
    /// `{base_url}/chat/completions`.
    pub fn base_url(mut self, url: impl Into<String>) -> Self {
        self.base_url = Some(url.into());
        self
    }

    /// The bearer key. An empty key is a construction error.
    pub fn api_key(mut self, key: impl Into<String>) -> Self {
        self.api_key = Some(Secret::new(key));
        self
    }

    /// The judge model.
    pub fn model(mut self, model: impl Into<String>) -> Self {
        self.model = model.into();
        self
    }

    /// Sampling temperature (0 to 2).
    pub fn temperature(mut self, temperature: f64) -> Self {
        self.temperature = temperature;
        self
    }

    /// A sampling seed, sent as `seed`.
    pub fn seed(mut self, seed: u64) -> Self {
        self.seed = Some(seed);
        self
    }

    /// Sends `response_format: {"type": "json_object"}` when on (recommended where the server
    /// supports it).
    pub fn json_mode(mut self, on: bool) -> Self {
        self.json_mode = on;
        self
    }

    /// Concurrency and rate limits.
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

    /// Most facts judged per response for factual accuracy (default 5, at least 1).
    pub fn max_facts(mut self, facts: usize) -> Self {
        self.max_facts = facts;
        self
    }

    /// When to show a progress line on stderr.
    pub fn progress(mut self, mode: ProgressMode) -> Self {
        self.progress = mode;
        self
    }

    /// Answers judge requests from `cache` when it has them, and records the judge's new
    /// answers there (see [`JudgeCache`]). Off by default.
    pub fn cache(mut self, cache: Arc<JudgeCache>) -> Self {
        self.cache = Some(cache);
        self
    }

    /// Prices the judge's tokens with `table` instead of the shipped one
    /// ([`PriceTable::shipped`]); e.g. the shipped table with your own entries merged over it.
    ///
    /// ```
    /// use handler_core::cost::{ModelPrices, PriceTable};
    /// use uptrain_plugin::JudgeEvaluator;
    ///
    /// let ours = PriceTable::shipped()
    ///     .clone()
    ///     .with_model("local-judge", ModelPrices::new(0.0, 0.0, "2026-12-01", "our own GPUs"))?;
    /// let judge = JudgeEvaluator::builder()
    ///     .base_url("http://127.0.0.1:8080/v1")
    ///     .api_key("sk-local")
    ///     .model("local-judge")
    ///     .prices(ours)
    ///     .build()?;
    /// assert!(judge.prices().lookup("local-judge").is_some());
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    pub fn prices(mut self, table: PriceTable) -> Self {
        self.prices = Some(Arc::new(table));
        self
    }

    /// Builds the evaluator, reading `OPENAI_BASE_URL` and `OPENAI_API_KEY` for whatever was
    /// not set.
    ///
    /// ```
    /// use uptrain_plugin::{BuildError, JudgeEvaluator};
    ///
    /// let err = JudgeEvaluator::builder().base_url("http://127.0.0.1:1/v1").api_key("").build();
    /// assert_eq!(err.unwrap_err(), BuildError::EmptyKey);
    /// ```
    pub fn build(self) -> Result<JudgeEvaluator, BuildError> {
        let base = self
            .base_url
            .or_else(|| {
                std::env::var(env::OPENAI_BASE_URL)
                    .ok()
                    .filter(|v| !v.trim().is_empty())
            })
            .unwrap_or_else(|| defaults::BASE_URL.to_owned());
        let base = config::normalize_url(&base)?;
        let api_key = config::check_key(
            config::key_or_env(self.api_key, env::OPENAI_API_KEY),
            env::OPENAI_API_KEY,
        )?;
        if self.model.trim().is_empty() {
            return Err(invalid("model", "must not be empty"));
        }
        if !(0.0..=2.0).contains(&self.temperature) {
            return Err(invalid("temperature", "must be between 0 and 2"));
        }
        if self.max_facts == 0 {
            return Err(invalid("max_facts", "must be at least 1"));
        }
        let transport = Transport::new(
            &self.limits,
            self.retry,
            &self.timeouts,
            self.max_body_bytes,
        )?;
        let url = reqwest::Url::parse(&format!("{base}/chat/completions"))
            .map_err(|_| BuildError::InvalidUrl { url: base.clone() })?;
        let authorization = api_key
            .bearer()
            .map_err(|_| invalid("api_key", "contains characters not allowed in a header"))?;
        Ok(JudgeEvaluator {
            settings: JudgeSettings {
                url,
                authorization,
                model: self.model,
                temperature: self.temperature,
                seed: self.seed,
                json_mode: self.json_mode,
                max_facts: self.max_facts,
                progress: self.progress,
                prices: self
                    .prices
                    .unwrap_or_else(|| Arc::new(PriceTable::shipped().clone())),
            },
            transport,
            cache: self.cache,
        })
    }
}

fn invalid(name: &'static str, reason: &str) -> BuildError {
    BuildError::Invalid {
        name,
        reason: reason.to_owned(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn builder_checks_its_settings() {
        let base = || {
            JudgeEvaluator::builder()
                .base_url("http://127.0.0.1:9/v1/")
                .api_key("k")
        };
        let judge = base().build().unwrap();
        assert_eq!(judge.url(), "http://127.0.0.1:9/v1/chat/completions");
        assert_eq!(judge.model(), "gpt-3.5-turbo");
        let shown = format!("{judge:?} {:?}", base());
        assert!(
            !shown.contains("\"k\"") && !shown.contains("Bearer"),
            "{shown}"
        );
        assert!(matches!(
            base().temperature(3.0).build(),
            Err(BuildError::Invalid {
                name: "temperature",
                ..
            })
        ));
        assert!(matches!(
            base().model(" ").build(),
            Err(BuildError::Invalid { .. })
        ));
        assert!(matches!(
            base().base_url("localhost:8080").build(),
            Err(BuildError::InvalidUrl { .. })
        ));
        assert!(matches!(
            base().limits(Limits::unlimited(0)).build(),
            Err(BuildError::Invalid { .. })
        ));
    }
}
