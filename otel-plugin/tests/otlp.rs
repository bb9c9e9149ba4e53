//! The OTLP/HTTP export against a loopback collector: spans go to the configured traces URL,
//! with the configured headers and service name; and a Phoenix that sits on a request makes
//! the annotation queue fill up to `max_pending_annotations`, the rest dropped and counted.
#![allow(clippy::unwrap_used, clippy::expect_used)] // tests fail loudly

use std::sync::Arc;
use std::time::Duration;

use handler_core::{CallbackManager, RunOptions};
use opentelemetry_sdk::trace::InMemorySpanExporter;
use otel_plugin::{EvaluationResult, OtelHandler, OtelHandlerBuilder};
use serde_json::json;
use tokio::runtime::Runtime;
use wiremock::matchers::{header, method, path};
use wiremock::{Mock, MockServer, ResponseTemplate};

const WAIT: Duration = Duration::from_secs(30);

/// A loopback server on its own runtime, for handlers that export from their own threads.
struct Loopback {
    runtime: Runtime,
    server: MockServer,
}

impl Loopback {
    fn start() -> Self {
        let runtime = Runtime::new().unwrap();
        let server = runtime.block_on(MockServer::start());
        Self { runtime, server }
    }

    fn answer(&self, mock: Mock) {
        self.runtime.block_on(mock.mount(&self.server));
    }

    fn requests(&self) -> Vec<wiremock::Request> {
        let requests = self.runtime.block_on(self.server.received_requests());
        requests.unwrap_or_default()
    }
}

/// Ends one chain run per name on `otel`; returns their ids.
fn end_runs(otel: &OtelHandler, names: &[&str]) -> Vec<handler_core::Uuid> {
    let manager = CallbackManager::new().with_handler(Arc::new(otel.clone()));
    names
        .iter()
        .map(|name| {
            let chain = manager
                .on_chain_start(None, &json!({}), RunOptions::named(*name))
                .unwrap();
            let id = chain.run_id();
            chain.on_chain_end(&json!({})).unwrap();
            id
        })
        .collect()
}

#[test]
fn spans_go_to_the_traces_url_with_the_headers_and_the_service_name() {
    let collector = Loopback::start();
    // Only a request to the configured URL with both headers is accepted.
    collector.answer(
        Mock::given(method("POST"))
            .and(path("/tenant-7/traces"))
            .and(header("x-tenant", "t-7"))
            .and(header("authorization", "Bearer otlp-key"))
            .respond_with(ResponseTemplate::new(200)),
    );
    collector.answer(Mock::given(method("POST")).respond_with(ResponseTemplate::new(404)));
    let otel = OtelHandler::builder()
        .traces_endpoint(format!("{}/tenant-7/traces", collector.server.uri()))
        .header("x-tenant", "t-7")
        .header("authorization", "Bearer otlp-key")
        .service_name("checkout-svc")
        .listen(false)
        .build()
        .unwrap();
    end_runs(&otel, &["place-order"]);
    let report = otel.flush(WAIT);
    assert!(report.complete, "{report:?}");
    assert_eq!(
        (report.spans.exported, report.spans.failed),
        (1, 0),
        "{report:?}"
    );

    let requests = collector.requests();
    assert_eq!(requests.len(), 1, "{requests:?}");
    let request = &requests[0];
    assert_eq!(request.url.path(), "/tenant-7/traces");
    assert_eq!(
        request.headers.get("content-type").map(|v| v.as_bytes()),
        Some(&b"application/x-protobuf"[..])
    );
    // Protobuf carries strings as they are: the resource's service name and the span's name.
    let body = String::from_utf8_lossy(&request.body);
    assert!(body.contains("service.name"), "{body:?}");
    assert!(body.contains("checkout-svc"), "{body:?}");
    assert!(body.contains("place-order"), "{body:?}");
    otel.shutdown(WAIT);
}

#[test]
fn annotations_beyond_max_pending_are_dropped_and_counted() {
    let phoenix = Loopback::start();
    phoenix.answer(
        Mock::given(method("POST"))
            .and(path("/v1/span_annotations"))
            .respond_with(ResponseTemplate::new(200).set_delay(Duration::from_secs(2))),
    );
    let otel: OtelHandler = OtelHandlerBuilder::default()
        .exporter(InMemorySpanExporter::default())
        .phoenix_url(phoenix.server.uri())
        .max_pending_annotations(2)
        .request_timeout(Duration::from_secs(20))
        .listen(false)
        .build()
        .unwrap();
    let runs = end_runs(&otel, &["a", "b", "c", "d", "e", "f"]);
    let score = |run| {
        otel.record_evaluation(
            &EvaluationResult::new("judge", "relevance")
                .with_run_ids(run, None)
                .with_score(0.5),
        );
    };
    score(runs[0]);
    // Phoenix holds the first annotation's request: the worker waits on it...
    while phoenix.requests().is_empty() {
        std::thread::sleep(Duration::from_millis(10));
    }
    // ...so of the next five scores' ten annotations (each score annotates its span and its
    // trace), two fit in the queue and eight are dropped.
    for run in &runs[1..] {
        score(*run);
    }
    assert_eq!(otel.report().annotations.dropped, 8);
    let report = otel.flush(WAIT);
    assert!(report.complete, "{report:?}");
    // The four not dropped reached Phoenix (this stub's empty answers count some as refused).
    let annotations = report.annotations;
    assert_eq!(
        (annotations.sent + annotations.rejected, annotations.dropped),
        (4, 8),
        "{report:?}"
    );
}
