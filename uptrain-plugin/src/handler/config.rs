//! The handler's configuration: from code (a builder) or from the environment.

use std::fmt;
use std::path::PathBuf;
use std::str::FromStr;
use std::time::Duration;

use handler_core::registry::{DurationUnit, PluginConfig};
use llm_callbacks_transport::Idempotency;

use crate::config::{Limits, RetryPolicy, Timeouts};
use crate::evaluator::KeyType;
use crate::judge::{API_KEY_ENV, BASE_URL_ENV, DEFAULT_MODEL};
use crate::uptrain_api::{UPTRAIN_KEY_ENV, UPTRAIN_URL_ENV};

/// Which evaluator grades the answers.
///
/// Nothing leaves the process unless asked for: [`Auto`](Self::Auto) uses a remote evaluator
/// only for a key given in code (or the UpTrain API key, `UPTRAIN_API_KEY`); an
/// `OPENAI_API_KEY` that merely sits in the environment is not used unless
/// `UPTRAIN_EVALUATOR=judge` says so.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub enum EvaluatorKind {
    /// By key type when an API key was given in code or `UPTRAIN_API_KEY` is set; else
    /// offline (said once in the log, with how to turn a judge on).
    #[default]
    Auto,
    /// The LLM judge on an OpenAI-compatible server.
    Judge,
    /// The managed UpTrain API.
    UptrainApi,
    /// The offline lexical evaluator: no network, no key.
    Offline,
}

impl EvaluatorKind {
    const NAMES: &'static str = "auto, judge, uptrain_api, offline";
}

impl FromStr for EvaluatorKind {
    type Err = ConfigValueError;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        match s.trim().to_ascii_lowercase().as_str() {
            "auto" => Ok(EvaluatorKind::Auto),
            "judge" | "openai" => Ok(EvaluatorKind::Judge),
            "uptrain_api" | "uptrain" | "api" => Ok(EvaluatorKind::UptrainApi),
            "offline" => Ok(EvaluatorKind::Offline),
            _ => Err(ConfigValueError::new("evaluator", s, Self::NAMES)),
        }
    }
}

/// A configuration value that could not be used.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("invalid {name} `{value}`: expected {expected}")]
pub struct ConfigValueError {
    /// The setting.
    pub name: &'static str,
    /// The value given.
    pub value: String,
    /// What is accepted.
    pub expected: String,
}

impl ConfigValueError {
    fn new(name: &'static str, value: &str, expected: &str) -> Self {
        Self {
            name,
            value: value.to_owned(),
            expected: expected.to_owned(),
        }
    }
}

/// Every setting of the UpTrain handler. Build it with
/// [`UptrainHandler::builder`](super::UptrainHandler::builder) or read it with
/// [`UptrainConfig::from_env`].
///
/// ```
/// use std::time::Duration;
/// let config = uptrain_plugin::UptrainConfig::default();
/// assert_eq!(config.queue_capacity, 1024);
/// assert_eq!(config.retention, 1000);
/// assert_eq!(config.drop_timeout, Duration::from_secs(5));
/// assert_eq!(config.limits, None, "each evaluator keeps its own defaults");
/// ```
#[derive(Clone)]
#[non_exhaustive]
pub struct UptrainConfig {
    /// Prefix of the project names: `<project>_rag`, `<project>_multi_query`,
    /// `<project>_context_reranking`. Default `langchain`.
    pub project_name: String,
    /// `openai` (judge locally) or `uptrain` (managed API). Default `openai`.
    pub key_type: KeyType,
    /// The API key; else `OPENAI_API_KEY` or `UPTRAIN_API_KEY` by key type.
    pub api_key: Option<String>,
    /// The judge model. Default `gpt-3.5-turbo`.
    pub model: String,
    /// Print a block per evaluated answer. Default on.
    pub log_results: bool,
    /// Which evaluator. Default [`EvaluatorKind::Auto`].
    pub evaluator: EvaluatorKind,
    /// The judge's base URL (`OPENAI_BASE_URL`) or the UpTrain server (`UPTRAIN_SERVER_URL`).
    pub base_url: Option<String>,
    /// Concurrency and rate limits of remote evaluators; `None` = the evaluator's own
    /// defaults (judge: 16 in flight, 100 requests and 90,000 tokens a minute; UpTrain API:
    /// 4 in flight, no rate limit).
    pub limits: Option<Limits>,
    /// Retries of remote evaluators; `None` = the evaluator's own defaults.
    pub retry: Option<RetryPolicy>,
    /// Timeouts of remote evaluators; `None` = the evaluator's own defaults (judge: 120 s per
    /// request; UpTrain API: 600 s).
    pub timeouts: Option<Timeouts>,
    /// A JSONL file that gets one line per evaluated row (appended).
    pub output_file: Option<PathBuf>,
    /// Evaluations waiting to start, at most. When the queue is full, an answer is not
    /// evaluated: it becomes a row whose error says "not evaluated: queue full" (counted in
    /// [`HandlerStats::refused`](super::HandlerStats::refused)). Default 1024.
    pub queue_capacity: usize,
    /// Rows kept for [`results`](super::UptrainHandler::results), and rows kept for the next
    /// [`flush`](super::UptrainHandler::flush): the newest `retention` of each; `0` keeps
    /// none (rows still reach the console, the file and the evaluation listeners).
    /// Default 1000.
    pub retention: usize,
    /// Time after which the state of a run that never ended is dropped. Default 15 min.
    pub run_ttl: Duration,
    /// Runs tracked at once, at most; beyond, the oldest run's state is dropped. Default
    /// 10,000.
    pub max_tracked_runs: usize,
    /// Total time one evaluation may take, every attempt and wait included; `None` = by
    /// evaluator (5 min; 11 min for the UpTrain API).
    pub evaluation_deadline: Option<Duration>,
    /// How long dropping the handler waits for unfinished evaluations before giving them up
    /// (and saying how many in the log). Default 5 s.
    pub drop_timeout: Duration,
    /// The checks run for each flow; default LangChain's ([`Flow::checks`](super::Flow::checks)).
    pub flow_checks: crate::FlowChecks,
    /// An API key variable that was present but not used (no consent).
    pub(crate) ignored_key_env: Option<&'static str>,
}

