//! The handler's configuration: from code (a builder) or from the environment.

use std::fmt;
use std::path::PathBuf;
use std::str::FromStr;
use std::time::Duration;

use handler_core::registry::PluginConfig;

use crate::config::{Limits, RetryPolicy, Timeouts};
use crate::evaluator::KeyType;
use crate::judge::{API_KEY_ENV, BASE_URL_ENV, DEFAULT_MODEL};
use crate::uptrain_api::{UPTRAIN_KEY_ENV, UPTRAIN_URL_ENV};

/// Which evaluator grades the answers.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub enum EvaluatorKind {
    /// By key type when an API key is configured; else offline (said once in the log).
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
#[derive(Clone)]
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
    /// Concurrency and rate limits of remote evaluators.
    pub limits: Limits,
    /// Retries of remote evaluators.
    pub retry: RetryPolicy,
    /// Timeouts of remote evaluators.
    pub timeouts: Timeouts,
    /// A JSONL file that gets one line per evaluated row (appended).
    pub output_file: Option<PathBuf>,
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
            limits: Limits::default(),
            retry: RetryPolicy::default(),
            timeouts: Timeouts::default(),
            output_file: None,
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
    /// Total timeout per request, in seconds.
    pub const TIMEOUT_SECS: &str = "UPTRAIN_TIMEOUT_SECS";
}

fn parse<T: FromStr>(
    config: &PluginConfig,
    key: &'static str,
    expected: &str,
) -> Result<Option<T>, ConfigValueError> {
    config
        .get(key)
        .map(|v| {
            v.trim()
                .parse::<T>()
                .map_err(|_| ConfigValueError::new(key, &v, expected))
        })
        .transpose()
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
        if let Some(log) = parse::<bool>(source, env::LOG_RESULTS, "true or false")? {
            config.log_results = log;
        }
        config.output_file = source.get(env::OUTPUT_FILE).map(PathBuf::from);
        let (key_env, url_env) = match config.key_type {
            KeyType::OpenAi => (API_KEY_ENV, BASE_URL_ENV),
            KeyType::Uptrain => (UPTRAIN_KEY_ENV, UPTRAIN_URL_ENV),
        };
        config.api_key = source.get(key_env);
        config.base_url = source.get(url_env);
        if let Some(n) = parse::<usize>(source, env::MAX_IN_FLIGHT, "a whole number of at least 1")?
        {
            config.limits.max_in_flight = n;
        }
        let rpm = parse::<u32>(
            source,
            env::REQUESTS_PER_MINUTE,
            "a whole number (0 = unlimited)",
        )?;
        config.limits.requests_per_minute = per_minute(rpm, config.limits.requests_per_minute);
        let tpm = parse::<u32>(
            source,
            env::TOKENS_PER_MINUTE,
            "a whole number (0 = unlimited)",
        )?;
        config.limits.tokens_per_minute = per_minute(tpm, config.limits.tokens_per_minute);
        if let Some(n) = parse::<u32>(source, env::MAX_ATTEMPTS, "a whole number of at least 1")? {
            config.retry.max_attempts = n;
        }
        if let Some(secs) = parse::<f64>(source, env::TIMEOUT_SECS, "seconds, e.g. 30")? {
            config.timeouts.total = Duration::try_from_secs_f64(secs).map_err(|_| {
                ConfigValueError::new(
                    env::TIMEOUT_SECS,
                    &secs.to_string(),
                    "a positive number of seconds",
                )
            })?;
        }
        Ok(config)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

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
        assert_eq!(config.limits.requests_per_minute, None);
        assert_eq!(config.limits.tokens_per_minute, Some(90_000));
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
        assert!(
            "nope"
                .parse::<EvaluatorKind>()
                .unwrap_err()
                .to_string()
                .contains("auto, judge, uptrain_api, offline")
        );
    }
}
