//! The exporter's cost on the event thread, next to the same work with no exporter, in one run.
//!
//! `cargo bench -p otel-plugin`
//!
//! - `run`: a whole run (chain → child LLM → 100 tokens → LLM end → chain end) through a sync
//!   manager with no handler, with one counting handler (the cost of any handler at all), and
//!   with the exporter;
//! - `token`: one token event through the manager, the same three ways. The exporter asks not
//!   to receive tokens (the core counts them for the run's end), so its row shows what a token
//!   costs with an exporter attached: the core's count, no dispatch.
//!
//! Spans go to an exporter that discards them, on the export thread: what is measured is what
//! the pipeline's own thread pays. Runs are timed in chunks of 1,024, with an untimed flush
//! between chunks (for every case alike), so that the export thread keeps up and no span is
//! dropped: a run that finds the queue full is cheaper, and would flatter the figure. The
//! export report printed at the end shows the drops (0 expected).
#![allow(clippy::unwrap_used, clippy::expect_used)] // benches fail loudly
#![allow(missing_docs)]

use std::hint::black_box;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, Instant};

use criterion::{Criterion, criterion_group, criterion_main};
use handler_core::error::*;
use handler_core::event::*;
use handler_core::manager::*;
use handler_core::payload::{LlmResult, Serialized, TokenUsage};
use handler_core::*;
use opentelemetry_sdk::error::OTelSdkResult;
use opentelemetry_sdk::trace::{SpanData, SpanExporter};
use otel_plugin::OtelHandler;
use serde_json::json;

#[derive(Default)]
struct Counting(AtomicU64);
impl CallbackHandler for Counting {
    fn on_llm_new_token(&self, e: &LlmNewToken<'_>) -> HandlerResult {
        self.0.fetch_add(e.token.len() as u64, Ordering::Relaxed);
        Ok(())
    }
}

/// Discards spans (after the batch processor has batched them).
#[derive(Debug)]
struct Discard;
impl SpanExporter for Discard {
    async fn export(&self, batch: Vec<SpanData>) -> OTelSdkResult {
        black_box(batch);
        Ok(())
    }
}

fn exporter() -> OtelHandler {
    OtelHandler::builder()
        .exporter(Discard)
        // The full cost: content captured, as a pipeline exporting to its own Phoenix does.
        .capture_content(true)
        .max_queue_size(1 << 16)
        .scheduled_delay(Duration::from_millis(50))
        .build()
        .unwrap()
}

fn managers(otel: &OtelHandler) -> [(&'static str, CallbackManager); 3] {
    [
        ("no handler", CallbackManager::new()),
        (
            "counting handler",
            CallbackManager::new().with_handler(Arc::new(Counting::default())),
        ),
        (
            "exporter",
            CallbackManager::new().with_handler(Arc::new(otel.clone())),
        ),
    ]
}

fn result() -> LlmResult {
    let mut result = LlmResult::from_text("Paris is in France.");
    result.token_usage = Some(TokenUsage::new(12, 100));
    result
}

fn whole_run(manager: &CallbackManager, llm: &Serialized, response: &LlmResult) {
    let chain = manager
        .on_chain_start(
            None,
            &json!({"question": "Where is Paris?"}),
            RunOptions::named("rag"),
        )
        .unwrap();
    let run = chain
        .child()
        .on_llm_start(llm, "Where is Paris?", RunOptions::new())
        .unwrap();
    for _ in 0..100 {
        run.on_llm_new_token(black_box("tok"), None).unwrap();
    }
    run.on_llm_end(response).unwrap();
    chain.on_chain_end(&json!({"answer": "Paris"})).unwrap();
}

/// Runs per timed chunk: 2,048 spans, well inside the export queue.
const CHUNK: u64 = 1024;

fn run(c: &mut Criterion) {
    let otel = exporter();
    let llm = Serialized::named("gpt-x");
    let response = result();
    let mut group = c.benchmark_group("run");
    for (name, manager) in managers(&otel) {
        group.bench_function(name, |b| {
            b.iter_custom(|iters| {
                // Timed in chunks the export queue holds, waiting (untimed) for the export
                // thread between chunks: the figure is for spans exported, none dropped. The
                // export thread works during the chunks, as in a service.
                let mut timed = Duration::ZERO;
                let mut left = iters;
                while left > 0 {
                    let chunk = left.min(CHUNK);
                    let start = Instant::now();
                    for _ in 0..chunk {
                        whole_run(&manager, &llm, &response);
                    }
                    timed += start.elapsed();
                    left -= chunk;
                    otel.flush(Duration::from_secs(30));
                }
                timed
            })
        });
    }
    group.finish();
    eprintln!(
        "export report after `run`: {:?}",
        otel.flush(Duration::from_secs(30))
    );
}

fn token(c: &mut Criterion) {
    let otel = exporter();
    let llm = Serialized::named("gpt-x");
    let mut group = c.benchmark_group("token");
    for (name, manager) in managers(&otel) {
        let run = manager
            .on_llm_start(&llm, "Where is Paris?", RunOptions::new())
            .unwrap();
        group.bench_function(name, |b| {
            b.iter(|| run.on_llm_new_token(black_box("tok"), None).unwrap())
        });
        run.on_llm_end(&LlmResult::default()).unwrap();
    }

    group.finish();
    eprintln!(
        "export report after `token`: {:?}",
        otel.flush(Duration::from_secs(30))
    );
}

fn config() -> Criterion {
    Criterion::default()
        .warm_up_time(Duration::from_millis(500))
        .measurement_time(Duration::from_secs(5))
        .sample_size(50)
}

criterion_group! {
    name = benches;
    config = config();
    targets = run, token
}
criterion_main!(benches);
