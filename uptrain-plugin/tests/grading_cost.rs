//! What grading cost, against a loopback judge that reports a known usage (cached and reasoning
//! tokens included): per graded row and in total, through `grade` and through the handler
//! (stats, kept rows, output file, console), priced by the shipped table; a model not in the
//! table is "unknown", never zero; replies without usage make the cost unknown; the offline
//! evaluator has no judge cost and says so; two handlers in one process count their own; rows
//! logged through `tracing` say it too.
#![allow(clippy::unwrap_used, clippy::expect_used)] // tests fail loudly

mod common;

use std::sync::Arc;
use std::time::Duration;

use handler_core::cost::{ModelPrices, PriceTable};
use llm_callbacks_test_support::{LoopbackJudge, SharedBuffer};
use serde_json::{Value, json};
use uptrain_plugin::{
    Check, EvaluatorKind, GradeOptions, Graded, GradedRow, JudgeCost, JudgeEvaluator, JudgeUsage,
    Limits, OfflineEvaluator, ProgressMode, ResultsLog, Row, TokenUsage, UptrainHandler, grade,
};

const MODEL: &str = "gpt-4o-mini";
/// Context relevance (one call) and factual accuracy (two calls): three judge calls a row.
const CHECKS: [Check; 2] = [Check::ContextRelevance, Check::FactualAccuracy];

/// What the judge reports for every call.
fn reported() -> Value {
    json!({"prompt_tokens": 1000, "completion_tokens": 200, "total_tokens": 1200,
           "prompt_tokens_details": {"cached_tokens": 400},
           "completion_tokens_details": {"reasoning_tokens": 50}})
}

/// A row's three calls.
const ROW_TOKENS: TokenUsage = TokenUsage::new(3000, 600)
    .with_cache_read_tokens(1200)
    .with_reasoning_tokens(150);
/// A row's three calls at gpt-4o-mini's prices ($0.15 input, $0.075 cached input, $0.60
/// output per million tokens; reasoning is output): 1800 × 0.15 + 1200 × 0.075 + 600 × 0.60
/// = 720 per million.
const ROW_USD: f64 = 0.000_72;
/// The same by kind: input, cached input, output, reasoning.
const ROW_PARTS: [f64; 4] = [0.000_27, 0.000_09, 0.000_27, 0.000_09];

fn close(actual: f64, expected: f64) -> bool {
    (actual - expected).abs() < 1e-12
}

fn judge(server: &LoopbackJudge, model: &str) -> JudgeEvaluator {
    JudgeEvaluator::builder()
        .base_url(server.url())
        .api_key("k")
        .model(model)
        .limits(Limits::unlimited(8))
        .retry(common::fast_retry(1))
        .progress(ProgressMode::Never)
        .build()
        .unwrap()
}

fn rows(n: usize) -> Vec<Row> {
    (0..n).map(|i| common::full_row(&i.to_string())).collect()
}

async fn graded(evaluator: &dyn uptrain_plugin::Evaluator, rows: Vec<Row>) -> Graded {
    grade(
        evaluator,
        rows,
        &CHECKS,
        &GradeOptions::default().batch_rows(2),
    )
    .await
    .unwrap()
}

/// The cost of `usage`, asserted priced.
fn priced(usage: &JudgeUsage) -> &handler_core::cost::Cost {
    match &usage.cost {
        JudgeCost::Priced(cost) => cost,
        other => panic!("not priced: {other}"),
    }
}

#[tokio::test]
async fn each_graded_row_carries_its_judge_usage_and_cost_and_the_total_is_their_sum() {
    let server = LoopbackJudge::start_reporting(Duration::ZERO, reported()).unwrap();
    let mut input = rows(4);
    input[2].remove("context");
    let graded = graded(&judge(&server, MODEL), input).await;
    assert_eq!(server.requests(), 9, "three graded rows, three calls each");
    for (i, row) in graded.rows.iter().enumerate() {
        let Some(usage) = row.usage() else {
            assert!(matches!(row, GradedRow::Rejected { .. }) && i == 2);
            continue;
        };
        assert_eq!(usage.requests, 3, "row {i}");
        assert_eq!(usage.tokens, Some(ROW_TOKENS), "row {i}");
        let cost = priced(usage);
        assert!(close(cost.total, ROW_USD), "row {i}: {}", cost.total);
        let b = cost.breakdown;
        let parts = [b.input, b.cached_input, b.output, b.reasoning];
        for (part, expected) in parts.iter().zip(ROW_PARTS) {
            assert!(close(*part, expected), "row {i}: {b:?}");
        }
        assert_eq!(b.cache_write, 0.0);
        assert_eq!(
            (
                cost.provenance.entry.as_str(),
                cost.provenance.date.as_str()
            ),
            ("gpt-4o-mini", "2024-10-01")
        );
        let GradedRow::Scored(result) = row else {
            unreachable!()
        };
        let json = &result.to_json()["judge_usage"];
        assert_eq!(json["requests"], 3);
        assert_eq!(json["tokens"]["cache_read_tokens"], 1200);
        assert_eq!(json["tokens"]["reasoning_tokens"], 150);
        assert!(close(json["cost_usd"].as_f64().unwrap(), ROW_USD), "{json}");
        assert_eq!(
            json["cost"],
            "$0.000720 (gpt-4o-mini, prices of 2024-10-01)"
        );
        assert_eq!(json["prices"]["entry"], "gpt-4o-mini");
        assert_eq!(
            json["prices"]["source"],
            "https://platform.openai.com/docs/pricing"
        );
    }
    let total = &graded.usage;
    assert_eq!(total.requests, 9);
    assert_eq!(
        total.tokens,
        Some(
            TokenUsage::new(9000, 1800)
                .with_cache_read_tokens(3600)
                .with_reasoning_tokens(450)
        )
    );
    assert!(close(priced(total).total, 3.0 * ROW_USD), "{total}");
    assert_eq!(
        total.to_string(),
        "9 judge requests, 9000 in (3600 cached), 1800 out (450 reasoning), 10800 total, \
         $0.002160 (gpt-4o-mini, prices of 2024-10-01)"
    );
}

