//! Soak: 100,000 RAG runs through the UpTrain handler, in one of two settings. Both report the
//! peak resident memory above the start (`VmHWM` in `/proc/self/status`) and how every run was
//! accounted for.
//!
//! `cargo run --release -p uptrain-plugin --example soak [runs]`: a service. The runs go
//! against a loopback judge slower than they arrive, `flush()` never called (see below).
//!
//! `cargo run --release -p uptrain-plugin --example soak offline [runs] [threads]`: batch
//! work. 8 threads push the runs (100,000 by default) with the offline evaluator in wait mode
//! (`WhenFull::Wait(Duration::MAX)`) and the default memory budgets; one flush at the end.
//! Every run is evaluated; the flush returns the rows the kept-rows budget holds and counts
//! the rest.
//!
//! The judge answers each call after 20 ms with 16 calls in flight: about 200 RAG rows a
//! second (4 judge calls per row), while the runs arrive at about 10,000 a second. The
//! handler's queue (64 MiB of pending rows by default, in refuse mode) takes what fits and
//! records the rest as rows "not evaluated: queue full"; its kept-rows budget bounds the kept
//! rows; its tracker frees every run at its end. At the end, `shutdown` gives the queue 30 s
//! to drain (what the judge cannot grade by then is given up and counted).
#![allow(clippy::unwrap_used, clippy::expect_used)] // a soak binary may stop on setup errors

use std::sync::Arc;
use std::time::{Duration, Instant};

use handler_core::payload::{LlmResult, Serialized};
use handler_core::{CallbackManager, RunOptions};
use llm_callbacks_test_support::LoopbackJudge;
use serde_json::json;
use uptrain_plugin::{EvaluatorKind, Limits, UptrainHandler, WhenFull};

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

/// CPU seconds (user + system) of the handler's evaluation thread so far, when Linux says.
fn evaluation_thread_cpu() -> Option<f64> {
    let tasks = std::fs::read_dir("/proc/self/task").ok()?;
    tasks.flatten().find_map(|task| {
        let comm = std::fs::read_to_string(task.path().join("comm")).ok()?;
        if !comm.starts_with("uptrain-evalua") {
            return None;
        }
        let stat = std::fs::read_to_string(task.path().join("stat")).ok()?;
        // Fields after the command's closing parenthesis: utime and stime are the 12th and
        // 13th, in clock ticks (100 a second on Linux).
        let rest = &stat[stat.rfind(')')? + 2..];
        let fields: Vec<&str> = rest.split_whitespace().collect();
        let ticks: u64 =
            fields.get(11)?.parse::<u64>().ok()? + fields.get(12)?.parse::<u64>().ok()?;
        Some(ticks as f64 / 100.0)
    })
}

/// One RAG run: a chain with the question and a 1 KiB context, an LLM that answers.
fn rag_run(manager: &CallbackManager, context: &str, tag: &str, n: usize) {
    let inputs = json!({"question": format!("What is the capital of France? ({tag} {n})"), "context": context});
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
}

fn context() -> String {
    "Paris is the capital and largest city of France, on the Seine. ".repeat(16)
}

/// Batch work: `threads` threads push `runs` runs in wait mode, offline; one flush.
fn offline(runs: usize, threads: usize) {
    let uptrain = Arc::new(
        UptrainHandler::builder()
            .evaluator_kind(EvaluatorKind::Offline)
            .when_full(WhenFull::Wait(Duration::MAX))
            .log_results(false)
            .build()
            .unwrap(),
    );
    let manager = Arc::new(CallbackManager::new().with_handler(uptrain.clone()));
    let (start_peak, start_rss) = memory_kib();
    let started = Instant::now();
    let each = runs.div_ceil(threads);
    let senders: Vec<_> = (0..threads)
        .map(|t| {
            let manager = manager.clone();
            let count = each.min(runs.saturating_sub(t * each));
            std::thread::spawn(move || {
                let context = context();
                for n in 0..count {
                    rag_run(&manager, &context, &format!("t{t}"), n);
                }
            })
        })
        .collect();
    for sender in senders {
        sender.join().unwrap();
    }
    let arrived = started.elapsed();
    let report = uptrain.flush_timeout(Duration::MAX);
    let graded = started.elapsed();
    let worker_cpu = evaluation_thread_cpu();
    let stats = uptrain.stats();
    let (peak, rss) = memory_kib();
    println!(
        "runs: {runs} from {threads} threads, wait mode, offline evaluator; sent in {:.2} s, all graded in {:.2} s ({:.0} rows/s)",
        arrived.as_secs_f64(),
        graded.as_secs_f64(),
        runs as f64 / graded.as_secs_f64()
    );
    if let Some(cpu) = worker_cpu {
        println!(
            "evaluation thread CPU: {cpu:.2} s ({:.0} µs a row)",
            cpu * 1e6 / runs as f64
        );
    }
    println!(
        "evaluated: {}, refused: {}, deadline exceeded: {}, failed: {}, given up: {}, pending: {}",
        stats.evaluated,
        stats.refused,
        stats.deadline_exceeded,
        stats.failed,
        stats.given_up,
        stats.pending
    );
    println!(
        "one flush at the end: {} rows returned, {} not kept (kept-rows budget {} MiB)",
        report.rows.len(),
        report.not_kept,
        uptrain.config().kept_bytes >> 20
    );
    println!(
        "memory: start RSS {} KiB (peak {} KiB); end RSS {} KiB; peak {} KiB = {:.1} MiB above the start",
        start_rss,
        start_peak,
        rss,
        peak,
        peak.saturating_sub(start_rss) as f64 / 1024.0
    );
    assert_eq!(stats.evaluated, runs as u64, "every run is evaluated");
    assert_eq!(report.rows.len() as u64 + report.not_kept, runs as u64);
}

fn main() {
    let mut args = std::env::args().skip(1).peekable();
    let batch = args.next_if(|a| a == "offline").is_some();
    let runs: usize = args.next().and_then(|n| n.parse().ok()).unwrap_or(100_000);
    if batch {
        let threads = args.next().and_then(|n| n.parse().ok()).unwrap_or(8);
        return offline(runs, threads.max(1));
    }
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
    let context = context();
    for n in 0..runs {
        rag_run(&manager, &context, "run", n);
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
        "tracked runs at the end of arrivals: {}; rows not kept (kept-rows budget): {}",
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
