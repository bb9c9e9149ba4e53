//! Score mapping per check: A → 1.0, B → 0.5, C → 0.0; factual accuracy as the mean of its
//! fact judgements; response relevance as the F1 of completeness and conciseness; token usage
//! summed; lenient parsing of fenced replies; JSON output rows.
#![allow(clippy::unwrap_used)] // test helpers outside #[test] fns may unwrap too

mod common;

use common::{chat, choice, judge_builder, judge_reply, prompt_of};
use uptrain_plugin::{Check, CheckError, EvaluationRequest, Evaluator, TokenUsage};
use wiremock::{Mock, MockServer, Request};

/// The checks answered by one lettered choice.
const GRADED: [Check; 9] = [
    Check::ContextRelevance,
    Check::ResponseCompleteness,
    Check::ResponseConciseness,
    Check::ResponseCompletenessWrtContext,
    Check::ValidResponse,
    Check::MultiQueryAccuracy,
    Check::SubQueryCompleteness,
    Check::ContextReranking,
    Check::ContextConciseness,
];

async fn evaluate_all(letter: &'static str) -> uptrain_plugin::Evaluation {
    let server = MockServer::start().await;
    Mock::given(wiremock::matchers::method("POST"))
        .respond_with(move |r: &Request| judge_reply(r, letter))
        .mount(&server)
        .await;
    let judge = judge_builder(&server).build().unwrap();
    let rows = vec![common::full_row("a"), common::full_row("b")];
    judge
        .evaluate(&EvaluationRequest::new(rows, Check::RAG_FAMILY))
        .await
        .unwrap()
}

#[tokio::test]
async fn letters_map_to_scores_for_every_graded_check() {
    for (letter, expected) in [("A", 1.0), ("B", 0.5)] {
        let evaluation = evaluate_all(letter).await;
        assert_eq!(evaluation.rows.len(), 2);
        for row in &evaluation.rows {
            for check in GRADED {
                let want = if check == Check::ValidResponse && letter == "B" {
                    0.0 // valid_response has two options: A (information) and B (none)
                } else {
                    expected
                };
                let result = row.get(&check).unwrap();
                assert_eq!(result.score, Some(want), "{check} with {letter}");
                assert_eq!(
                    result.explanation.as_deref(),
                    Some(format!("chose {letter}").as_str())
                );
            }
            // yes + no over two facts.
            assert_eq!(row.score(Check::FactualAccuracy), Some(0.5));
            assert_eq!(row.score(Check::ResponseConsistency), Some(0.7));
            assert_eq!(row.score(Check::ResponseRelevance), Some(expected));
        }
    }
}

#[tokio::test]
async fn c_maps_to_zero_and_is_out_of_range_for_two_option_checks() {
    let evaluation = evaluate_all("C").await;
    let row = &evaluation.rows[0];
    assert_eq!(row.score(Check::ContextRelevance), Some(0.0));
    assert_eq!(row.score(Check::ContextReranking), Some(0.0));
    // Response relevance is 0 when either part is 0.
    assert_eq!(row.score(Check::ResponseRelevance), Some(0.0));
    let valid = row.get(Check::ValidResponse).unwrap();
    assert_eq!(valid.score, None);
    assert!(
        matches!(&valid.error, Some(CheckError::Parse { reason, .. }) if reason.contains("not one of the options"))
    );
}

