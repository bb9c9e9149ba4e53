//! Throughput of the LLM judge against an in-process loopback mock judge that answers every
//! request after 20 ms.
//!
//! 200 rows × the three RAG checks (context relevance, response completeness, factual accuracy
//! in two phases) = 800 judge calls per evaluation. Reports the wall time against the ideal
//! (calls × 20 ms ÷ max in flight) and the CPU time per judge call, read per thread from
//! `/proc/self/task/*/schedstat` so the mock server's own threads can be told apart from the
//! evaluator's (the client, its connection tasks and our code).
//!
//! Run with `cargo bench -p uptrain-plugin`.
#![allow(clippy::unwrap_used, clippy::expect_used)] // a bench binary may stop on setup errors

use std::sync::Arc;
use std::time::{Duration, Instant};

use llm_callbacks_test_support::{LoopbackJudge, judge};
use uptrain_plugin::{
    Check, EvaluationRequest, Evaluator, JudgeEvaluator, Limits, ProgressMode, RetryPolicy, Row,
};

const ROWS: usize = 200;
const DELAY: Duration = Duration::from_millis(20);
const MOCK_THREAD: &str = judge::THREAD_NAME;
const RUNS: usize = 5;

/// Starts the loopback judge for the life of the process; returns its base URL.
fn start_mock() -> String {
    let judge = Box::leak(Box::new(LoopbackJudge::start(DELAY).unwrap()));
    judge.url().to_owned()
}

/// CPU nanoseconds per thread name group: (mock server, everything else).
fn cpu_ns() -> (u64, u64) {
    let mut mock = 0;
    let mut rest = 0;
    let Ok(tasks) = std::fs::read_dir("/proc/self/task") else {
        return (0, 0);
    };
    for task in tasks.flatten() {
        let dir = task.path();
        let comm = std::fs::read_to_string(dir.join("comm")).unwrap_or_default();
        let ns: u64 = std::fs::read_to_string(dir.join("schedstat"))
            .ok()
            .and_then(|s| s.split_whitespace().next().and_then(|v| v.parse().ok()))
            .unwrap_or(0);
        if comm.trim() == MOCK_THREAD {
            mock += ns;
        } else {
            rest += ns;
        }
    }
    (mock, rest)
}

fn rows() -> Vec<Row> {
    (0..ROWS)
        .map(|i| {
            uptrain_plugin::row([
                (
                    "question",
                    format!("What is the capital of France, and where does it lie? (#{i})")
                        .as_str(),
                ),
                (
                    "context",
                    "Paris is the capital and most populous city of France. It lies on the Seine \
                     in the north of the country, at the heart of the Île-de-France region. The \
                     city has been a major centre of finance, diplomacy, commerce, fashion and \
                     science since the 17th century.",
                ),
                (
                    "response",
                    "The capital of France is Paris, which lies on the Seine in northern France.",
                ),
            ])
        })
        .collect()
}

struct Sample {
    wall: Duration,
    eval_cpu_ns: u64,
    mock_cpu_ns: u64,
    calls: u64,
}

fn measure(
    runtime: &tokio::runtime::Runtime,
    judge: &Arc<JudgeEvaluator>,
    request: &Arc<EvaluationRequest>,
) -> Sample {
    let (judge, request) = (Arc::clone(judge), Arc::clone(request));
    let (mock0, rest0) = cpu_ns();
    let started = Instant::now();
    // Evaluations run in a spawned task, as the callback handler will run them.
    let evaluation = runtime
        .block_on(async move { tokio::spawn(async move { judge.evaluate(&request).await }).await })
        .unwrap()
        .unwrap();
    let wall = started.elapsed();
    let (mock1, rest1) = cpu_ns();
    let failures: Vec<_> = evaluation.failures().collect();
    assert!(failures.is_empty(), "failed checks: {:?}", failures.first());
    assert_eq!(evaluation.rows.len(), ROWS);
    Sample {
        wall,
        eval_cpu_ns: rest1.saturating_sub(rest0),
        mock_cpu_ns: mock1.saturating_sub(mock0),
        calls: evaluation.usage.requests,
    }
}

