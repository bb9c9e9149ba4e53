//! What a model run cost, on its span in every dialect backends read, checked with the SDK's
//! in-memory exporter: the provider (so that Phoenix prices the run itself), the token details,
//! OpenInference's `llm.cost.*`, Langfuse's cost details and the prices' provenance, all equal
//! to the core's one computation and exported without content capture; an unknown model's
//! reason instead of a cost; a user's own prices.

use std::sync::Arc;
use std::time::Duration;

use handler_core::cost::{ModelPrices, PriceTable};
use handler_core::payload::{ChatMessage, LlmResult, Serialized, TokenUsage};
use handler_core::registry::PluginConfig;
use handler_core::{CallbackManager, RunOptions};
use opentelemetry::Value;
use opentelemetry_sdk::trace::{InMemorySpanExporter, SpanData};
use otel_plugin::{OtelConfig, OtelError, OtelHandler, env, semconv as k};

type TestResult = Result<(), Box<dyn std::error::Error>>;

/// The keys of a priced run's cost, in every dialect.
const COST_KEYS: [&str; 13] = [
    k::LLM_COST_PROMPT,
    k::LLM_COST_COMPLETION,
    k::LLM_COST_TOTAL,
    k::LLM_COST_PROMPT_INPUT,
    k::LLM_COST_PROMPT_CACHE_READ,
    k::LLM_COST_PROMPT_CACHE_WRITE,
    k::LLM_COST_COMPLETION_OUTPUT,
    k::LLM_COST_COMPLETION_REASONING,
    k::LANGFUSE_COST_DETAILS,
    k::COST_TABLE_VERSION,
    k::COST_PRICES_ENTRY,
    k::COST_PRICES_DATE,
    k::COST_PRICES_SOURCE,
];

/// One chat-model run of `model` through the OpenAI client's component, answered by
/// `answered_by` with `usage`, exported by an exporter built by `build` (content not captured).
fn exported_run(
    build: impl FnOnce(otel_plugin::OtelHandlerBuilder) -> otel_plugin::OtelHandlerBuilder,
    model: &str,
    answered_by: Option<&str>,
    usage: TokenUsage,
) -> Result<SpanData, Box<dyn std::error::Error>> {
    let spans = InMemorySpanExporter::default();
    let otel = build(OtelHandler::builder().exporter(spans.clone()).listen(false)).build()?;
    let manager = CallbackManager::new().with_handler(Arc::new(otel.clone()));
    let mut component = Serialized::new(["llm_callbacks", "openai", "ChatOpenAI"]);
    component.kwargs.insert("model".into(), model.into());
    component
        .kwargs
        .insert("_type".into(), "openai-chat".into());
    let run = manager.on_chat_model_start(
        &component,
        &[ChatMessage::user("a secret question")],
        RunOptions::named("ChatOpenAI"),
    )?;
    let mut result = LlmResult::from_text("a secret answer").with_token_usage(usage);
    if let Some(answered_by) = answered_by {
        result = result.with_model_name(answered_by);
    }
    run.on_llm_end(&result)?;
    let report = otel.flush(Duration::from_secs(10));
    assert!(report.complete, "{report:?}");
    let mut finished = spans.get_finished_spans()?;
    assert_eq!(finished.len(), 1);
    Ok(finished.remove(0))
}

fn attr(span: &SpanData, key: &str) -> Option<Value> {
    span.attributes
        .iter()
        .find(|kv| kv.key.as_str() == key)
        .map(|kv| kv.value.clone())
}

fn number(span: &SpanData, key: &str) -> f64 {
    match attr(span, key) {
        Some(Value::F64(x)) => x,
        Some(Value::I64(n)) => n as f64,
        other => panic!("{key} is {other:?}"),
    }
}

fn text(span: &SpanData, key: &str) -> Option<String> {
    attr(span, key).map(|v| v.as_str().into_owned())
}

