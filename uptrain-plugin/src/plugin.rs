//! Registration with the core's plugin registry, so that a pipeline built with the facade's
//! `uptrain` feature finds the handler without naming it.
//!
//! A handler built this way logs its rows to the `tracing` log (scores and grading cost only),
//! not to standard output, unless `UPTRAIN_LOG_RESULTS` says otherwise: a service that merely
//! turned the feature on does not get every question and answer on its stdout.

use std::sync::Arc;

use handler_core::manager::SharedHandler;
use handler_core::registry::{PluginConfig, PluginError};

use crate::env;
use crate::handler::{ResultsLog, UptrainConfig, UptrainHandler};

/// The plugin's name in the registry.
pub const PLUGIN_NAME: &str = "uptrain";

/// The handler's configuration from plugin configuration (explicit values, then the
/// environment), with results going to the `tracing` log unless `UPTRAIN_LOG_RESULTS` is set.
fn discovered_config(source: &PluginConfig) -> Result<UptrainConfig, PluginError> {
    let mut config = UptrainConfig::from_plugin_config(source).map_err(PluginError::invalid)?;
    if source.get(env::LOG_RESULTS).is_none() {
        config.results_log = ResultsLog::Tracing;
    }
    Ok(config)
}

/// Builds the handler from plugin configuration.
fn build(source: &PluginConfig) -> Result<Option<SharedHandler>, PluginError> {
    let handler = UptrainHandler::builder()
        .config(discovered_config(source)?)
        .build()
        .map_err(PluginError::invalid)?;
    Ok(Some(SharedHandler::from_sync(Arc::new(handler))))
}

handler_core::register_plugin! {
    name: PLUGIN_NAME,
    description: "Grades RAG, multi-query and contextual-compression answers with UpTrain's checks",
    build: build,
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn discovery_logs_to_tracing_unless_told_otherwise() {
        let config = discovered_config(&PluginConfig::new()).unwrap();
        assert!(config.log_results);
        assert_eq!(config.results_log, ResultsLog::Tracing);

        for (value, on) in [("1", true), ("yes", true), ("off", false)] {
            let source = PluginConfig::new().set(env::LOG_RESULTS, value);
            let config = discovered_config(&source).unwrap();
            assert_eq!(config.log_results, on, "{value}");
            assert_eq!(config.results_log, ResultsLog::Console, "{value}");
        }
        let source = PluginConfig::new().set(env::LOG_RESULTS, "sometimes");
        let err = discovered_config(&source).err().map(|e| e.to_string());
        assert!(
            err.as_deref()
                .is_some_and(|e| e.contains("UPTRAIN_LOG_RESULTS")),
            "{err:?}"
        );
    }
}
