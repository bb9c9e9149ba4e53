//! The workspace's promises, tested the way a service combines the crates: a handler that fails
//! or panics on every run's end, placed before the JSONL recorder, the OpenTelemetry exporter
//! and the UpTrain handler, in the sync and the async manager. Every run still ends once for
//! every one of them: the recorder writes the end, the exporter exports the span, and UpTrain
//! grades the answer, whose scores reach the exporter.
#![allow(clippy::unwrap_used, clippy::expect_used)] // tests fail loudly

use std::io::Write;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use llm_callbacks::error::CallbackErrorKind;
use llm_callbacks::event::{ChainEnd, LlmEnd};
use llm_callbacks::handlers::JsonlRecorder;
use llm_callbacks::otel::OtelHandler;
use llm_callbacks::payload::{LlmResult, Serialized};
use llm_callbacks::uptrain::UptrainHandler;
use llm_callbacks::{
    AsyncCallbackManager, CallbackHandler, CallbackManager, HandlerOptions, HandlerResult,
    RunOptions,
};
use opentelemetry_sdk::trace::InMemorySpanExporter;
use serde_json::{Value, json};

/// How the first handler fails at every end.
#[derive(Clone, Copy, Debug)]
enum Fault {
    Error,
    Panic,
}

/// A handler with `raise_error` that fails at every chain and model end.
struct FailsAtEnds(Fault);

impl FailsAtEnds {
    fn fail(&self) -> HandlerResult {
        match self.0 {
            Fault::Error => Err("disk full".into()),
            Fault::Panic => panic!("handler bug"),
        }
    }
}

impl CallbackHandler for FailsAtEnds {
    fn name(&self) -> &str {
        "fails-at-ends"
    }
    fn options(&self) -> HandlerOptions {
        HandlerOptions::new().raise_error(true)
    }
    fn on_chain_end(&self, _: &ChainEnd<'_>) -> HandlerResult {
        self.fail()
    }
    fn on_llm_end(&self, _: &LlmEnd<'_>) -> HandlerResult {
        self.fail()
    }
}

/// Bytes shared between the recorder and the test.
#[derive(Clone, Default)]
struct Shared(Arc<Mutex<Vec<u8>>>);

impl Write for Shared {
    fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
        self.0.lock().unwrap().extend_from_slice(buf);
        Ok(buf.len())
    }
    fn flush(&mut self) -> std::io::Result<()> {
        Ok(())
    }
}

/// The handlers after the failing one, and what they recorded.
struct Service {
    recorded: Shared,
    spans: InMemorySpanExporter,
    otel: OtelHandler,
    uptrain: Arc<UptrainHandler>,
}

impl Service {
    fn new() -> Self {
        let spans = InMemorySpanExporter::default();
        Self {
            recorded: Shared::default(),
            otel: OtelHandler::builder()
                .exporter(spans.clone())
                .build()
                .unwrap(),
            spans,
            uptrain: Arc::new(
                UptrainHandler::builder()
                    .log_results(false)
                    .build()
                    .unwrap(),
            ),
        }
    }

    /// The handlers in service order, the failing one first.
    fn handlers(&self, fault: Fault) -> Vec<Arc<dyn CallbackHandler>> {
        vec![
            Arc::new(FailsAtEnds(fault)),
            Arc::new(JsonlRecorder::new(self.recorded.clone())),
            Arc::new(self.otel.clone()),
            self.uptrain.clone(),
        ]
    }

