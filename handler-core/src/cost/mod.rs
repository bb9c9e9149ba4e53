//! What a model run cost: a price table shipped as data, overridable from a file or in code,
//! and the cost of a run computed from its model and token usage, with where the prices came
//! from, or why it is unknown.
//!
//! The shipped table (`data/prices.json` in this crate) lists per-model prices in USD per
//! million tokens (input, cached input, cache write, output, reasoning where priced apart),
//! each with the day they took effect and where they are published, plus declared aliases
//! (dated snapshots of a model). Model names match exactly or by a declared alias; a model not
//! in the table has no cost, and the result says so ([`CostUnknown`]), never a silent zero.
//!
//! ```
//! use handler_core::cost::{ModelPrices, PriceTable};
//! use handler_core::payload::{LlmResult, TokenUsage};
//!
//! let result = LlmResult::from_text("Paris.")
//!     .with_model_name("gpt-4o-mini")
//!     .with_token_usage(TokenUsage::new(1_000, 100).with_cache_read_tokens(800));
//! let cost = PriceTable::shipped().cost_of(&result)?;
//! // 200 uncached at $0.15, 800 cached at $0.075, 100 out at $0.60, per million.
//! assert!((cost.total - 0.00015).abs() < 1e-12);
//! assert_eq!(cost.to_string(), "$0.000150 (gpt-4o-mini, prices of 2024-10-01)");
//! assert_eq!(cost.provenance.table_version, PriceTable::shipped().version());
//!
//! // Your own prices, in code (or from a file: `PriceTable::shipped_with_overrides(path)`).
//! let table = PriceTable::shipped().clone().with_model(
//!     "gpt-4o-mini",
//!     ModelPrices::new(0.1, 0.5, "2026-12-01", "our contract").with_cached_input(0.01),
//! )?;
//! let cost = table.cost_of(&result)?;
//! assert_eq!(cost.provenance.source, "our contract");
//! assert!((cost.breakdown.cached_input - 0.000008).abs() < 1e-12);
//! # Ok::<(), Box<dyn std::error::Error>>(())
//! ```

mod compute;
mod table;

pub use compute::{Cost, CostBreakdown, CostUnknown, Provenance};
pub use table::{ModelPrices, PriceTable, PriceTableError};
