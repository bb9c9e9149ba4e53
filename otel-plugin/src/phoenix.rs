//! Evaluation results as Phoenix span annotations (`POST /v1/span_annotations`), sent from a
//! thread of their own through a bounded queue, so the scores show in Phoenix's UI beside the
//! run they grade.
//!
//! Phoenix refuses an annotation of a span it has not received yet, so the worker first has
//! the span queue flushed, and retries a refused batch a few times with growing pauses.

use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::mpsc::{Receiver, SyncSender, TrySendError};
use std::sync::{Arc, Mutex};
use std::thread::JoinHandle;
use std::time::Duration;

use serde::Serialize;
use serde_json::Value as Json;

use crate::deadline::{answered_before, deadline_after, finite, send_before};
use crate::error::OtelError;
use crate::export::SpanSink;

/// Annotations sent in one request at most.
const MAX_BATCH: usize = 100;
/// Attempts for a batch Phoenix refuses because its spans are not there yet.
const ATTEMPTS: u32 = 5;

/// One annotation, as Phoenix's REST API takes it.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub(crate) struct Annotation {
    pub span_id: String,
    pub name: String,
    pub annotator_kind: &'static str,
    pub result: AnnotationResult,
    pub metadata: Json,
    pub identifier: String,
}

/// An annotation's verdict.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub(crate) struct AnnotationResult {
    pub label: Option<String>,
    pub score: Option<f64>,
    pub explanation: Option<String>,
}

enum Message {
    Annotate(Box<Annotation>),
    Flush(SyncSender<()>),
}

/// What became of the annotations so far.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct AnnotationReport {
    /// Annotations Phoenix accepted.
    pub sent: u64,
    /// Annotations Phoenix refused or could not be reached for.
    pub failed: u64,
    /// Annotations dropped because the queue was full.
    pub dropped: u64,
}

#[derive(Debug, Default)]
struct Counters {
    sent: AtomicU64,
    failed: AtomicU64,
    dropped: AtomicU64,
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
        sink: Arc<SpanSink>,
        max_pending: usize,
        timeout: Duration,
    ) -> Result<Self, OtelError> {
        let url = format!(
            "{}/v1/span_annotations?sync=true",
            base_url.trim_end_matches('/')
        );
        let (sender, receiver) = std::sync::mpsc::sync_channel(max_pending.max(1));
        let (finished, done) = std::sync::mpsc::sync_channel(1);
        let counters = Arc::new(Counters::default());
        let worker = Worker {
            url,
            sink,
            timeout,
            counters: counters.clone(),
        };
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

    /// Queues an annotation; never blocks. A full queue drops it, counted and logged.
    pub(crate) fn send(&self, annotation: Annotation) {
        let sender = self.sender.lock().unwrap_or_else(|p| p.into_inner());
        let result = match &*sender {
            Some(sender) => sender.try_send(Message::Annotate(Box::new(annotation))),
            None => Err(TrySendError::Disconnected(Message::Annotate(Box::new(
                annotation,
            )))),
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

    /// Waits until what is queued now has been sent, at most `timeout`; true when done.
    pub(crate) fn flush(&self, timeout: Duration) -> bool {
        let (reply, wait) = std::sync::mpsc::sync_channel(1);
        let sender = self.sender.lock().unwrap_or_else(|p| p.into_inner());
        let Some(sender) = sender.clone() else {
            return true;
        };
        let deadline = deadline_after(timeout);
        // The queue may be full: retry until the deadline rather than block.
        let pause = Duration::from_millis(5);
        send_before(&sender, Message::Flush(reply), deadline, pause)
            && answered_before(&wait, deadline)
    }

    /// Sends what is queued and stops the worker, waiting at most `timeout`.
    pub(crate) fn shutdown(&self, timeout: Duration) -> bool {
        // Disconnecting lets the worker drain the queue and return.
        drop(self.sender.lock().unwrap_or_else(|p| p.into_inner()).take());
        let Some((handle, done)) = self.worker.lock().unwrap_or_else(|p| p.into_inner()).take()
        else {
            return true;
        };
        if answered_before(&done, deadline_after(timeout)) {
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
            dropped: self.counters.dropped.load(Ordering::Relaxed),
        }
    }
}

struct Worker {
    url: String,
    sink: Arc<SpanSink>,
    timeout: Duration,
    counters: Arc<Counters>,
}

#[derive(Serialize)]
struct Body<'a> {
    data: &'a [Annotation],
}

impl Worker {
    fn run(self, receiver: Receiver<Message>) {
        let client = match reqwest::blocking::Client::builder()
            .timeout(finite(self.timeout))
            .connect_timeout(self.timeout.min(Duration::from_secs(5)))
            .build()
        {
            Ok(client) => Some(client),
            Err(error) => {
                tracing::warn!(%error, "cannot build the HTTP client for Phoenix annotations");
                None
            }
        };
        let mut batch = Vec::new();
        let mut waiters = Vec::new();
        while let Ok(first) = receiver.recv() {
            let mut next = Some(first);
            while let Some(message) = next.take() {
                match message {
                    Message::Annotate(annotation) => batch.push(*annotation),
                    Message::Flush(reply) => waiters.push(reply),
                }
                if batch.len() < MAX_BATCH {
                    next = receiver.try_recv().ok();
                }
            }
            if !batch.is_empty() {
                match &client {
                    Some(client) => self.send(client, &batch),
                    None => {
                        self.counters
                            .failed
                            .fetch_add(batch.len() as u64, Ordering::Relaxed);
                    }
                }
                batch.clear();
            }
            for reply in waiters.drain(..) {
                let _ = reply.send(());
            }
        }
    }

    fn send(&self, client: &reqwest::blocking::Client, batch: &[Annotation]) {
        let n = batch.len() as u64;
        let mut pause = Duration::from_millis(200);
        for attempt in 1..=ATTEMPTS {
            // The spans must reach Phoenix before their annotations.
            self.sink.flush(self.timeout);
            let response = client.post(&self.url).json(&Body { data: batch }).send();
            let failure = match response {
                Ok(response) if response.status().is_success() => {
                    self.counters.sent.fetch_add(n, Ordering::Relaxed);
                    return;
                }
                Ok(response) if response.status().as_u16() == 404 && attempt < ATTEMPTS => {
                    std::thread::sleep(pause);
                    pause *= 2;
                    continue;
                }
                Ok(response) => {
                    let status = response.status();
                    let body = response.text().unwrap_or_default();
                    format!("{status}: {}", body.chars().take(300).collect::<String>())
                }
                Err(error) => error.to_string(),
            };
            self.counters.failed.fetch_add(n, Ordering::Relaxed);
            tracing::warn!(
                error = %failure,
                annotations = n,
                url = %self.url,
                "Phoenix did not take the annotations"
            );
            return;
        }
    }
}