#[test]
fn a_priced_run_carries_the_cores_cost_in_every_dialect_without_content_capture() -> TestResult {
    let usage = TokenUsage::new(1_000, 300)
        .with_cache_read_tokens(800)
        .with_cache_write_tokens(0)
        .with_reasoning_tokens(250);
    let span = exported_run(|b| b, "gpt-4o-mini", Some("gpt-4o-mini-2024-07-18"), usage)?;
    let cost = PriceTable::shipped().cost("gpt-4o-mini-2024-07-18", &usage)?;
    assert!(cost.total > 0.0);

    // The provider, for Phoenix to price the run itself.
    assert_eq!(text(&span, k::LLM_PROVIDER).as_deref(), Some("openai"));
    assert_eq!(text(&span, k::LLM_SYSTEM).as_deref(), Some("openai"));
    assert_eq!(
        text(&span, k::GEN_AI_PROVIDER_NAME).as_deref(),
        Some("openai")
    );
    // The token details, in both conventions.
    for (key, tokens) in [
        (k::LLM_TOKEN_COUNT_PROMPT_CACHE_READ, 800),
        (k::GEN_AI_USAGE_CACHE_READ_INPUT_TOKENS, 800),
        (k::LLM_TOKEN_COUNT_PROMPT_CACHE_WRITE, 0),
        (k::GEN_AI_USAGE_CACHE_CREATION_INPUT_TOKENS, 0),
        (k::LLM_TOKEN_COUNT_COMPLETION_REASONING, 250),
        (k::GEN_AI_USAGE_REASONING_OUTPUT_TOKENS, 250),
    ] {
        assert_eq!(attr(&span, key), Some(Value::I64(tokens)), "{key}");
    }
    // The cost: the core's numbers, exactly.
    let b = &cost.breakdown;
    for (key, amount) in [
        (k::LLM_COST_TOTAL, cost.total),
        (k::LLM_COST_PROMPT, b.input + b.cached_input + b.cache_write),
        (k::LLM_COST_COMPLETION, b.output + b.reasoning),
        (k::LLM_COST_PROMPT_INPUT, b.input),
        (k::LLM_COST_PROMPT_CACHE_READ, b.cached_input),
        (k::LLM_COST_PROMPT_CACHE_WRITE, b.cache_write),
        (k::LLM_COST_COMPLETION_OUTPUT, b.output),
        (k::LLM_COST_COMPLETION_REASONING, b.reasoning),
    ] {
        assert_eq!(number(&span, key), amount, "{key}");
    }
    let langfuse: serde_json::Value =
        serde_json::from_str(&text(&span, k::LANGFUSE_COST_DETAILS).unwrap_or_default())?;
    assert_eq!(langfuse["total"], cost.total);
    assert_eq!(langfuse["input_cache_read"], b.cached_input);
    assert_eq!(langfuse["output_reasoning"], b.reasoning);
    // Where the prices came from.
    let shipped = PriceTable::shipped().version();
    assert_eq!(text(&span, k::COST_TABLE_VERSION).as_deref(), Some(shipped));
    assert_eq!(
        text(&span, k::COST_PRICES_ENTRY).as_deref(),
        Some("gpt-4o-mini")
    );
    assert_eq!(
        text(&span, k::COST_PRICES_DATE),
        Some(cost.provenance.date.clone())
    );
    assert!(attr(&span, k::COST_UNKNOWN).is_none());
    // No content went with it.
    let all = format!("{:?}", span.attributes);
    assert!(!all.contains("secret"), "{all}");
    Ok(())
}

#[test]
fn an_unknown_model_has_no_cost_attribute_but_the_reason() -> TestResult {
    let span = exported_run(|b| b, "my-local-model", None, TokenUsage::new(10, 2))?;
    for key in COST_KEYS {
        assert!(attr(&span, key).is_none(), "{key} on {:?}", span.attributes);
    }
    let reason = text(&span, k::COST_UNKNOWN).unwrap_or_default();
    assert!(
        reason.starts_with("model \"my-local-model\" not in the price table"),
        "{reason}"
    );
    assert_eq!(text(&span, k::LLM_PROVIDER).as_deref(), Some("openai"));
    Ok(())
}

#[test]
fn the_exporter_prices_by_the_users_table() -> TestResult {
    let ours = PriceTable::empty("ours-1").with_model(
        "my-local-model",
        ModelPrices::new(1.0, 2.0, "2026-12-01", "our own GPUs"),
    )?;
    let table = PriceTable::shipped().clone().merge(ours)?;
    let version = table.version().to_owned();
    let usage = TokenUsage::new(1_000_000, 1_000_000);
    let span = exported_run(|b| b.prices(table), "my-local-model", None, usage)?;
    assert_eq!(number(&span, k::LLM_COST_TOTAL), 3.0);
    assert_eq!(text(&span, k::COST_TABLE_VERSION), Some(version));
    assert_eq!(
        text(&span, k::COST_PRICES_SOURCE).as_deref(),
        Some("our own GPUs")
    );
    Ok(())
}

#[test]
fn a_price_table_file_is_read_from_the_environment_and_refused_by_name() -> TestResult {
    let dir = std::env::temp_dir().join(format!("otel-prices-{}", std::process::id()));
    std::fs::create_dir_all(&dir)?;
    let path = dir.join("prices.json");
    std::fs::write(
        &path,
        r#"{"version": "file-1", "models": {"my-local-model":
            {"input": 1, "output": 2, "date": "2026-12-01", "source": "ours"}}}"#,
    )?;
    let config = PluginConfig::new().set(env::PRICES, path.to_string_lossy());
    let config = OtelConfig::from_plugin_config(&config)?;
    assert!(config.prices.lookup("my-local-model").is_some());
    assert!(config.prices.version().ends_with("+file-1"));

    let missing = PluginConfig::new().set(env::PRICES, dir.join("nope.json").to_string_lossy());
    match OtelConfig::from_plugin_config(&missing) {
        Err(OtelError::Config { key, message }) => {
            assert_eq!(key, env::PRICES);
            assert!(message.contains("nope.json"), "{message}");
        }
        other => panic!("{other:?}"),
    }
    std::fs::remove_dir_all(&dir)?;
    Ok(())
}
