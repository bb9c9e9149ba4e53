//! Plugin configuration: explicit values, falling back to environment variables, and the
//! plugin selection they make.

use std::collections::{BTreeMap, BTreeSet};
use std::sync::{Arc, Mutex, PoisonError};

use super::{PluginError, did_you_mean};

/// The key that selects plugins.
pub const PLUGINS_KEY: &str = "LLM_CALLBACKS_PLUGINS";

/// Configuration for plugins: explicit values, falling back to environment variables.
///
/// The key `LLM_CALLBACKS_PLUGINS` selects plugins: a comma-separated list of names, or `none`;
/// unset means every registered plugin. A name that no registered plugin has is an error when
/// plugins are added, and so is an environment variable whose value is not UTF-8.
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
    /// Environment variables [`get`](PluginConfig::get) found not to be UTF-8, reported by
    /// [`build_all`](super::build_all) after each plugin's constructor.
    not_unicode: NotUnicode,
}

/// The names of variables whose value was not UTF-8; shared by clones of one configuration.
#[derive(Debug, Clone, Default)]
struct NotUnicode(Arc<Mutex<BTreeSet<String>>>);

impl NotUnicode {
    fn record(&self, key: &str) {
        self.0
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .insert(key.to_owned());
    }

    fn take(&self) -> Option<String> {
        self.0
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .pop_first()
    }
}

impl PluginConfig {
    /// Explicit values only; the environment is not read.
    pub fn new() -> Self {
        Self::default()
    }

    /// Explicit values first, then environment variables.
    pub fn from_env() -> Self {
        Self {
            read_env: true,
            ..Self::default()
        }
    }

    /// Sets a value.
    #[must_use]
    pub fn set(mut self, key: impl Into<String>, value: impl Into<String>) -> Self {
        self.values.insert(key.into(), value.into());
        self
    }

    /// The value of `key`: the explicit one, else (with [`from_env`](Self::from_env)) the
    /// environment variable; an error names a variable whose value is not UTF-8. Empty values
    /// count as unset.
    pub fn try_get(&self, key: &str) -> Result<Option<String>, PluginError> {
        let value = match self.values.get(key) {
            Some(value) => Some(value.clone()),
            None if self.read_env => match std::env::var_os(key) {
                None => None,
                Some(value) => Some(value.into_string().map_err(|_| PluginError::NotUnicode {
                    variable: key.to_owned(),
                })?),
            },
            None => None,
        };
        Ok(value.filter(|v| !v.trim().is_empty()))
    }

    /// The value of `key`, as [`try_get`](Self::try_get) finds it. A value that is not UTF-8
    /// reads as unset here, and is remembered: adding plugins then fails with
    /// [`PluginError::NotUnicode`] naming the variable, so the mistake is never silent.
    pub fn get(&self, key: &str) -> Option<String> {
        match self.try_get(key) {
            Ok(value) => value,
            Err(_) => {
                self.not_unicode.record(key);
                None
            }
        }
    }

    /// A variable that [`get`](Self::get) found not to be UTF-8 since the last call, if any.
    pub(crate) fn take_not_unicode(&self) -> Option<PluginError> {
        self.not_unicode
            .take()
            .map(|variable| PluginError::NotUnicode { variable })
    }

    /// True when the plugin `name` is selected by `LLM_CALLBACKS_PLUGINS`. A selection that
    /// cannot be read selects nothing here; [`build_all`](super::build_all) reports it.
    pub fn enables(&self, name: &str) -> bool {
        self.selection().is_ok_and(|s| s.enables(name))
    }

    /// The selection `LLM_CALLBACKS_PLUGINS` makes.
    pub(crate) fn selection(&self) -> Result<Selection, PluginError> {
        Ok(match self.try_get(PLUGINS_KEY)? {
            None => Selection::All,
            Some(list) => Selection::Named(
                list.split(',')
                    .map(str::trim)
                    .filter(|item| !item.is_empty() && !item.eq_ignore_ascii_case("none"))
                    .map(str::to_owned)
                    .collect(),
            ),
        })
    }
}

/// Which plugins a configuration selects.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum Selection {
    /// Every registered plugin.
    All,
    /// These names (none: no plugin).
    Named(Vec<String>),
}

impl Selection {
    pub(crate) fn enables(&self, name: &str) -> bool {
        match self {
            Selection::All => true,
            Selection::Named(names) => names.iter().any(|n| n.eq_ignore_ascii_case(name)),
        }
    }

    /// Fails on the first selected name that no registered plugin has.
    pub(crate) fn check_known(&self, registered: &[&'static str]) -> Result<(), PluginError> {
        let Selection::Named(names) = self else {
            return Ok(());
        };
        match names
            .iter()
            .find(|n| !registered.iter().any(|r| r.eq_ignore_ascii_case(n)))
        {
            None => Ok(()),
            Some(unknown) => Err(PluginError::UnknownPlugin {
                suggestion: did_you_mean::closest(unknown, registered.iter().copied()),
                name: unknown.clone(),
                registered: registered.to_vec(),
            }),
        }
    }
}

/// What follows "unknown plugin `name`" in the error: the suggestion and the registered names.
pub(crate) fn unknown_hint(suggestion: Option<&str>, registered: &[&str]) -> String {
    let mut hint = String::new();
    if let Some(suggestion) = suggestion {
        hint.push_str(&format!(": did you mean `{suggestion}`?"));
    }
    if registered.is_empty() {
        hint.push_str(" (no plugin is registered: enable the plugin's feature or link its crate)");
    } else {
        hint.push_str(&format!(" (registered: {})", registered.join(", ")));
    }
    hint
}
