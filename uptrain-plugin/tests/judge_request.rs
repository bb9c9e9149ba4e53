//! The judge's requests: path, bearer auth, model, temperature, one user message that asks for
//! JSON, and the optional seed and JSON mode.
#![allow(clippy::unwrap_used)] // test helpers outside #[test] fns may unwrap too

mod common;

use common::{judge_builder, judge_reply};
use serde_json::Value;
use uptrain_plugin::{Check, EvaluationRequest, Evaluator};
use wiremock::matchers::{header, method, path};
use wiremock::{Mock, MockServer, Request};

async fn captured(server: &MockServer) -> Vec<(Request, Value)> {
    server
        .received_requests()
        .await
        .unwrap()
        .into_iter()
        .map(|r| {
            let body = serde_json::from_slice(&r.body).unwrap();
            (r, body)
        })
        .collect()
}

#[tokio::test]
async fn default_request_shape() {
    let server = MockServer::start().await;
    Mock::given(method("POST"))
        .and(path("/v1/chat/completions"))
        .and(header("authorization", "Bearer test-key"))
        .and(header("content-type", "application/json"))
        .respond_with(|r: &Request| judge_reply(r, "A"))
        .expect(4)
        .mount(&server)
        .await;
    let judge = judge_builder(&server).build().unwrap();
    let rows = vec![common::full_row("r0")];
    let evaluation = judge
        .evaluate(&EvaluationRequest::new(rows, Check::RAG))
        .await
        .unwrap();
    assert!(evaluation.failures().next().is_none());

    let requests = captured(&server).await;
    assert_eq!(requests.len(), 4, "1 + 2 (factual accuracy) + 1 calls");
    for (_, body) in &requests {
        let obj = body.as_object().unwrap();
        let mut keys: Vec<&str> = obj.keys().map(String::as_str).collect();
        keys.sort_unstable();
        assert_eq!(keys, vec!["messages", "model", "temperature"]);
        assert_eq!(body["model"], "judge-model");
        assert_eq!(body["temperature"], 0.1);
        let messages = body["messages"].as_array().unwrap();
        assert_eq!(messages.len(), 1);
        assert_eq!(messages[0]["role"], "user");
        let content = messages[0]["content"].as_str().unwrap();
        assert!(content.contains("JSON"), "{content}");
        if content.contains("\"Judgement\"") {
            // Fact checking sees the context and the facts, not the question.
            assert!(content.contains("[Facts]\n1. f1\n2. f2"), "{content}");
        } else {
            assert!(content.contains("[Question]\nWhat is the capital of France? (r0)"));
        }
    }
}

#[tokio::test]
async fn seed_and_json_mode_are_sent_when_configured() {
    let server = MockServer::start().await;
    Mock::given(method("POST"))
        .respond_with(|r: &Request| judge_reply(r, "B"))
        .mount(&server)
        .await;
    let judge = judge_builder(&server)
        .seed(7)
        .json_mode(true)
        .temperature(0.0)
        .build()
        .unwrap();
    let rows = vec![common::full_row("r0")];
    let request = EvaluationRequest::new(rows, [Check::MultiQueryAccuracy]);
    let evaluation = judge.evaluate(&request).await.unwrap();
    assert_eq!(
        evaluation.rows[0].score(Check::MultiQueryAccuracy),
        Some(0.5)
    );
    let requests = captured(&server).await;
    assert_eq!(requests.len(), 1);
    let body = &requests[0].1;
    assert_eq!(body["seed"], 7);
    assert_eq!(body["temperature"], 0.0);
    assert_eq!(
        body["response_format"],
        serde_json::json!({"type": "json_object"})
    );
    let prompt = body["messages"][0]["content"].as_str().unwrap();
    // Lists are rendered as numbered lines, not as a Python repr.
    assert!(prompt.contains("1. Which city is France's capital?\n2. Name the French capital."));
    assert!(!prompt.contains("['"));
}
