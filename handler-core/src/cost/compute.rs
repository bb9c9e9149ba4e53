//! A run's cost from its model and token usage: the amount, broken down by kind of token, and
//! where the prices came from; or why there is none.

use std::fmt;

use super::table::{ModelPrices, PriceTable};
use crate::payload::{LlmResult, TokenUsage};

const PER_MILLION: f64 = 1_000_000.0;

/// What a run cost, in USD, broken down, with where its prices came from.
#[derive(Debug, Clone, PartialEq)]
#[non_exhaustive]
pub struct Cost {
    /// The whole amount, in USD: the sum of the breakdown.
    pub total: f64,
    /// The amount per kind of token.
    pub breakdown: CostBreakdown,
    /// Where the prices came from.
    pub provenance: Provenance,
}

/// A cost per kind of token, in USD.
#[derive(Debug, Clone, Copy, Default, PartialEq)]
#[non_exhaustive]
pub struct CostBreakdown {
    /// Prompt tokens neither read from nor written to the cache, at the input price.
    pub input: f64,
    /// Prompt tokens read from the cache, at the cached input price.
    pub cached_input: f64,
    /// Prompt tokens written to the cache, at the cache write price.
    pub cache_write: f64,
    /// Completion tokens that are not reasoning, at the output price.
    pub output: f64,
    /// Reasoning tokens, at the reasoning price.
    pub reasoning: f64,
}

impl CostBreakdown {
    /// The sum of every part.
    pub fn total(&self) -> f64 {
        self.input + self.cached_input + self.cache_write + self.output + self.reasoning
    }
}

/// Adds another breakdown, part by part (the cost of two runs priced by one entry).
///
/// ```
/// use handler_core::cost::PriceTable;
/// use handler_core::payload::TokenUsage;
///
/// let table = PriceTable::shipped();
/// let mut sum = table.cost("gpt-4o-mini", &TokenUsage::new(1_000_000, 0))?.breakdown;
/// sum += table.cost("gpt-4o-mini", &TokenUsage::new(0, 1_000_000))?.breakdown;
/// assert!((sum.input - 0.15).abs() < 1e-9 && (sum.output - 0.6).abs() < 1e-9);
/// assert!((sum.total() - 0.75).abs() < 1e-9);
/// # Ok::<(), handler_core::cost::CostUnknown>(())
/// ```
impl std::ops::AddAssign for CostBreakdown {
    fn add_assign(&mut self, other: Self) {
        self.input += other.input;
        self.cached_input += other.cached_input;
        self.cache_write += other.cache_write;
        self.output += other.output;
        self.reasoning += other.reasoning;
    }
}

/// Where a cost's prices came from.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub struct Provenance {
    /// The model named by the run.
    pub model: String,
    /// The table entry that priced it: the model itself, or the model it is an alias of.
    pub entry: String,
    /// The day the entry's prices took effect.
    pub date: String,
    /// Where the entry's prices are published.
    pub source: String,
    /// The version of the table the entry is in.
    pub table_version: String,
}

/// Why a run has no cost. Never a silent zero: each says what is missing.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum CostUnknown {
    /// The table has no entry or alias for the model.
    #[error("model {model:?} not in the price table (version {table_version})")]
    UnknownModel {
        /// The model named by the run.
        model: String,
        /// The table's version.
        table_version: String,
    },
    /// The run named no model.
    #[error("the run named no model")]
    NoModel,
    /// The run reported no token usage.
    #[error("the run reported no token usage")]
    NoUsage,
    /// The usage's details do not fit in its counts (more cached and cache-write tokens than
    /// prompt tokens, or more reasoning tokens than completion tokens): a server that counts
    /// otherwise than the OpenAI API, whose usage a client must convert first.
    #[error("inconsistent token usage: {0}")]
    InconsistentUsage(String),
}

