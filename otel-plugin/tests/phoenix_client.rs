//! The Phoenix annotation client against a loopback server: each score goes on its run's span
//! and on its trace; it sends the configured auth and content only when captured; an annotation
//! Phoenix refuses does not fail the others; 401 is counted and not retried; 5xx and 429 are
//! retried (annotations are idempotent); Phoenix down or slow is counted; and callers never wait
//! on it.
#![allow(clippy::unwrap_used, clippy::expect_used)] // tests fail loudly

use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::Duration;

use handler_core::registry::PluginConfig;
use handler_core::{CallbackManager, RunOptions, Uuid};
use opentelemetry_sdk::trace::InMemorySpanExporter;
use otel_plugin::{EvaluationResult, OtelConfig, OtelHandler, OtelHandlerBuilder, env, ids};
use serde_json::json;
use tokio::runtime::Runtime;
use wiremock::matchers::{body_string_contains, header, method, path, path_regex};
use wiremock::{Mock, MockServer, ResponseTemplate};

const WAIT: Duration = Duration::from_secs(30);

struct Phoenix {
    runtime: Runtime,
    server: MockServer,
}

impl Phoenix {
    fn start() -> Self {
        let runtime = Runtime::new().unwrap();
        let server = runtime.block_on(MockServer::start());
        Self { runtime, server }
    }

    fn answer(&self, mock: Mock) {
        self.runtime.block_on(mock.mount(&self.server));
    }

    /// The bodies of the annotation requests received so far.
    fn bodies(&self) -> Vec<String> {
        let requests = self.runtime.block_on(self.server.received_requests());
        requests
            .unwrap_or_default()
            .iter()
            .filter(|r| r.url.path().ends_with("_annotations"))
            .map(|r| String::from_utf8_lossy(&r.body).into_owned())
            .collect()
    }
}

/// Span and trace annotations alike.
fn annotations() -> wiremock::MockBuilder {
    Mock::given(method("POST")).and(path_regex("^/v1/(span|trace)_annotations$"))
}

fn handler(builder: OtelHandlerBuilder, phoenix: &str) -> OtelHandler {
    builder
        .exporter(InMemorySpanExporter::default())
        .phoenix_url(phoenix)
        .listen(false)
        .build()
        .unwrap()
}

/// Ends one run per name, then scores each; returns the runs' ids.
fn score_runs(otel: &OtelHandler, names: &[&str]) -> Vec<Uuid> {
    let manager = CallbackManager::new().with_handler(Arc::new(otel.clone()));
    let mut ids = Vec::new();
    for name in names {
        let chain = manager
            .on_chain_start(None, &json!({}), RunOptions::named(*name))
            .unwrap();
        ids.push(chain.run_id());
        chain.on_chain_end(&json!({})).unwrap();
    }
    for id in &ids {
        otel.record_evaluation(
            &EvaluationResult::new("judge", "relevance")
                .with_run_ids(*id, None)
                .with_score(0.5)
                .with_explanation("SECRET explanation"),
        );
    }
    ids
}

#[test]
fn annotations_carry_the_key_and_headers_and_content_only_when_captured() {
    let phoenix = Phoenix::start();
    phoenix.answer(
        annotations()
            .and(header("authorization", "Bearer px-key"))
            .and(header("x-team", "llm"))
            .respond_with(ResponseTemplate::new(200)),
    );
    phoenix.answer(annotations().respond_with(ResponseTemplate::new(401)));
    let config = OtelConfig::from_plugin_config(
        &PluginConfig::new()
            .set(env::PHOENIX_API_KEY, "px-key")
            .set(env::PHOENIX_CLIENT_HEADERS, "x-team=llm"),
    )
    .unwrap();
    for capture in [false, true] {
        let builder = OtelHandler::builder()
            .config(config.clone())
            .capture_content(capture);
        let otel = handler(builder, &phoenix.server.uri());
        score_runs(&otel, &["a"]);
        let report = otel.flush(WAIT);
        assert!(report.complete, "{report:?}");
        // The run's span annotation and its trace's.
        assert_eq!(report.annotations.sent, 2, "{report:?}");
        let last = phoenix.bodies().pop().unwrap_or_default();
        assert_eq!(last.contains("SECRET"), capture, "{last}");
        assert!(last.contains("relevance"), "{last}");
    }
}

