//! Evaluations published through the core reach the exporter without either side naming the
//! other; dropping the exporter ends its subscription. (One test in this binary: the bus is
//! process-wide.)

use std::sync::Arc;
use std::time::Duration;

use handler_core::evaluation::{self, EvaluationResult};
use handler_core::{CallbackManager, RunOptions};
use opentelemetry_sdk::trace::InMemorySpanExporter;
use otel_plugin::OtelHandler;
use serde_json::json;

#[test]
fn published_evaluations_become_events_and_dropping_the_handler_unsubscribes()
-> Result<(), Box<dyn std::error::Error>> {
    let spans = InMemorySpanExporter::default();
    let otel = OtelHandler::builder().exporter(spans.clone()).build()?;
    assert!(otel.listens());
    let manager = CallbackManager::new().with_handler(Arc::new(otel.clone()));
    let chain = manager.on_chain_start(None, &json!({}), RunOptions::named("graded"))?;
    let score = EvaluationResult::new("judge", "helpfulness")
        .with_run(chain.context())
        .with_score(0.9)
        .with_label("helpful");
    assert_eq!(evaluation::publish(&score), 1);
    chain.on_chain_end(&json!({}))?;
    assert!(otel.flush(Duration::from_secs(10)).complete);

    let finished = spans.get_finished_spans()?;
    let events: Vec<&str> = finished[0].events.iter().map(|e| e.name.as_ref()).collect();
    assert_eq!(events, ["gen_ai.evaluation.result"]);
    assert_eq!(otel.report().evaluations_on_span, 1);

    drop(manager);
    drop(otel);
    assert!(!evaluation::has_listeners());
    assert_eq!(evaluation::publish(&score), 0);
    Ok(())
}