/// Defaults of the handler's own bounds.
pub(crate) mod defaults {
    use std::time::Duration;

    pub(crate) const QUEUE_CAPACITY: usize = 1024;
    pub(crate) const RETENTION: usize = 1000;
    pub(crate) const RUN_TTL: Duration = Duration::from_secs(15 * 60);
    pub(crate) const MAX_TRACKED_RUNS: usize = 10_000;
    pub(crate) const DEADLINE: Duration = Duration::from_secs(5 * 60);
    pub(crate) const API_DEADLINE: Duration = Duration::from_secs(11 * 60);
    pub(crate) const DROP_TIMEOUT: Duration = Duration::from_secs(5);
}

impl Default for UptrainConfig {
    fn default() -> Self {
        Self {
            project_name: "langchain".to_owned(),
            key_type: KeyType::OpenAi,
            api_key: None,
            model: DEFAULT_MODEL.to_owned(),
            log_results: true,
            evaluator: EvaluatorKind::Auto,
            base_url: None,
            limits: None,
            retry: None,
            timeouts: None,
            output_file: None,
            queue_capacity: defaults::QUEUE_CAPACITY,
            retention: defaults::RETENTION,
            run_ttl: defaults::RUN_TTL,
            max_tracked_runs: defaults::MAX_TRACKED_RUNS,
            evaluation_deadline: None,
            drop_timeout: defaults::DROP_TIMEOUT,
            flow_checks: crate::FlowChecks::default(),
            ignored_key_env: None,
        }
    }
}

impl fmt::Debug for UptrainConfig {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("UptrainConfig")
            .field("project_name", &self.project_name)
            .field("key_type", &self.key_type)
            .field("api_key", &self.api_key.as_ref().map(|_| "<redacted>"))
            .field("model", &self.model)
            .field("log_results", &self.log_results)
            .field("evaluator", &self.evaluator)
            .field("base_url", &self.base_url)
            .field("limits", &self.limits)
            .field("retry", &self.retry)
            .field("timeouts", &self.timeouts)
            .field("output_file", &self.output_file)
            .field("queue_capacity", &self.queue_capacity)
            .field("retention", &self.retention)
            .field("run_ttl", &self.run_ttl)
            .field("max_tracked_runs", &self.max_tracked_runs)
            .field("evaluation_deadline", &self.evaluation_deadline)
            .field("drop_timeout", &self.drop_timeout)
            .finish()
    }
}