#[test]
fn each_score_is_annotated_on_its_span_and_on_its_trace() {
    let phoenix = Phoenix::start();
    phoenix.answer(
        Mock::given(method("POST"))
            .and(path("/v1/trace_annotations"))
            .respond_with(ResponseTemplate::new(200)),
    );
    phoenix.answer(annotations().respond_with(ResponseTemplate::new(200)));
    let otel = handler(OtelHandler::builder(), &phoenix.server.uri());
    let manager = CallbackManager::new().with_handler(Arc::new(otel.clone()));
    let root = manager
        .on_chain_start(None, &json!({}), RunOptions::named("rag"))
        .unwrap();
    let graded = root
        .child()
        .on_chain_start(None, &json!({}), RunOptions::named("generate"))
        .unwrap();
    let context = graded.context().clone();
    graded.on_chain_end(&json!({})).unwrap();
    otel.record_evaluation(
        &EvaluationResult::new("judge", "relevance")
            .with_run(&context)
            .with_score(0.75)
            .with_label("relevant"),
    );
    let span = ids::span_id(context.run_id).to_string();
    let trace = ids::trace_id(root.run_id()).to_string();
    root.on_chain_end(&json!({})).unwrap();
    let report = otel.flush(WAIT);
    assert_eq!(report.annotations.sent, 2, "{report:?}");

    let requests = phoenix.runtime.block_on(phoenix.server.received_requests());
    let body_of = |endpoint: &str| -> serde_json::Value {
        let request = requests
            .iter()
            .flatten()
            .find(|r| r.url.path() == endpoint)
            .unwrap_or_else(|| panic!("nothing posted to {endpoint}"));
        serde_json::from_slice(&request.body).unwrap()
    };
    let on_span = &body_of("/v1/span_annotations")["data"][0];
    assert_eq!(on_span["span_id"], span.as_str());
    assert!(on_span.get("trace_id").is_none(), "{on_span}");
    let on_trace = &body_of("/v1/trace_annotations")["data"][0];
    assert_eq!(on_trace["trace_id"], trace.as_str());
    assert!(on_trace.get("span_id").is_none(), "{on_trace}");
    // One per graded run of the trace: identified, and traced back, by the graded span.
    assert_eq!(on_trace["identifier"], span.as_str());
    assert_eq!(on_trace["metadata"]["span_id"], span.as_str());
    for field in ["name", "annotator_kind", "result"] {
        assert_eq!(on_trace[field], on_span[field], "{field}");
    }
    assert_eq!(on_trace["result"]["score"], 0.75);
    assert_eq!(on_trace["result"]["label"], "relevant");
}

#[test]
fn an_annotation_phoenix_refuses_does_not_fail_the_others() {
    let phoenix = Phoenix::start();
    let otel = handler(OtelHandler::builder(), &phoenix.server.uri());
    // Phoenix does not have the second run's span (another process exported it, say).
    let manager = CallbackManager::new().with_handler(Arc::new(otel.clone()));
    let runs: Vec<_> = ["good", "unknown", "fine"]
        .iter()
        .map(|name| {
            manager
                .on_chain_start(None, &json!({}), RunOptions::named(*name))
                .unwrap()
        })
        .collect();
    let unknown = ids::span_id(runs[1].run_id()).to_string();
    phoenix.answer(
        annotations()
            .and(body_string_contains(unknown.as_str()))
            .respond_with(ResponseTemplate::new(404).set_body_string("span not found"))
            .with_priority(1),
    );
    phoenix.answer(annotations().respond_with(ResponseTemplate::new(200)));
    // Scored while open, so that all three are queued together.
    for run in &runs {
        otel.record_evaluation(
            &EvaluationResult::new("judge", "relevance")
                .with_run(run.context())
                .with_score(1.0),
        );
    }
    for run in runs {
        run.on_chain_end(&json!({})).unwrap();
    }
    let report = otel.flush(WAIT);
    assert!(report.complete, "{report:?}");
    let a = report.annotations;
    // Both annotations of the unknown run are refused (the trace one names its span too).
    assert_eq!((a.sent, a.rejected, a.failed), (4, 2, 0), "{report:?}");
}

