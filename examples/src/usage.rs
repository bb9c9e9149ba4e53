//! What the model runs of a session consumed and cost, summed across runs: the summary the
//! examples end with.

use std::collections::BTreeMap;
use std::sync::{Mutex, PoisonError};

use llm_callbacks::cost::PriceTable;
use llm_callbacks::event::LlmEnd;
use llm_callbacks::payload::TokenUsage;
use llm_callbacks::{CallbackHandler, callbacks};

/// The sums so far.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct UsageTotals {
    /// Model runs that ended.
    pub runs: usize,
    /// Runs that reported their token usage.
    pub runs_with_usage: usize,
    /// Their usage, summed; a detail (cached, cache-write, reasoning tokens) sums the runs that
    /// reported it.
    pub usage: TokenUsage,
    /// What the priced runs cost, in USD.
    pub cost: f64,
    /// Runs with a cost.
    pub priced_runs: usize,
    /// Runs without one, by why (`model "x" not in the price table ...`).
    pub unpriced: BTreeMap<String, usize>,
}

/// Sums every model run's token usage and cost, priced by the shipped table or the one given.
///
/// ```
/// use std::sync::Arc;
/// use examples::UsageSummary;
/// use llm_callbacks::CallbackManager;
/// use llm_callbacks::payload::{LlmResult, Serialized, TokenUsage};
///
/// let summary = Arc::new(UsageSummary::new());
/// let manager = CallbackManager::new().with_handler(summary.clone());
/// for (model, usage) in [
///     ("gpt-4o-mini", TokenUsage::new(2048, 3).with_cache_read_tokens(1920)),
///     ("gpt-4o-mini", TokenUsage::new(100, 10)),
///     ("llama3.2", TokenUsage::new(50, 5)),
/// ] {
///     let llm = manager.on_llm_start(&Serialized::named("m"), "hi", Default::default())?;
///     llm.on_llm_end(&LlmResult::from_text("ok").with_model_name(model).with_token_usage(usage))?;
/// }
/// let totals = summary.totals();
/// assert_eq!(totals.usage.prompt_tokens, 2198);
/// assert_eq!(totals.usage.cache_read_tokens, Some(1920));
/// assert_eq!(totals.priced_runs, 2);
/// assert!(summary.report().contains("1 unpriced: model \"llama3.2\" not in the price table"));
/// # Ok::<(), llm_callbacks::CallbackError>(())
/// ```
#[derive(CallbackHandler, Debug)]
#[callback(name = "usage-summary")]
pub struct UsageSummary {
    prices: PriceTable,
    totals: Mutex<UsageTotals>,
}

#[callbacks]
impl UsageSummary {
    #[on(llm_end)]
    fn ended(&self, event: &LlmEnd<'_>) {
        let cost = self.prices.cost_of(event.response);
        let mut totals = self.totals.lock().unwrap_or_else(PoisonError::into_inner);
        totals.runs += 1;
        if let Some(usage) = event.response.token_usage {
            totals.runs_with_usage += 1;
            totals.usage += usage;
        }
        match cost {
            Ok(cost) => {
                totals.cost += cost.total;
                totals.priced_runs += 1;
            }
            Err(unknown) => *totals.unpriced.entry(unknown.to_string()).or_default() += 1,
        }
    }
}

impl UsageSummary {
    /// A summary priced by the shipped table.
    pub fn new() -> Self {
        Self::with_prices(PriceTable::shipped().clone())
    }

    /// A summary priced by `prices`.
    pub fn with_prices(prices: PriceTable) -> Self {
        Self {
            prices,
            totals: Mutex::new(UsageTotals::default()),
        }
    }

    /// The sums so far.
    pub fn totals(&self) -> UsageTotals {
        self.totals
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .clone()
    }

    /// The sums as lines:
    ///
    /// ```text
    /// 3 model runs, 3 with usage: 2198 in (1920 cached), 18 out, 2216 total
    /// cost $0.000225 over 2 priced runs (price table 2026-12-05)
    ///   1 unpriced: model "llama3.2" not in the price table (version 2026-12-05)
    /// ```
    pub fn report(&self) -> String {
        let totals = self.totals();
        let mut out = format!(
            "{} model runs, {} with usage: {}\n",
            totals.runs, totals.runs_with_usage, totals.usage
        );
        out.push_str(&format!(
            "cost ${:.6} over {} priced runs (price table {})\n",
            totals.cost,
            totals.priced_runs,
            self.prices.version()
        ));
        for (why, runs) in &totals.unpriced {
            out.push_str(&format!("  {runs} unpriced: {why}\n"));
        }
        out
    }
}

impl Default for UsageSummary {
    fn default() -> Self {
        Self::new()
    }
}