impl PriceTable {
    /// What `usage` cost on `model`, priced by this table.
    ///
    /// Prompt tokens read from the cache are priced as cached input, those written to it as
    /// cache writes, the rest as input; reasoning tokens as reasoning, the rest of the
    /// completion as output (see [`ModelPrices`] for the prices a missing one falls back to).
    ///
    /// ```
    /// use handler_core::cost::{CostUnknown, PriceTable};
    /// use handler_core::payload::TokenUsage;
    ///
    /// let table = PriceTable::shipped();
    /// // gpt-4o-mini: $0.15 input, $0.075 cached input, $0.60 output per million tokens.
    /// let usage = TokenUsage::new(2_000_000, 1_000_000).with_cache_read_tokens(1_000_000);
    /// let cost = table.cost("gpt-4o-mini-2024-07-18", &usage)?;
    /// assert!((cost.breakdown.input - 0.15).abs() < 1e-9);
    /// assert!((cost.breakdown.cached_input - 0.075).abs() < 1e-9);
    /// assert!((cost.breakdown.output - 0.6).abs() < 1e-9);
    /// assert!((cost.total - 0.825).abs() < 1e-9);
    /// assert_eq!(cost.provenance.entry, "gpt-4o-mini");
    /// assert_eq!(cost.to_string(), "$0.825000 (gpt-4o-mini, prices of 2024-10-01)");
    ///
    /// let unknown = table.cost("my-model", &usage).unwrap_err();
    /// assert!(matches!(unknown, CostUnknown::UnknownModel { .. }));
    /// assert!(unknown.to_string().starts_with("model \"my-model\" not in the price table"));
    /// # Ok::<(), CostUnknown>(())
    /// ```
    pub fn cost(&self, model: &str, usage: &TokenUsage) -> Result<Cost, CostUnknown> {
        let Some((entry, prices)) = self.lookup(model) else {
            return Err(CostUnknown::UnknownModel {
                model: model.to_owned(),
                table_version: self.version().to_owned(),
            });
        };
        let breakdown = breakdown(prices, usage)?;
        Ok(Cost {
            total: breakdown.total(),
            breakdown,
            provenance: Provenance {
                model: model.to_owned(),
                entry: entry.to_owned(),
                date: prices.date.clone(),
                source: prices.source.clone(),
                table_version: self.version().to_owned(),
            },
        })
    }

    /// What a model run cost, from the model and the usage its result carries.
    ///
    /// ```
    /// use handler_core::cost::{CostUnknown, PriceTable};
    /// use handler_core::payload::{LlmResult, TokenUsage};
    ///
    /// let table = PriceTable::shipped();
    /// let result = LlmResult::from_text("Paris.").with_model_name("o4-mini");
    /// assert_eq!(table.cost_of(&result), Err(CostUnknown::NoUsage));
    ///
    /// // o4-mini: $4.40 per million output tokens, reasoning ones included.
    /// let result = result.with_token_usage(TokenUsage::new(0, 1_000).with_reasoning_tokens(900));
    /// let cost = table.cost_of(&result)?;
    /// assert!((cost.breakdown.reasoning - 0.00396).abs() < 1e-12);
    /// assert!((cost.breakdown.output - 0.00044).abs() < 1e-12);
    /// # Ok::<(), CostUnknown>(())
    /// ```
    pub fn cost_of(&self, result: &LlmResult) -> Result<Cost, CostUnknown> {
        let model = result.model_name.as_deref().ok_or(CostUnknown::NoModel)?;
        let usage = result.token_usage.as_ref().ok_or(CostUnknown::NoUsage)?;
        self.cost(model, usage)
    }
}

fn breakdown(prices: &ModelPrices, usage: &TokenUsage) -> Result<CostBreakdown, CostUnknown> {
    let cached = usage.cache_read_tokens.unwrap_or(0);
    let written = usage.cache_write_tokens.unwrap_or(0);
    let uncached = usage
        .prompt_tokens
        .checked_sub(cached)
        .and_then(|rest| rest.checked_sub(written))
        .ok_or_else(|| {
            CostUnknown::InconsistentUsage(format!(
                "{cached} cached and {written} cache-write tokens of {} prompt tokens",
                usage.prompt_tokens
            ))
        })?;
    let reasoning = usage.reasoning_tokens.unwrap_or(0);
    let output = usage
        .completion_tokens
        .checked_sub(reasoning)
        .ok_or_else(|| {
            CostUnknown::InconsistentUsage(format!(
                "{reasoning} reasoning tokens of {} completion tokens",
                usage.completion_tokens
            ))
        })?;
    let at = |tokens: u64, price: f64| tokens as f64 * price / PER_MILLION;
    Ok(CostBreakdown {
        input: at(uncached, prices.input),
        cached_input: at(cached, prices.cached_input.unwrap_or(prices.input)),
        cache_write: at(written, prices.cache_write.unwrap_or(prices.input)),
        output: at(output, prices.output),
        reasoning: at(reasoning, prices.reasoning.unwrap_or(prices.output)),
    })
}

/// `$0.000123 (gpt-4o-mini, prices of 2024-10-01)`: the amount to the millionth of a dollar,
/// the entry and its date.
impl fmt::Display for Cost {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "${:.6} ({}, prices of {})",
            self.total, self.provenance.entry, self.provenance.date
        )
    }
}
