//! The way out: ended spans are handed to the SDK's batch span processor, which exports them
//! on its own thread. Admission is bounded here, so every span is accounted for: exported,
//! failed (the collector refused or was unreachable), dropped (the queue was full), or still
//! queued.

use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::time::Duration;

use opentelemetry_sdk::Resource;
use opentelemetry_sdk::error::OTelSdkResult;
use opentelemetry_sdk::trace::{
    BatchConfigBuilder, BatchSpanProcessor, SpanData, SpanExporter, SpanProcessor,
};

/// Counts of what became of the spans.
#[derive(Debug, Default)]
pub(crate) struct SpanCounters {
    handed: AtomicU64,
    exported: AtomicU64,
    failed: AtomicU64,
    dropped: AtomicU64,
    failing: AtomicBool,
}

impl SpanCounters {
    fn in_flight(&self) -> u64 {
        let done = self.exported.load(Ordering::Acquire) + self.failed.load(Ordering::Acquire);
        self.handed.load(Ordering::Acquire).saturating_sub(done)
    }
}

/// Wraps the real exporter to count what it exported and what it could not, and to log a
/// failing collector once per outage rather than once per batch.
#[derive(Debug)]
struct CountingExporter<E> {
    inner: E,
    counters: Arc<SpanCounters>,
}

impl<E: SpanExporter> SpanExporter for CountingExporter<E> {
    async fn export(&self, batch: Vec<SpanData>) -> OTelSdkResult {
        let n = batch.len() as u64;
        let result = self.inner.export(batch).await;
        match &result {
            Ok(()) => {
                self.counters.exported.fetch_add(n, Ordering::AcqRel);
                if self.counters.failing.swap(false, Ordering::Relaxed) {
                    tracing::info!("OpenTelemetry export: the collector accepts spans again");
                }
            }
            Err(error) => {
                self.counters.failed.fetch_add(n, Ordering::AcqRel);
                if !self.counters.failing.swap(true, Ordering::Relaxed) {
                    tracing::warn!(%error, spans = n, "OpenTelemetry export failed; the pipeline goes on (further failures are counted, not logged)");
                }
            }
        }
        result
    }

    fn shutdown_with_timeout(&self, timeout: Duration) -> OTelSdkResult {
        self.inner.shutdown_with_timeout(timeout)
    }

    fn force_flush(&self) -> OTelSdkResult {
        self.inner.force_flush()
    }

    fn set_resource(&mut self, resource: &Resource) {
        self.inner.set_resource(resource);
    }
}

/// Where ended spans go: a bounded admission in front of the SDK's batch processor.
#[derive(Debug)]
pub(crate) struct SpanSink {
    processor: Arc<dyn SpanProcessor>,
    counters: Arc<SpanCounters>,
    max_queue_size: u64,
    closed: AtomicBool,
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
}

impl SpanSink {
    /// A sink exporting through `exporter` in batches, with `resource` on every span.
    pub(crate) fn batched<E: SpanExporter + 'static>(
        exporter: E,
        resource: &Resource,
        max_queue_size: usize,
        scheduled_delay: Duration,
    ) -> Self {
        let counters = Arc::new(SpanCounters::default());
        let exporter = CountingExporter {
            inner: exporter,
            counters: counters.clone(),
        };
        let config = BatchConfigBuilder::default()
            .with_max_queue_size(max_queue_size)
            .with_scheduled_delay(scheduled_delay)
            .build();
        let mut processor = BatchSpanProcessor::builder(exporter)
            .with_batch_config(config)
            .build();
        processor.set_resource(resource);
        Self {
            processor: Arc::new(processor),
            counters,
            max_queue_size: max_queue_size as u64,
            closed: AtomicBool::new(false),
        }
    }

    /// Hands an ended span over; never blocks. Beyond the queue bound the span is dropped and
    /// counted (and the first drop of a run of drops is logged).
    pub(crate) fn send(&self, span: SpanData) {
        // Reserve a place first, so that threads racing for the last place cannot overfill
        // the processor's queue (whose own drops we could not count).
        let c = &self.counters;
        if self.closed.load(Ordering::Acquire) {
            if c.dropped.fetch_add(1, Ordering::Relaxed) == 0 {
                tracing::warn!("a span ended after the exporter shut down: dropped and counted");
            }
            return;
        }
        let handed = c.handed.fetch_add(1, Ordering::AcqRel) + 1;
        let done = c.exported.load(Ordering::Acquire) + c.failed.load(Ordering::Acquire);
        if handed.saturating_sub(done) > self.max_queue_size {
            c.handed.fetch_sub(1, Ordering::AcqRel);
            if c.dropped.fetch_add(1, Ordering::Relaxed) == 0 {
                tracing::warn!(
                    max_queue_size = self.max_queue_size,
                    "OpenTelemetry export queue full: spans are dropped and counted"
                );
            }
            return;
        }
        self.processor.on_end(span);
    }

    /// Exports what is queued, waiting at most `timeout`; true when done in time.
    pub(crate) fn flush(&self, timeout: Duration) -> bool {
        let processor = self.processor.clone();
        let (done, wait) = std::sync::mpsc::sync_channel(1);
        let spawned = std::thread::Builder::new()
            .name("otel-flush".into())
            .spawn(move || {
                let result = processor.force_flush();
                let _ = done.send(result);
            });
        if spawned.is_err() {
            // No thread to wait with: flush here, bounded by the processor's own timeout.
            return self.processor.force_flush().is_ok() && self.counters.in_flight() == 0;
        }
        match wait.recv_timeout(timeout) {
            Ok(result) => {
                if let Err(error) = result {
                    tracing::warn!(%error, "OpenTelemetry flush failed");
                }
                self.counters.in_flight() == 0
            }
            Err(_) => false,
        }
    }

    /// Exports what is queued and stops the export thread, waiting at most `timeout`.
    pub(crate) fn shutdown(&self, timeout: Duration) -> bool {
        self.closed.store(true, Ordering::Release);
        match self.processor.shutdown_with_timeout(timeout) {
            Ok(()) => true,
            Err(error) => {
                tracing::warn!(%error, "OpenTelemetry shutdown did not finish");
                false
            }
        }
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
        }
    }
}
