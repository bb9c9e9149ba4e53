//! The price table: per-model prices with their date and source, declared aliases, the shipped
//! table, tables read from JSON, and overrides merged over them.

use std::collections::BTreeMap;
use std::path::Path;
use std::sync::OnceLock;

use serde::{Deserialize, Serialize};

/// The table shipped with the crate, compiled in.
const SHIPPED: &str = include_str!("../../data/prices.json");

/// One model's prices, in USD per million tokens, with where they come from.
///
/// A price left out is charged as the one it is a kind of: cached input and cache writes at the
/// input price, reasoning at the output price (how OpenAI bills them).
///
/// ```
/// use handler_core::cost::ModelPrices;
///
/// let prices = ModelPrices::new(0.15, 0.6, "2024-10-01", "https://platform.openai.com/docs/pricing")
///     .with_cached_input(0.075)
///     .with_alias("gpt-4o-mini-2024-07-18");
/// assert_eq!(prices.cached_input, Some(0.075));
/// assert_eq!(prices.reasoning, None); // reasoning is output
/// ```
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
#[non_exhaustive]
pub struct ModelPrices {
    /// Prompt tokens not read from or written to the cache.
    pub input: f64,
    /// Prompt tokens read from the prompt cache; `None`: the input price.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub cached_input: Option<f64>,
    /// Prompt tokens written to the prompt cache; `None`: the input price.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub cache_write: Option<f64>,
    /// Completion tokens that are not reasoning.
    pub output: f64,
    /// Reasoning tokens, when priced apart from output; `None`: the output price.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub reasoning: Option<f64>,
    /// Other names of this model billed at these prices (dated snapshots), matched exactly.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub aliases: Vec<String>,
    /// The day these prices took effect, `YYYY-MM-DD`.
    pub date: String,
    /// Where they are published.
    pub source: String,
}

impl ModelPrices {
    /// Input and output prices per million tokens, dated and sourced; no cache or reasoning
    /// prices (they are the input and output prices), no aliases.
    pub fn new(
        input: f64,
        output: f64,
        date: impl Into<String>,
        source: impl Into<String>,
    ) -> Self {
        Self {
            input,
            cached_input: None,
            cache_write: None,
            output,
            reasoning: None,
            aliases: Vec::new(),
            date: date.into(),
            source: source.into(),
        }
    }

    /// Sets the price of prompt tokens read from the cache.
    #[must_use]
    pub fn with_cached_input(mut self, price: f64) -> Self {
        self.cached_input = Some(price);
        self
    }

    /// Sets the price of prompt tokens written to the cache.
    #[must_use]
    pub fn with_cache_write(mut self, price: f64) -> Self {
        self.cache_write = Some(price);
        self
    }

    /// Sets the price of reasoning tokens.
    #[must_use]
    pub fn with_reasoning(mut self, price: f64) -> Self {
        self.reasoning = Some(price);
        self
    }

    /// Adds another name of this model (a dated snapshot billed the same).
    #[must_use]
    pub fn with_alias(mut self, alias: impl Into<String>) -> Self {
        self.aliases.push(alias.into());
        self
    }

    fn check(&self, model: &str) -> Result<(), PriceTableError> {
        let bad = |reason: String| PriceTableError::Entry {
            model: model.to_owned(),
            reason,
        };
        let prices = [
            ("input", Some(self.input)),
            ("cached_input", self.cached_input),
            ("cache_write", self.cache_write),
            ("output", Some(self.output)),
            ("reasoning", self.reasoning),
        ];
        for (name, price) in prices {
            if let Some(price) = price.filter(|p| !p.is_finite() || *p < 0.0) {
                return Err(bad(format!("{name} price {price} is not a price")));
            }
        }
        if !is_date(&self.date) {
            return Err(bad(format!("date {:?} is not YYYY-MM-DD", self.date)));
        }
        if self.source.trim().is_empty() {
            return Err(bad("no source".into()));
        }
        if let Some(alias) = self.aliases.iter().find(|a| a.trim().is_empty()) {
            return Err(bad(format!("empty alias {alias:?}")));
        }
        Ok(())
    }
}

fn is_date(text: &str) -> bool {
    let bytes = text.as_bytes();
    bytes.len() == 10
        && bytes.iter().enumerate().all(|(i, b)| {
            if i == 4 || i == 7 {
                *b == b'-'
            } else {
                b.is_ascii_digit()
            }
        })
}

