//! What grading cost, in every form `grade` writes: per row in the graded rows, in total in the
//! terminal table, the JSON and Markdown summaries and the HTML report; against a loopback
//! judge reporting a known usage (cached and reasoning tokens included), priced by the shipped
//! table; a judge model not in the table is "unknown", never zero; the offline evaluator has no
//! judge cost and says so.
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod common;

use std::path::Path;
use std::process::Output;

use common::{cli, code, json_lines, stderr};
use serde_json::{Value, json};
use wiremock::{Mock, MockServer, ResponseTemplate};

/// Every judge call: choice A, 1000 prompt tokens (400 cached), 200 completion tokens (50
/// reasoning).
fn reply() -> ResponseTemplate {
    let content = json!({"Reasoning": "the context answers it", "Choice": "A"}).to_string();
    ResponseTemplate::new(200).set_body_json(json!({
        "choices": [{"message": {"role": "assistant", "content": content}}],
        "usage": {"prompt_tokens": 1000, "completion_tokens": 200, "total_tokens": 1200,
                  "prompt_tokens_details": {"cached_tokens": 400},
                  "completion_tokens_details": {"reasoning_tokens": 50}}
    }))
}

/// One call at gpt-4o-mini's prices ($0.15 input, $0.075 cached input, $0.60 output per
/// million tokens): 600 × 0.15 + 400 × 0.075 + 200 × 0.60 = 240 per million.
const CALL_USD: f64 = 0.000_24;

fn close(actual: &Value, expected: f64) -> bool {
    actual
        .as_f64()
        .is_some_and(|v| (v - expected).abs() < 1e-12)
}

/// What one run wrote.
struct Run {
    output: Output,
    rows: Vec<Value>,
    summary: Value,
    markdown: String,
    report: String,
}