/// Environment variables (and [`PluginConfig`] keys) the handler reads.
pub mod env {
    /// Project name prefix.
    pub const PROJECT_NAME: &str = "UPTRAIN_PROJECT_NAME";
    /// `openai` or `uptrain`.
    pub const KEY_TYPE: &str = "UPTRAIN_KEY_TYPE";
    /// `auto`, `judge`, `uptrain_api` or `offline`.
    pub const EVALUATOR: &str = "UPTRAIN_EVALUATOR";
    /// The judge model.
    pub const MODEL: &str = "UPTRAIN_MODEL";
    /// `true` or `false`.
    pub const LOG_RESULTS: &str = "UPTRAIN_LOG_RESULTS";
    /// Path of the JSONL results file.
    pub const OUTPUT_FILE: &str = "UPTRAIN_OUTPUT_FILE";
    /// Requests in flight at once.
    pub const MAX_IN_FLIGHT: &str = "UPTRAIN_MAX_IN_FLIGHT";
    /// Requests per minute; 0 = unlimited.
    pub const REQUESTS_PER_MINUTE: &str = "UPTRAIN_REQUESTS_PER_MINUTE";
    /// Estimated tokens per minute; 0 = unlimited.
    pub const TOKENS_PER_MINUTE: &str = "UPTRAIN_TOKENS_PER_MINUTE";
    /// Attempts per request, first included.
    pub const MAX_ATTEMPTS: &str = "UPTRAIN_MAX_ATTEMPTS";
    /// `true` sends judge and UpTrain API requests again after failures that may have been
    /// billed (timeouts, 5xx); off by default.
    pub const RETRY_IDEMPOTENT: &str = "UPTRAIN_RETRY_IDEMPOTENT";
    /// Total timeout per request, in seconds.
    pub const TIMEOUT_SECS: &str = "UPTRAIN_TIMEOUT_SECS";
    /// Evaluations waiting to start, at most.
    pub const QUEUE_CAPACITY: &str = "UPTRAIN_QUEUE_CAPACITY";
    /// Rows kept for `results` and for the next `flush` (0 = none).
    pub const RETENTION: &str = "UPTRAIN_RETENTION";
    /// Seconds after which an unended run's state is dropped.
    pub const RUN_TTL_SECS: &str = "UPTRAIN_RUN_TTL_SECS";
    /// Runs tracked at once, at most.
    pub const MAX_TRACKED_RUNS: &str = "UPTRAIN_MAX_TRACKED_RUNS";
    /// Total seconds one evaluation may take.
    pub const DEADLINE_SECS: &str = "UPTRAIN_DEADLINE_SECS";
    /// Seconds a drop of the handler waits for unfinished evaluations.
    pub const DROP_TIMEOUT_SECS: &str = "UPTRAIN_DROP_TIMEOUT_SECS";
}

fn seconds(
    source: &PluginConfig,
    key: &'static str,
    allow_zero: bool,
) -> Result<Option<Duration>, ConfigValueError> {
    let expected = "seconds (e.g. 30 or 0.5), or with a unit (250ms, 2m), or none";
    let wait = source
        .get_duration(key, DurationUnit::Seconds)
        .map_err(|_| invalid_value(source, key, expected))?;
    match wait {
        Some(d) if d.is_zero() && !allow_zero => {
            Err(invalid_value(source, key, "a positive number of seconds"))
        }
        other => Ok(other),
    }
}

fn parse<T: FromStr>(
    config: &PluginConfig,
    key: &'static str,
    expected: &'static str,
) -> Result<Option<T>, ConfigValueError> {
    config
        .get_number(key, expected)
        .map_err(|_| invalid_value(config, key, expected))
}

fn switch(config: &PluginConfig, key: &'static str) -> Result<Option<bool>, ConfigValueError> {
    let expected = "true or false (also 1/0, yes/no, on/off)";
    config
        .get_bool(key)
        .map_err(|_| invalid_value(config, key, expected))
}

/// The error for `key`, whose value the one typed reader of settings refused.
fn invalid_value(config: &PluginConfig, key: &'static str, expected: &str) -> ConfigValueError {
    ConfigValueError::new(key, &config.get(key).unwrap_or_default(), expected)
}

fn per_minute(value: Option<u32>, default: Option<u32>) -> Option<u32> {
    match value {
        None => default,
        Some(0) => None,
        Some(n) => Some(n),
    }
}

impl UptrainConfig {
    /// Reads the configuration from the environment (see the table in the README).
    pub fn from_env() -> Result<Self, ConfigValueError> {
        Self::from_plugin_config(&PluginConfig::from_env())
    }

