//! The managed UpTrain API: body and header shape, batches of 50 in input order, the server's
//! `detail` in errors, retries only when the server asked (or the user opted in), and nothing
//! but the access key leaving the process.
#![allow(clippy::unwrap_used)] // test helpers outside #[test] fns may unwrap too

mod common;

use common::fast_retry;
use serde_json::{Value, json};
use uptrain_plugin::{
    Check, CheckError, EvaluationRequest, Evaluator, ProgressMode, UptrainApiEvaluator,
};
use wiremock::matchers::{header, method, path};
use wiremock::{Mock, MockServer, Request, ResponseTemplate};

fn evaluator(server: &MockServer) -> UptrainApiEvaluator {
    UptrainApiEvaluator::builder()
        .server_url(server.uri())
        .api_key("up-secret")
        .retry(fast_retry(3))
        .progress(ProgressMode::Never)
        .build()
        .unwrap()
}

/// Echoes each row with a score that encodes its position in the batch.
fn echo_scores(request: &Request) -> ResponseTemplate {
    let body: Value = serde_json::from_slice(&request.body).unwrap_or(Value::Null);
    let checks: Vec<String> = body["checks"]
        .as_array()
        .map(|a| {
            a.iter()
                .filter_map(|c| c.as_str().map(str::to_owned))
                .collect()
        })
        .unwrap_or_default();
    let rows: Vec<Value> = body["data"]
        .as_array()
        .cloned()
        .unwrap_or_default()
        .into_iter()
        .map(|mut row| {
            for check in &checks {
                row[format!("score_{check}")] = json!(0.75);
                row[format!("explanation_{check}")] = json!(format!("server says {check}"));
            }
            row
        })
        .collect();
    ResponseTemplate::new(200).set_body_json(rows)
}

fn rows(n: usize) -> Vec<uptrain_plugin::Row> {
    (0..n)
        .map(|i| {
            uptrain_plugin::row([
                ("question", format!("q{i}").as_str()),
                ("context", "c"),
                ("response", "r"),
            ])
        })
        .collect()
}

#[tokio::test]
async fn batches_of_fifty_with_the_access_header_and_metadata() {
    let server = MockServer::start().await;
    Mock::given(method("POST"))
        .and(path("/api/public/log_and_evaluate"))
        .and(header("uptrain-access-token", "up-secret"))
        .respond_with(echo_scores)
        .expect(3)
        .mount(&server)
        .await;
    let request =
        EvaluationRequest::new(rows(120), [Check::ContextRelevance, Check::FactualAccuracy])
            .project("langchain_rag")
            .evaluation("nightly");
    let evaluation = evaluator(&server).evaluate(&request).await.unwrap();

    assert_eq!(evaluation.rows.len(), 120);
    for (i, row) in evaluation.rows.iter().enumerate() {
        assert_eq!(row.index, i);
        assert_eq!(row.input["question"], format!("q{i}"));
        assert_eq!(row.score(Check::FactualAccuracy), Some(0.75));
        assert_eq!(
            row.get(Check::ContextRelevance)
                .unwrap()
                .explanation
                .as_deref(),
            Some("server says context_relevance")
        );
    }
    // Requests counted on the evaluation; UpTrain reports no tokens: nothing to price, and
    // it says so rather than a zero.
    assert_eq!(evaluation.usage.requests, 3);
    assert_eq!(evaluation.usage.tokens, None);
    assert_eq!(
        evaluation.usage.to_string(),
        "3 requests, no judge model: nothing to price"
    );
    assert!(evaluation.rows.iter().all(|r| r.usage.cost.usd().is_none()));

    let received = server.received_requests().await.unwrap();
    let mut sizes: Vec<usize> = Vec::new();
    for request in &received {
        assert!(request.headers.get("authorization").is_none());
        let text = String::from_utf8_lossy(&request.body);
        assert!(
            !text.contains("up-secret"),
            "the key travels only in the header"
        );
        let body: Value = serde_json::from_slice(&request.body).unwrap();
        let mut keys: Vec<&str> = body
            .as_object()
            .unwrap()
            .keys()
            .map(String::as_str)
            .collect();
        keys.sort_unstable();
        assert_eq!(keys, vec!["checks", "data", "metadata"]);
        assert_eq!(
            body["checks"],
            json!(["context_relevance", "factual_accuracy"])
        );
        assert_eq!(body["metadata"]["project"], "langchain_rag");
        assert_eq!(body["metadata"]["evaluation"], "nightly");
        assert_eq!(body["metadata"]["schema"]["id_"], "id");
        assert_eq!(body["metadata"]["schema"]["question"], "question");
        assert_eq!(
            body["metadata"]["schema"]["concise_context"],
            "concise_context"
        );
        sizes.push(body["data"].as_array().unwrap().len());
    }
    sizes.sort_unstable();
    assert_eq!(sizes, vec![20, 50, 50]);
}

