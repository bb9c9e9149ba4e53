//! The table of open runs is bounded by age and by count: a run open longer than the
//! time-to-live, or the oldest one when the table is full, is closed as an abandoned span with
//! an error status, counted in the export report; tracing never stops.
#![allow(clippy::unwrap_used, clippy::expect_used)] // tests fail loudly

use std::sync::Arc;
use std::time::Duration;

use handler_core::{CallbackManager, RunOptions};
use opentelemetry::trace::Status;
use opentelemetry_sdk::trace::{InMemorySpanExporter, SpanData};
use otel_plugin::{EvaluationResult, OtelHandler, OtelHandlerBuilder};
use serde_json::json;

const WAIT: Duration = Duration::from_secs(10);

fn setup(builder: OtelHandlerBuilder) -> (OtelHandler, InMemorySpanExporter, CallbackManager) {
    let spans = InMemorySpanExporter::default();
    let otel = builder
        .exporter(spans.clone())
        .listen(false)
        .build()
        .unwrap();
    let manager = CallbackManager::new().with_handler(Arc::new(otel.clone()));
    (otel, spans, manager)
}

fn status_of(spans: &[SpanData], name: &str) -> Status {
    spans
        .iter()
        .find(|s| s.name == name)
        .map(|s| s.status.clone())
        .unwrap_or_else(|| panic!("no span {name}"))
}

fn error_type(span: &SpanData) -> Option<String> {
    span.attributes
        .iter()
        .find(|kv| kv.key.as_str() == "error.type")
        .map(|kv| kv.value.as_str().into_owned())
}

#[test]
fn a_run_open_past_its_ttl_is_closed_as_abandoned_and_counted() {
    let ttl = Duration::from_millis(5);
    let (otel, spans, manager) = setup(OtelHandler::builder().run_ttl(ttl));
    let stuck = manager
        .on_chain_start(None, &json!({}), RunOptions::named("stuck"))
        .unwrap();
    let stuck_id = stuck.run_id();
    std::thread::sleep(ttl * 4);
    // The next run's start closes the expired one.
    let next = manager
        .on_chain_start(None, &json!({}), RunOptions::named("next"))
        .unwrap();
    assert_eq!(otel.open_runs(), 1);
    next.on_chain_end(&json!({})).unwrap();
    // Its late score is still recorded: the run is remembered as ended here.
    otel.record_evaluation(
        &EvaluationResult::new("judge", "late")
            .with_run_ids(stuck_id, None)
            .with_score(1.0),
    );
    let report = otel.flush(WAIT);
    assert!(report.complete, "{report:?}");
    assert_eq!(
        (report.runs_expired, report.evaluations_late),
        (1, 1),
        "{report:?}"
    );
    let finished = spans.get_finished_spans().unwrap();
    assert_eq!(
        status_of(&finished, "stuck"),
        Status::error("abandoned: no end event within ttl")
    );
    assert_eq!(status_of(&finished, "next"), Status::Unset);
    let stuck_span = finished.iter().find(|s| s.name == "stuck").unwrap();
    assert_eq!(error_type(stuck_span).as_deref(), Some("abandoned"));
    // Its end, arriving after all, changes nothing.
    drop(stuck);
    assert_eq!(otel.flush(WAIT).spans.ended, 3);
}

#[test]
fn an_idle_exporter_closes_expired_runs_on_flush() {
    let ttl = Duration::from_millis(5);
    let (otel, spans, manager) = setup(OtelHandler::builder().run_ttl(ttl));
    let _stuck = manager
        .on_chain_start(None, &json!({}), RunOptions::named("stuck"))
        .unwrap();
    std::thread::sleep(ttl * 4);
    let report = otel.flush(WAIT);
    assert_eq!(report.runs_expired, 1, "{report:?}");
    assert_eq!(spans.get_finished_spans().unwrap().len(), 1);
    assert_eq!(otel.open_runs(), 0);
}

#[test]
fn a_full_table_closes_its_oldest_run_and_keeps_tracing() {
    let (otel, spans, manager) = setup(OtelHandler::builder().max_open_runs(3));
    let runs: Vec<_> = (0..5)
        .map(|i| {
            manager
                .on_chain_start(None, &json!({}), RunOptions::named(format!("run-{i}")))
                .unwrap()
        })
        .collect();
    assert_eq!(otel.open_runs(), 3);
    for run in runs {
        run.on_chain_end(&json!({})).unwrap();
    }
    let report = otel.flush(WAIT);
    assert!(report.complete, "{report:?}");
    assert_eq!(
        (
            report.runs_evicted,
            report.untraced_runs,
            report.spans.exported
        ),
        (2, 0, 5),
        "{report:?}"
    );
    let finished = spans.get_finished_spans().unwrap();
    let evicted = Status::error("abandoned: evicted, too many open runs (max_open_runs)");
    for (name, status) in [
        ("run-0", evicted.clone()),
        ("run-1", evicted),
        ("run-2", Status::Unset),
        ("run-4", Status::Unset),
    ] {
        assert_eq!(status_of(&finished, name), status, "{name}");
    }
}
