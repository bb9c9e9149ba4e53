//! A model run's cost as span attributes, computed on the export thread from the usage the
//! event thread kept and the model the span names: OpenInference's `llm.cost.*`, Langfuse's
//! cost details and the prices' provenance, all from one [`PriceTable::cost`]; or, when the run
//! has no cost, an attribute saying why (never a zero).
//!
//! Cost is not content: these attributes are exported whatever the capture switch says.

use handler_core::cost::{Cost, CostUnknown, PriceTable};
use handler_core::payload::TokenUsage;
use opentelemetry::KeyValue;

use crate::semconv as k;
use crate::values::Values;

/// What a model run cost, priced by `prices` from `usage` and the model its span names (the
/// model that answered, else the model asked for).
pub(crate) fn cost_of(
    prices: &PriceTable,
    values: &Values,
    usage: Option<&TokenUsage>,
) -> Result<Cost, CostUnknown> {
    let model = values
        .find_text(k::GEN_AI_RESPONSE_MODEL)
        .or_else(|| values.find_text(k::LLM_MODEL_NAME))
        .ok_or(CostUnknown::NoModel)?;
    let usage = usage.ok_or(CostUnknown::NoUsage)?;
    prices.cost(model, usage)
}

/// Appends the attributes of `cost` to `out`: the cost under each convention and where its
/// prices came from; or the reason there is none.
pub(crate) fn append(out: &mut Vec<KeyValue>, cost: &Result<Cost, CostUnknown>) {
    let cost = match cost {
        Ok(cost) => cost,
        Err(unknown) => {
            out.push(KeyValue::new(k::COST_UNKNOWN, unknown.to_string()));
            return;
        }
    };
    let b = &cost.breakdown;
    let prompt = b.input + b.cached_input + b.cache_write;
    let completion = b.output + b.reasoning;
    out.extend([
        KeyValue::new(k::LLM_COST_PROMPT, prompt),
        KeyValue::new(k::LLM_COST_COMPLETION, completion),
        KeyValue::new(k::LLM_COST_TOTAL, cost.total),
        KeyValue::new(k::LLM_COST_PROMPT_INPUT, b.input),
        KeyValue::new(k::LLM_COST_PROMPT_CACHE_READ, b.cached_input),
        KeyValue::new(k::LLM_COST_PROMPT_CACHE_WRITE, b.cache_write),
        KeyValue::new(k::LLM_COST_COMPLETION_OUTPUT, b.output),
        KeyValue::new(k::LLM_COST_COMPLETION_REASONING, b.reasoning),
        KeyValue::new(k::LANGFUSE_COST_DETAILS, langfuse_details(cost)),
        KeyValue::new(k::COST_TABLE_VERSION, cost.provenance.table_version.clone()),
        KeyValue::new(k::COST_PRICES_ENTRY, cost.provenance.entry.clone()),
        KeyValue::new(k::COST_PRICES_DATE, cost.provenance.date.clone()),
        KeyValue::new(k::COST_PRICES_SOURCE, cost.provenance.source.clone()),
    ]);
}

/// Langfuse's `cost_details`: USD per kind of token, and the total.
fn langfuse_details(cost: &Cost) -> String {
    let b = &cost.breakdown;
    serde_json::json!({
        "input": b.input,
        "input_cache_read": b.cached_input,
        "input_cache_write": b.cache_write,
        "output": b.output,
        "output_reasoning": b.reasoning,
        "total": cost.total,
    })
    .to_string()
}

#[cfg(test)]
mod tests {
    use super::*;
    use opentelemetry::Value;

    fn attributes(model: Option<&str>, usage: Option<TokenUsage>) -> Vec<KeyValue> {
        let mut values = Values::with_limits(1024, 64);
        if let Some(model) = model {
            values.text(k::LLM_MODEL_NAME, model);
        }
        let mut out = Vec::new();
        append(
            &mut out,
            &cost_of(PriceTable::shipped(), &values, usage.as_ref()),
        );
        out
    }

