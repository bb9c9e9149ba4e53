//! Two exporters in one process, one per tenant, both listening to the core's evaluation bus:
//! each records only the scores of its own runs (open or recently ended) and counts the
//! others as unattached, never exporting them. (One test in this binary: the bus is
//! process-wide.)
#![allow(clippy::unwrap_used, clippy::expect_used)] // tests fail loudly

use std::sync::Arc;
use std::time::Duration;

use handler_core::evaluation::{self, EvaluationResult};
use handler_core::{CallbackManager, RunOptions};
use opentelemetry_sdk::trace::{InMemorySpanExporter, SpanData};
use otel_plugin::OtelHandler;
use serde_json::json;

struct Tenant {
    otel: OtelHandler,
    spans: InMemorySpanExporter,
    manager: CallbackManager,
}

fn tenant() -> Tenant {
    let spans = InMemorySpanExporter::default();
    let otel = OtelHandler::builder()
        .exporter(spans.clone())
        .build()
        .unwrap();
    let manager = CallbackManager::new().with_handler(Arc::new(otel.clone()));
    Tenant {
        otel,
        spans,
        manager,
    }
}

/// The names of the checks in the spans' evaluation events and evaluation spans.
fn checks(spans: &[SpanData]) -> Vec<String> {
    let mut out: Vec<String> = spans
        .iter()
        .flat_map(|span| span.events.iter())
        .filter(|event| event.name == "gen_ai.evaluation.result")
        .flat_map(|event| event.attributes.iter())
        .filter(|kv| kv.key.as_str() == "gen_ai.evaluation.name")
        .map(|kv| kv.value.as_str().into_owned())
        .collect();
    out.sort();
    out.dedup();
    out
}

#[test]
fn each_exporter_records_only_its_own_runs_scores() {
    let a = tenant();
    let b = tenant();
    for (tenant, name) in [(&a, "a"), (&b, "b")] {
        let chain = tenant
            .manager
            .on_chain_start(None, &json!({}), RunOptions::named(name))
            .unwrap();
        // While open: each exporter hears both scores, and records its own only.
        let open = EvaluationResult::new("judge", format!("{name}-open"))
            .with_run(chain.context())
            .with_score(1.0);
        assert_eq!(evaluation::publish(&open), 2);
        let id = chain.run_id();
        chain.on_chain_end(&json!({})).unwrap();
        // After the end: a late score, recorded by the exporter that traced the run.
        let late = EvaluationResult::new("judge", format!("{name}-late"))
            .with_run_ids(id, None)
            .with_score(0.0);
        assert_eq!(evaluation::publish(&late), 2);
    }

    for (tenant, own) in [(&a, ["a-late", "a-open"]), (&b, ["b-late", "b-open"])] {
        let report = tenant.otel.flush(Duration::from_secs(10));
        assert!(report.complete, "{report:?}");
        let spans = tenant.spans.get_finished_spans().unwrap();
        assert_eq!(checks(&spans), own);
        assert_eq!(spans.len(), 2, "its run and its late score's span");
        assert_eq!(
            (
                report.evaluations_on_span,
                report.evaluations_late,
                report.evaluations_unattached
            ),
            (1, 1, 2),
            "{report:?}"
        );
    }
}