#[tokio::test]
async fn the_servers_detail_is_surfaced_on_every_row_without_retrying_a_4xx() {
    let server = MockServer::start().await;
    Mock::given(method("POST"))
        .respond_with(
            ResponseTemplate::new(403).set_body_json(json!({"detail": "Invalid access token"})),
        )
        .expect(1)
        .mount(&server)
        .await;
    let request = EvaluationRequest::new(rows(3), [Check::ContextRelevance]);
    let evaluation = evaluator(&server).evaluate(&request).await.unwrap();
    assert_eq!(evaluation.rows.len(), 3);
    for row in &evaluation.rows {
        let result = row.get(Check::ContextRelevance).unwrap();
        assert_eq!(result.score, None);
        assert_eq!(
            result.error,
            Some(CheckError::Http {
                status: 403,
                body: "Invalid access token".into()
            })
        );
    }
}

#[tokio::test]
async fn null_scores_are_reported_with_the_servers_reason() {
    let server = MockServer::start().await;
    Mock::given(method("POST"))
        .respond_with(ResponseTemplate::new(200).set_body_json(json!([
            {"question": "q0", "score_context_relevance": 1.0, "explanation_context_relevance": "ok"},
            {"question": "q1", "score_context_relevance": null, "explanation_context_relevance": "judge failed"}
        ])))
        .expect(1)
        .mount(&server)
        .await;
    let request = EvaluationRequest::new(rows(2), [Check::ContextRelevance]);
    let evaluation = evaluator(&server).evaluate(&request).await.unwrap();
    assert_eq!(evaluation.rows[0].score(Check::ContextRelevance), Some(1.0));
    let failed = evaluation.rows[1].get(Check::ContextRelevance).unwrap();
    assert_eq!(
        failed.error,
        Some(CheckError::MissingScore {
            reason: "judge failed".into()
        })
    );
}

/// `log_and_evaluate` logs and grades on the server: a batch the server may have seen (a 5xx,
/// a timeout) is never sent again, so it cannot be graded and logged twice.
#[tokio::test]
async fn a_batch_the_server_may_have_seen_is_never_sent_twice() {
    let server = MockServer::start().await;
    Mock::given(method("POST"))
        .respond_with(ResponseTemplate::new(503).set_body_json(json!({"detail": "busy"})))
        .up_to_n_times(1)
        .expect(1)
        .mount(&server)
        .await;
    Mock::given(method("POST"))
        .respond_with(
            ResponseTemplate::new(200)
                .set_body_json(json!([]))
                .set_delay(std::time::Duration::from_secs(2)),
        )
        .expect(1)
        .mount(&server)
        .await;
    let request = EvaluationRequest::new(rows(2), [Check::ContextRelevance]);
    let api = evaluator(&server);
    let evaluation = api.evaluate(&request).await.unwrap();
    let error = evaluation.rows[0].get(Check::ContextRelevance).unwrap();
    assert_eq!(
        error.error,
        Some(CheckError::Http {
            status: 503,
            body: "busy".into()
        })
    );
    let slow = UptrainApiEvaluator::builder()
        .server_url(server.uri())
        .api_key("up-key")
        .timeouts(
            uptrain_plugin::Timeouts::default().with_total(std::time::Duration::from_millis(200)),
        )
        .progress(uptrain_plugin::ProgressMode::Never)
        .build()
        .unwrap();
    let evaluation = slow.evaluate(&request).await.unwrap();
    let error = evaluation.rows[1].get(Check::ContextRelevance).unwrap();
    assert!(
        matches!(error.error, Some(CheckError::Timeout { .. })),
        "{error:?}"
    );
    // The mocks' expectations (one request each) are checked when the server drops.
}

