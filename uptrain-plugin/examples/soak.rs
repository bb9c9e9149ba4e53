//! Soak: 100,000 RAG runs through the UpTrain handler against a loopback judge slower than
//! the runs arrive, `flush()` never called. Reports the peak resident memory above the start
//! (`VmHWM` in `/proc/self/status`) and how every run was accounted for.
//!
//! `cargo run --release -p uptrain-plugin --example soak [runs]`
//!
//! The judge answers each call after 20 ms with 16 calls in flight: about 200 RAG rows a
//! second (4 judge calls per row), while the runs arrive at about 10,000 a second. The
//! handler's bounded queue takes what the judge can grade and records the rest as rows "not
//! evaluated: queue full"; its retention bounds the kept rows; its tracker frees every run
//! at its end. At the end, `shutdown` gives the queue 30 s to drain.
#![allow(clippy::unwrap_used, clippy::expect_used)] // a soak binary may stop on setup errors

use std::sync::Arc;
use std::time::{Duration, Instant};

use handler_core::payload::{LlmResult, Serialized};
use handler_core::{CallbackManager, RunOptions};
use llm_callbacks_test_support::LoopbackJudge;
use serde_json::json;
use uptrain_plugin::{EvaluatorKind, Limits, UptrainHandler};

const DELAY: Duration = Duration::from_millis(20);

/// Peak and current resident memory, in KiB.
fn memory_kib() -> (u64, u64) {
    let status = std::fs::read_to_string("/proc/self/status").unwrap_or_default();
    let field = |name: &str| {
        status
            .lines()
            .find_map(|l| l.strip_prefix(name))
            .and_then(|v| v.split_whitespace().next())
            .and_then(|v| v.parse().ok())
            .unwrap_or(0)
    };
    (field("VmHWM:"), field("VmRSS:"))
}

fn main() {
    let runs: usize = std::env::args()
        .nth(1)
        .and_then(|n| n.parse().ok())
        .unwrap_or(100_000);
    let judge = LoopbackJudge::start(DELAY).unwrap();
    let url = judge.url().to_owned();

    let uptrain = Arc::new(
        UptrainHandler::builder()
            .evaluator_kind(EvaluatorKind::Judge)
            .api_key("soak")
            .base_url(&url)
            .limits(Limits::unlimited(16))
            .log_results(false)
            .build()
            .unwrap(),
    );
    let manager = CallbackManager::new().with_handler(uptrain.clone());
    let (start_peak, start_rss) = memory_kib();
    let started = Instant::now();
    let context = "Paris is the capital and largest city of France, on the Seine. ".repeat(16);
    for n in 0..runs {
        let inputs = json!({"question": format!("What is the capital of France? ({n})"), "context": context});
        let chain = manager
            .on_chain_start(None, &inputs, RunOptions::named("rag"))
            .unwrap();
        let llm = chain
            .child()
            .on_llm_start(&Serialized::named("llm"), "prompt", RunOptions::new())
            .unwrap();
        llm.on_llm_end(&LlmResult::from_text("The capital of France is Paris."))
            .unwrap();
        chain.on_chain_end(&json!({})).unwrap();
        if n % 100 == 99 {
            std::thread::sleep(Duration::from_millis(10));
        }
    }
    let arrived = started.elapsed();
    let during = uptrain.stats();
    let report = uptrain.shutdown(Duration::from_secs(30));
    let stats = uptrain.stats();
    let (peak, rss) = memory_kib();
    let accounted = stats.evaluated
        + stats.refused
        + stats.deadline_exceeded
        + stats.failed
        + stats.given_up
        + stats.pending as u64;
    println!("runs: {runs} in {:.1} s", arrived.as_secs_f64());
    println!(
        "evaluated: {}, not evaluated (queue full): {}, deadline exceeded: {}, failed: {}, \
         given up at shutdown: {}, pending: {}",
        stats.evaluated,
        stats.refused,
        stats.deadline_exceeded,
        stats.failed,
        stats.given_up,
        stats.pending
    );
    println!(
        "accounted for: {accounted} of {runs}; shutdown: {} pending, {} finished, {} given up",
        report.pending, report.finished, report.given_up
    );
    println!(
        "tracked runs at the end of arrivals: {}; rows not kept (retention): {}",
        during.tracked_runs, stats.rows_not_kept
    );
    println!(
        "memory: start RSS {} KiB (peak {} KiB); end RSS {} KiB; peak {} KiB = {:.1} MiB above the start",
        start_rss,
        start_peak,
        rss,
        peak,
        peak.saturating_sub(start_rss) as f64 / 1024.0
    );
    assert_eq!(accounted, runs as u64, "every run is accounted for");
    assert_eq!(stats.submitted, runs as u64);
}
