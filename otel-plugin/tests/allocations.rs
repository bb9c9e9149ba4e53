//! A token event costs no heap allocation with the exporter attached, counted with a counting
//! global allocator: one run streaming and several interleaving. The exporter is not
//! dispatched tokens; the core counts them, and every one reaches the span.
#![allow(clippy::unwrap_used, clippy::expect_used)] // tests fail loudly

use std::sync::Arc;
use std::time::Duration;

use handler_core::payload::{LlmResult, Serialized};
use handler_core::{CallbackManager, RunOptions};
use llm_callbacks_test_support::{CountingAllocator, allocations};
use opentelemetry::Value;
use opentelemetry_sdk::trace::InMemorySpanExporter;
use otel_plugin::OtelHandler;

#[global_allocator]
static GLOBAL: CountingAllocator = CountingAllocator;

const BURST: usize = 10_000;

#[test]
fn token_events_allocate_nothing() {
    let spans = InMemorySpanExporter::default();
    let otel = OtelHandler::builder()
        .exporter(spans.clone())
        .build()
        .unwrap();
    let manager = CallbackManager::new().with_handler(Arc::new(otel.clone()));
    let llm = Serialized::named("m");
    let a = manager
        .on_llm_start(&llm, "a", RunOptions::named("a"))
        .unwrap();
    let b = manager
        .on_llm_start(&llm, "b", RunOptions::named("b"))
        .unwrap();
    a.on_llm_new_token("warm", None).unwrap();
    b.on_llm_new_token("warm", None).unwrap();

    let before = allocations();
    for _ in 0..BURST {
        a.on_llm_new_token("tok", None).unwrap();
    }
    assert_eq!(allocations() - before, 0, "one run streaming");

    let before = allocations();
    for _ in 0..BURST / 2 {
        a.on_llm_new_token("tok", None).unwrap();
        b.on_llm_new_token("tok", None).unwrap();
    }
    assert_eq!(allocations() - before, 0, "two runs interleaving");

    a.on_llm_end(&LlmResult::default()).unwrap();
    b.on_llm_end(&LlmResult::default()).unwrap();
    assert!(otel.flush(Duration::from_secs(10)).complete);
    let finished = spans.get_finished_spans().unwrap();
    let streamed = |name: &str| {
        finished
            .iter()
            .find(|s| s.name == name)
            .and_then(|s| {
                s.attributes
                    .iter()
                    .find(|kv| kv.key.as_str() == "llm_callbacks.streamed_tokens")
            })
            .map(|kv| kv.value.clone())
    };
    // Every token counted, none lost to the cache.
    let a_tokens = 1 + BURST + BURST / 2;
    let b_tokens = 1 + BURST / 2;
    assert_eq!(streamed("a"), Some(Value::I64(a_tokens as i64)));
    assert_eq!(streamed("b"), Some(Value::I64(b_tokens as i64)));
}