/// `log_and_evaluate` is paid like a judge call: a batch is sent again when the server asked
/// for it (429, 503 with `Retry-After`), and after a failure the server may have seen only when
/// the user opted in.
#[tokio::test]
async fn a_batch_is_sent_again_only_when_asked_or_opted_in() {
    // status, Retry-After, opted in, requests the server sees (one retry allowed)
    let cases = [
        (429, false, false, 2),
        (503, true, false, 2),
        (503, false, false, 1),
        (500, false, false, 1),
        (500, false, true, 2),
        (422, false, true, 1),
    ];
    for (status, asks, opted_in, sent) in cases {
        let server = MockServer::start().await;
        let mut first = ResponseTemplate::new(status).set_body_json(json!({"detail": "no"}));
        if asks {
            first = first.insert_header("retry-after", "0");
        }
        Mock::given(method("POST"))
            .respond_with(first)
            .up_to_n_times(1)
            .mount(&server)
            .await;
        Mock::given(method("POST"))
            .respond_with(echo_scores)
            .mount(&server)
            .await;
        let policy = if opted_in {
            common::fast_resend(2)
        } else {
            fast_retry(2)
        };
        let api = UptrainApiEvaluator::builder()
            .server_url(server.uri())
            .api_key("up-key")
            .retry(policy)
            .progress(ProgressMode::Never)
            .build()
            .unwrap();
        let request = EvaluationRequest::new(rows(1), [Check::ContextRelevance]);
        let evaluation = api.evaluate(&request).await.unwrap();
        let case = format!("{status} retry-after {asks} opted in {opted_in}");
        let received = server.received_requests().await.unwrap().len();
        assert_eq!(received, sent, "{case}");
        let scored = evaluation.rows[0].score(Check::ContextRelevance).is_some();
        assert_eq!(scored, sent == 2, "{case}");
    }
}

#[tokio::test]
async fn validation_happens_before_any_request() {
    let server = MockServer::start().await;
    Mock::given(method("POST"))
        .respond_with(echo_scores)
        .expect(0)
        .mount(&server)
        .await;
    let request = EvaluationRequest::new(rows(2), [Check::MultiQueryAccuracy]);
    let err = evaluator(&server).evaluate(&request).await.unwrap_err();
    let msg = err.to_string();
    assert!(msg.contains("row 0: missing keys variants"), "{msg}");
    assert!(msg.contains("row 1: missing keys variants"), "{msg}");
}

#[test]
fn construction_errors_are_clear() {
    let empty = UptrainApiEvaluator::builder()
        .server_url("http://127.0.0.1:9")
        .api_key("")
        .build()
        .unwrap_err();
    assert_eq!(
        empty.to_string(),
        "the API key is empty: a remote evaluator needs a non-empty key"
    );
    let bad_url = UptrainApiEvaluator::builder()
        .server_url("uptrain.example")
        .api_key("k")
        .build()
        .unwrap_err();
    assert!(bad_url.to_string().contains("expected http:// or https://"));
}

#[tokio::test]
async fn new_and_parametric_checks_go_by_uptrains_wire_names_and_read_back_by_key() {
    let server = MockServer::start().await;
    Mock::given(method("POST"))
        .respond_with(|request: &Request| {
            let body: Value = serde_json::from_slice(&request.body).unwrap_or(Value::Null);
            let mut row = body["data"][0].clone();
            for (key, score) in [
                ("fluency", 0.8),
                ("coherence", 0.6),
                ("grammar", 1.0),
                ("politeness", 0.4),
                ("refund_adherence", 1.0),
                ("response_match", 0.5),
                ("response_match_precision", 0.25),
                ("response_match_recall", 1.0),
            ] {
                row[format!("score_{key}")] = json!(score);
                row[format!("explanation_{key}")] = json!(format!("about {key}"));
            }
            ResponseTemplate::new(200).set_body_json(json!([row]))
        })
        .expect(1)
        .mount(&server)
        .await;
    let checks = vec![
        Check::CritiqueLanguage,
        uptrain_plugin::GuidelineAdherence::new("No refunds promised.", "refund").into(),
        uptrain_plugin::ResponseMatching::default().into(),
    ];
    let mut row = rows(1).remove(0);
    row.insert("ground_truth".into(), json!("g"));
    let evaluation = evaluator(&server)
        .evaluate(&EvaluationRequest::new(vec![row], checks))
        .await
        .unwrap();

    let sent: Value =
        serde_json::from_slice(&server.received_requests().await.unwrap()[0].body).unwrap();
    assert_eq!(
        sent["checks"],
        json!([
            "critique_language",
            {"check_name": "GuidelineAdherence", "guideline": "No refunds promised.",
             "guideline_name": "refund"},
            {"check_name": "ResponseMatching", "method": "llm"},
        ])
    );
    let out = &evaluation.rows[0];
    assert_eq!(out.checks.len(), 4 + 1 + 3);
    assert_eq!(out.get_key("politeness").unwrap().score, Some(0.4));
    assert_eq!(out.get_key("refund_adherence").unwrap().score, Some(1.0));
    assert_eq!(
        out.get_key("response_match_precision").unwrap().score,
        Some(0.25)
    );
    assert_eq!(out.score(Check::CritiqueLanguage), Some(0.8));
    assert!(evaluation.failures().next().is_none());
}
