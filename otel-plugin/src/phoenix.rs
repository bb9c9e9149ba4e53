//! Evaluation results as Phoenix span annotations (`POST /v1/span_annotations`) and trace
//! annotations (`POST /v1/trace_annotations`), sent from a thread of their own through a
//! bounded queue, so the scores show in Phoenix's UI beside the run they grade and in the
//! project's trace list.
//!
//! Callers never wait: recording queues without blocking, and a flush holds no lock while it
//! waits. The worker ([`annotate`](crate::annotate)) sends the configured auth, and keeps one
//! bad annotation from failing the others in its batch.

use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::mpsc::{Receiver, SyncSender, TrySendError};
use std::sync::{Arc, Mutex};
use std::thread::JoinHandle;
use std::time::Duration;

use serde::Serialize;
use serde_json::Value as Json;

use crate::annotate::Worker;
use crate::config::OtelConfig;
use llm_callbacks_transport::Deadline;

use crate::deadline::{answered_before, send_before};
use crate::error::OtelError;
use crate::export::SpanSink;

/// One annotation, as Phoenix's REST API takes it.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub(crate) struct Annotation {
    #[serde(flatten)]
    pub target: Target,
    pub name: String,
    pub annotator_kind: &'static str,
    pub result: AnnotationResult,
    pub metadata: Json,
    pub identifier: String,
}

/// What an annotation is of: a span (`/v1/span_annotations`), or a whole trace
/// (`/v1/trace_annotations`, shown in the trace list), by its hex id.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub(crate) enum Target {
    SpanId(String),
    TraceId(String),
}

impl Target {
    /// True for a trace annotation.
    pub(crate) fn is_trace(&self) -> bool {
        matches!(self, Target::TraceId(_))
    }
}

impl Annotation {
    /// The trace-level twin of a span annotation, so that the score shows in Phoenix's trace
    /// list (its "trace annotations" column): the same name and verdict, on `trace`,
    /// identified by the graded span (two runs of one trace graded by the same check keep an
    /// annotation each; grading a run again updates its own).
    pub(crate) fn of_trace(&self, trace: opentelemetry::trace::TraceId) -> Annotation {
        let span = match &self.target {
            Target::SpanId(span) | Target::TraceId(span) => span.clone(),
        };
        let mut metadata = self.metadata.clone();
        if let Some(metadata) = metadata.as_object_mut() {
            metadata.insert("span_id".into(), span.clone().into());
        }
        Annotation {
            target: Target::TraceId(trace.to_string()),
            metadata,
            identifier: span,
            ..self.clone()
        }
    }
}

/// An annotation's verdict.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub(crate) struct AnnotationResult {
    pub label: Option<String>,
    pub score: Option<f64>,
    pub explanation: Option<String>,
}

pub(crate) enum Message {
    Annotate(Box<Annotation>),
    Flush(SyncSender<()>),
}

/// What became of the annotations so far: each evaluation makes two, one of the graded span
/// and one of its trace.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct AnnotationReport {
    /// Annotations Phoenix accepted.
    pub sent: u64,
    /// Annotations that did not reach Phoenix: unreachable, too slow, refusing the
    /// credentials (401/403), or failing (5xx).
    pub failed: u64,
    /// Annotations Phoenix refused one by one (e.g. for a span it does not have); the others
    /// of their batch were sent.
    pub rejected: u64,
    /// Annotations dropped because the queue was full.
    pub dropped: u64,
}

#[derive(Debug, Default)]
pub(crate) struct Counters {
    pub(crate) sent: AtomicU64,
    pub(crate) failed: AtomicU64,
    pub(crate) rejected: AtomicU64,
    pub(crate) dropped: AtomicU64,
}

/// The annotation queue and its worker.
#[derive(Debug)]
pub(crate) struct PhoenixAnnotations {
    sender: Mutex<Option<SyncSender<Message>>>,
    counters: Arc<Counters>,
    worker: Mutex<Option<(JoinHandle<()>, Receiver<()>)>>,
}

impl PhoenixAnnotations {
    /// Starts the worker posting to `{base_url}/v1/span_annotations`.
    pub(crate) fn start(
        base_url: &str,
        config: &OtelConfig,
        sink: Arc<SpanSink>,
    ) -> Result<Self, OtelError> {
        let (sender, receiver) =
            std::sync::mpsc::sync_channel(config.max_pending_annotations.max(1));
        let (finished, done) = std::sync::mpsc::sync_channel(1);
        let counters = Arc::new(Counters::default());
        let worker = Worker::new(base_url, config, sink, counters.clone());
        let handle = std::thread::Builder::new()
            .name("otel-phoenix".into())
            .spawn(move || {
                worker.run(receiver);
                let _ = finished.send(());
            })
            .map_err(|source| OtelError::Thread {
                what: "Phoenix annotation",
                source,
            })?;
        Ok(Self {
            sender: Mutex::new(Some(sender)),
            counters,
            worker: Mutex::new(Some((handle, done))),
        })
    }

    /// The sender, cloned so that no lock is held while it is used.
    fn sender(&self) -> Option<SyncSender<Message>> {
        self.sender
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .clone()
    }

    /// Queues an annotation; never blocks. A full queue drops it, counted and logged.
    pub(crate) fn send(&self, annotation: Annotation) {
        let message = Message::Annotate(Box::new(annotation));
        let result = match self.sender() {
            Some(sender) => sender.try_send(message),
            None => Err(TrySendError::Disconnected(message)),
        };
        if let Err(error) = result {
            let n = self.counters.dropped.fetch_add(1, Ordering::Relaxed);
            if n == 0 {
                let why = match error {
                    TrySendError::Full(_) => "the queue is full",
                    TrySendError::Disconnected(_) => "the exporter is shut down",
                };
                tracing::warn!(
                    why,
                    "Phoenix annotation dropped (further drops are counted, not logged)"
                );
            }
        }
    }

    /// Waits until what is queued now has been sent, at most `timeout`; true when done. Holds
    /// no lock while waiting: recording goes on meanwhile.
    pub(crate) fn flush(&self, timeout: Duration) -> bool {
        let Some(sender) = self.sender() else {
            return true;
        };
        let (reply, wait) = std::sync::mpsc::sync_channel(1);
        let deadline = Deadline::after(timeout);
        // The queue may be full: retry until the deadline rather than block.
        let pause = Duration::from_millis(5);
        send_before(&sender, Message::Flush(reply), deadline, pause)
            && answered_before(&wait, deadline)
    }

    /// Sends what is queued and stops the worker, waiting at most `timeout`.
    pub(crate) fn shutdown(&self, timeout: Duration) -> bool {
        // Disconnecting lets the worker drain the queue and return (once flushes still
        // holding a clone of the sender are done).
        drop(self.sender.lock().unwrap_or_else(|p| p.into_inner()).take());
        let Some((handle, done)) = self.worker.lock().unwrap_or_else(|p| p.into_inner()).take()
        else {
            return true;
        };
        if answered_before(&done, Deadline::after(timeout)) {
            let _ = handle.join();
            return true;
        }
        tracing::warn!("Phoenix annotations still pending at shutdown; left behind");
        false
    }

    pub(crate) fn report(&self) -> AnnotationReport {
        AnnotationReport {
            sent: self.counters.sent.load(Ordering::Relaxed),
            failed: self.counters.failed.load(Ordering::Relaxed),
            rejected: self.counters.rejected.load(Ordering::Relaxed),
            dropped: self.counters.dropped.load(Ordering::Relaxed),
        }
    }
}