    /// Reads the configuration from plugin configuration values, which fall back to the
    /// environment when the [`PluginConfig`] was made with `from_env`.
    pub fn from_plugin_config(source: &PluginConfig) -> Result<Self, ConfigValueError> {
        let mut config = Self::default();
        if let Some(project) = source.get(env::PROJECT_NAME) {
            config.project_name = project;
        }
        if let Some(key_type) = source.get(env::KEY_TYPE) {
            config.key_type = key_type.parse().map_err(|_| {
                ConfigValueError::new(env::KEY_TYPE, &key_type, "one of openai, uptrain")
            })?;
        }
        if let Some(kind) = source.get(env::EVALUATOR) {
            config.evaluator = kind.parse()?;
        }
        if let Some(model) = source.get(env::MODEL) {
            config.model = model;
        }
        if let Some(log) = switch(source, env::LOG_RESULTS)? {
            config.log_results = log;
        }
        config.output_file = source.get(env::OUTPUT_FILE).map(PathBuf::from);
        // An UpTrain key in the environment is consent to the UpTrain API (it has no other
        // use); an OpenAI key is not consent to send every answer to a judge.
        if source.get(env::KEY_TYPE).is_none() && source.get(UPTRAIN_KEY_ENV).is_some() {
            config.key_type = KeyType::Uptrain;
        }
        match config.key_type {
            KeyType::Uptrain => {
                config.api_key = source.get(UPTRAIN_KEY_ENV);
                config.base_url = source.get(UPTRAIN_URL_ENV);
            }
            KeyType::OpenAi => {
                if config.evaluator == EvaluatorKind::Judge {
                    config.api_key = source.get(API_KEY_ENV);
                } else if source.get(API_KEY_ENV).is_some() {
                    config.ignored_key_env = Some(API_KEY_ENV);
                }
                config.base_url = source.get(BASE_URL_ENV);
            }
        }
        let api = config.evaluator == EvaluatorKind::UptrainApi
            || (config.evaluator == EvaluatorKind::Auto && config.key_type == KeyType::Uptrain);
        let mut limits = if api {
            Limits::unlimited(4)
        } else {
            Limits::default()
        };
        let mut limits_set = false;
        if let Some(n) = parse::<usize>(source, env::MAX_IN_FLIGHT, "a whole number of at least 1")?
        {
            limits.max_in_flight = n;
            limits_set = true;
        }
        if let Some(rpm) = parse::<u32>(
            source,
            env::REQUESTS_PER_MINUTE,
            "a whole number (0 = unlimited)",
        )? {
            limits.requests_per_minute = per_minute(Some(rpm), None);
            limits_set = true;
        }
        if let Some(tpm) = parse::<u32>(
            source,
            env::TOKENS_PER_MINUTE,
            "a whole number (0 = unlimited)",
        )? {
            limits.tokens_per_minute = per_minute(Some(tpm), None);
            limits_set = true;
        }
        config.limits = limits_set.then_some(limits);
        let attempts = "a whole number of at least 1";
        if let Some(n) = parse::<u32>(source, env::MAX_ATTEMPTS, attempts)? {
            let retries = n
                .checked_sub(1)
                .ok_or_else(|| ConfigValueError::new(env::MAX_ATTEMPTS, "0", attempts))?;
            config.retry = Some(RetryPolicy::default().with_max_retries(retries));
        }
        if let Some(true) = switch(source, env::RETRY_IDEMPOTENT)? {
            let policy = config.retry.unwrap_or_default();
            config.retry = Some(policy.with_idempotency(Idempotency::Idempotent));
        }
        if let Some(total) = seconds(source, env::TIMEOUT_SECS, false)? {
            let base = if api {
                Timeouts::default().with_total(Duration::from_secs(600))
            } else {
                Timeouts::default()
            };
            config.timeouts = Some(base.with_total(total));
        }
        if let Some(n) =
            parse::<usize>(source, env::QUEUE_CAPACITY, "a whole number of at least 1")?
        {
            config.queue_capacity = n;
        }
        if let Some(n) = parse::<usize>(source, env::RETENTION, "a whole number (0 = none)")? {
            config.retention = n;
        }
        if let Some(ttl) = seconds(source, env::RUN_TTL_SECS, false)? {
            config.run_ttl = ttl;
        }
        if let Some(n) = parse::<usize>(
            source,
            env::MAX_TRACKED_RUNS,
            "a whole number of at least 1",
        )? {
            config.max_tracked_runs = n;
        }
        config.evaluation_deadline = seconds(source, env::DEADLINE_SECS, false)?;
        if let Some(wait) = seconds(source, env::DROP_TIMEOUT_SECS, true)? {
            config.drop_timeout = wait;
        }
        if let Some(checks) = crate::FlowChecks::read(|key| source.get(key))? {
            config.flow_checks = checks;
        }
        Ok(config)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn an_openai_key_in_the_environment_is_not_consent() {
        let present = PluginConfig::new().set(API_KEY_ENV, "sk-live");
        let config = UptrainConfig::from_plugin_config(&present).unwrap();
        assert_eq!(config.api_key, None);
        assert_eq!(config.evaluator, EvaluatorKind::Auto);
        assert_eq!(config.ignored_key_env, Some(API_KEY_ENV));

        let chosen = present.clone().set(env::EVALUATOR, "judge");
        let config = UptrainConfig::from_plugin_config(&chosen).unwrap();
        assert_eq!(config.api_key.as_deref(), Some("sk-live"));
        assert_eq!(config.ignored_key_env, None);

        let uptrain = PluginConfig::new().set(UPTRAIN_KEY_ENV, "up-key");
        let config = UptrainConfig::from_plugin_config(&uptrain).unwrap();
        assert_eq!(config.key_type, KeyType::Uptrain);
        assert_eq!(config.api_key.as_deref(), Some("up-key"));
    }

    #[test]
    fn bounds_are_read_from_the_environment() {
        let source = PluginConfig::new()
            .set(env::QUEUE_CAPACITY, "8")
            .set(env::RETENTION, "0")
            .set(env::RUN_TTL_SECS, "30")
            .set(env::MAX_TRACKED_RUNS, "100")
            .set(env::DEADLINE_SECS, "2.5")
            .set(env::DROP_TIMEOUT_SECS, "0")
            .set(env::TIMEOUT_SECS, "7");
        let config = UptrainConfig::from_plugin_config(&source).unwrap();
        assert_eq!(config.queue_capacity, 8);
        assert_eq!(config.retention, 0);
        assert_eq!(config.run_ttl, Duration::from_secs(30));
        assert_eq!(config.max_tracked_runs, 100);
        assert_eq!(
            config.evaluation_deadline,
            Some(Duration::from_millis(2500))
        );
        assert_eq!(config.drop_timeout, Duration::ZERO);
        assert_eq!(config.timeouts.unwrap().total, Duration::from_secs(7));
        assert_eq!(config.limits, None);
        assert_eq!(config.retry, None);
    }

    #[test]
    fn plugin_config_values_are_read_and_bad_ones_named() {
        let source = PluginConfig::new()
            .set(env::PROJECT_NAME, "shop")
            .set(env::KEY_TYPE, "uptrain")
            .set(UPTRAIN_KEY_ENV, "up-key")
            .set(env::REQUESTS_PER_MINUTE, "0")
            .set(env::LOG_RESULTS, "false");
        let config = UptrainConfig::from_plugin_config(&source).unwrap();
        assert_eq!(config.project_name, "shop");
        assert_eq!(config.key_type, KeyType::Uptrain);
        assert_eq!(config.api_key.as_deref(), Some("up-key"));
        // The UpTrain API's own limits, with the one override.
        let limits = config.limits.unwrap();
        assert_eq!(limits.requests_per_minute, None);
        assert_eq!(limits.max_in_flight, 4);
        assert!(!config.log_results);
        assert!(
            !format!("{config:?}").contains("up-key"),
            "the key is redacted"
        );

        let err =
            UptrainConfig::from_plugin_config(&PluginConfig::new().set(env::KEY_TYPE, "anthropic"))
                .unwrap_err();
        assert_eq!(
            err.to_string(),
            "invalid UPTRAIN_KEY_TYPE `anthropic`: expected one of openai, uptrain"
        );
        let err =
            UptrainConfig::from_plugin_config(&PluginConfig::new().set(env::MAX_ATTEMPTS, "many"))
                .unwrap_err();
        assert!(err.to_string().contains("UPTRAIN_MAX_ATTEMPTS"), "{err}");
        let err =
            UptrainConfig::from_plugin_config(&PluginConfig::new().set(env::DEADLINE_SECS, "0"))
                .unwrap_err();
        assert!(err.to_string().contains("UPTRAIN_DEADLINE_SECS"), "{err}");
        assert!(
            "nope"
                .parse::<EvaluatorKind>()
                .unwrap_err()
                .to_string()
                .contains("auto, judge, uptrain_api, offline")
        );
    }
}