/// Why a price table was refused.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum PriceTableError {
    /// The file could not be read.
    #[error("cannot read the price table {path}: {source}")]
    Read {
        /// The file.
        path: String,
        /// What went wrong.
        source: std::io::Error,
    },
    /// The text is not a price table (bad JSON, a missing or unknown field).
    #[error("not a price table: {0}")]
    Parse(#[from] serde_json::Error),
    /// The table has no version.
    #[error("the price table has no version")]
    NoVersion,
    /// An entry is wrong.
    #[error("price table entry {model:?}: {reason}")]
    Entry {
        /// The entry's model name.
        model: String,
        /// What is wrong with it.
        reason: String,
    },
}

/// The table as written in a file.
#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct TableFile {
    version: String,
    #[serde(default)]
    #[allow(dead_code)] // for the people who read the file
    notes: Option<String>,
    models: BTreeMap<String, ModelPrices>,
}

/// Model prices with their dates and sources, the aliases they declare, and the table's version.
///
/// A model name is matched exactly, or as an alias an entry declares; nothing else (no prefix,
/// no case folding): a name the table does not know has no cost, and says so. The shipped table
/// ([`shipped`](Self::shipped)) covers common OpenAI and Anthropic models; a user's table (from
/// a file or built in code) merged over it replaces entries and adds new ones.
///
/// ```
/// use handler_core::cost::{ModelPrices, PriceTable};
///
/// let shipped = PriceTable::shipped();
/// assert_eq!(shipped.lookup("gpt-4o-mini-2024-07-18").map(|(name, _)| name), Some("gpt-4o-mini"));
/// assert!(shipped.lookup("GPT-4o-mini").is_none()); // exact names only
///
/// let mine = PriceTable::from_json(r#"{"version": "ours-1", "models": {
///     "local-llama": {"input": 0, "output": 0, "date": "2026-12-01", "source": "our own GPUs"}
/// }}"#)?;
/// let table = shipped.clone().merge(mine)?;
/// assert_eq!(table.version(), format!("{}+ours-1", shipped.version()));
/// assert!(table.lookup("local-llama").is_some() && table.lookup("gpt-4o").is_some());
/// # Ok::<(), handler_core::cost::PriceTableError>(())
/// ```
#[derive(Debug, Clone, PartialEq)]
pub struct PriceTable {
    version: String,
    models: BTreeMap<String, ModelPrices>,
    /// Alias → model, built from the entries' aliases.
    aliases: BTreeMap<String, String>,
}

