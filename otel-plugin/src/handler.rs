//! The callback handler: runs become spans, evaluations become events of the spans they grade.
//!
//! On the event thread the handler only writes each span's values into its [`Record`] and
//! hands ended spans to a bounded queue: no I/O, no waiting on the export thread, and little
//! or no allocation (span records and their buffers are reused). It receives no token events: the core counts them and
//! the run's end carries the count.

use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, Weak};
use std::time::{Duration, SystemTime};

use handler_core::evaluation::{self, EvaluationListener, EvaluationResult, Subscription};
use handler_core::payload::ErrorInfo;
use handler_core::{RunContext, Uuid};
use llm_callbacks_transport::Deadline;
use opentelemetry::trace::{SpanId, Status, TraceId};

use crate::attributes::{Mapper, SpanKind};
use crate::capture::Part;
use crate::config::OtelConfig;
use crate::export::{SpanReport, SpanSink};
use crate::ids::{span_id, trace_id};
use crate::phoenix::{Annotation, AnnotationReport, AnnotationResult, PhoenixAnnotations, Target};
use crate::record::{Record, SpanLimits, Values};
use crate::runs::{Closed, ClosedRuns, OpenRuns, RecentRuns};
use crate::semconv as k;

/// `error.type` of an evaluation that failed.
const EVALUATION_ERROR: &str = "evaluation_error";

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
    pub(crate) inner: Arc<Inner>,
}

