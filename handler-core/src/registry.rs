//! The plugin registry: plugins register a descriptor with [`register_plugin!`](crate::register_plugin), and one call
//! adds every registered and configured plugin to a manager.
//!
//! A plugin crate registers its constructor:
//!
//! ```
//! use std::sync::Arc;
//! use handler_core::{CallbackHandler};
//! use handler_core::manager::SharedHandler;
//! use handler_core::registry::{PluginConfig, PluginError};
//!
//! struct Audit;
//! impl CallbackHandler for Audit {}
//!
//! fn build(_config: &PluginConfig) -> Result<Option<SharedHandler>, PluginError> {
//!     Ok(Some(SharedHandler::from_sync(Arc::new(Audit))))
//! }
//!
//! handler_core::register_plugin! {
//!     name: "audit",
//!     description: "Logs every run for audit",
//!     build: build,
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
//!
//! Configuration mistakes are errors: a name in `LLM_CALLBACKS_PLUGINS` that no plugin has
//! ([`PluginError::UnknownPlugin`], with the closest registered name), and an environment
//! variable whose value is not UTF-8 ([`PluginError::NotUnicode`]).

mod config;
mod did_you_mean;
mod values;

use std::fmt;

use thiserror::Error;

use crate::error::CallbackError;
use crate::manager::{DispatchMode, Manager, SharedHandler};

pub use config::{PLUGINS_KEY, PluginConfig};
pub use values::DurationUnit;

/// What a plugin's constructor does: builds its handler from configuration; `Ok(None)` when the
/// configuration turns it off.
pub type BuildFn = fn(&PluginConfig) -> Result<Option<SharedHandler>, PluginError>;

/// The descriptor a plugin registers: a name, a description, and a constructor. Made by
/// [`register_plugin!`](crate::register_plugin) (or [`Plugin::new`]).
#[non_exhaustive]
pub struct Plugin {
    /// The plugin's name, e.g. `"uptrain"`.
    pub name: &'static str,
    /// One line saying what it does.
    pub description: &'static str,
    /// Builds the plugin's handler from configuration; `Ok(None)` when the configuration turns
    /// it off.
    pub build: BuildFn,
}

impl Plugin {
    /// A descriptor; usable in the constant [`register_plugin!`](crate::register_plugin) submits.
    pub const fn new(name: &'static str, description: &'static str, build: BuildFn) -> Self {
        Self {
            name,
            description,
            build,
        }
    }
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

/// Registers a plugin, so that [`Manager::add_plugins`](crate::manager::Manager::add_plugins) finds it without the
/// application naming it. Use it once per plugin, at the top level of the plugin's crate; the
/// crate needs no dependency on `inventory`.
///
/// ```
/// use std::sync::Arc;
/// use handler_core::{CallbackHandler};
/// use handler_core::manager::SharedHandler;
/// use handler_core::registry::{PluginConfig, PluginError};
///
/// struct Quiet;
/// impl CallbackHandler for Quiet {}
///
/// handler_core::register_plugin! {
///     name: "quiet",
///     description: "Does nothing, unless QUIET_ENABLED is set",
///     build: |config: &PluginConfig| -> Result<Option<SharedHandler>, PluginError> {
///         Ok(config.get("QUIET_ENABLED").map(|_| SharedHandler::from_sync(Arc::new(Quiet))))
///     },
/// }
///
/// # fn main() {
/// let quiet = handler_core::registry::find("quiet").map(|p| p.description);
/// assert_eq!(quiet, Some("Does nothing, unless QUIET_ENABLED is set"));
/// # }
/// ```
#[macro_export]
macro_rules! register_plugin {
    (name: $name:expr, description: $description:expr, build: $build:expr $(,)?) => {
        $crate::__private::inventory::submit! {
            $crate::registry::Plugin::new($name, $description, $build)
        }
    };
}

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

/// Why plugins could not be added.
#[derive(Debug, Error)]
#[non_exhaustive]
pub enum PluginError {
    /// A plugin's constructor failed, e.g. on invalid configuration.
    #[error("plugin `{plugin}`: {source}")]
    Build {
        /// The plugin's name.
        plugin: &'static str,
        /// What went wrong, as the constructor reported it.
        source: Box<dyn std::error::Error + Send + Sync + 'static>,
    },
    /// The manager refused the plugin's handler.
    #[error("plugin `{plugin}`: {source}")]
    Manager {
        /// The plugin's name.
        plugin: &'static str,
        /// The manager's error.
        source: CallbackError,
    },
    /// `LLM_CALLBACKS_PLUGINS` names a plugin that is not registered.
    #[error(
        "unknown plugin `{name}` in {key}{hint}",
        key = PLUGINS_KEY,
        hint = config::unknown_hint(*.suggestion, .registered)
    )]
    UnknownPlugin {
        /// The name as written.
        name: String,
        /// The registered name closest to it, when it looks like a typo.
        suggestion: Option<&'static str>,
        /// Every registered plugin's name.
        registered: Vec<&'static str>,
    },
    /// An environment variable's value is not UTF-8.
    #[error("environment variable `{variable}` is not valid UTF-8")]
    NotUnicode {
        /// The variable's name.
        variable: String,
    },
    /// A setting's value is not of the expected form (the value itself is not repeated: it may
    /// be a secret).
    #[error("`{variable}` must be {expected}")]
    InvalidValue {
        /// The setting's name.
        variable: String,
        /// What it must be, e.g. "true or false (also 1/0, yes/no, on/off)".
        expected: &'static str,
    },
}

impl PluginError {
    /// A constructor error: the constructor's own error (kept as the [`source`]) or a message;
    /// the registry fills in the plugin's name.
    ///
    /// [`source`]: std::error::Error::source
    pub fn invalid(error: impl Into<Box<dyn std::error::Error + Send + Sync + 'static>>) -> Self {
        PluginError::Build {
            plugin: "",
            source: error.into(),
        }
    }

    fn named(self, name: &'static str) -> Self {
        match self {
            PluginError::Build { source, .. } => PluginError::Build {
                plugin: name,
                source,
            },
            PluginError::Manager { source, .. } => PluginError::Manager {
                plugin: name,
                source,
            },
            other => other,
        }
    }
}

/// Builds every registered plugin that `config` enables, in name order, skipping those whose
/// constructor returns `None`. Fails on a selected name that no plugin has, on a variable that
/// is not UTF-8, and on the first constructor that fails.
pub fn build_all(config: &PluginConfig) -> Result<Vec<(&'static str, SharedHandler)>, PluginError> {
    let registered = plugins();
    let selection = config.selection()?;
    let names: Vec<&'static str> = registered.iter().map(|p| p.name).collect();
    selection.check_known(&names)?;
    let mut built = Vec::new();
    for plugin in registered {
        if !selection.enables(plugin.name) {
            continue;
        }
        let handler = (plugin.build)(config);
        if let Some(error) = config.take_not_unicode() {
            return Err(error);
        }
        if let Some(handler) = handler.map_err(|e| e.named(plugin.name))? {
            tracing::debug!(plugin = plugin.name, "plugin enabled");
            built.push((plugin.name, handler));
        }
    }
    Ok(built)
}

impl<D: DispatchMode> Manager<D> {
    /// Adds every registered and enabled plugin as an inheritable handler; returns their names.
    /// Fails on a plugin whose configuration is invalid, or (in the sync manager) whose handler
    /// is asynchronous.
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
