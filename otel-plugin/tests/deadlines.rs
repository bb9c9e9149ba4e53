//! `Duration::MAX` as a timeout means "no deadline" everywhere a timeout is taken: flush,
//! shutdown, dropping the handler, requests, the batch delay, a run's time-to-live. And
//! dropping the handler never waits longer than its shutdown timeout, even when the exporter
//! hangs.
#![allow(clippy::unwrap_used, clippy::expect_used)] // tests fail loudly

use std::sync::Arc;
use std::time::Duration;

use handler_core::{CallbackManager, RunOptions};
use opentelemetry_sdk::error::OTelSdkResult;
use opentelemetry_sdk::trace::{InMemorySpanExporter, SpanData, SpanExporter};
use otel_plugin::OtelHandler;
use serde_json::json;

/// Generous: only a hang reaches it.
const HANG: Duration = Duration::from_secs(60);

fn one_run(otel: &OtelHandler) {
    let manager = CallbackManager::new().with_handler(Arc::new(otel.clone()));
    let chain = manager
        .on_chain_start(None, &json!({}), RunOptions::named("run"))
        .unwrap();
    chain.on_chain_end(&json!({})).unwrap();
}

/// Runs `work` on a thread and fails if it does not return before [`HANG`].
fn returns<T: Send + 'static>(work: impl FnOnce() -> T + Send + 'static) -> T {
    let (done, wait) = std::sync::mpsc::channel();
    std::thread::spawn(move || {
        let _ = done.send(work());
    });
    wait.recv_timeout(HANG).expect("hung")
}

#[test]
fn flush_and_shutdown_without_deadline_finish() {
    let spans = InMemorySpanExporter::default();
    let otel = OtelHandler::builder()
        .exporter(spans.clone())
        .scheduled_delay(Duration::MAX)
        .request_timeout(Duration::MAX)
        .shutdown_timeout(Duration::MAX)
        .run_ttl(Duration::MAX)
        .build()
        .unwrap();
    one_run(&otel);
    let flushed = otel.flush(Duration::MAX);
    assert!(flushed.complete, "{flushed:?}");
    assert_eq!(flushed.spans.exported, 1);
    one_run(&otel);
    let report = returns(move || otel.shutdown(Duration::MAX));
    assert!(report.complete, "{report:?}");
    assert_eq!(report.spans.exported, 2);
}

#[test]
fn an_otlp_and_phoenix_handler_without_deadlines_builds_fails_and_drops() {
    // Nothing listens on port 9: requests fail at once, whatever their timeout.
    let otel = OtelHandler::builder()
        .endpoint("http://127.0.0.1:9")
        .phoenix_url("http://127.0.0.1:9")
        .request_timeout(Duration::MAX)
        .shutdown_timeout(Duration::MAX)
        .build()
        .unwrap();
    one_run(&otel);
    let report = returns(move || {
        let report = otel.flush(Duration::MAX);
        drop(otel); // the last clone: shuts down with `Duration::MAX`
        report
    });
    assert!(report.complete, "{report:?}");
    assert_eq!(report.spans.failed, 1, "{report:?}");
}

/// An exporter that never returns.
#[derive(Debug)]
struct Hangs;

impl SpanExporter for Hangs {
    async fn export(&self, _batch: Vec<SpanData>) -> OTelSdkResult {
        std::thread::sleep(Duration::from_secs(3600));
        Ok(())
    }
}

#[test]
fn dropping_the_handler_waits_no_longer_than_its_shutdown_timeout() {
    let otel = OtelHandler::builder()
        .exporter(Hangs)
        .scheduled_delay(Duration::from_millis(1))
        .shutdown_timeout(Duration::from_millis(50))
        .build()
        .unwrap();
    one_run(&otel);
    // The export thread is stuck in the exporter: the drop gives up after 50 ms.
    returns(move || drop(otel));
}
