//! `--cache` against a loopback judge, counting its calls: the first run asks and records,
//! the second answers from the file with no call, a changed row misses and is graded, and
//! `--cache-strict` sends nothing, lists the misses and exits 2.
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod common;

use std::path::Path;
use std::process::Output;

use common::{cli, code, json_lines, stderr};
use serde_json::json;
use wiremock::{Mock, MockServer, Request, ResponseTemplate};

/// Every judge request gets choice A, with the first words of the prompt as the reasoning.
fn reply(_: &Request) -> ResponseTemplate {
    let content = json!({"Reasoning": "the context answers it", "Choice": "A"}).to_string();
    ResponseTemplate::new(200).set_body_json(json!({
        "choices": [{"message": {"role": "assistant", "content": content}}],
        "usage": {"prompt_tokens": 10, "completion_tokens": 5, "total_tokens": 15}
    }))
}

async fn grade(server: &MockServer, data: &Path, out: &Path, extra: &[&str]) -> Output {
    let mut command = cli();
    command
        .env("OPENAI_API_KEY", "sk-test")
        .args([
            "grade",
            "--evaluator",
            "judge",
            "--checks",
            "context_relevance",
        ])
        .arg("--base-url")
        .arg(format!("{}/v1", server.uri()))
        .arg("--out")
        .arg(out)
        .arg(data)
        .args(extra);
    tokio::task::spawn_blocking(move || command.output().unwrap())
        .await
        .unwrap()
}

async fn calls(server: &MockServer) -> usize {
    server.received_requests().await.unwrap().len()
}

fn write_rows(path: &Path, questions: &[&str]) {
    let text: String = questions
        .iter()
        .map(|q| {
            json!({"question": q, "context": format!("Context for {q}"), "response": "r"})
                .to_string()
                + "\n"
        })
        .collect();
    std::fs::write(path, text).unwrap();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn hit_miss_and_strict() {
    let server = MockServer::start().await;
    Mock::given(wiremock::matchers::method("POST"))
        .respond_with(reply)
        .mount(&server)
        .await;
    let dir = tempfile::tempdir().unwrap();
    let data = dir.path().join("data.jsonl");
    let out = dir.path().join("scores.jsonl");
    let cache = dir.path().join("judge-cache.jsonl");
    let cache_arg = cache.to_str().unwrap();
    write_rows(&data, &["q1", "q2", "q3"]);

    // Miss: three calls, three answers recorded.
    let first = grade(&server, &data, &out, &["--cache", cache_arg]).await;
    assert_eq!(code(&first), 0, "{}", stderr(&first));
    assert_eq!(calls(&server).await, 3);
    assert_eq!(std::fs::read_to_string(&cache).unwrap().lines().count(), 3);
    assert!(stderr(&first).contains("judge cache: 0 hits, 3 misses, 3 answers stored"));
    let first_rows = json_lines(&out);

    // Hit: no call, the same rows but for what grading them cost: nothing.
    let second = grade(
        &server,
        &data,
        &out,
        &["--cache", cache_arg, "--cache-strict"],
    )
    .await;
    assert_eq!(code(&second), 0, "{}", stderr(&second));
    assert_eq!(calls(&server).await, 3, "a hit must not call the judge");
    let without_usage = |rows: Vec<serde_json::Value>| -> Vec<serde_json::Value> {
        rows.into_iter()
            .map(|mut row| {
                row.as_object_mut().unwrap().remove("judge_usage");
                row
            })
            .collect()
    };
    let second_rows = json_lines(&out);
    for (first, second) in first_rows.iter().zip(&second_rows) {
        assert_eq!(first["judge_usage"]["requests"], 1);
        assert_eq!(first["judge_usage"]["tokens"]["total_tokens"], 15);
        assert_eq!(second["judge_usage"]["requests"], 0);
        assert_eq!(second["judge_usage"]["tokens"]["total_tokens"], 0);
        assert_eq!(second["judge_usage"]["cost_usd"], 0.0);
    }
    assert_eq!(
        without_usage(second_rows),
        without_usage(first_rows.clone())
    );
    assert_eq!(first_rows[0]["score_context_relevance"], 1.0);

    // A changed row: strict mode sends nothing, names the miss and exits 2.
    write_rows(&data, &["q1", "q2", "a new question"]);
    let strict = grade(
        &server,
        &data,
        &out,
        &["--cache", cache_arg, "--cache-strict"],
    )
    .await;
    assert_eq!(code(&strict), 2, "{}", stderr(&strict));
    assert_eq!(calls(&server).await, 3, "strict mode never calls the judge");
    let err = stderr(&strict);
    assert!(
        err.contains("1 judge requests are not in the cache"),
        "{err}"
    );
    assert!(err.contains("a new question"), "{err}");
    let rows = json_lines(&out);
    assert!(
        rows[2]["error_context_relevance"]
            .as_str()
            .unwrap()
            .contains("not in the judge cache")
    );
    // A failed check is counted apart, not as a zero.
    assert!(err.contains("context_relevance  1.000"), "{err}");

    // Not strict: the miss is graded and appended.
    let filled = grade(&server, &data, &out, &["--cache", cache_arg]).await;
    assert_eq!(code(&filled), 0, "{}", stderr(&filled));
    assert_eq!(calls(&server).await, 4);
    assert_eq!(std::fs::read_to_string(&cache).unwrap().lines().count(), 4);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_key_in_the_environment_alone_does_not_reach_the_judge() {
    let server = MockServer::start().await;
    Mock::given(wiremock::matchers::method("POST"))
        .respond_with(reply)
        .mount(&server)
        .await;
    let dir = tempfile::tempdir().unwrap();
    let data = dir.path().join("data.jsonl");
    write_rows(&data, &["q1"]);
    let mut command = cli();
    command
        .env("OPENAI_API_KEY", "sk-test")
        .env("OPENAI_BASE_URL", format!("{}/v1", server.uri()))
        .args(["grade", "--checks", "context_relevance", "--out"])
        .arg(dir.path().join("s.jsonl"))
        .arg(&data);
    let output = tokio::task::spawn_blocking(move || command.output().unwrap())
        .await
        .unwrap();
    assert_eq!(code(&output), 0, "{}", stderr(&output));
    assert_eq!(calls(&server).await, 0);
    assert!(stderr(&output).contains("evaluator offline"));
}
