//! The callback handler: runs become spans, evaluations become events of the spans they grade.
//!
//! On the event thread the handler only builds span data in memory and hands ended spans to
//! a bounded queue: no I/O, no blocking. A token event touches two atomics and allocates
//! nothing.

use std::borrow::Cow;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, Weak};
use std::time::{Duration, Instant, SystemTime};

use handler_core::evaluation::{self, EvaluationListener, EvaluationResult, Subscription};
use handler_core::payload::ErrorInfo;
use handler_core::{
    AgentAction, AgentFinish, CallbackHandler, ChainEnd, ChainError, ChainStart, ChatModelStart,
    CustomEvent, HandlerResult, LlmEnd, LlmError, LlmNewToken, LlmStart, RetrieverEnd,
    RetrieverError, RetrieverStart, Retry, RunContext, Text, ToolEnd, ToolError, ToolStart, Uuid,
};
use opentelemetry::trace::{Event, SpanContext, SpanId, Status, TraceFlags, TraceId, TraceState};
use opentelemetry::{InstrumentationScope, KeyValue};
use opentelemetry_sdk::trace::{SpanData, SpanEvents, SpanLinks};

use crate::attributes::{Mapper, SpanKind};
use crate::config::OtelConfig;
use crate::export::{SpanReport, SpanSink};
use crate::ids::{span_id, trace_id};
use crate::phoenix::{Annotation, AnnotationReport, AnnotationResult, PhoenixAnnotations};
use crate::runs::{Draft, OpenRun, OpenRuns, RecentTraces};
use crate::semconv as k;

/// How many ended runs' trace ids are remembered for late evaluations.
const RECENT_TRACES: usize = 4096;

/// Exports runs as OpenTelemetry spans and evaluations as `gen_ai.evaluation.result` events
/// (and Phoenix span annotations).
///
/// Build it with [`OtelHandler::builder`], or let the registry build it from the environment
/// (feature `otel` of the facade). Cloning is cheap: clones share one exporter.
///
/// ```
/// use std::sync::{Arc, Weak};
/// use std::time::Duration;
/// use handler_core::{CallbackManager, RunOptions};
/// use opentelemetry_sdk::trace::InMemorySpanExporter;
/// use otel_plugin::OtelHandler;
///
/// let spans = InMemorySpanExporter::default();
/// let otel = OtelHandler::builder().exporter(spans.clone()).build()?;
/// let manager = CallbackManager::new().with_handler(Arc::new(otel.clone()));
///
/// let chain = manager.on_chain_start(None, &serde_json::json!({"q": "hi"}), RunOptions::named("qa"))?;
/// chain.on_chain_end(&serde_json::json!({"a": "hello"}))?;
///
/// let report = otel.flush(Duration::from_secs(5));
/// assert_eq!(report.spans.exported, 1);
/// assert_eq!(spans.get_finished_spans()?[0].name, "qa");
/// # Ok::<(), Box<dyn std::error::Error>>(())
/// ```
#[derive(Debug, Clone)]
pub struct OtelHandler {
    inner: Arc<Inner>,
}

#[derive(Debug)]
pub(crate) struct Inner {
    config: OtelConfig,
    sink: Arc<SpanSink>,
    runs: OpenRuns,
    recent: RecentTraces,
    scope: InstrumentationScope,
    annotations: Option<PhoenixAnnotations>,
    untraced_runs: AtomicU64,
    evaluations_on_span: AtomicU64,
    evaluations_late: AtomicU64,
    evaluations_unattached: AtomicU64,
    shut_down: AtomicBool,
    /// Evaluations published through the core reach this handler while this lives.
    subscription: Option<Subscription>,
}

/// Receives the evaluations published through the core; holds the handler weakly, so that
/// dropping the handler ends the subscription.
struct Listener(Weak<Inner>);

impl EvaluationListener for Listener {
    fn on_evaluation(&self, result: &EvaluationResult) {
        if let Some(inner) = self.0.upgrade() {
            inner.record_evaluation(result);
        }
    }
}

impl std::fmt::Debug for Listener {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("Listener")
    }
}