    /// Every handler after the failing one saw both runs end, once.
    fn assert_every_run_ended(&self, case: &str) {
        // The recorder wrote each end once.
        let text = String::from_utf8(self.recorded.0.lock().unwrap().clone()).unwrap();
        let events: Vec<String> = text
            .lines()
            .map(|line| serde_json::from_str::<Value>(line).unwrap()["event"].to_string())
            .collect();
        let count = |kind: &str| events.iter().filter(|e| *e == kind).count();
        assert_eq!(count("\"chain_end\""), 1, "{case}: {events:?}");
        assert_eq!(count("\"llm_end\""), 1, "{case}: {events:?}");
        assert_eq!(
            count("\"chain_error\"") + count("\"llm_error\""),
            0,
            "{case}"
        );

        // UpTrain graded the answer: it saw the model's end and the chain's end.
        let rows = self.uptrain.flush();
        assert_eq!(rows.len(), 1, "{case}: {rows:?}");
        assert!(
            rows[0].scores.values().all(Option::is_some),
            "{case}: {rows:?}"
        );

        // The exporter ended both spans, and attached the scores published after the end.
        let report = self.otel.flush(Duration::from_secs(30));
        assert!(report.complete, "{case}: {report:?}");
        assert_eq!(report.runs_expired + report.runs_evicted, 0, "{case}");
        // Every score of this answer, and none of another test's (the bus is process-wide:
        // those count as unattached).
        let checks = rows[0].scores.len() as u64;
        assert_eq!(
            report.evaluations_on_span + report.evaluations_late,
            checks,
            "{case}: {report:?}"
        );
        let spans = self.spans.get_finished_spans().unwrap();
        let names: Vec<&str> = spans.iter().map(|s| s.name.as_ref()).collect();
        assert!(names.contains(&"rag"), "{case}: {names:?}");
        assert!(names.contains(&"echo"), "{case}: {names:?}");
        for span in spans.iter().filter(|s| s.name == "rag" || s.name == "echo") {
            assert!(
                !matches!(span.status, opentelemetry::trace::Status::Error { .. }),
                "{case}: {} ended as {:?}",
                span.name,
                span.status
            );
        }
    }
}

fn inputs() -> Value {
    json!({"question": "Where is Paris?", "context": "Paris is the capital of France."})
}

/// The caller gets the failing handler's error.
fn assert_raised(result: Result<(), llm_callbacks::CallbackError>, case: &str) {
    let error = result.expect_err(case);
    assert!(
        matches!(error.kind(), CallbackErrorKind::Handler { handler, .. } if handler == "fails-at-ends"),
        "{case}: {error}"
    );
}

#[test]
fn a_failing_handler_first_hides_no_end_from_the_recorder_the_exporter_or_uptrain() {
    for fault in [Fault::Error, Fault::Panic] {
        let case = format!("sync, {fault:?}");
        let service = Service::new();
        let mut manager = CallbackManager::new();
        for handler in service.handlers(fault) {
            manager.add_handler(handler);
        }
        let chain = manager
            .on_chain_start(None, &inputs(), RunOptions::named("rag"))
            .unwrap();
        let llm = chain
            .child()
            .on_llm_start(&Serialized::named("echo"), "prompt", RunOptions::new())
            .unwrap();
        assert_raised(
            llm.on_llm_end(&LlmResult::from_text("Paris is in France.")),
            &case,
        );
        assert_raised(chain.on_chain_end(&json!({"answer": "Paris"})), &case);
        service.assert_every_run_ended(&case);
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_failing_handler_first_hides_no_end_from_them_in_the_async_manager() {
    for fault in [Fault::Error, Fault::Panic] {
        let case = format!("async, {fault:?}");
        let service = Service::new();
        let mut manager = AsyncCallbackManager::new();
        for handler in service.handlers(fault) {
            manager.add_handler(handler);
        }
        let chain = manager
            .on_chain_start(None, &inputs(), RunOptions::named("rag"))
            .await
            .unwrap();
        let llm = chain
            .child()
            .on_llm_start(&Serialized::named("echo"), "prompt", RunOptions::new())
            .await
            .unwrap();
        assert_raised(
            llm.on_llm_end(&LlmResult::from_text("Paris is in France."))
                .await,
            &case,
        );
        assert_raised(chain.on_chain_end(&json!({"answer": "Paris"})).await, &case);
        // Flushing blocks: off the runtime's worker threads.
        tokio::task::spawn_blocking(move || service.assert_every_run_ended(&case))
            .await
            .unwrap();
    }
}