#[derive(Debug)]
pub(crate) struct Inner {
    config: OtelConfig,
    sink: Arc<SpanSink>,
    runs: OpenRuns,
    recent: RecentRuns,
    annotations: Option<PhoenixAnnotations>,
    untraced_runs: AtomicU64,
    runs_expired: AtomicU64,
    runs_evicted: AtomicU64,
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
    /// Runs not traced (only with `max_open_runs` of 0).
    pub untraced_runs: u64,
    /// Runs open longer than the time-to-live without an end: their spans were closed with
    /// the error status "abandoned: no end event within ttl".
    pub runs_expired: u64,
    /// Runs closed (as abandoned) because the table of open runs was full and they were the
    /// oldest.
    pub runs_evicted: u64,
    /// Evaluations recorded as events of their run's open span.
    pub evaluations_on_span: u64,
    /// Evaluations that arrived after their run's span ended, recorded on a child span.
    pub evaluations_late: u64,
    /// Evaluations not recorded: they named no run, or a run this exporter has neither open
    /// nor recently ended (another exporter's, or one forgotten).
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
        Self {
            inner: Arc::new_cyclic(|weak| Inner {
                subscription: listen
                    .then(|| evaluation::subscribe(Arc::new(Listener(weak.clone())))),
                runs: OpenRuns::new(config.max_open_runs, config.run_ttl),
                recent: RecentRuns::new(config.recent_runs),
                config,
                sink,
                annotations,
                untraced_runs: AtomicU64::new(0),
                runs_expired: AtomicU64::new(0),
                runs_evicted: AtomicU64::new(0),
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
        let deadline = Deadline::after(timeout);
        self.inner.close(self.inner.runs.expire());
        let mut complete = self.inner.sink.flush(timeout);
        if let Some(annotations) = &self.inner.annotations {
            complete &= annotations.flush(deadline.remaining());
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
    pub(crate) fn mapper(&self) -> Mapper<'_> {
        Mapper::new(&self.config)
    }

    fn limits(&self) -> SpanLimits {
        SpanLimits {
            attribute_len: self.config.max_attribute_len,
            attributes: self.config.max_span_attributes,
            events: self.config.max_span_events,
        }
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
            runs_expired: self.runs_expired.load(Ordering::Relaxed),
            runs_evicted: self.runs_evicted.load(Ordering::Relaxed),
            evaluations_on_span: self.evaluations_on_span.load(Ordering::Relaxed),
            evaluations_late: self.evaluations_late.load(Ordering::Relaxed),
            evaluations_unattached: self.evaluations_unattached.load(Ordering::Relaxed),
        }
    }

    fn shutdown(&self, timeout: Duration) -> ExportReport {
        if self.shut_down.swap(true, Ordering::AcqRel) {
            return self.report(true);
        }
        let deadline = Deadline::after(timeout);
        let mut complete = self.sink.flush(timeout);
        if let Some(annotations) = &self.annotations {
            complete &= annotations.shutdown(deadline.remaining());
        }
        complete &= self.sink.shutdown(deadline.remaining());
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

    pub(crate) fn start(
        &self,
        run: &RunContext,
        kind: SpanKind,
        fallback_name: Option<&str>,
        fill: impl FnOnce(&Mapper<'_>, &mut Values),
    ) {
        let name = run
            .name
            .as_deref()
            .or(fallback_name)
            .unwrap_or(kind.default_name());
        let parent = run.parent_run_id.map_or(SpanId::INVALID, span_id);
        let ids = (Self::trace_of(run), span_id(run.run_id), parent);
        let mut record = self.sink.record(self.limits(), ids, kind, name);
        let mapper = self.mapper();
        mapper.run(&mut record.values, run);
        fill(&mapper, &mut record.values);
        match self.runs.insert(run.run_id, record) {
            Ok(closed) => self.close(closed),
            Err(_untraced) => {
                if self.untraced_runs.fetch_add(1, Ordering::Relaxed) == 0 {
                    tracing::warn!(
                        "max_open_runs is 0: runs are not traced (counted in the export report)"
                    );
                }
            }
        }
    }

    /// Ends the spans of runs closed without their end event (expired, or evicted from a
    /// full table), with an error status; counted, the first of each kind logged.
    fn close(&self, closed: ClosedRuns) {
        for (run_id, mut record, why) in closed {
            let (counter, description) = match why {
                Closed::Expired => (&self.runs_expired, "abandoned: no end event within ttl"),
                Closed::Evicted => (
                    &self.runs_evicted,
                    "abandoned: evicted, too many open runs (max_open_runs)",
                ),
            };
            if counter.fetch_add(1, Ordering::Relaxed) == 0 {
                tracing::warn!(
                    run_ttl = ?self.config.run_ttl,
                    max_open_runs = self.config.max_open_runs,
                    "{description}: its span is closed with an error status (counted in the export report; further ones are not logged)"
                );
            }
            record.values.text(k::ERROR_TYPE, ErrorInfo::ABANDONED);
            record.status = Status::error(description);
            record.end_time = SystemTime::now();
            self.recent.remember(run_id, record.trace_id);
            self.sink.send(record);
        }
    }

    /// Adds an event to the open span of `run_id`, if any.
    pub(crate) fn event(&self, run_id: Uuid, name: &'static str, values: Values) {
        self.runs.edit(run_id, |record| record.event(name, values));
    }

    /// Ends the span of `run`: `fill` writes its last values, outside any lock.
    pub(crate) fn end(
        &self,
        run: &RunContext,
        status: Status,
        fill: impl FnOnce(&Mapper<'_>, &mut Record),
    ) {
        let Some(mut record) = self.runs.remove(run.run_id) else {
            return;
        };
        record.status = status;
        fill(&self.mapper(), &mut record);
        record.end_time = SystemTime::now();
        self.recent.remember(run.run_id, record.trace_id);
        self.sink.send(record);
    }

    pub(crate) fn fail(
        &self,
        run: &RunContext,
        error: &ErrorInfo,
        fill: impl FnOnce(&Mapper<'_>, &mut Record),
    ) {
        self.end(run, Status::Unset, |mapper, record| {
            fill(mapper, record);
            record.values.text(k::ERROR_TYPE, &error.kind);
            let (status, exception) = mapper.failure(error);
            record.event("exception", exception);
            record.status = status;
        });
    }

    /// Ends a chain's or a tool's span with its outputs.
    pub(crate) fn end_with_outputs(&self, run: &RunContext, outputs: &serde_json::Value) {
        self.end(run, Status::Unset, |m, record| {
            m.outputs(&mut record.values, outputs);
        });
    }

    /// An agent step: an event on the chain's span, which becomes an AGENT span.
    pub(crate) fn agent_step(&self, run_id: Uuid, name: &'static str, values: Values) {
        self.runs.edit(run_id, |record| {
            if record.kind == SpanKind::Chain {
                record.kind = SpanKind::Agent;
            }
            record.event(name, values);
        });
    }

    /// Records an evaluation of a run this handler has open or recently ended; any other is
    /// counted as unattached and never exported (it may be another exporter's tenant's).
    fn record_evaluation(&self, result: &EvaluationResult) {
        let Some(run_id) = result.run_id else {
            return self.unattached(result, "it names no run");
        };
        let mut values = Some(self.evaluation_values(result));
        let mut trace = TraceId::INVALID;
        let on_span = self.runs.edit(run_id, |record| {
            trace = record.trace_id;
            if let Some(values) = values.take() {
                record.event(k::GEN_AI_EVALUATION_RESULT, values);
            }
        });
        if on_span {
            self.evaluations_on_span.fetch_add(1, Ordering::Relaxed);
        } else if let Some(ended) = self.recent.get(run_id) {
            trace = ended;
            self.late_evaluation(run_id, trace, result);
            self.evaluations_late.fetch_add(1, Ordering::Relaxed);
        } else {
            return self.unattached(
                result,
                "its run was not traced by this exporter (or was forgotten)",
            );
        }
        if let Some(annotations) = &self.annotations {
            let on_span = self.annotation(run_id, result);
            annotations.send(on_span.of_trace(trace));
            annotations.send(on_span);
        }
    }

    /// A span cannot take events once ended, so a late evaluation becomes a short child span
    /// of the graded one, carrying the `gen_ai.evaluation.result` event (and its attributes,
    /// for backends that show attributes but not events).
    fn late_evaluation(&self, run_id: Uuid, trace: TraceId, result: &EvaluationResult) {
        let ids = (trace, span_id(Uuid::new_v4()), span_id(run_id));
        let name = format!("{}.{}", result.evaluator, result.name);
        let values = self.evaluation_values(result);
        let mut record = Box::new(Record::new(ids, SpanKind::Evaluator, &name, values));
        record.event(k::GEN_AI_EVALUATION_RESULT, self.evaluation_values(result));
        if let Some(error) = &result.error {
            let message = self.mapper().content_string(Part::Other, error);
            record.status = Status::error(message.unwrap_or_else(|| EVALUATION_ERROR.to_owned()));
        }
        self.sink.send(record);
    }

    fn unattached(&self, result: &EvaluationResult, why: &str) {
        if self.evaluations_unattached.fetch_add(1, Ordering::Relaxed) == 0 {
            tracing::warn!(
                evaluator = %result.evaluator,
                check = %result.name,
                why,
                "an evaluation is not exported (counted as unattached in the export report; further ones are not logged)"
            );
        }
    }

    /// An evaluation's attributes: name, evaluator, score and label always; explanation and
    /// error message only when content is captured.
    fn evaluation_values(&self, result: &EvaluationResult) -> Values {
        let mapper = self.mapper();
        let mut out = mapper.event_values();
        out.text(k::GEN_AI_EVALUATION_NAME, &result.name);
        out.text(k::EVALUATION_EVALUATOR, &result.evaluator);
        if let Some(score) = result.score {
            out.f64(k::GEN_AI_EVALUATION_SCORE_VALUE, score);
        }
        if let Some(label) = &result.label {
            out.text(k::GEN_AI_EVALUATION_SCORE_LABEL, label);
        }
        if let Some(explanation) = &result.explanation {
            mapper.content(
                &mut out,
                Part::Other,
                k::GEN_AI_EVALUATION_EXPLANATION,
                explanation,
            );
        }
        if let Some(error) = &result.error {
            out.static_text(k::ERROR_TYPE, EVALUATION_ERROR);
            mapper.content(&mut out, Part::Other, k::EVALUATION_ERROR_MESSAGE, error);
        }
        out
    }

    /// The Phoenix annotation of an evaluation, its explanation (or error message) only when
    /// content is captured.
    fn annotation(&self, run_id: Uuid, result: &EvaluationResult) -> Annotation {
        let mapper = self.mapper();
        let mut metadata = result.metadata.clone();
        metadata.insert("evaluator".into(), result.evaluator.clone().into());
        let (label, explanation) = match &result.error {
            Some(error) => (
                Some("error".to_owned()),
                mapper.content_string(Part::Other, error),
            ),
            None => (
                result.label.clone(),
                result
                    .explanation
                    .as_deref()
                    .and_then(|e| mapper.content_string(Part::Other, e)),
            ),
        };
        Annotation {
            target: Target::SpanId(span_id(run_id).to_string()),
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
}

impl Drop for Inner {
    fn drop(&mut self) {
        self.shutdown(self.config.shutdown_timeout);
    }
}
