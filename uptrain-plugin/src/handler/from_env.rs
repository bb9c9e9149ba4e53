//! Reading the handler's configuration from plugin configuration values or the environment:
//! every variable of [`env`], each bad value named in its error.

use std::path::PathBuf;
use std::str::FromStr;
use std::time::Duration;

use handler_core::registry::{DurationUnit, PluginConfig};
use llm_callbacks_transport::Idempotency;

use super::config::{EvaluatorKind, InvalidSetting, ResultsLog, UptrainConfig, WhenFull};
use crate::config::{Limits, RetryPolicy, Timeouts};
use crate::evaluator::KeyType;
use crate::{defaults, env};

fn seconds(
    source: &PluginConfig,
    key: &'static str,
    allow_zero: bool,
) -> Result<Option<Duration>, InvalidSetting> {
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

/// A switch: `1`, `true`, `yes`, `on` or `0`, `false`, `no`, `off` (any case), as the one
/// typed reader of settings reads every switch.
fn switch(source: &PluginConfig, key: &'static str) -> Result<Option<bool>, InvalidSetting> {
    source
        .get_bool(key)
        .map_err(|_| invalid_value(source, key, "1, true, yes, on or 0, false, no, off"))
}

fn parse<T: FromStr>(
    config: &PluginConfig,
    key: &'static str,
    expected: &'static str,
) -> Result<Option<T>, InvalidSetting> {
    config
        .get_number(key, expected)
        .map_err(|_| invalid_value(config, key, expected))
}

/// The error for `key`, whose value the one typed reader of settings refused.
fn invalid_value(config: &PluginConfig, key: &'static str, expected: &str) -> InvalidSetting {
    InvalidSetting::new(key, &config.get(key).unwrap_or_default(), expected)
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
    pub fn from_env() -> Result<Self, InvalidSetting> {
        Self::from_plugin_config(&PluginConfig::from_env())
    }

    /// Reads the configuration from plugin configuration values, which fall back to the
    /// environment when the [`PluginConfig`] was made with `from_env`.
    pub fn from_plugin_config(source: &PluginConfig) -> Result<Self, InvalidSetting> {
        let mut config = Self::default();
        if let Some(project) = source.get(env::PROJECT_NAME) {
            config.project_name = project;
        }
        if let Some(key_type) = source.get(env::KEY_TYPE) {
            config.key_type = key_type.parse().map_err(|_| {
                InvalidSetting::new(env::KEY_TYPE, &key_type, "one of openai, uptrain")
            })?;
        }
        if let Some(kind) = source.get(env::EVALUATOR) {
            config.evaluator = kind.parse()?;
        }
        if let Some(model) = source.get(env::MODEL) {
            config.model = model;
        }
        let tracing = source
            .get(env::LOG_RESULTS)
            .is_some_and(|v| v.trim().eq_ignore_ascii_case("tracing"));
        if tracing {
            config.results_log = ResultsLog::Tracing;
        } else if let Some(log) = switch(source, env::LOG_RESULTS).map_err(|e| InvalidSetting {
            expected: format!("{} or tracing", e.expected),
            ..e
        })? {
            config.log_results = log;
        }
        config.output_file = source.get(env::OUTPUT_FILE).map(PathBuf::from);
        // An UpTrain key in the environment is consent to the UpTrain API (it has no other
        // use); an OpenAI key is not consent to send every answer to a judge.
        if source.get(env::KEY_TYPE).is_none() && source.get(env::UPTRAIN_API_KEY).is_some() {
            config.key_type = KeyType::Uptrain;
        }
        match config.key_type {
            KeyType::Uptrain => {
                config.api_key = source.get(env::UPTRAIN_API_KEY);
                config.base_url = source.get(env::UPTRAIN_SERVER_URL);
            }
            KeyType::OpenAi => {
                if config.evaluator == EvaluatorKind::Judge {
                    config.api_key = source.get(env::OPENAI_API_KEY);
                } else if source.get(env::OPENAI_API_KEY).is_some() {
                    config.ignored_key_env = Some(env::OPENAI_API_KEY);
                }
                config.base_url = source.get(env::OPENAI_BASE_URL);
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
                .ok_or_else(|| InvalidSetting::new(env::MAX_ATTEMPTS, "0", attempts))?;
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
        if let Some(n) = parse::<usize>(source, env::PENDING_BYTES, "a whole number of bytes")? {
            config.pending_bytes = n;
        }
        if let Some(mode) = source.get(env::WHEN_FULL) {
            config.when_full = mode.parse()?;
        }
        let wait = match source.get(env::WAIT_FOR_ROOM_SECS) {
            Some(v) if v.trim().eq_ignore_ascii_case("forever") => Some(Duration::MAX),
            Some(_) => seconds(source, env::WAIT_FOR_ROOM_SECS, true)?,
            None => None,
        };
        match (config.when_full, wait) {
            (WhenFull::Wait(_), Some(wait)) => config.when_full = WhenFull::Wait(wait),
            (WhenFull::Wait(_), None) => config.when_full = WhenFull::Wait(defaults::WAIT_FOR_ROOM),
            (WhenFull::Refuse, Some(_)) => {
                return Err(InvalidSetting::new(
                    env::WAIT_FOR_ROOM_SECS,
                    &source.get(env::WAIT_FOR_ROOM_SECS).unwrap_or_default(),
                    "UPTRAIN_WHEN_FULL=wait with it (the queue refuses by default)",
                ));
            }
            (WhenFull::Refuse, None) => {}
        }
        if let Some(n) =
            parse::<usize>(source, env::QUEUE_CAPACITY, "a whole number of at least 1")?
        {
            config.queue_capacity = Some(n);
        }
        if let Some(n) = parse::<usize>(
            source,
            env::KEPT_BYTES,
            "a whole number of bytes (0 = none)",
        )? {
            config.kept_bytes = n;
        }
        if let Some(n) = parse::<usize>(source, env::RETENTION, "a whole number (0 = none)")? {
            config.retention = Some(n);
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
        let present = PluginConfig::new().set(env::OPENAI_API_KEY, "sk-live");
        let config = UptrainConfig::from_plugin_config(&present).unwrap();
        assert_eq!(config.api_key, None);
        assert_eq!(config.evaluator, EvaluatorKind::Auto);
        assert_eq!(config.ignored_key_env, Some(env::OPENAI_API_KEY));

        let chosen = present.clone().set(env::EVALUATOR, "judge");
        let config = UptrainConfig::from_plugin_config(&chosen).unwrap();
        assert_eq!(config.api_key.as_deref(), Some("sk-live"));
        assert_eq!(config.ignored_key_env, None);

        let uptrain = PluginConfig::new().set(env::UPTRAIN_API_KEY, "up-key");
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
        assert_eq!(config.queue_capacity, Some(8));
        assert_eq!(config.retention, Some(0));
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
            .set(env::UPTRAIN_API_KEY, "up-key")
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

    #[test]
    fn log_results_accepts_the_usual_switches_and_names_the_variable_otherwise() {
        for (value, on) in [
            ("1", true),
            ("true", true),
            ("YES", true),
            (" on ", true),
            ("0", false),
            ("false", false),
            ("No", false),
            ("off", false),
        ] {
            let config = UptrainConfig::from_plugin_config(
                &PluginConfig::new().set(env::LOG_RESULTS, value),
            )
            .unwrap();
            assert_eq!(config.log_results, on, "{value}");
            assert_eq!(config.results_log, ResultsLog::Console, "{value}");
        }
        let config = UptrainConfig::from_plugin_config(
            &PluginConfig::new().set(env::LOG_RESULTS, "tracing"),
        )
        .unwrap();
        assert!(config.log_results);
        assert_eq!(config.results_log, ResultsLog::Tracing);
        let err =
            UptrainConfig::from_plugin_config(&PluginConfig::new().set(env::LOG_RESULTS, "maybe"))
                .unwrap_err();
        assert_eq!(
            err.to_string(),
            "invalid UPTRAIN_LOG_RESULTS `maybe`: expected 1, true, yes, on or 0, false, no, off \
             or tracing"
        );
    }

    #[test]
    fn memory_bounds_and_the_choice_when_full_are_read_from_the_environment() {
        let source = PluginConfig::new()
            .set(env::PENDING_BYTES, "1048576")
            .set(env::KEPT_BYTES, "0")
            .set(env::WHEN_FULL, "wait")
            .set(env::WAIT_FOR_ROOM_SECS, "2.5");
        let config = UptrainConfig::from_plugin_config(&source).unwrap();
        assert_eq!(config.pending_bytes, 1 << 20);
        assert_eq!(config.kept_bytes, 0);
        assert_eq!(
            config.when_full,
            WhenFull::Wait(Duration::from_millis(2500))
        );

        let forever = PluginConfig::new()
            .set(env::WHEN_FULL, "Wait")
            .set(env::WAIT_FOR_ROOM_SECS, "forever");
        let config = UptrainConfig::from_plugin_config(&forever).unwrap();
        assert_eq!(config.when_full, WhenFull::Wait(Duration::MAX));
        let config =
            UptrainConfig::from_plugin_config(&PluginConfig::new().set(env::WHEN_FULL, "wait"))
                .unwrap();
        assert_eq!(config.when_full, WhenFull::Wait(Duration::MAX));

        for (key, value, named) in [
            (env::WHEN_FULL, "block", "UPTRAIN_WHEN_FULL"),
            (env::PENDING_BYTES, "lots", "UPTRAIN_PENDING_BYTES"),
            (env::WAIT_FOR_ROOM_SECS, "5", "UPTRAIN_WAIT_FOR_ROOM_SECS"),
        ] {
            let err = UptrainConfig::from_plugin_config(&PluginConfig::new().set(key, value))
                .unwrap_err();
            assert!(err.to_string().contains(named), "{err}");
        }
    }
}