#[test]
fn a_401_is_counted_and_not_retried() {
    let phoenix = Phoenix::start();
    phoenix.answer(annotations().respond_with(ResponseTemplate::new(401)));
    let otel = handler(OtelHandler::builder(), &phoenix.server.uri());
    score_runs(&otel, &["a", "b", "c"]);
    let report = otel.flush(WAIT);
    assert!(report.complete, "{report:?}");
    let a = report.annotations;
    assert_eq!((a.sent, a.failed, a.rejected), (0, 6, 0), "{report:?}");
    // One request per batch and endpoint at most: never sent again.
    assert!(phoenix.bodies().len() <= 6, "{}", phoenix.bodies().len());
}

#[test]
fn phoenix_down_is_counted_and_the_flush_finishes() {
    // Nothing listens on port 9 of loopback: connections are refused.
    let otel = handler(OtelHandler::builder(), "http://127.0.0.1:9");
    score_runs(&otel, &["a", "b"]);
    let report = otel.flush(WAIT);
    assert!(report.complete, "{report:?}");
    assert_eq!(report.annotations.failed, 4, "{report:?}");
}

#[test]
fn a_slow_phoenix_never_blocks_the_callers_and_times_out_counted() {
    let phoenix = Phoenix::start();
    phoenix.answer(
        annotations().respond_with(ResponseTemplate::new(200).set_delay(Duration::from_secs(3))),
    );
    let otel = handler(
        OtelHandler::builder().request_timeout(Duration::from_secs(20)),
        &phoenix.server.uri(),
    );
    score_runs(&otel, &["a"]);
    let flushed = Arc::new(AtomicBool::new(false));
    let flushing = {
        let (otel, flushed) = (otel.clone(), flushed.clone());
        std::thread::spawn(move || {
            let report = otel.flush(Duration::MAX);
            flushed.store(true, Ordering::SeqCst);
            report
        })
    };
    // Phoenix has the request and sits on it: the flush waits...
    while phoenix.bodies().is_empty() {
        std::thread::sleep(Duration::from_millis(10));
    }
    // ...and recording goes on meanwhile, without waiting for it.
    score_runs(&otel, &["b"]);
    assert!(
        !flushed.load(Ordering::SeqCst),
        "recording waited for the flush"
    );
    let report = flushing.join().unwrap();
    assert!(report.complete, "{report:?}");

    // Slower than the request timeout: failed, counted.
    let impatient = handler(
        OtelHandler::builder().request_timeout(Duration::from_millis(200)),
        &phoenix.server.uri(),
    );
    score_runs(&impatient, &["c"]);
    let report = impatient.flush(WAIT);
    assert!(report.complete, "{report:?}");
    // The span annotation and the trace's.
    assert_eq!(report.annotations.failed, 2, "{report:?}");
}

/// Annotations are idempotent upserts (one per name, span and identifier), so a failure a retry
/// may cure is sent again, even when Phoenix may have seen the request.
#[test]
fn annotations_are_sent_again_after_failures_a_retry_may_cure() {
    // Phoenix's first answer (to one of the score's two requests: its span's and its trace's),
    // its Retry-After, requests it sees, annotations sent / failed
    let cases = [
        (500, None, 3, (2, 0)),
        (502, None, 3, (2, 0)),
        (503, None, 3, (2, 0)),
        (429, Some("0"), 3, (2, 0)),
        (401, None, 2, (1, 1)),
    ];
    for (status, retry_after, requests, (sent, failed)) in cases {
        let phoenix = Phoenix::start();
        let mut first = ResponseTemplate::new(status);
        if let Some(wait) = retry_after {
            first = first.insert_header("retry-after", wait);
        }
        phoenix.answer(annotations().respond_with(first).up_to_n_times(1));
        phoenix.answer(annotations().respond_with(ResponseTemplate::new(200)));
        let otel = handler(OtelHandler::builder(), &phoenix.server.uri());
        score_runs(&otel, &["a"]);
        let report = otel.flush(WAIT);
        assert!(report.complete, "{status}: {report:?}");
        let a = report.annotations;
        assert_eq!((a.sent, a.failed), (sent, failed), "{status}: {report:?}");
        assert_eq!(phoenix.bodies().len(), requests, "{status}");
    }
}
