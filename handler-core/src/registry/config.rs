//! Plugin configuration: explicit values, falling back to environment variables, and the
//! plugin selection they make.

use std::collections::{BTreeMap, BTreeSet};
use std::str::FromStr;
use std::sync::{Arc, Mutex, PoisonError};
use std::time::Duration;

use super::values::{self, DurationUnit};
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

    /// The value of `key` as a boolean: `true`, `1`, `yes`, `on` or `false`, `0`, `no`, `off`
    /// (any case). Every plugin reads its switches here, so they accept the same spellings.
    ///
    /// ```
    /// use handler_core::registry::PluginConfig;
    ///
    /// let config = PluginConfig::new().set("A", "1").set("B", "Off").set("C", "maybe");
    /// assert_eq!(config.get_bool("A")?, Some(true));
    /// assert_eq!(config.get_bool("B")?, Some(false));
    /// assert_eq!(config.get_bool("UNSET")?, None);
    /// assert_eq!(
    ///     config.get_bool("C").unwrap_err().to_string(),
    ///     "`C` must be true or false (also 1/0, yes/no, on/off)"
    /// );
    /// # Ok::<(), handler_core::registry::PluginError>(())
    /// ```
    pub fn get_bool(&self, key: &str) -> Result<Option<bool>, PluginError> {
        self.get_typed(
            key,
            "true or false (also 1/0, yes/no, on/off)",
            values::parse_bool,
        )
    }

    /// The value of `key` as a number of type `T`; `expected` says what it must be in the error
    /// (e.g. "a whole number of at least 1").
    ///
    /// ```
    /// use handler_core::registry::PluginConfig;
    ///
    /// let config = PluginConfig::new().set("N", " 8 ").set("BAD", "-1");
    /// assert_eq!(config.get_number::<usize>("N", "a whole number")?, Some(8));
    /// assert!(config.get_number::<usize>("BAD", "a whole number").is_err());
    /// # Ok::<(), handler_core::registry::PluginError>(())
    /// ```
    pub fn get_number<T: FromStr>(
        &self,
        key: &str,
        expected: &'static str,
    ) -> Result<Option<T>, PluginError> {
        self.get_typed(key, expected, values::parse_number)
    }

    /// The value of `key` as a duration: a number with an optional unit (`250ms`, `1.5s`, `2m`,
    /// `1h`), a bare number being in `unit`, or `none` for no limit ([`Duration::MAX`]).
    ///
    /// ```
    /// use std::time::Duration;
    /// use handler_core::registry::{DurationUnit, PluginConfig};
    ///
    /// let config = PluginConfig::new().set("T", "10000").set("U", "1.5s").set("V", "none");
    /// let ms = DurationUnit::Milliseconds;
    /// assert_eq!(config.get_duration("T", ms)?, Some(Duration::from_secs(10)));
    /// assert_eq!(config.get_duration("U", ms)?, Some(Duration::from_millis(1500)));
    /// assert_eq!(config.get_duration("V", ms)?, Some(Duration::MAX));
    /// # Ok::<(), handler_core::registry::PluginError>(())
    /// ```
    pub fn get_duration(
        &self,
        key: &str,
        unit: DurationUnit,
    ) -> Result<Option<Duration>, PluginError> {
        let expected = match unit {
            DurationUnit::Seconds => {
                "a duration: seconds (e.g. 30 or 0.5), or with a unit (250ms, 2m), or none"
            }
            DurationUnit::Milliseconds => {
                "a duration: milliseconds (e.g. 10000), or with a unit (1.5s, 2m), or none"
            }
        };
        self.get_typed(key, expected, |text| values::parse_duration(text, unit))
    }

    /// The value of `key`, parsed by `parse`; an error names the key and what it must be.
    fn get_typed<T>(
        &self,
        key: &str,
        expected: &'static str,
        parse: impl FnOnce(&str) -> Option<T>,
    ) -> Result<Option<T>, PluginError> {
        match self.try_get(key)? {
            None => Ok(None),
            Some(text) => parse(&text)
                .map(Some)
                .ok_or_else(|| PluginError::InvalidValue {
                    variable: key.to_owned(),
                    expected,
                }),
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