#[tokio::test]
async fn response_relevance_is_the_f1_of_its_parts_and_usage_is_summed() {
    let server = MockServer::start().await;
    Mock::given(wiremock::matchers::method("POST"))
        .respond_with(|r: &Request| {
            if prompt_of(r).contains("Response Conciseness") {
                chat(&choice("B"))
            } else {
                chat(&choice("A"))
            }
        })
        .expect(6)
        .mount(&server)
        .await;
    let judge = judge_builder(&server).build().unwrap();
    let rows = vec![
        common::full_row("a"),
        common::full_row("b"),
        common::full_row("c"),
    ];
    let evaluation = judge
        .evaluate(&EvaluationRequest::new(rows, [Check::ResponseRelevance]))
        .await
        .unwrap();
    for row in &evaluation.rows {
        let result = row.get(Check::ResponseRelevance).unwrap();
        let score = result.score.unwrap();
        assert!((score - 2.0 / 3.0).abs() < 1e-9, "{score}");
        let why = result.explanation.as_deref().unwrap();
        assert!(
            why.contains("Completeness 1") && why.contains("Conciseness 0.5"),
            "{why}"
        );
    }
    // Each row's two calls, and their sum; "judge-model" is in no price table.
    for row in &evaluation.rows {
        assert_eq!(row.usage.requests, 2);
        assert_eq!(row.usage.tokens, Some(TokenUsage::new(20, 10)));
    }
    assert_eq!(evaluation.usage.requests, 6);
    assert_eq!(evaluation.usage.tokens, Some(TokenUsage::new(60, 30)));
    assert_eq!(evaluation.usage.cost.usd(), None);
    assert!(
        evaluation
            .usage
            .cost
            .to_string()
            .starts_with("unknown: model \"judge-model\" not in the price table"),
        "{}",
        evaluation.usage.cost
    );
}

#[tokio::test]
async fn fenced_and_chatty_replies_are_parsed() {
    let server = MockServer::start().await;
    Mock::given(wiremock::matchers::method("POST"))
        .respond_with(chat(
            "Sure! Here is my verdict:\n```json\n{\"Reasoning\": \"fits\", \"Choice\": \"A\"}\n```",
        ))
        .expect(1)
        .mount(&server)
        .await;
    let judge = judge_builder(&server).build().unwrap();
    let request = EvaluationRequest::new(vec![common::full_row("a")], [Check::ContextRelevance]);
    let evaluation = judge.evaluate(&request).await.unwrap();
    let json = evaluation.to_json_rows();
    assert_eq!(json[0]["score_context_relevance"], 1.0);
    assert_eq!(json[0]["explanation_context_relevance"], "fits");
    assert_eq!(json[0]["question"], "What is the capital of France? (a)");
    assert!(json[0].get("error_context_relevance").is_none());
}

#[tokio::test]
async fn factual_accuracy_explains_each_fact() {
    let server = MockServer::start().await;
    Mock::given(wiremock::matchers::method("POST"))
        .respond_with(|r: &Request| {
            let prompt = prompt_of(r);
            if prompt.contains("\"Judgement\"") {
                if !prompt
                    .contains("[Facts]\n1. Paris is the capital.\n2. Paris is big.\n3. It rains.")
                {
                    return wiremock::ResponseTemplate::new(400); // facts not listed as expected
                }
                chat(
                    r#"{"Result": [
                    {"Fact": "Paris is the capital.", "Reasoning": "said so", "Judgement": "yes"},
                    {"Fact": "Paris is big.", "Reasoning": "largest city", "Judgement": "yes"},
                    {"Fact": "It rains.", "Reasoning": "not mentioned", "Judgement": "unclear"}]}"#,
                )
            } else {
                chat(r#"{"Facts": ["Paris is the capital.", "Paris is big.", "It rains."]}"#)
            }
        })
        .expect(2)
        .mount(&server)
        .await;
    let judge = judge_builder(&server).build().unwrap();
    let request = EvaluationRequest::new(vec![common::full_row("a")], [Check::FactualAccuracy]);
    let evaluation = judge.evaluate(&request).await.unwrap();
    let result = evaluation.rows[0].get(Check::FactualAccuracy).unwrap();
    let score = result.score.unwrap();
    assert!((score - 2.5 / 3.0).abs() < 1e-9, "{score}");
    let why = result.explanation.as_deref().unwrap();
    assert!(
        why.contains("3. It rains. — unclear: not mentioned"),
        "{why}"
    );
}