/// What the exporter did so far, as [`flush`](OtelHandler::flush),
/// [`shutdown`](OtelHandler::shutdown) and [`report`](OtelHandler::report) return it.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct ExportReport {
    /// True when the flush or shutdown finished within its timeout.
    pub complete: bool,
    /// What became of the spans.
    pub spans: SpanReport,
    /// What became of the Phoenix annotations (all zero without Phoenix).
    pub annotations: AnnotationReport,
    /// Runs not traced because too many were open at once.
    pub untraced_runs: u64,
    /// Evaluations recorded as events of their run's open span.
    pub evaluations_on_span: u64,
    /// Evaluations that arrived after their run's span ended, recorded on a child span.
    pub evaluations_late: u64,
    /// Evaluations that named no run, so could not be recorded.
    pub evaluations_unattached: u64,
}

impl OtelHandler {
    /// A builder; see [`OtelHandlerBuilder`](crate::OtelHandlerBuilder).
    pub fn builder() -> crate::OtelHandlerBuilder {
        crate::OtelHandlerBuilder::default()
    }

    pub(crate) fn from_parts(
        config: OtelConfig,
        sink: Arc<SpanSink>,
        annotations: Option<PhoenixAnnotations>,
        listen: bool,
    ) -> Self {
        let scope = InstrumentationScope::builder("llm-callbacks")
            .with_version(env!("CARGO_PKG_VERSION"))
            .build();
        Self {
            inner: Arc::new_cyclic(|weak| Inner {
                subscription: listen
                    .then(|| evaluation::subscribe(Arc::new(Listener(weak.clone())))),
                runs: OpenRuns::new(config.max_open_runs),
                recent: RecentTraces::new(RECENT_TRACES),
                config,
                sink,
                scope,
                annotations,
                untraced_runs: AtomicU64::new(0),
                evaluations_on_span: AtomicU64::new(0),
                evaluations_late: AtomicU64::new(0),
                evaluations_unattached: AtomicU64::new(0),
                shut_down: AtomicBool::new(false),
            }),
        }
    }

    /// The settings in use.
    pub fn config(&self) -> &OtelConfig {
        &self.inner.config
    }

    /// True when evaluations published through the core reach this handler.
    pub fn listens(&self) -> bool {
        self.inner.subscription.is_some()
    }

    /// Runs started and not yet ended.
    pub fn open_runs(&self) -> usize {
        self.inner.runs.len()
    }

    /// What the exporter did so far, without waiting.
    pub fn report(&self) -> ExportReport {
        self.inner.report(true)
    }

    /// Exports every ended span and sends every queued annotation, waiting at most `timeout`.
    pub fn flush(&self, timeout: Duration) -> ExportReport {
        let deadline = Instant::now() + timeout;
        let mut complete = self.inner.sink.flush(timeout);
        if let Some(annotations) = &self.inner.annotations {
            complete &= annotations.flush(deadline.saturating_duration_since(Instant::now()));
        }
        self.inner.report(complete)
    }

    /// Flushes, then stops the export threads, waiting at most `timeout` in all. Spans ended
    /// afterwards are dropped and counted. Dropping the last clone of the handler shuts it
    /// down with [`OtelConfig::shutdown_timeout`].
    pub fn shutdown(&self, timeout: Duration) -> ExportReport {
        self.inner.shutdown(timeout)
    }

    /// Records an evaluation of a run: an event on the run's span while it is open, else a
    /// short child span carrying the event; and, with Phoenix configured, a span annotation.
    /// Never blocks. Evaluations published through the core
    /// (`handler_core::evaluation::publish`) arrive here by themselves unless the builder's
    /// [`listen`](crate::OtelHandlerBuilder::listen) was turned off.
    pub fn record_evaluation(&self, result: &EvaluationResult) {
        self.inner.record_evaluation(result);
    }
}

