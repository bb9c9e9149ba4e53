//! The plugin registry: plugins register a descriptor with `inventory`, and one call adds every
//! registered and configured plugin to a manager.
//!
//! A plugin crate submits a [`Plugin`]:
//!
//! ```
//! use std::sync::Arc;
//! use handler_core::{CallbackHandler, SharedHandler};
//! use handler_core::registry::{Plugin, PluginConfig, PluginError};
//!
//! struct Audit;
//! impl CallbackHandler for Audit {}
//!
//! fn build(_config: &PluginConfig) -> Result<Option<SharedHandler>, PluginError> {
//!     Ok(Some(SharedHandler::from_sync(Arc::new(Audit))))
//! }
//!
//! handler_core::__private::inventory::submit! {
//!     Plugin { name: "audit", description: "Logs every run for audit", build }
//! }
//!
//! # fn main() {
//! assert!(handler_core::registry::plugins().iter().any(|p| p.name == "audit"));
//! # }
//! ```
//!
//! The linker only keeps a plugin's registration when the plugin crate is linked: depend on it
//! through a facade feature (which names the crate), or name it yourself (`use my_plugin as _;`).
//! On platforms without constructor sections nothing registers: add the handler explicitly there.

use std::collections::BTreeMap;
use std::fmt;

use thiserror::Error;

use crate::error::CallbackError;
use crate::manager::{AsyncCallbackManager, CallbackManager, SharedHandler};

/// The descriptor a plugin registers: a name, a description, and a constructor.
pub struct Plugin {
    /// The plugin's name, e.g. `"uptrain"`.
    pub name: &'static str,
    /// One line saying what it does.
    pub description: &'static str,
    /// Builds the plugin's handler from configuration; `Ok(None)` when the configuration turns
    /// it off.
    pub build: fn(&PluginConfig) -> Result<Option<SharedHandler>, PluginError>,
}

impl fmt::Debug for Plugin {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Plugin")
            .field("name", &self.name)
            .field("description", &self.description)
            .finish_non_exhaustive()
    }
}

inventory::collect!(Plugin);

/// Every registered plugin, sorted by name.
pub fn plugins() -> Vec<&'static Plugin> {
    let mut all: Vec<&'static Plugin> = inventory::iter::<Plugin>.into_iter().collect();
    all.sort_by_key(|p| p.name);
    all
}

/// The registered plugin with this name.
pub fn find(name: &str) -> Option<&'static Plugin> {
    inventory::iter::<Plugin>
        .into_iter()
        .find(|p| p.name == name)
}

/// Configuration for plugins: explicit values, falling back to environment variables.
///
/// The key `LLM_CALLBACKS_PLUGINS` selects plugins: a comma-separated list of names, or `none`;
/// unset means every registered plugin.
///
/// ```
/// use handler_core::registry::PluginConfig;
///
/// let config = PluginConfig::new().set("UPTRAIN_PROJECT", "demo");
/// assert_eq!(config.get("UPTRAIN_PROJECT").as_deref(), Some("demo"));
/// assert_eq!(config.get("NOT_SET_ANYWHERE_42"), None);
/// assert!(config.enables("uptrain"));
/// assert!(!PluginConfig::new().set("LLM_CALLBACKS_PLUGINS", "none").enables("uptrain"));
/// ```
#[derive(Debug, Clone, Default)]
pub struct PluginConfig {
    values: BTreeMap<String, String>,
    read_env: bool,
}

/// The key that selects plugins.
pub const PLUGINS_KEY: &str = "LLM_CALLBACKS_PLUGINS";

impl PluginConfig {
    /// Explicit values only; the environment is not read.
    pub fn new() -> Self {
        Self::default()
    }

    /// Explicit values first, then environment variables.
    pub fn from_env() -> Self {
        Self {
            values: BTreeMap::new(),
            read_env: true,
        }
    }

    /// Sets a value.
    #[must_use]
    pub fn set(mut self, key: impl Into<String>, value: impl Into<String>) -> Self {
        self.values.insert(key.into(), value.into());
        self
    }

    /// The value of `key`: the explicit one, else (with [`from_env`](Self::from_env)) the
    /// environment variable. Empty values count as unset.
    pub fn get(&self, key: &str) -> Option<String> {
        self.values
            .get(key)
            .cloned()
            .or_else(|| self.read_env.then(|| std::env::var(key).ok()).flatten())
            .filter(|v| !v.trim().is_empty())
    }

    /// True when the plugin `name` is selected by `LLM_CALLBACKS_PLUGINS`.
    pub fn enables(&self, name: &str) -> bool {
        match self.get(PLUGINS_KEY) {
            None => true,
            Some(list) => list
                .split(',')
                .map(str::trim)
                .any(|item| item.eq_ignore_ascii_case(name)),
        }
    }
}

/// Why plugins could not be added.
#[derive(Debug, Error)]
pub enum PluginError {
    /// A plugin's constructor failed, e.g. on invalid configuration.
    #[error("plugin `{plugin}`: {message}")]
    Build {
        /// The plugin's name.
        plugin: &'static str,
        /// What went wrong.
        message: String,
    },
    /// The manager refused the plugin's handler.
    #[error("plugin `{plugin}`: {source}")]
    Manager {
        /// The plugin's name.
        plugin: &'static str,
        /// The manager's error.
        source: CallbackError,
    },
}

impl PluginError {
    /// A constructor error with this message; the registry fills in the plugin's name.
    pub fn invalid(message: impl fmt::Display) -> Self {
        PluginError::Build {
            plugin: "",
            message: message.to_string(),
        }
    }

    fn named(self, name: &'static str) -> Self {
        match self {
            PluginError::Build { message, .. } => PluginError::Build {
                plugin: name,
                message,
            },
            PluginError::Manager { source, .. } => PluginError::Manager {
                plugin: name,
                source,
            },
        }
    }
}

/// Builds every registered plugin that `config` enables, in name order, skipping those whose
/// constructor returns `None`.
pub fn build_all(config: &PluginConfig) -> Result<Vec<(&'static str, SharedHandler)>, PluginError> {
    let mut built = Vec::new();
    for plugin in plugins() {
        if !config.enables(plugin.name) {
            continue;
        }
        if let Some(handler) = (plugin.build)(config).map_err(|e| e.named(plugin.name))? {
            tracing::debug!(plugin = plugin.name, "plugin enabled");
            built.push((plugin.name, handler));
        }
    }
    Ok(built)
}

impl CallbackManager {
    /// Adds every registered and enabled plugin as an inheritable handler; returns their names.
    /// Fails on a plugin whose configuration is invalid, or whose handler is asynchronous.
    pub fn add_plugins(&mut self, config: &PluginConfig) -> Result<Vec<&'static str>, PluginError> {
        let mut names = Vec::new();
        for (name, handler) in build_all(config)? {
            self.add_shared_handler(handler)
                .map_err(|source| PluginError::Manager {
                    plugin: name,
                    source,
                })?;
            names.push(name);
        }
        Ok(names)
    }
}

impl AsyncCallbackManager {
    /// Adds every registered and enabled plugin as an inheritable handler; returns their names.
    pub fn add_plugins(&mut self, config: &PluginConfig) -> Result<Vec<&'static str>, PluginError> {
        let mut names = Vec::new();
        for (name, handler) in build_all(config)? {
            self.add_shared_handler(handler);
            names.push(name);
        }
        Ok(names)
    }
}
