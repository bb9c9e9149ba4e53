//! The way out: ended spans wait as [`Record`]s in a bounded queue; one export thread turns
//! them into `SpanData` and exports them in batches. Every span is accounted for: exported,
//! failed (the collector refused or was unreachable), dropped (the queue was full), or still
//! queued.
//!
//! The event thread only moves a record into the queue: no allocation, no system call. The
//! export thread is not woken per span; it wakes every `scheduled_delay`, when a batch's worth
//! is waiting, and on flush and shutdown.

use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::mpsc::{Receiver, RecvTimeoutError, SyncSender, TrySendError, sync_channel};
use std::sync::{Arc, Mutex, TryLockError};
use std::thread::JoinHandle;
use std::time::{Duration, SystemTime};

use opentelemetry::InstrumentationScope;
use opentelemetry::trace::{SpanId, TraceId};
use std::panic::{AssertUnwindSafe, catch_unwind};

use llm_callbacks_transport::Deadline;
use opentelemetry_sdk::Resource;
use opentelemetry_sdk::error::OTelSdkError;
use opentelemetry_sdk::trace::{SpanData, SpanExporter};

use crate::attributes::SpanKind;
use crate::config::OtelConfig;
use crate::deadline::{answered_before, finite, send_before};
use crate::record::{Record, SpanLimits, Values};

/// Spans per export call (the SDK's default batch size).
const MAX_EXPORT_BATCH: usize = 512;

/// Span records handed back by the export thread, so that the event thread reuses them (and
/// their buffers) instead of allocating what another thread frees: allocators serialise such
/// frees. Bounded.
// Boxed on purpose: a record moves between the open-run table, the queue and this pool as a
// pointer, not as 200-odd bytes.
//
// It keeps at most as many records as the queue holds: records are allocated until the spans in
// flight reach the queue's bound, then reused for good; a burst beyond it is dropped anyway.
#[allow(clippy::vec_box)]
#[derive(Debug)]
pub(crate) struct RecordPool {
    free: Mutex<Vec<Box<Record>>>,
    limit: usize,
}

#[allow(clippy::vec_box)]
impl RecordPool {
    fn new(limit: usize) -> Self {
        Self {
            free: Mutex::new(Vec::new()),
            limit,
        }
    }

    /// The pool, unless the export thread holds it: the event thread never waits for it.
    fn try_lock(&self) -> Option<std::sync::MutexGuard<'_, Vec<Box<Record>>>> {
        match self.free.try_lock() {
            Ok(pool) => Some(pool),
            Err(TryLockError::Poisoned(poisoned)) => Some(poisoned.into_inner()),
            Err(TryLockError::WouldBlock) => None,
        }
    }

    /// The record of a span starting now, reused when one is free (and the pool is not busy).
    fn take(
        &self,
        limits: SpanLimits,
        ids: (TraceId, SpanId, SpanId),
        kind: SpanKind,
        name: &str,
    ) -> Box<Record> {
        let now = SystemTime::now();
        let mut record = match self.try_lock().and_then(|mut pool| pool.pop()) {
            Some(mut record) => {
                record
                    .values
                    .set_limits(limits.attribute_len, limits.attributes);
                record.restart(ids, kind, name, now);
                record
            }
            None => {
                let values = Values::with_limits(limits.attribute_len, limits.attributes);
                Box::new(Record::new(ids, kind, name, values))
            }
        };
        record.max_events = limits.events;
        record
    }

    /// Keeps a record that was not exported (dropped on a full queue).
    fn keep(&self, mut record: Box<Record>) {
        if record.values.recycle()
            && let Some(mut pool) = self.try_lock()
            && pool.len() < self.limit
        {
            pool.push(record);
        }
    }

    fn give_back(&self, returned: &mut Vec<Box<Record>>) {
        let mut pool = self
            .free
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner());
        let room = self.limit.saturating_sub(pool.len());
        pool.extend(returned.drain(..).take(room));
    }
}