    fn get<'a>(all: &'a [KeyValue], key: &str) -> Option<&'a Value> {
        all.iter()
            .find(|kv| kv.key.as_str() == key)
            .map(|kv| &kv.value)
    }

    fn f64_of(all: &[KeyValue], key: &str) -> f64 {
        match get(all, key) {
            Some(Value::F64(x)) => *x,
            other => panic!("{key}: {other:?}"),
        }
    }

    #[test]
    fn a_priced_run_carries_its_cost_in_every_dialect_and_its_provenance() {
        // gpt-4o-mini: $0.15 input, $0.075 cached input, $0.60 output per million tokens.
        let usage = TokenUsage::new(1_000_000, 1_000_000)
            .with_cache_read_tokens(400_000)
            .with_reasoning_tokens(500_000);
        let all = attributes(Some("gpt-4o-mini"), Some(usage));
        let near = |key: &str, expected: f64| {
            let got = f64_of(&all, key);
            assert!((got - expected).abs() < 1e-9, "{key}: {got} vs {expected}");
        };
        near(k::LLM_COST_PROMPT_INPUT, 0.09);
        near(k::LLM_COST_PROMPT_CACHE_READ, 0.03);
        near(k::LLM_COST_PROMPT_CACHE_WRITE, 0.0);
        near(k::LLM_COST_PROMPT, 0.12);
        near(k::LLM_COST_COMPLETION_OUTPUT, 0.3);
        near(k::LLM_COST_COMPLETION_REASONING, 0.3);
        near(k::LLM_COST_COMPLETION, 0.6);
        near(k::LLM_COST_TOTAL, 0.72);
        let langfuse = get(&all, k::LANGFUSE_COST_DETAILS).map(|v| v.as_str().into_owned());
        let langfuse: serde_json::Value =
            serde_json::from_str(&langfuse.unwrap_or_default()).unwrap_or_default();
        assert!((langfuse["total"].as_f64().unwrap_or_default() - 0.72).abs() < 1e-9);
        assert!((langfuse["input_cache_read"].as_f64().unwrap_or_default() - 0.03).abs() < 1e-9);
        let text = |key| get(&all, key).map(|v| v.as_str().into_owned());
        let shipped = PriceTable::shipped().version().to_owned();
        assert_eq!(text(k::COST_TABLE_VERSION), Some(shipped));
        assert_eq!(text(k::COST_PRICES_ENTRY).as_deref(), Some("gpt-4o-mini"));
        assert_eq!(text(k::COST_PRICES_DATE).as_deref(), Some("2024-10-01"));
        assert!(get(&all, k::COST_UNKNOWN).is_none());
    }

    #[test]
    fn a_run_without_a_cost_says_why_and_carries_no_amount() {
        let usage = Some(TokenUsage::new(10, 2));
        let cases = [
            (
                Some("my-model"),
                usage,
                "model \"my-model\" not in the price table",
            ),
            (None, usage, "the run named no model"),
            (Some("gpt-4o-mini"), None, "the run reported no token usage"),
        ];
        for (model, usage, why) in cases {
            let all = attributes(model, usage);
            assert_eq!(all.len(), 1, "{all:?}");
            let reason = get(&all, k::COST_UNKNOWN).map(|v| v.as_str().into_owned());
            assert!(
                reason.as_deref().unwrap_or_default().starts_with(why),
                "{reason:?}"
            );
        }
    }

    #[test]
    fn the_model_that_answered_is_priced_before_the_model_asked_for() {
        let mut values = Values::with_limits(1024, 64);
        values.text(k::LLM_MODEL_NAME, "my-router");
        values.text(k::GEN_AI_RESPONSE_MODEL, "gpt-4o-mini-2024-07-18");
        let usage = TokenUsage::new(10, 2);
        let cost = cost_of(PriceTable::shipped(), &values, Some(&usage));
        assert_eq!(
            cost.map(|c| c.provenance.entry).as_deref(),
            Ok("gpt-4o-mini")
        );
    }
}
