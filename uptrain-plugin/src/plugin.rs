//! Registration with the core's plugin registry, so that a pipeline built with the facade's
//! `uptrain` feature finds the handler without naming it.

use std::sync::Arc;

use handler_core::SharedHandler;
use handler_core::registry::{PluginConfig, PluginError};

use crate::handler::{UptrainConfig, UptrainHandler};

/// The plugin's name in the registry.
pub const PLUGIN_NAME: &str = "uptrain";

/// Builds the handler from plugin configuration (explicit values, then the environment).
fn build(config: &PluginConfig) -> Result<Option<SharedHandler>, PluginError> {
    let config = UptrainConfig::from_plugin_config(config).map_err(PluginError::invalid)?;
    let handler = UptrainHandler::builder()
        .config(config)
        .build()
        .map_err(PluginError::invalid)?;
    Ok(Some(SharedHandler::from_sync(Arc::new(handler))))
}

handler_core::register_plugin! {
    name: PLUGIN_NAME,
    description: "Grades RAG, multi-query and contextual-compression answers with UpTrain's checks",
    build: build,
}