/// Counts of what became of the spans.
#[derive(Debug, Default)]
struct SpanCounters {
    handed: AtomicU64,
    exported: AtomicU64,
    failed: AtomicU64,
    dropped: AtomicU64,
    attributes_dropped: AtomicU64,
    events_dropped: AtomicU64,
    requests_split: AtomicU64,
    oversized: AtomicU64,
    /// Records taken from the queue by the export thread.
    taken: AtomicU64,
    failing: AtomicBool,
}

impl SpanCounters {
    fn in_flight(&self) -> u64 {
        let done = self.exported.load(Ordering::Acquire) + self.failed.load(Ordering::Acquire);
        self.handed.load(Ordering::Acquire).saturating_sub(done)
    }

    fn drop_one(&self, why: &str) {
        if self.dropped.fetch_add(1, Ordering::Relaxed) == 0 {
            tracing::warn!("{why}: spans are dropped and counted in the export report");
        }
    }
}

/// What the export thread is asked to do besides its periodic export.
enum Control {
    /// A batch's worth is waiting.
    Nudge,
    /// Export everything queued, then answer.
    Flush(SyncSender<()>),
    /// Export everything queued, shut the exporter down, answer and stop.
    Shutdown(SyncSender<()>, Duration),
}

/// What became of the spans so far.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct SpanReport {
    /// Spans ended and handed to the exporter.
    pub ended: u64,
    /// Spans the collector accepted.
    pub exported: u64,
    /// Spans whose export failed (collector unreachable or refusing).
    pub failed: u64,
    /// Spans dropped because the export queue was full.
    pub dropped: u64,
    /// Spans still waiting for export.
    pub queued: u64,
    /// Attributes left out of spans (and of their events) over the per-span cap.
    pub attributes_dropped: u64,
    /// Events left out of spans over the per-span cap.
    pub events_dropped: u64,
    /// Export requests added by splitting batches over the byte cap per request.
    pub requests_split: u64,
    /// Spans larger on their own than the byte cap per request (sent alone, and likely
    /// refused by the collector).
    pub oversized: u64,
}

/// Where ended spans go: a bounded queue in front of one export thread.
#[derive(Debug)]
pub(crate) struct SpanSink {
    records: SyncSender<Box<Record>>,
    control: SyncSender<Control>,
    counters: Arc<SpanCounters>,
    pool: Arc<RecordPool>,
    closed: AtomicBool,
    thread: Mutex<Option<JoinHandle<()>>>,
}

/// The export thread's side.
struct Worker<E> {
    exporter: E,
    records: Receiver<Box<Record>>,
    control: Receiver<Control>,
    counters: Arc<SpanCounters>,
    pool: Arc<RecordPool>,
    scope: InstrumentationScope,
    /// The prices model runs are costed by, on this thread.
    prices: Arc<handler_core::cost::PriceTable>,
    scheduled_delay: Duration,
    /// Span bytes (estimated) per export request.
    budget: usize,
}

impl<E: SpanExporter> Worker<E> {
    fn run(mut self) {
        loop {
            let message = self.control.recv_timeout(self.scheduled_delay);
            self.export_waiting();
            match message {
                Ok(Control::Nudge) | Err(RecvTimeoutError::Timeout) => {}
                Ok(Control::Flush(done)) => {
                    if let Err(error) = self.exporter.force_flush() {
                        tracing::warn!(%error, "OpenTelemetry flush failed");
                    }
                    let _ = done.send(());
                }
                Ok(Control::Shutdown(done, timeout)) => {
                    // Spans that ended while this thread exported are the last ones.
                    self.export_waiting();
                    if let Err(error) = self.exporter.shutdown_with_timeout(finite(timeout)) {
                        tracing::warn!(%error, "OpenTelemetry exporter shutdown failed");
                    }
                    let _ = done.send(());
                    return;
                }
                Err(RecvTimeoutError::Disconnected) => return,
            }
        }
    }

