//! The handler's settings are read by the one typed reader of configuration: every switch
//! takes the same spellings, durations take units, and errors name the variable.
#![allow(clippy::unwrap_used)] // tests fail loudly

use std::time::Duration;

use handler_core::registry::PluginConfig;
use uptrain_plugin::{Idempotency, UptrainConfig, env};

fn read(pairs: &[(&str, &str)]) -> Result<UptrainConfig, uptrain_plugin::InvalidSetting> {
    let source = pairs
        .iter()
        .fold(PluginConfig::new(), |config, (key, value)| {
            config.set(*key, *value)
        });
    UptrainConfig::from_plugin_config(&source)
}

#[test]
fn switches_take_every_spelling() {
    let cases = [
        ("1", false, true),
        ("0", true, false),
        ("true", false, true),
        ("FALSE", true, false),
        ("yes", false, true),
        ("no", true, false),
        ("On", false, true),
        ("off", true, false),
    ];
    for (text, idempotent, logs) in cases {
        let config = read(&[(env::LOG_RESULTS, text)]).unwrap();
        assert_eq!(config.log_results, logs, "{text}");
        let value = if idempotent { "yes" } else { "no" };
        let config = read(&[(env::RETRY_IDEMPOTENT, value)]).unwrap();
        let expected = idempotent.then_some(Idempotency::Idempotent);
        assert_eq!(config.retry.map(|r| r.idempotency), expected, "{value}");
    }
}

#[test]
fn attempts_count_the_first_and_combine_with_the_opt_in() {
    let config = read(&[(env::MAX_ATTEMPTS, "3"), (env::RETRY_IDEMPOTENT, "on")]).unwrap();
    let retry = config.retry.unwrap();
    assert_eq!(retry.max_retries, 2);
    assert_eq!(retry.idempotency, Idempotency::Idempotent);
    let config = read(&[(env::MAX_ATTEMPTS, "1")]).unwrap();
    let retry = config.retry.unwrap();
    assert_eq!(retry.max_retries, 0);
    assert_eq!(retry.idempotency, Idempotency::NonIdempotent);
}

#[test]
fn durations_take_units_and_bad_values_name_their_variable() {
    let config = read(&[(env::DEADLINE_SECS, "250ms"), (env::RUN_TTL_SECS, "2m")]).unwrap();
    assert_eq!(config.evaluation_deadline, Some(Duration::from_millis(250)));
    assert_eq!(config.run_ttl, Duration::from_secs(120));
    let bad = [
        (env::LOG_RESULTS, "maybe"),
        (env::RETRY_IDEMPOTENT, "2"),
        (env::MAX_ATTEMPTS, "0"),
        (env::MAX_ATTEMPTS, "many"),
        (env::TIMEOUT_SECS, "soon"),
        (env::DEADLINE_SECS, "0"),
        (env::QUEUE_CAPACITY, "-1"),
    ];
    for (key, value) in bad {
        let error = read(&[(key, value)]).unwrap_err().to_string();
        assert!(error.contains(key), "{error}");
        assert!(error.contains(value), "{error}");
    }
}
