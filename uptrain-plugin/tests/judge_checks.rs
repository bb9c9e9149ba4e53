//! Every family of checks beyond the RAG family through the judge evaluator and a loopback
//! judge: the number of judge calls per row is UpTrain's, the answers map to UpTrain's scores
//! and the output rows carry UpTrain's keys.
#![allow(clippy::unwrap_used)] // test helpers outside #[test] fns may unwrap too

mod common;

use common::{chat, judge_builder, prompt_of};
use serde_json::{Value, json};
use uptrain_plugin::{
    Check, ConversationGuidelineAdherence, ConversationNumberOfTurns, ConversationObjective,
    ConversationSatisfaction, CritiqueTone, CustomPromptEval, Evaluation, EvaluationRequest,
    Evaluator, GuidelineAdherence, JailbreakDetection, MatchMethod, QueryResolution,
    ResponseMatching, Row,
};
use wiremock::{Mock, MockServer, Request, ResponseTemplate};

/// A judge that answers every shape: ratings 4 of 5, two turns, two facts (yes then no),
/// the first named choice, else `letter`.
fn reply(request: &Request, letter: &str) -> ResponseTemplate {
    let prompt = prompt_of(request);
    if prompt.contains("\"Score\": <a whole number from 1 to 5>") {
        chat(r#"{"Reasoning": "rated", "Score": 4}"#)
    } else if prompt.contains("\"Turns\"") {
        chat(r#"{"Reasoning": "counted", "Turns": 2}"#)
    } else if prompt.contains("\"Judgement\"") {
        chat(
            r#"{"Result": [{"Fact": "f1", "Reasoning": "r", "Judgement": "yes"},
                           {"Fact": "f2", "Reasoning": "r", "Judgement": "no"}]}"#,
        )
    } else if prompt.contains("\"Facts\"") {
        chat(r#"{"Facts": ["f1", "f2"]}"#)
    } else if prompt.contains("Choices:") {
        chat(r#"Sure. {"Reasoning": "named", "Choice": "Polite"}"#)
    } else {
        chat(&format!(
            "```json\n{}\n```",
            json!({"Reasoning": format!("chose {letter}"), "Choice": letter})
        ))
    }
}

/// A row carrying every input any check needs, with `tag` in every field a prompt shows.
fn tagged_row(tag: &str) -> Row {
    json!({
        "question": format!("How do I reset my password? ({tag})"),
        "context": format!("def reset(user): send_mail(user)  # {tag}"),
        "response": format!("Call reset(user). ({tag})"),
        "ground_truth": format!("Use reset(user). ({tag})"),
        "scenario_description": "A support bot for a bank.",
        "objective": "The password is reset.",
        "conversation": [
            {"role": "user", "content": format!("I forgot my password ({tag})")},
            {"role": "assistant", "content": "Use the reset link."},
        ],
    })
    .as_object()
    .cloned()
    .unwrap()
}

/// Evaluates two tagged rows with `checks`, answering graded questions with `letter`;
/// returns the evaluation and the judge calls made for each row.
async fn run(checks: Vec<Check>, letter: &'static str) -> (Evaluation, [usize; 2]) {
    let server = MockServer::start().await;
    Mock::given(wiremock::matchers::method("POST"))
        .respond_with(move |r: &Request| reply(r, letter))
        .mount(&server)
        .await;
    let judge = judge_builder(&server).build().unwrap();
    let rows = vec![tagged_row("row-one"), tagged_row("row-two")];
    let evaluation = judge
        .evaluate(&EvaluationRequest::new(rows, checks))
        .await
        .unwrap();
    let requests = server.received_requests().await.unwrap_or_default();
    let calls = ["row-one", "row-two"].map(|tag| {
        requests
            .iter()
            .filter(|r| prompt_of(r).contains(tag))
            .count()
    });
    assert_eq!(
        usize::try_from(evaluation.usage.requests).unwrap(),
        requests.len()
    );
    (evaluation, calls)
}

fn expected_calls(checks: &[Check]) -> usize {
    checks.iter().map(Check::judge_calls).sum()
}

/// Asserts `key → score` in both output rows.
fn assert_scores(evaluation: &Evaluation, scores: &[(&str, Option<f64>)]) {
    for row in evaluation.to_json_rows() {
        for (key, want) in scores {
            let got = row.get(*key).and_then(Value::as_f64);
            assert_eq!(got, *want, "{key} in {row:?}");
        }
    }
}

#[tokio::test]
async fn language_and_tone() {
    let checks = vec![
        Check::CritiqueLanguage,
        CritiqueTone::new("a calm agent").into(),
    ];
    let (evaluation, calls) = run(checks.clone(), "A").await;
    assert_eq!(expected_calls(&checks), 5);
    assert_eq!(calls, [5, 5]);
    assert_scores(
        &evaluation,
        &[
            ("score_fluency", Some(0.8)),
            ("score_coherence", Some(0.8)),
            ("score_grammar", Some(0.8)),
            ("score_politeness", Some(0.8)),
            ("score_tone", Some(0.8)),
        ],
    );
    let json = &evaluation.to_json_rows()[0];
    assert_eq!(json["explanation_politeness"], "rated");
    assert!(json.get("score_critique_language").is_none());
}

#[tokio::test]
async fn guardrails() {
    let checks = vec![
        Check::PromptInjection,
        Check::CodeHallucination,
        JailbreakDetection::default().into(),
        Check::QuestionCompleteness,
    ];
    let (evaluation, calls) = run(checks.clone(), "A").await;
    assert_eq!(calls, [3, 3]);
    assert_eq!(expected_calls(&checks), 3);
    assert_scores(
        &evaluation,
        &[
            ("score_prompt_injection", Some(1.0)),
            ("score_code_hallucination", Some(1.0)),
            ("score_jailbreak_attempted", Some(1.0)),
            ("score_question_completeness", Some(1.0)),
        ],
    );
    let (evaluation, _) = run(checks, "B").await;
    assert_scores(&evaluation, &[("score_prompt_injection", Some(0.0))]);
}

#[tokio::test]
async fn scenario_and_guideline() {
    let checks = vec![
        Check::ResponseAlignmentWithScenario,
        Check::ResponseSincerityWithScenario,
        GuidelineAdherence::new("Never share balances.", "privacy").into(),
    ];
    let (evaluation, calls) = run(checks.clone(), "B").await;
    assert_eq!(calls, [3, 3]);
    assert_scores(
        &evaluation,
        &[
            ("score_response_alignment_with_scenario", Some(0.5)),
            ("score_response_sincerity_with_scenario", Some(0.0)),
            ("score_privacy_adherence", Some(0.0)),
        ],
    );
    assert_eq!(
        evaluation.to_json_rows()[1]["explanation_privacy_adherence"],
        "chose B"
    );
}

#[tokio::test]
async fn response_matching_llm_makes_four_calls_and_the_others_none() {
    let llm = vec![Check::from(ResponseMatching::default())];
    let (evaluation, calls) = run(llm, "A").await;
    assert_eq!(calls, [4, 4]);
    // Each way: two facts, yes then no → 0.5; 4PR/(3P+R) = 0.5.
    assert_scores(
        &evaluation,
        &[
            ("score_response_match", Some(0.5)),
            ("score_response_match_precision", Some(0.5)),
            ("score_response_match_recall", Some(0.5)),
        ],
    );
    for method in [MatchMethod::Exact, MatchMethod::Lexical] {
        let (evaluation, calls) = run(vec![ResponseMatching::new(method).into()], "A").await;
        assert_eq!(calls, [0, 0], "{method:?}");
        assert_eq!(evaluation.usage.requests, 0);
        assert!(evaluation.failures().next().is_none(), "{method:?}");
    }
}

#[tokio::test]
async fn custom_prompt_has_no_explanation_column() {
    let custom = CustomPromptEval::new(
        "Is the reply to {{question}} polite? Reply: {{response}}",
        [("polite", 1.0), ("rude", 0.0)],
    );
    let (evaluation, calls) = run(vec![custom.into()], "A").await;
    assert_eq!(calls, [1, 1]);
    assert_scores(&evaluation, &[("score_custom_prompt", Some(1.0))]);
    let json = &evaluation.to_json_rows()[0];
    assert!(json.get("explanation_custom_prompt").is_none(), "{json:?}");
}

#[tokio::test]
async fn conversation_checks() {
    let checks = vec![
        Check::from(QueryResolution::default()),
        ConversationSatisfaction::default().into(),
        ConversationGuidelineAdherence::new("Stay polite.", "polite").into(),
        ConversationObjective::default().into(),
        ConversationNumberOfTurns::default().into(),
    ];
    let (evaluation, calls) = run(checks, "A").await;
    assert_eq!(calls, [5, 5]);
    assert_scores(
        &evaluation,
        &[
            ("score_query_resolution", Some(1.0)),
            // A is "highly frustrated" and "breaks the guideline": both 0, as in UpTrain.
            ("score_conversation_satisfaction", Some(0.0)),
            ("score_conversation_polite_adherence", Some(0.0)),
            ("score_conversation_objective", Some(1.0)),
            // A count, not clamped into 0..1.
            ("score_conversation_number_of_turns", Some(2.0)),
        ],
    );
}

#[tokio::test]
async fn an_out_of_range_rating_fails_each_aspect_with_a_reason_never_a_zero() {
    let server = MockServer::start().await;
    Mock::given(wiremock::matchers::method("POST"))
        .respond_with(chat(r#"{"Reasoning": "r", "Score": 9}"#))
        .mount(&server)
        .await;
    let judge = judge_builder(&server)
        .retry(common::fast_retry(2))
        .build()
        .unwrap();
    let rows = vec![tagged_row("x")];
    let evaluation = judge
        .evaluate(&EvaluationRequest::new(rows, [Check::CritiqueLanguage]))
        .await
        .unwrap();
    let json = &evaluation.to_json_rows()[0];
    for aspect in ["fluency", "coherence", "grammar", "politeness"] {
        assert_eq!(json[&format!("score_{aspect}")], Value::Null);
        let error = json[&format!("error_{aspect}")].as_str().unwrap();
        assert!(error.contains("outside 1..5"), "{error}");
    }
    // Each aspect was tried twice (the retry limit), then given up.
    assert_eq!(evaluation.usage.requests, 8);
}