    /// Exports every waiting record, in batches.
    /// Exports every waiting record, in batches of at most [`MAX_EXPORT_BATCH`] spans and
    /// `budget` bytes (estimated): a batch that would go over is split, counted.
    fn export_waiting(&mut self) {
        let mut batch = Vec::new();
        let mut bytes = 0;
        let mut returned = Vec::new();
        while let Ok(mut record) = self.records.try_recv() {
            let c = &self.counters;
            c.taken.fetch_add(1, Ordering::Relaxed);
            let span = record.take_span_data(&self.scope, &self.prices);
            let events = u64::from(span.events.dropped_count);
            let attributes = u64::from(span.dropped_attributes_count)
                + span
                    .events
                    .iter()
                    .map(|e| u64::from(e.dropped_attributes_count))
                    .sum::<u64>();
            if events + attributes > 0 {
                c.events_dropped.fetch_add(events, Ordering::Relaxed);
                c.attributes_dropped
                    .fetch_add(attributes, Ordering::Relaxed);
            }
            if record.values.recycle() {
                returned.push(record);
            }
            let size = crate::size::estimate(&span);
            if size > self.budget && c.oversized.fetch_add(1, Ordering::Relaxed) == 0 {
                tracing::warn!(
                    bytes = size,
                    budget = self.budget,
                    "a span is larger than an export request may be: sent alone (lower max_attribute_len or max_span_attributes)"
                );
            }
            if !batch.is_empty() && bytes + size > self.budget {
                c.requests_split.fetch_add(1, Ordering::Relaxed);
                self.pool.give_back(&mut returned);
                self.export(std::mem::take(&mut batch));
                bytes = 0;
            }
            batch.push(span);
            bytes += size;
            if batch.len() == MAX_EXPORT_BATCH {
                self.pool.give_back(&mut returned);
                self.export(std::mem::take(&mut batch));
                bytes = 0;
            }
        }
        self.pool.give_back(&mut returned);
        if !batch.is_empty() {
            self.export(batch);
        }
    }

    fn export(&mut self, batch: Vec<SpanData>) {
        let n = batch.len() as u64;
        let c = &self.counters;
        let exported = catch_unwind(AssertUnwindSafe(|| {
            futures_executor::block_on(self.exporter.export(batch))
        }))
        .unwrap_or_else(|_| {
            Err(OTelSdkError::InternalFailure(
                "the exporter panicked".into(),
            ))
        });
        match exported {
            Ok(()) => {
                c.exported.fetch_add(n, Ordering::AcqRel);
                if c.failing.swap(false, Ordering::Relaxed) {
                    tracing::info!("OpenTelemetry export: the collector accepts spans again");
                }
            }
            Err(error) => {
                c.failed.fetch_add(n, Ordering::AcqRel);
                if !c.failing.swap(true, Ordering::Relaxed) {
                    let hint = if error.to_string().contains("status code: 413") {
                        "the collector refused a request as too large: lower max_export_bytes to its limit"
                    } else {
                        ""
                    };
                    tracing::warn!(%error, spans = n, hint, "OpenTelemetry export failed; the pipeline goes on (further failures are counted, not logged)");
                }
            }
        }
    }
}

