//! Bounded spans and requests: events and attributes per span are capped, and a batch over
//! the byte cap per request is split, never lost, each cut counted. The split is checked
//! against a loopback OTLP/HTTP receiver that refuses bodies over its limit, as collectors do.
#![allow(clippy::unwrap_used, clippy::expect_used)] // tests fail loudly

use std::sync::Arc;
use std::time::Duration;

use handler_core::payload::{LlmResult, Serialized};
use handler_core::{CallbackManager, RunOptions};
use opentelemetry_sdk::trace::InMemorySpanExporter;
use otel_plugin::{OtelHandler, OtelHandlerBuilder};
use serde_json::json;
use wiremock::matchers::{method, path};
use wiremock::{Match, Mock, MockServer, Request, ResponseTemplate};

const WAIT: Duration = Duration::from_secs(30);

#[test]
fn events_and_attributes_over_the_caps_are_dropped_and_counted() {
    let spans = InMemorySpanExporter::default();
    let otel = OtelHandler::builder()
        .exporter(spans.clone())
        .capture_content(true)
        .max_span_events(2)
        .max_span_attributes(6)
        .build()
        .unwrap();
    let manager = CallbackManager::new().with_handler(Arc::new(otel.clone()));
    let chain = manager
        .on_chain_start(None, &json!({"q": "x"}), RunOptions::named("chatty"))
        .unwrap();
    for i in 0..5 {
        chain.on_text(&format!("line {i}")).unwrap();
    }
    let retriever = chain
        .child()
        .on_retriever_start(None, "q", RunOptions::named("search"))
        .unwrap();
    let documents: Vec<_> = (0..10)
        .map(|i| handler_core::payload::Document::new(format!("doc {i}")))
        .collect();
    retriever.on_retriever_end(&documents).unwrap();
    chain.on_chain_end(&json!({"a": "y"})).unwrap();

    let report = otel.flush(WAIT);
    assert!(report.complete, "{report:?}");
    let finished = spans.get_finished_spans().unwrap();
    let chatty = finished.iter().find(|s| s.name == "chatty").unwrap();
    assert_eq!(chatty.events.len(), 2);
    assert_eq!(chatty.events.dropped_count, 3);
    let search = finished.iter().find(|s| s.name == "search").unwrap();
    // Six written (run id, query, mime type, three documents), the kind added on export.
    assert_eq!(search.attributes.len(), 7, "{:?}", search.attributes);
    assert_eq!(
        search.dropped_attributes_count, 7,
        "the other seven documents"
    );
    assert_eq!(report.spans.events_dropped, 3, "{report:?}");
    assert_eq!(report.spans.attributes_dropped, 7, "{report:?}");
}

/// Requests whose body is larger than this many bytes.
struct LargerThan(usize);

impl Match for LargerThan {
    fn matches(&self, request: &Request) -> bool {
        request.body.len() > self.0
    }
}

const LIMIT: usize = 64 * 1024;
const RUNS: usize = 20;

/// A receiver refusing bodies over [`LIMIT`] with 413; the exporter built by `builder`
/// exports twenty long model spans (about 40 KB each) in one batch.
fn export_long_spans(builder: OtelHandlerBuilder) -> (otel_plugin::ExportReport, Vec<usize>) {
    let runtime = tokio::runtime::Runtime::new().unwrap();
    let server = runtime.block_on(MockServer::start());
    runtime.block_on(
        Mock::given(method("POST"))
            .and(path("/v1/traces"))
            .and(LargerThan(LIMIT))
            .respond_with(ResponseTemplate::new(413))
            .with_priority(1)
            .mount(&server),
    );
    runtime.block_on(
        Mock::given(method("POST"))
            .and(path("/v1/traces"))
            .respond_with(ResponseTemplate::new(200))
            .mount(&server),
    );
    let otel = builder
        .endpoint(server.uri())
        .capture_content(true)
        // One batch: nothing goes out before the flush.
        .scheduled_delay(Duration::from_secs(3600))
        .build()
        .unwrap();
    let manager = CallbackManager::new().with_handler(Arc::new(otel.clone()));
    let prompt = "p".repeat(10_000);
    let answer = "a".repeat(10_000);
    for i in 0..RUNS {
        let llm = manager
            .on_llm_start(
                &Serialized::named("m"),
                &prompt,
                RunOptions::named(format!("long-{i}")),
            )
            .unwrap();
        llm.on_llm_end(&LlmResult::from_text(answer.as_str()))
            .unwrap();
    }
    let report = otel.shutdown(WAIT);
    let requests = runtime.block_on(server.received_requests()).unwrap();
    let sizes = requests.iter().map(|r| r.body.len()).collect();
    (report, sizes)
}

#[test]
fn a_batch_over_the_collectors_limit_is_split_not_lost() {
    let (report, sizes) = export_long_spans(OtelHandler::builder().max_export_bytes(LIMIT));
    assert!(report.complete, "{report:?}");
    assert_eq!(
        (report.spans.exported, report.spans.failed),
        (RUNS as u64, 0),
        "{report:?}"
    );
    assert!(sizes.len() >= 2, "{sizes:?}");
    assert!(sizes.iter().all(|size| *size <= LIMIT), "{sizes:?}");
    assert_eq!(
        report.spans.requests_split,
        sizes.len() as u64 - 1,
        "{report:?}"
    );
}

#[test]
fn the_receiver_does_refuse_the_whole_batch_at_once() {
    // The same spans under the default cap (4 MiB): one request, refused whole.
    let (report, sizes) = export_long_spans(OtelHandler::builder());
    assert_eq!(sizes.len(), 1, "{sizes:?}");
    assert!(sizes[0] > LIMIT);
    assert_eq!(report.spans.failed, RUNS as u64, "{report:?}");
}
