//! Registration with the core's plugin registry: with the facade's `otel` feature,
//! `add_plugins` finds the exporter. Without an endpoint configured it builds nothing, so
//! nothing leaves the process unless asked.

use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};

use handler_core::manager::SharedHandler;
use handler_core::registry::{PluginConfig, PluginError};

use crate::config::OtelConfig;
use crate::handler::OtelHandler;

/// The plugin's name in the registry.
pub const PLUGIN_NAME: &str = "otel";

static SAID_OFF: AtomicBool = AtomicBool::new(false);

fn build(config: &PluginConfig) -> Result<Option<SharedHandler>, PluginError> {
    let config = OtelConfig::from_plugin_config(config).map_err(PluginError::invalid)?;
    if config.traces_endpoint.is_none() {
        if !SAID_OFF.swap(true, Ordering::Relaxed) {
            tracing::info!(
                "OpenTelemetry export is off: set OTEL_EXPORTER_OTLP_ENDPOINT (or PHOENIX_COLLECTOR_ENDPOINT) to export runs"
            );
        }
        return Ok(None);
    }
    let handler = OtelHandler::builder()
        .config(config)
        .build()
        .map_err(PluginError::invalid)?;
    Ok(Some(SharedHandler::from_sync(Arc::new(handler))))
}

handler_core::register_plugin! {
    name: PLUGIN_NAME,
    description: "Exports runs as OpenTelemetry spans and evaluations as gen_ai.evaluation.result events (and Phoenix annotations)",
    build: build,
}