async fn grade(dir: &Path, evaluator: &[&str]) -> Run {
    let data = dir.join("data.jsonl");
    let text: String = ["q1", "q2", "q3"]
        .iter()
        .map(|q| {
            json!({"question": q, "context": format!("Context for {q}"), "response": "r"})
                .to_string()
                + "\n"
        })
        .collect();
    std::fs::write(&data, text).unwrap();
    let (out, json, md, html) = (
        dir.join("scores.jsonl"),
        dir.join("summary.json"),
        dir.join("summary.md"),
        dir.join("report.html"),
    );
    let mut command = cli();
    command
        .env("OPENAI_API_KEY", "sk-test")
        .args(["grade", "--checks", "context_relevance"])
        .args(evaluator)
        .arg("--out")
        .arg(&out)
        .arg("--summary-json")
        .arg(&json)
        .arg("--summary-md")
        .arg(&md)
        .arg("--report")
        .arg(&html)
        .arg(&data);
    let output = tokio::task::spawn_blocking(move || command.output().unwrap())
        .await
        .unwrap();
    assert_eq!(code(&output), 0, "{}", stderr(&output));
    Run {
        output,
        rows: json_lines(&out),
        summary: serde_json::from_str(&std::fs::read_to_string(&json).unwrap()).unwrap(),
        markdown: std::fs::read_to_string(&md).unwrap(),
        report: std::fs::read_to_string(&html).unwrap(),
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn every_form_shows_the_judge_cost_per_row_and_in_total() {
    let server = MockServer::start().await;
    Mock::given(wiremock::matchers::method("POST"))
        .respond_with(reply())
        .expect(3)
        .mount(&server)
        .await;
    let dir = tempfile::tempdir().unwrap();
    let base_url = format!("{}/v1", server.uri());
    let run = grade(
        dir.path(),
        &[
            "--evaluator",
            "judge",
            "--model",
            "gpt-4o-mini",
            "--base-url",
            &base_url,
        ],
    )
    .await;

    for row in &run.rows {
        let usage = &row["judge_usage"];
        assert_eq!(usage["requests"], 1, "{row}");
        assert_eq!(
            usage["tokens"],
            json!({"prompt_tokens": 1000, "completion_tokens": 200, "total_tokens": 1200,
                   "cache_read_tokens": 400, "reasoning_tokens": 50})
        );
        assert!(close(&usage["cost_usd"], CALL_USD), "{row}");
        assert_eq!(
            usage["cost"],
            "$0.000240 (gpt-4o-mini, prices of 2024-10-01)"
        );
    }

    let total = &run.summary["judge_usage"];
    assert_eq!(total["requests"], 3);
    assert_eq!(
        total["tokens"],
        json!({"prompt_tokens": 3000, "completion_tokens": 600, "total_tokens": 3600,
               "cache_read_tokens": 1200, "reasoning_tokens": 150})
    );
    assert!(close(&total["cost_usd"], 3.0 * CALL_USD), "{total}");
    assert_eq!(total["prices"]["entry"], "gpt-4o-mini");
    assert_eq!(total["prices"]["date"], "2024-10-01");
    assert_eq!(
        total["prices"]["source"],
        "https://platform.openai.com/docs/pricing"
    );
    assert!(total["prices"]["table_version"].is_string(), "{total}");

    let line = "3 rows, 3 graded, 0 not graded; evaluator judge; \
                grading cost: 3 judge requests, 3000 in (1200 cached), 600 out (150 reasoning), \
                3600 total, $0.000720 (gpt-4o-mini, prices of 2024-10-01)";
    let prices = "Judge prices: gpt-4o-mini of 2024-10-01 \
                  (https://platform.openai.com/docs/pricing), price table ";
    let table = stderr(&run.output);
    assert!(table.contains(line) && table.contains(prices), "{table}");
    assert!(
        run.markdown.contains(line) && run.markdown.contains(prices),
        "{}",
        run.markdown
    );

    let report = &run.report;
    assert!(report.contains("<h2>Grading cost</h2>"), "{report}");
    assert!(report.contains(
        "<tr><th>prompt tokens</th><td>3000 (1200 cached, not reported cache-write)</td></tr>"
    ));
    assert!(
        report.contains("<td class=\"cost\">$0.000720 (gpt-4o-mini, prices of 2024-10-01)</td>")
    );
    // Each of the rows shown, with its own cost.
    assert_eq!(
        report
            .matches("<td>$0.000240 (gpt-4o-mini, prices of 2024-10-01)</td>")
            .count(),
        3,
        "{report}"
    );
}

/// (evaluator arguments, the table's cost words, what the report's cost cell starts with)
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_unknown_judge_model_and_the_offline_evaluator_cost_no_made_up_zero() {
    let server = MockServer::start().await;
    Mock::given(wiremock::matchers::method("POST"))
        .respond_with(reply())
        .mount(&server)
        .await;
    let base_url = format!("{}/v1", server.uri());
    let judge = [
        "--evaluator",
        "judge",
        "--model",
        "house-judge",
        "--base-url",
        &base_url,
    ];
    let cases: [(&[&str], &str); 2] = [
        (
            &judge,
            "3 judge requests, 3000 in (1200 cached), 600 out (150 reasoning), 3600 total, \
             unknown: model \"house-judge\" not in the price table",
        ),
        (
            &["--evaluator", "offline"],
            "0 requests, no judge model: nothing to price",
        ),
    ];
    for (args, words) in cases {
        let dir = tempfile::tempdir().unwrap();
        let run = grade(dir.path(), args).await;
        for usage in run.rows.iter().map(|r| &r["judge_usage"]) {
            assert!(usage["cost_usd"].is_null(), "{usage}");
        }
        let total = &run.summary["judge_usage"];
        assert!(total["cost_usd"].is_null(), "{total}");
        assert!(total.get("prices").is_none(), "{total}");
        let table = stderr(&run.output);
        assert!(table.contains(&format!("grading cost: {words}")), "{table}");
        assert!(!table.contains("Judge prices"), "{table}");
        assert!(
            !table.contains('$'),
            "no amount for a cost not known: {table}"
        );
        assert!(run.markdown.contains(words), "{}", run.markdown);
        let cell = words.split(", ").last().unwrap().replace('"', "&quot;");
        assert!(
            run.report.contains(&format!("<td class=\"cost\">{cell}")),
            "{cell}: {}",
            run.report
        );
    }
}

/// `--prices FILE` merges a table over the shipped one: a judge model of one's own is priced
/// by it; a file that is not a price table is a usage error naming the flag.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn prices_of_ones_own_price_the_judge() {
    let server = MockServer::start().await;
    Mock::given(wiremock::matchers::method("POST"))
        .respond_with(reply())
        .mount(&server)
        .await;
    let dir = tempfile::tempdir().unwrap();
    let prices = dir.path().join("prices.json");
    std::fs::write(
        &prices,
        r#"{"version": "ours-1", "models": {"house-judge": {"input": 1, "cached_input": 0.1,
            "output": 2, "date": "2026-12-01", "source": "our contract"}}}"#,
    )
    .unwrap();
    let base_url = format!("{}/v1", server.uri());
    let prices_arg = prices.to_str().unwrap();
    let args = [
        "--evaluator",
        "judge",
        "--model",
        "house-judge",
        "--base-url",
        &base_url,
        "--prices",
        prices_arg,
    ];
    let run = grade(dir.path(), &args).await;
    // A call: 600 × 1 + 400 × 0.1 + 200 × 2 = 1040 per million; three calls.
    let total = &run.summary["judge_usage"];
    assert!(close(&total["cost_usd"], 3.0 * 0.001_04), "{total}");
    assert_eq!(total["prices"]["source"], "our contract");
    assert_eq!(
        total["prices"]["table_version"].as_str().unwrap(),
        format!(
            "{}+ours-1",
            handler_core::cost::PriceTable::shipped().version()
        )
    );

    std::fs::write(&prices, "{not json").unwrap();
    let mut command = cli();
    command
        .env("OPENAI_API_KEY", "sk-test")
        .args(["grade", "--checks", "context_relevance"])
        .args(args)
        .arg(dir.path().join("data.jsonl"));
    let output = tokio::task::spawn_blocking(move || command.output().unwrap())
        .await
        .unwrap();
    assert_eq!(code(&output), 2, "{}", stderr(&output));
    assert!(stderr(&output).contains("--prices"), "{}", stderr(&output));
}