impl Inner {
    fn mapper(&self) -> Mapper<'_> {
        Mapper::new(&self.config)
    }

    fn report(&self, complete: bool) -> ExportReport {
        ExportReport {
            complete,
            spans: self.sink.report(),
            annotations: self
                .annotations
                .as_ref()
                .map(PhoenixAnnotations::report)
                .unwrap_or_default(),
            untraced_runs: self.untraced_runs.load(Ordering::Relaxed),
            evaluations_on_span: self.evaluations_on_span.load(Ordering::Relaxed),
            evaluations_late: self.evaluations_late.load(Ordering::Relaxed),
            evaluations_unattached: self.evaluations_unattached.load(Ordering::Relaxed),
        }
    }

    fn shutdown(&self, timeout: Duration) -> ExportReport {
        if self.shut_down.swap(true, Ordering::AcqRel) {
            return self.report(true);
        }
        let deadline = Instant::now() + timeout;
        let left = || deadline.saturating_duration_since(Instant::now());
        let mut complete = self.sink.flush(timeout);
        if let Some(annotations) = &self.annotations {
            complete &= annotations.shutdown(left());
        }
        complete &= self.sink.shutdown(left());
        let report = self.report(complete);
        if report.spans.dropped + report.spans.failed + report.annotations.dropped > 0 {
            tracing::warn!(?report, "OpenTelemetry exporter shut down with losses");
        }
        report
    }

    /// The trace a run belongs to: its root run's id.
    fn trace_of(run: &RunContext) -> TraceId {
        trace_id(run.root_id())
    }

    fn start(
        &self,
        run: &RunContext,
        kind: SpanKind,
        fallback_name: Option<&str>,
        fill: impl FnOnce(&Mapper<'_>, &mut Vec<KeyValue>),
    ) {
        let mapper = self.mapper();
        let mut attributes = mapper.run(kind, run);
        fill(&mapper, &mut attributes);
        let name = run
            .name
            .as_deref()
            .or(fallback_name)
            .unwrap_or(kind.default_name());
        let draft = Draft {
            name: Cow::Owned(name.to_owned()),
            kind,
            parent: run.parent_run_id.map_or(SpanId::INVALID, span_id),
            start_time: SystemTime::now(),
            attributes,
            events: Vec::new(),
        };
        let open = Arc::new(OpenRun::new(
            Self::trace_of(run),
            span_id(run.run_id),
            draft,
        ));
        if !self.runs.insert(run.run_id, open)
            && self.untraced_runs.fetch_add(1, Ordering::Relaxed) == 0
        {
            tracing::warn!(
                max_open_runs = self.config.max_open_runs,
                "too many open runs: new runs are not traced (counted in the export report)"
            );
        }
    }

    /// Edits the open span of `run_id`, if any.
    fn edit(&self, run_id: Uuid, edit: impl FnOnce(&Mapper<'_>, &mut Draft)) {
        if let Some(open) = self.runs.get(run_id)
            && let Some(draft) = open.draft().as_mut()
        {
            edit(&self.mapper(), draft);
        }
    }

    fn event(&self, run_id: Uuid, name: &'static str, attributes: Vec<KeyValue>) {
        self.edit(run_id, |_, draft| {
            draft
                .events
                .push(Event::new(name, SystemTime::now(), attributes, 0));
        });
    }

    fn end(&self, run: &RunContext, status: Status, fill: impl FnOnce(&Mapper<'_>, &mut Draft)) {
        let Some(open) = self.runs.remove(run.run_id) else {
            return;
        };
        let Some(mut draft) = open.draft().take() else {
            return;
        };
        fill(&self.mapper(), &mut draft);
        let (tokens, first_token) = open.tokens();
        if tokens > 0 {
            let tokens = i64::try_from(tokens).unwrap_or(i64::MAX);
            draft
                .attributes
                .push(KeyValue::new(k::STREAMED_TOKENS, tokens));
        }
        if let Some(first_token) = first_token {
            draft.attributes.push(KeyValue::new(
                k::TIME_TO_FIRST_TOKEN_MS,
                first_token.as_secs_f64() * 1000.0,
            ));
            let at = draft.start_time + first_token;
            draft
                .events
                .push(Event::new(k::FIRST_TOKEN_EVENT, at, Vec::new(), 0));
        }
        if open.trace_id != trace_id(run.run_id) {
            self.recent.remember(run.run_id, open.trace_id);
        }
        let span = self.span_data(open.trace_id, open.span_id, draft, status);
        self.sink.send(span);
    }

    fn span_data(&self, trace: TraceId, span: SpanId, draft: Draft, status: Status) -> SpanData {
        let span_kind = match draft.kind {
            SpanKind::Llm => opentelemetry::trace::SpanKind::Client,
            _ => opentelemetry::trace::SpanKind::Internal,
        };
        let mut events = SpanEvents::default();
        events.events = draft.events;
        SpanData {
            span_context: SpanContext::new(
                trace,
                span,
                TraceFlags::SAMPLED,
                false,
                TraceState::NONE,
            ),
            parent_span_id: draft.parent,
            parent_span_is_remote: false,
            span_kind,
            name: draft.name,
            start_time: draft.start_time,
            end_time: SystemTime::now(),
            attributes: draft.attributes,
            dropped_attributes_count: 0,
            events,
            links: SpanLinks::default(),
            status,
            instrumentation_scope: self.scope.clone(),
        }
    }

    fn fail(
        &self,
        run: &RunContext,
        error: &ErrorInfo,
        fill: impl FnOnce(&Mapper<'_>, &mut Draft),
    ) {
        let status = Status::error(format!("{}: {}", error.kind, error.message));
        self.end(run, status, |mapper, draft| {
            fill(mapper, draft);
            draft
                .attributes
                .push(KeyValue::new(k::ERROR_TYPE, error.kind.clone()));
            draft.events.push(Event::new(
                "exception",
                SystemTime::now(),
                vec![
                    KeyValue::new("exception.type", error.kind.clone()),
                    KeyValue::new("exception.message", mapper.text(&error.message)),
                ],
                0,
            ));
        });
    }

    fn record_evaluation(&self, result: &EvaluationResult) {
        let Some(run_id) = result.run_id else {
            if self.evaluations_unattached.fetch_add(1, Ordering::Relaxed) == 0 {
                tracing::warn!(
                    evaluator = %result.evaluator,
                    check = %result.name,
                    "an evaluation names no run, so it cannot be exported (counted in the export report)"
                );
            }
            return;
        };
        let attributes = self.evaluation_attributes(result);
        let mut recorded = false;
        if let Some(open) = self.runs.get(run_id)
            && let Some(draft) = open.draft().as_mut()
        {
            draft.events.push(Event::new(
                k::GEN_AI_EVALUATION_RESULT,
                SystemTime::now(),
                attributes.clone(),
                0,
            ));
            recorded = true;
        }
        if recorded {
            self.evaluations_on_span.fetch_add(1, Ordering::Relaxed);
        } else {
            self.late_evaluation(run_id, result, attributes);
            self.evaluations_late.fetch_add(1, Ordering::Relaxed);
        }
        if let Some(annotations) = &self.annotations {
            annotations.send(annotation(run_id, result));
        }
    }

    /// A span cannot take events once ended, so a late evaluation becomes a short child span
    /// of the graded one, carrying the `gen_ai.evaluation.result` event (and its attributes,
    /// for backends that show attributes but not events).
    fn late_evaluation(&self, run_id: Uuid, result: &EvaluationResult, attributes: Vec<KeyValue>) {
        let trace = result
            .root_run_id
            .map(trace_id)
            .or_else(|| self.recent.get(run_id))
            .unwrap_or_else(|| trace_id(run_id));
        let now = SystemTime::now();
        let mut span_attributes = Vec::with_capacity(attributes.len() + 1);
        span_attributes.push(KeyValue::new(k::SPAN_KIND, SpanKind::Evaluator.as_str()));
        span_attributes.extend(attributes.iter().cloned());
        let draft = Draft {
            name: Cow::Owned(format!("{}.{}", result.evaluator, result.name)),
            kind: SpanKind::Evaluator,
            parent: span_id(run_id),
            start_time: now,
            attributes: span_attributes,
            events: vec![Event::new(k::GEN_AI_EVALUATION_RESULT, now, attributes, 0)],
        };
        let status = match &result.error {
            Some(error) => Status::error(error.clone()),
            None => Status::Unset,
        };
        let span = self.span_data(trace, span_id(Uuid::new_v4()), draft, status);
        self.sink.send(span);
    }

    fn evaluation_attributes(&self, result: &EvaluationResult) -> Vec<KeyValue> {
        let mapper = self.mapper();
        let mut out = Vec::with_capacity(6);
        out.push(KeyValue::new(
            k::GEN_AI_EVALUATION_NAME,
            result.name.clone(),
        ));
        out.push(KeyValue::new(
            k::EVALUATION_EVALUATOR,
            result.evaluator.clone(),
        ));
        if let Some(score) = result.score {
            out.push(KeyValue::new(k::GEN_AI_EVALUATION_SCORE_VALUE, score));
        }
        if let Some(label) = &result.label {
            out.push(KeyValue::new(
                k::GEN_AI_EVALUATION_SCORE_LABEL,
                label.clone(),
            ));
        }
        if let Some(explanation) = &result.explanation {
            out.push(KeyValue::new(
                k::GEN_AI_EVALUATION_EXPLANATION,
                mapper.text(explanation),
            ));
        }
        if let Some(error) = &result.error {
            out.push(KeyValue::new(k::ERROR_TYPE, mapper.text(error)));
        }
        out
    }
}

fn annotation(run_id: Uuid, result: &EvaluationResult) -> Annotation {
    let mut metadata = result.metadata.clone();
    metadata.insert("evaluator".into(), result.evaluator.clone().into());
    let (label, explanation) = match &result.error {
        Some(error) => (Some("error".to_owned()), Some(error.clone())),
        None => (result.label.clone(), result.explanation.clone()),
    };
    Annotation {
        span_id: span_id(run_id).to_string(),
        name: result.name.clone(),
        annotator_kind: "LLM",
        result: AnnotationResult {
            label,
            score: result.score,
            explanation,
        },
        metadata: serde_json::Value::Object(metadata),
        identifier: String::new(),
    }
}

impl Drop for Inner {
    fn drop(&mut self) {
        self.shutdown(self.config.shutdown_timeout);
    }
}

fn serialized_name(serialized: Option<&handler_core::payload::Serialized>) -> Option<&str> {
    serialized.and_then(|s| s.name.as_deref())
}

impl CallbackHandler for OtelHandler {
    fn name(&self) -> &str {
        crate::PLUGIN_NAME
    }

    fn on_llm_start(&self, event: &LlmStart<'_>) -> HandlerResult {
        let serialized = event.serialized;
        self.inner.start(
            event.run,
            SpanKind::Llm,
            serialized_name(serialized),
            |m, out| {
                m.model(out, serialized, false);
                if let Some(prompt) = event.prompts.first() {
                    m.prompt(out, prompt);
                }
            },
        );
        Ok(())
    }

    fn on_chat_model_start(&self, event: &ChatModelStart<'_>) -> HandlerResult {
        let serialized = event.serialized;
        self.inner.start(
            event.run,
            SpanKind::Llm,
            serialized_name(serialized),
            |m, out| {
                m.model(out, serialized, true);
                if let Some(messages) = event.messages.first() {
                    m.messages(out, messages);
                }
            },
        );
        Ok(())
    }

    #[inline]
    fn on_llm_new_token(&self, event: &LlmNewToken<'_>) -> HandlerResult {
        self.inner.runs.count_token(event.run.run_id);
        Ok(())
    }

    fn on_llm_end(&self, event: &LlmEnd<'_>) -> HandlerResult {
        self.inner.end(event.run, Status::Unset, |m, draft| {
            m.llm_end(&mut draft.attributes, event.response);
        });
        Ok(())
    }

    fn on_llm_error(&self, event: &LlmError<'_>) -> HandlerResult {
        self.inner.fail(event.run, event.error, |m, draft| {
            if let Some(response) = event.response {
                m.llm_end(&mut draft.attributes, response);
            }
        });
        Ok(())
    }

    fn on_chain_start(&self, event: &ChainStart<'_>) -> HandlerResult {
        let kind = match event.run.run_type.as_deref() {
            Some("agent") => SpanKind::Agent,
            _ => SpanKind::Chain,
        };
        self.inner.start(
            event.run,
            kind,
            serialized_name(event.serialized),
            |m, out| {
                m.chain_start(out, event.inputs);
            },
        );
        Ok(())
    }

    fn on_chain_end(&self, event: &ChainEnd<'_>) -> HandlerResult {
        self.inner.end(event.run, Status::Unset, |m, draft| {
            m.outputs(&mut draft.attributes, event.outputs);
        });
        Ok(())
    }

    fn on_chain_error(&self, event: &ChainError<'_>) -> HandlerResult {
        self.inner.fail(event.run, event.error, |_, _| {});
        Ok(())
    }

    fn on_tool_start(&self, event: &ToolStart<'_>) -> HandlerResult {
        let name = event
            .run
            .name
            .as_deref()
            .or(serialized_name(event.serialized))
            .unwrap_or("tool");
        self.inner
            .start(event.run, SpanKind::Tool, Some(name), |m, out| {
                m.tool_start(out, name, event.serialized, event.input, event.inputs);
            });
        Ok(())
    }

    fn on_tool_end(&self, event: &ToolEnd<'_>) -> HandlerResult {
        self.inner.end(event.run, Status::Unset, |m, draft| {
            m.outputs(&mut draft.attributes, event.output);
        });
        Ok(())
    }

    fn on_tool_error(&self, event: &ToolError<'_>) -> HandlerResult {
        self.inner.fail(event.run, event.error, |_, _| {});
        Ok(())
    }

    fn on_retriever_start(&self, event: &RetrieverStart<'_>) -> HandlerResult {
        let name = serialized_name(event.serialized);
        self.inner
            .start(event.run, SpanKind::Retriever, name, |m, out| {
                m.retriever_start(out, event.query);
            });
        Ok(())
    }

    fn on_retriever_end(&self, event: &RetrieverEnd<'_>) -> HandlerResult {
        self.inner.end(event.run, Status::Unset, |m, draft| {
            m.documents(&mut draft.attributes, event.documents);
        });
        Ok(())
    }

    fn on_retriever_error(&self, event: &RetrieverError<'_>) -> HandlerResult {
        self.inner.fail(event.run, event.error, |_, _| {});
        Ok(())
    }

    fn on_agent_action(&self, event: &AgentAction<'_>) -> HandlerResult {
        self.inner.edit(event.run.run_id, |m, draft| {
            mark_agent(draft);
            draft.events.push(Event::new(
                "agent_action",
                SystemTime::now(),
                m.agent_action(event.tool, event.tool_input, event.log),
                0,
            ));
        });
        Ok(())
    }

    fn on_agent_finish(&self, event: &AgentFinish<'_>) -> HandlerResult {
        self.inner.edit(event.run.run_id, |m, draft| {
            mark_agent(draft);
            draft.events.push(Event::new(
                "agent_finish",
                SystemTime::now(),
                m.agent_finish(event.return_values, event.log),
                0,
            ));
        });
        Ok(())
    }

    fn on_retry(&self, event: &Retry<'_>) -> HandlerResult {
        let state = event.state;
        let outcome = serde_json::to_value(&state.outcome).unwrap_or_default();
        let mapper = self.inner.mapper();
        self.inner.event(
            event.run.run_id,
            "retry",
            vec![
                KeyValue::new("retry.attempt", i64::from(state.attempt)),
                KeyValue::new("retry.idle_for_secs", state.idle_for_secs),
                KeyValue::new("retry.outcome", mapper.json(&outcome)),
            ],
        );
        Ok(())
    }

    fn on_text(&self, event: &Text<'_>) -> HandlerResult {
        // Text a run prints is output: hidden with the outputs.
        let attributes = match self.inner.config.hide_outputs {
            true => Vec::new(),
            false => vec![KeyValue::new("text", self.inner.mapper().text(event.text))],
        };
        self.inner.event(event.run.run_id, "text", attributes);
        Ok(())
    }

    fn on_custom_event(&self, event: &CustomEvent<'_>) -> HandlerResult {
        let mapper = self.inner.mapper();
        self.inner.event(
            event.run.run_id,
            "custom_event",
            vec![
                KeyValue::new("custom_event.name", mapper.text(event.name)),
                KeyValue::new("custom_event.data", mapper.json(event.data)),
            ],
        );
        Ok(())
    }
}

/// An agent's actions make its span an AGENT span.
fn mark_agent(draft: &mut Draft) {
    if draft.kind == SpanKind::Chain {
        draft.kind = SpanKind::Agent;
        for kv in &mut draft.attributes {
            if kv.key.as_str() == k::SPAN_KIND {
                *kv = KeyValue::new(k::SPAN_KIND, SpanKind::Agent.as_str());
            }
        }
        draft
            .attributes
            .push(KeyValue::new(k::GEN_AI_OPERATION_NAME, "invoke_agent"));
    }
}