#[tokio::test]
async fn a_judge_model_not_in_the_table_costs_unknown_not_zero() {
    let server = LoopbackJudge::start_reporting(Duration::ZERO, reported()).unwrap();
    let graded = graded(&judge(&server, "house-judge"), rows(2)).await;
    let usages = graded.rows.iter().filter_map(GradedRow::usage);
    for usage in usages.chain([&graded.usage]) {
        assert_eq!(usage.cost.usd(), None, "{usage}");
        assert!(
            usage
                .cost
                .to_string()
                .starts_with("unknown: model \"house-judge\" not in the price table"),
            "{usage}"
        );
    }
    // The tokens are still known.
    assert_eq!(graded.rows[0].usage().unwrap().tokens, Some(ROW_TOKENS));
    let GradedRow::Scored(row) = &graded.rows[0] else {
        panic!("not graded")
    };
    let json = &row.to_json()["judge_usage"];
    assert!(
        json["cost_usd"].is_null() && json.get("prices").is_none(),
        "{json}"
    );
}

#[tokio::test]
async fn replies_without_usage_make_the_cost_unknown() {
    let server = LoopbackJudge::start_reporting(Duration::ZERO, Value::Null).unwrap();
    let graded = graded(&judge(&server, MODEL), rows(1)).await;
    let usage = graded.rows[0].usage().unwrap();
    assert_eq!(usage.requests, 3);
    assert_eq!(
        usage.cost,
        JudgeCost::Unknown("3 of the judge's replies reported no token usage".into())
    );
    assert_eq!(graded.usage.cost.usd(), None);
}

#[tokio::test]
async fn the_offline_evaluator_has_no_judge_cost_and_says_so() {
    let graded = graded(&OfflineEvaluator::new(), rows(2)).await;
    let usages = graded.rows.iter().filter_map(GradedRow::usage);
    for usage in usages.chain([&graded.usage]) {
        assert_eq!(usage, &JudgeUsage::default());
        assert_eq!(usage.tokens, None);
        assert_eq!(usage.cost.to_string(), "no judge model: nothing to price");
    }
    let GradedRow::Scored(row) = &graded.rows[0] else {
        panic!("not graded")
    };
    let json = &row.to_json()["judge_usage"];
    assert!(
        json["cost_usd"].is_null() && json["tokens"].is_null(),
        "{json}"
    );
    assert_eq!(json["cost"], "no judge model: nothing to price");
}