impl PriceTable {
    /// The table shipped with this crate (`data/prices.json`), parsed once.
    ///
    /// Its parsing is checked by the crate's tests; were it ever unreadable, this is an empty
    /// table whose version names the error (every cost is then "unknown model", saying so),
    /// and the error is logged.
    pub fn shipped() -> &'static PriceTable {
        static SHIPPED_TABLE: OnceLock<PriceTable> = OnceLock::new();
        SHIPPED_TABLE.get_or_init(|| {
            Self::from_json(SHIPPED).unwrap_or_else(|error| {
                tracing::error!(%error, "the shipped price table is unreadable");
                Self::empty(format!("unreadable shipped table ({error})"))
            })
        })
    }

    /// An empty table with this version; add entries with [`with_model`](Self::with_model).
    pub fn empty(version: impl Into<String>) -> Self {
        Self {
            version: version.into(),
            models: BTreeMap::new(),
            aliases: BTreeMap::new(),
        }
    }

    /// A table from JSON: `{"version": "...", "notes": "...", "models": {"<name>": {"input",
    /// "cached_input", "cache_write", "output", "reasoning", "aliases", "date", "source"}}}`
    /// (prices in USD per million tokens; `cached_input`, `cache_write`, `reasoning`,
    /// `aliases` and `notes` optional). Refused, naming the entry, when a price is negative or
    /// not a number, a date is not `YYYY-MM-DD`, a source is empty, a field is unknown, or an
    /// alias is a model's name or another entry's alias.
    pub fn from_json(text: &str) -> Result<Self, PriceTableError> {
        let file: TableFile = serde_json::from_str(text)?;
        if file.version.trim().is_empty() {
            return Err(PriceTableError::NoVersion);
        }
        let mut declared: BTreeMap<&str, &str> = BTreeMap::new();
        for (name, prices) in &file.models {
            for alias in &prices.aliases {
                let clash = if file.models.contains_key(alias) {
                    Some(format!(
                        "alias {alias:?} is the name of a model in the table"
                    ))
                } else {
                    declared
                        .insert(alias, name)
                        .map(|other| format!("alias {alias:?} is declared by {other:?} too"))
                };
                if let Some(reason) = clash {
                    return Err(PriceTableError::Entry {
                        model: name.clone(),
                        reason,
                    });
                }
            }
        }
        let mut table = Self::empty(file.version);
        for (name, prices) in file.models {
            table = table.with_model(name, prices)?;
        }
        Ok(table)
    }

    /// A table from a JSON file (see [`from_json`](Self::from_json)).
    pub fn from_file(path: impl AsRef<Path>) -> Result<Self, PriceTableError> {
        let path = path.as_ref();
        let text = std::fs::read_to_string(path).map_err(|source| PriceTableError::Read {
            path: path.display().to_string(),
            source,
        })?;
        Self::from_json(&text)
    }

    /// The shipped table with the table in the JSON file at `path` merged over it (see
    /// [`merge`](Self::merge)).
    pub fn shipped_with_overrides(path: impl AsRef<Path>) -> Result<Self, PriceTableError> {
        Self::shipped().clone().merge(Self::from_file(path)?)
    }

    /// Adds or replaces the entry of `model`, keeping the aliases the replaced entry declared.
    /// An alias of the new entry that another entry declared moves to this one; a model that
    /// was another entry's alias is that alias no more (its own entry wins). Refused when the
    /// entry is wrong, or one of its aliases is another model's name.
    pub fn with_model(
        mut self,
        model: impl Into<String>,
        mut prices: ModelPrices,
    ) -> Result<Self, PriceTableError> {
        let model = model.into();
        if model.trim().is_empty() {
            return Err(PriceTableError::Entry {
                model,
                reason: "empty model name".into(),
            });
        }
        prices.check(&model)?;
        if let Some(alias) = prices
            .aliases
            .iter()
            .find(|a| **a != model && self.models.contains_key(*a))
        {
            return Err(PriceTableError::Entry {
                model,
                reason: format!("alias {alias:?} is the name of another model in the table"),
            });
        }
        if let Some(old) = self.models.remove(&model) {
            for alias in old.aliases {
                if !prices.aliases.contains(&alias) {
                    prices.aliases.push(alias);
                }
            }
        }
        prices.aliases.retain(|alias| *alias != model);
        // An alias moves to the entry that declares it last; the model's own name is no alias.
        for alias in prices.aliases.iter().chain([&model]) {
            if let Some(owner) = self.aliases.remove(alias)
                && let Some(entry) = self.models.get_mut(&owner)
            {
                entry.aliases.retain(|a| a != alias);
            }
        }
        for alias in &prices.aliases {
            self.aliases.insert(alias.clone(), model.clone());
        }
        self.models.insert(model, prices);
        Ok(self)
    }

    /// This table with `overrides` merged over it: each of their entries replaces or adds one
    /// here (as [`with_model`](Self::with_model) does); the version becomes
    /// `"<this version>+<their version>"`.
    pub fn merge(self, overrides: PriceTable) -> Result<Self, PriceTableError> {
        let version = format!("{}+{}", self.version, overrides.version);
        let mut table = self;
        for (model, prices) in overrides.models {
            table = table.with_model(model, prices)?;
        }
        table.version = version;
        Ok(table)
    }

    /// The table's version (the shipped table's is the date it was last updated).
    pub fn version(&self) -> &str {
        &self.version
    }

    /// The entry for `model`: its name in the table and its prices, matched by the exact name or
    /// a declared alias.
    pub fn lookup(&self, model: &str) -> Option<(&str, &ModelPrices)> {
        let name = self.aliases.get(model).map_or(model, String::as_str);
        self.models
            .get_key_value(name)
            .map(|(name, prices)| (name.as_str(), prices))
    }

    /// Every entry, by model name.
    pub fn models(&self) -> impl Iterator<Item = (&str, &ModelPrices)> {
        self.models
            .iter()
            .map(|(name, prices)| (name.as_str(), prices))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_shipped_table_parses_and_every_entry_is_dated_and_sourced() {
        let table = PriceTable::from_json(SHIPPED).map_err(|e| e.to_string());
        assert_eq!(table.as_ref().map(|t| t.version()), Ok("2026-12-05"));
        let shipped = PriceTable::shipped();
        assert!(shipped.models().count() >= 10);
        for (name, prices) in shipped.models() {
            assert!(prices.check(name).is_ok(), "{name}");
            for alias in &prices.aliases {
                assert_eq!(shipped.lookup(alias).map(|(n, _)| n), Some(name));
            }
        }
    }
}