impl SpanSink {
    /// A sink exporting through `exporter` in batches, with `resource` on every span.
    pub(crate) fn batched<E: SpanExporter + 'static>(
        mut exporter: E,
        resource: &Resource,
        config: &OtelConfig,
    ) -> std::io::Result<Self> {
        let max_queue_size = config.max_queue_size;
        exporter.set_resource(resource);
        let (records, record_rx) = sync_channel(max_queue_size.max(1));
        let (control, control_rx) = sync_channel(16);
        let counters = Arc::new(SpanCounters::default());
        let pool = Arc::new(RecordPool::new(max_queue_size.max(1)));
        let worker = Worker {
            exporter,
            records: record_rx,
            control: control_rx,
            counters: counters.clone(),
            pool: pool.clone(),
            scope: InstrumentationScope::builder("llm-callbacks")
                .with_version(env!("CARGO_PKG_VERSION"))
                .build(),
            prices: config.prices.clone(),
            scheduled_delay: config.scheduled_delay,
            budget: config
                .max_export_bytes
                .saturating_sub(crate::size::REQUEST_OVERHEAD)
                .max(1),
        };
        let thread = std::thread::Builder::new()
            .name("llm-callbacks-otel-export".into())
            .spawn(move || worker.run())?;
        Ok(Self {
            records,
            control,
            counters,
            pool,
            closed: AtomicBool::new(false),
            thread: Mutex::new(Some(thread)),
        })
    }

    /// The record of a span starting now, its strings cut at `cap`.
    pub(crate) fn record(
        &self,
        limits: SpanLimits,
        ids: (TraceId, SpanId, SpanId),
        kind: SpanKind,
        name: &str,
    ) -> Box<Record> {
        self.pool.take(limits, ids, kind, name)
    }

    /// Hands an ended span over; never blocks. When the queue is full the span is dropped and
    /// counted (and the first drop is logged).
    pub(crate) fn send(&self, record: Box<Record>) {
        let c = &self.counters;
        if self.closed.load(Ordering::Acquire) {
            return c.drop_one("a span ended after the exporter shut down");
        }
        let handed = c.handed.fetch_add(1, Ordering::AcqRel) + 1;
        match self.records.try_send(record) {
            Ok(()) => {
                let waiting = handed.saturating_sub(c.taken.load(Ordering::Relaxed));
                if waiting > 0 && waiting.is_multiple_of(MAX_EXPORT_BATCH as u64) {
                    // Coalesced: a full control queue already holds a reason to wake.
                    let _ = self.control.try_send(Control::Nudge);
                }
            }
            Err(TrySendError::Full(record) | TrySendError::Disconnected(record)) => {
                c.handed.fetch_sub(1, Ordering::AcqRel);
                c.drop_one("OpenTelemetry export queue full");
                // Dropping is the overloaded path: keep it cheaper than exporting.
                self.pool.keep(record);
            }
        }
    }

    /// Sends `make(answer)` to the export thread and waits for the answer until `deadline`.
    fn ask(&self, make: impl Fn(SyncSender<()>) -> Control, deadline: Deadline) -> bool {
        let (answer, wait) = sync_channel(1);
        let pause = Duration::from_millis(1);
        send_before(&self.control, make(answer), deadline, pause)
            && answered_before(&wait, deadline)
    }

    /// Exports what is queued, waiting at most `timeout`; true when done in time.
    pub(crate) fn flush(&self, timeout: Duration) -> bool {
        let deadline = Deadline::after(timeout);
        self.ask(Control::Flush, deadline) && self.counters.in_flight() == 0
    }

    /// Exports what is queued and stops the export thread, waiting at most `timeout`.
    pub(crate) fn shutdown(&self, timeout: Duration) -> bool {
        self.closed.store(true, Ordering::Release);
        let deadline = Deadline::after(timeout);
        let done = self.ask(
            |answer| Control::Shutdown(answer, deadline.remaining()),
            deadline,
        );
        let thread = self
            .thread
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner())
            .take();
        if done && let Some(thread) = thread {
            // It answered and returns at once.
            let _ = thread.join();
        }
        if !done {
            tracing::warn!("OpenTelemetry shutdown did not finish in time");
        }
        done && self.counters.in_flight() == 0
    }

    /// The counts so far.
    pub(crate) fn report(&self) -> SpanReport {
        let c = &self.counters;
        SpanReport {
            ended: c.handed.load(Ordering::Acquire) + c.dropped.load(Ordering::Acquire),
            exported: c.exported.load(Ordering::Acquire),
            failed: c.failed.load(Ordering::Acquire),
            dropped: c.dropped.load(Ordering::Acquire),
            queued: c.in_flight(),
            attributes_dropped: c.attributes_dropped.load(Ordering::Relaxed),
            events_dropped: c.events_dropped.load(Ordering::Relaxed),
            requests_split: c.requests_split.load(Ordering::Relaxed),
            oversized: c.oversized.load(Ordering::Relaxed),
        }
    }
}