/// Median of a list of numbers.
fn median(mut values: Vec<f64>) -> f64 {
    values.sort_by(f64::total_cmp);
    values[values.len() / 2]
}

#[allow(clippy::cast_precision_loss)]
fn scenario(runtime: &tokio::runtime::Runtime, flavour: &str, url: &str, in_flight: usize) {
    let judge = JudgeEvaluator::builder()
        .base_url(url)
        .api_key("bench-key")
        .limits(Limits::unlimited(in_flight))
        .retry(RetryPolicy::default())
        .progress(ProgressMode::Never)
        .build()
        .unwrap();
    let judge = Arc::new(judge);
    let request = Arc::new(EvaluationRequest::new(rows(), Check::RAG));
    let calls = ROWS * Check::RAG.iter().map(|c| c.judge_calls()).sum::<usize>();
    let ideal_ms = (calls as f64) * DELAY.as_secs_f64() * 1e3 / in_flight as f64;

    println!(
        "\n== {ROWS} rows × RAG checks = {calls} judge calls | {in_flight} in flight, no rate limit | {flavour}"
    );
    println!(
        "   ideal wall time = {calls} × {} ms ÷ {in_flight} = {ideal_ms:.0} ms",
        DELAY.as_millis()
    );
    let warm = measure(runtime, &judge, &request);
    println!(
        "   warm-up (opens the connections): {:.0} ms = {:.3}× ideal",
        warm.wall.as_secs_f64() * 1e3,
        warm.wall.as_secs_f64() * 1e3 / ideal_ms
    );
    let samples: Vec<Sample> = (0..RUNS)
        .map(|_| measure(runtime, &judge, &request))
        .collect();
    let mut walls = Vec::new();
    let mut cpus = Vec::new();
    for (i, s) in samples.iter().enumerate() {
        let wall_ms = s.wall.as_secs_f64() * 1e3;
        let cpu_us = s.eval_cpu_ns as f64 / s.calls as f64 / 1e3;
        println!(
            "   run {}: {wall_ms:.0} ms = {:.3}× ideal | evaluator CPU {cpu_us:.1} µs/call | \
             mock server CPU {:.1} µs/call | {} requests",
            i + 1,
            wall_ms / ideal_ms,
            s.mock_cpu_ns as f64 / s.calls as f64 / 1e3,
            s.calls
        );
        walls.push(wall_ms);
        cpus.push(cpu_us);
    }
    let (min_cpu, wall, cpu) = (
        cpus.iter().copied().fold(f64::INFINITY, f64::min),
        median(walls),
        median(cpus),
    );
    let ratio = wall / ideal_ms;
    let verdict = |ok: bool| if ok { "met" } else { "MISSED" };
    println!(
        "   RESULT (median of {RUNS}): wall {wall:.0} ms = {ratio:.3}× ideal [target ≤ 1.25×: {}] | \
         evaluator CPU {cpu:.1} µs per judge call (best {min_cpu:.1}) [target ≤ 50 µs: {}]",
        verdict(ratio <= 1.25),
        verdict(cpu <= 50.0),
    );
}

fn main() {
    // `cargo bench` passes `--bench`; under `cargo test --benches` only the first scenario runs.
    let full = std::env::args().any(|a| a == "--bench");
    if cfg!(debug_assertions) {
        println!("note: unoptimised build (cargo test); run `cargo bench` for meaningful figures");
    }
    let url = start_mock();
    let multi = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .thread_name("eval-worker")
        .enable_all()
        .build()
        .unwrap();
    scenario(&multi, "multi-thread runtime (2 workers)", &url, 32);
    if full {
        let single = tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
            .unwrap();
        scenario(&single, "current-thread runtime", &url, 32);
        scenario(&multi, "multi-thread runtime (2 workers)", &url, 16);
    }
}
