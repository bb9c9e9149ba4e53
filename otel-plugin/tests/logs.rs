//! What the exporter logs: once per process, how to turn content capture on; for a Phoenix
//! refusing the credentials, which setting to check; and never a header's value or the key.
//! (One test in this binary: it installs the process-wide log subscriber.)
#![allow(clippy::unwrap_used, clippy::expect_used)] // tests fail loudly

use std::sync::Arc;
use std::time::Duration;

use handler_core::{CallbackManager, RunOptions};
use llm_callbacks_test_support::SharedBuffer;
use opentelemetry_sdk::trace::InMemorySpanExporter;
use otel_plugin::{EvaluationResult, OtelHandler, env};
use serde_json::json;
use wiremock::matchers::method;
use wiremock::{Mock, MockServer, ResponseTemplate};

#[test]
fn the_log_says_how_to_capture_content_once_and_which_key_phoenix_refused() {
    let captured = SharedBuffer::default();
    let writer = captured.clone();
    tracing::subscriber::set_global_default(
        tracing_subscriber::fmt()
            .with_writer(move || writer.clone())
            .with_ansi(false)
            .finish(),
    )
    .unwrap();

    for _ in 0..2 {
        let otel = OtelHandler::builder()
            .exporter(InMemorySpanExporter::default())
            .build()
            .unwrap();
        otel.shutdown(Duration::from_secs(5));
    }
    let log = captured.text();
    assert_eq!(log.matches(env::CAPTURE_CONTENT).count(), 1, "{log}");

    let runtime = tokio::runtime::Runtime::new().unwrap();
    let phoenix = runtime.block_on(MockServer::start());
    runtime.block_on(
        Mock::given(method("POST"))
            .respond_with(ResponseTemplate::new(401))
            .mount(&phoenix),
    );
    let otel = OtelHandler::builder()
        .exporter(InMemorySpanExporter::default())
        .phoenix_url(phoenix.uri())
        .phoenix_api_key("px-wrong-key")
        .header("authorization", "Bearer sk-live-123")
        .listen(false)
        .build()
        .unwrap();
    let manager = CallbackManager::new().with_handler(Arc::new(otel.clone()));
    let chain = manager
        .on_chain_start(None, &json!({}), RunOptions::named("run"))
        .unwrap();
    otel.record_evaluation(
        &EvaluationResult::new("judge", "relevance")
            .with_run(chain.context())
            .with_score(1.0),
    );
    chain.on_chain_end(&json!({})).unwrap();
    let report = otel.shutdown(Duration::from_secs(30));
    // The run's span annotation and its trace's.
    assert_eq!(report.annotations.failed, 2, "{report:?}");

    let log = captured.text();
    assert!(log.contains("Phoenix refused the credentials"), "{log}");
    assert!(log.contains("PHOENIX_API_KEY"), "{log}");
    for secret in ["px-wrong-key", "sk-live-123"] {
        assert!(!log.contains(secret), "{secret} in {log}");
    }
}