/// Two handlers in one process, each with its own judge reporting its own usage, and a third
/// grading offline: each counts its own cost, in its stats, rows, output file and console.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn each_handler_counts_its_own_grading_cost() {
    let big = LoopbackJudge::start_reporting(Duration::ZERO, reported()).unwrap();
    let small = LoopbackJudge::start_reporting(
        Duration::ZERO,
        json!({"prompt_tokens": 100, "completion_tokens": 10, "total_tokens": 110}),
    )
    .unwrap();
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("rows.jsonl");
    let console = SharedBuffer::default();
    let first = UptrainHandler::builder()
        .evaluator(Arc::new(judge(&big, MODEL)))
        .output_file(&path)
        .log_to(console.clone())
        .build()
        .unwrap();
    let second = UptrainHandler::builder()
        .evaluator(Arc::new(judge(&small, MODEL)))
        .log_results(false)
        .build()
        .unwrap();
    let offline = UptrainHandler::builder()
        .evaluator(Arc::new(OfflineEvaluator::new()))
        .log_results(false)
        .build()
        .unwrap();
    let checks = CHECKS.to_vec();
    let a = first.uptrain_evaluate("a", rows(2), checks.clone()).await;
    let b = first.uptrain_evaluate("b", rows(1), checks.clone()).await;
    let c = second.uptrain_evaluate("c", rows(1), checks.clone()).await;
    let d = offline.uptrain_evaluate("d", rows(1), checks).await;
    let (a, b, c, d) = (a.unwrap(), b.unwrap(), c.unwrap(), d.unwrap());

    for row in a.iter().chain(&b) {
        let usage = row.judge_usage.as_ref().unwrap();
        assert_eq!(usage.tokens, Some(ROW_TOKENS));
        assert!(close(usage.cost.usd().unwrap(), ROW_USD), "{usage}");
    }
    let stats = first.stats();
    assert_eq!(stats.evaluated, 2);
    assert_eq!(stats.judge_usage.requests, 9);
    assert_eq!(
        stats.judge_usage.tokens.map(|t| t.total_tokens),
        Some(10_800)
    );
    assert!(close(stats.judge_usage.cost.usd().unwrap(), 3.0 * ROW_USD));

    // 300 in at $0.15, 30 out at $0.60 per million.
    let usage = c[0].judge_usage.as_ref().unwrap();
    assert_eq!(usage.tokens, Some(TokenUsage::new(300, 30)));
    let stats = second.stats();
    assert_eq!(stats.judge_usage.requests, 3);
    assert_eq!(stats.judge_usage.tokens, Some(TokenUsage::new(300, 30)));
    assert!(close(stats.judge_usage.cost.usd().unwrap(), 0.000_063));

    assert_eq!(d[0].judge_usage, Some(JudgeUsage::default()));
    assert_eq!(offline.stats().judge_usage, JudgeUsage::default());

    // The output file and the console say it per row.
    first.shutdown(Duration::from_secs(60));
    let lines: Vec<Value> = std::fs::read_to_string(&path)
        .unwrap()
        .lines()
        .map(|l| serde_json::from_str(l).unwrap())
        .collect();
    assert_eq!(lines.len(), 3);
    for line in &lines {
        let usage = &line["judge_usage"];
        assert_eq!(usage["requests"], 3, "{line}");
        assert_eq!(usage["tokens"]["prompt_tokens"], 3000, "{line}");
        assert!(
            close(usage["cost_usd"].as_f64().unwrap(), ROW_USD),
            "{line}"
        );
    }
    let text = console.text();
    assert_eq!(
        text.matches(
            "Grading cost: 3 judge requests, 3000 in (1200 cached), 600 out (150 reasoning), \
             3600 total, $0.000720 (gpt-4o-mini, prices of 2024-10-01)\n"
        )
        .count(),
        3,
        "{text}"
    );
    second.shutdown(Duration::from_secs(60));
    offline.shutdown(Duration::from_secs(60));
}

/// In `tracing` mode (no console block), each row's event carries its grading cost.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn rows_logged_through_tracing_carry_their_grading_cost() {
    let logged = SharedBuffer::default();
    let writer = logged.clone();
    // The handler logs from its own thread: the subscriber must be the process's.
    tracing::subscriber::set_global_default(
        tracing_subscriber::fmt()
            .with_ansi(false)
            .with_writer(move || writer.clone())
            .finish(),
    )
    .unwrap();
    let server = LoopbackJudge::start_reporting(Duration::ZERO, reported()).unwrap();
    let uptrain = UptrainHandler::builder()
        .evaluator(Arc::new(judge(&server, MODEL)))
        .results_log(ResultsLog::Tracing)
        .build()
        .unwrap();
    uptrain
        .uptrain_evaluate("traced", rows(1), CHECKS.to_vec())
        .await
        .unwrap();
    uptrain.shutdown(Duration::from_secs(60));
    let text = logged.text();
    assert!(
        text.lines().any(|line| line.contains("UpTrain result")
            && line.contains(
                "grading_cost=3 judge requests, 3000 in (1200 cached), 600 out (150 reasoning), \
                 3600 total, $0.000720 (gpt-4o-mini, prices of 2024-10-01)"
            )),
        "{text}"
    );
}

/// A handler configured with its own prices (a judge model of its own, priced by contract)
/// prices the judge's tokens with them: the configuration reaches the judge it builds.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_handler_prices_its_judge_with_the_table_it_is_given() {
    let server = LoopbackJudge::start_reporting(Duration::ZERO, reported()).unwrap();
    // $1 input, $0.10 cached input, $2 output per million tokens.
    let ours = PriceTable::shipped()
        .clone()
        .with_model(
            "house-judge",
            ModelPrices::new(1.0, 2.0, "2026-12-01", "our contract").with_cached_input(0.1),
        )
        .unwrap();
    let uptrain = UptrainHandler::builder()
        .evaluator_kind(EvaluatorKind::Judge)
        .api_key("k")
        .base_url(server.url())
        .model("house-judge")
        .prices(ours)
        .log_results(false)
        .build()
        .unwrap();
    assert_eq!(uptrain.evaluator_name(), "judge");
    let rows = uptrain
        .uptrain_evaluate("priced", rows(1), CHECKS.to_vec())
        .await
        .unwrap();
    // 1800 × 1 + 1200 × 0.1 + 600 × 2 = 3120 per million.
    let usage = rows[0].judge_usage.as_ref().unwrap();
    let cost = priced(usage);
    assert!(close(cost.total, 0.003_12), "{usage}");
    assert_eq!(cost.provenance.source, "our contract");
    assert_eq!(
        priced(&uptrain.stats().judge_usage).provenance.entry,
        "house-judge"
    );
    uptrain.shutdown(Duration::from_secs(60));
}
