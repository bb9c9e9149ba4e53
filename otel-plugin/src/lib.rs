//! OpenTelemetry export for llm-callbacks: every run becomes a span, every evaluation an event
//! of the span it grades, so runs and scores show in Phoenix, Langfuse, Jaeger, Tempo or any
//! OTLP backend.
//!
//! - One span per run (chain, model, tool, retriever; agent actions as events), parented as
//!   the runs are, with the run's name, tags and metadata, in the attribute conventions of
//!   OpenInference (`openinference.span.kind`, `input.value`, `llm.token_count.*`, ...) and of
//!   OpenTelemetry GenAI (`gen_ai.operation.name`, `gen_ai.usage.*`, ...).
//! - Model runs carry their provider (`llm.provider`, `llm.system`, `gen_ai.provider.name`:
//!   with the model name, what Phoenix prices a run by), their token details (cache reads and
//!   writes, reasoning) in both conventions, and their cost from the one
//!   [`handler_core::cost`] computation, added on the export thread: OpenInference's
//!   `llm.cost.*`, Langfuse's `langfuse.observation.cost_details`, and the price table's
//!   version, entry, date and source (`llm_callbacks.cost.*`). A run without a cost (unknown
//!   model, no usage) carries `llm_callbacks.cost.unknown` saying why, never a zero. Cost is
//!   not content: it is exported whatever the capture switch says. Prices:
//!   [`OtelHandlerBuilder::prices`] or `LLM_CALLBACKS_PRICES`.
//! - Ids come from run ids: the trace id is the root run's id, the span id the run id folded
//!   to 8 bytes ([`ids`]), so runs on any thread, and evaluations naming a run, meet in one
//!   trace.
//! - Errors set the span's status and `error.type`; runs abandoned without an end close with
//!   an error status. Streamed tokens are counted, and the time to the first one recorded.
//! - Evaluations published through the core (`handler_core::evaluation::publish`, as the
//!   UpTrain plugin does), or given to [`OtelHandler::record_evaluation`], become
//!   `gen_ai.evaluation.result` events, on a short child span when the graded span has already
//!   ended, and, with Phoenix configured, annotations in Phoenix of the graded span and of its
//!   trace (so that the project's trace list shows the scores: its "trace annotations" column).
//! - Content (prompts, messages, outputs, documents, tool arguments, error messages,
//!   explanations, custom data) is exported only when capture is on
//!   ([`OtelHandlerBuilder::capture_content`], or
//!   `OTEL_INSTRUMENTATION_GENAI_CAPTURE_MESSAGE_CONTENT=true`), through the user's
//!   [`Redactor`] when there is one; names, kinds, timings, scores, token counts and error
//!   types always are. Each exporter records only the evaluations of its own runs.
//! - Bounded everywhere: open runs (count and time-to-live), ended runs remembered, attributes
//!   and events per span, bytes per export request, the queues; every cut is counted in the
//!   [`ExportReport`].
//! - The event thread does no I/O and never waits for the export thread. It writes each span's
//!   values into two reused buffers and moves the ended span into a bounded queue; one export thread turns the
//!   spans into OpenTelemetry's types and exports them in batches. Drops are counted
//!   ([`ExportReport`]); `flush` and `shutdown` take a timeout; an unreachable collector is a
//!   logged warning. The exporter is not dispatched streamed tokens: the core counts them and
//!   the run's end carries the count and the time to the first one.
//!
//! ```
//! use std::sync::Arc;
//! use std::time::Duration;
//! use handler_core::{CallbackManager, RunOptions};
//! use handler_core::payload::{LlmResult, Serialized};
//! use opentelemetry_sdk::trace::InMemorySpanExporter;
//! use otel_plugin::{EvaluationResult, OtelHandler};
//!
//! let spans = InMemorySpanExporter::default();
//! let otel = OtelHandler::builder().exporter(spans.clone()).build()?;
//! let manager = CallbackManager::new().with_handler(Arc::new(otel.clone()));
//!
//! let chain = manager.on_chain_start(None, &serde_json::json!({"question": "hi"}), RunOptions::named("rag"))?;
//! let llm = chain.child().on_llm_start(&Serialized::named("echo"), "hi", RunOptions::new())?;
//! llm.on_llm_new_token("hello", None)?;
//! llm.on_llm_end(&LlmResult::from_text("hello"))?;
//! let score = EvaluationResult::new("demo", "politeness").with_run(chain.context()).with_score(1.0);
//! handler_core::evaluation::publish(&score); // any plugin may publish; the exporter listens
//! chain.on_chain_end(&serde_json::json!({"answer": "hello"}))?;
//!
//! otel.flush(Duration::from_secs(5));
//! let spans = spans.get_finished_spans()?;
//! let names: Vec<&str> = spans.iter().map(|s| s.name.as_ref()).collect();
//! assert_eq!(names, ["echo", "rag"]);
//! assert_eq!(spans[0].parent_span_id, spans[1].span_context.span_id());
//! assert_eq!(spans[1].events[0].name, "gen_ai.evaluation.result");
//! # Ok::<(), Box<dyn std::error::Error>>(())
//! ```
#![deny(missing_docs)]

mod annotate;
mod attributes;
mod builder;
mod callbacks;
mod capture;
mod config;
mod deadline;
mod error;
mod export;
mod handler;
pub mod ids;
mod phoenix;
mod plugin;
mod priced;
mod provider;
mod record;
mod runs;
pub mod semconv;
mod size;
mod values;

pub use attributes::SpanKind;
pub use builder::OtelHandlerBuilder;
pub use capture::{Redactor, SAFE_INVOCATION_PARAMETERS};
pub use config::{OtelConfig, defaults, env, parse_headers, traces_url};
pub use error::OtelError;
pub use export::SpanReport;
pub use handler::{ExportReport, OtelHandler};
/// The core's evaluation result, re-exported: what [`OtelHandler`] records.
pub use handler_core::evaluation::EvaluationResult;
pub use phoenix::AnnotationReport;
pub use plugin::PLUGIN_NAME;
