//! The offline evaluator: sensible, deterministic scores for every check, explanations that
//! say they are heuristics, and the same validation as the remote evaluators.
#![allow(clippy::unwrap_used)] // test helpers outside #[test] fns may unwrap too

use std::sync::Arc;

use serde_json::json;
use uptrain_plugin::{
    Check, CheckError, EvaluationError, EvaluationRequest, Evaluator, KeyType, OfflineEvaluator,
    Row,
};

fn obj(v: serde_json::Value) -> Row {
    v.as_object().cloned().unwrap()
}

fn score(row: Row, check: Check) -> f64 {
    let evaluation = OfflineEvaluator::new()
        .evaluate_now(&EvaluationRequest::new(vec![row], [check.clone()]))
        .unwrap();
    evaluation.rows[0].score(check).unwrap()
}

const Q: &str = "When was the Eiffel Tower built, and how tall is it?";
const GOOD_CONTEXT: &str =
    "The Eiffel Tower was built between 1887 and 1889. The tower is 330 metres tall.";
const BAD_CONTEXT: &str = "Bananas are rich in potassium. They grow in tropical climates.";

#[test]
fn relevant_context_scores_higher_than_irrelevant_context() {
    let good = score(
        obj(json!({"question": Q, "context": GOOD_CONTEXT})),
        Check::ContextRelevance,
    );
    let bad = score(
        obj(json!({"question": Q, "context": BAD_CONTEXT})),
        Check::ContextRelevance,
    );
    assert!(good >= 0.8, "{good}");
    assert_eq!(bad, 0.0);
}

#[test]
fn supported_responses_score_higher_on_factual_accuracy() {
    let supported = obj(json!({"question": Q, "context": GOOD_CONTEXT,
        "response": "The Eiffel Tower was built between 1887 and 1889. It is 330 metres tall."}));
    let invented = obj(json!({"question": Q, "context": GOOD_CONTEXT,
        "response": "The Eiffel Tower was painted gold in 1950 by Gustave Klimt."}));
    assert_eq!(score(supported, Check::FactualAccuracy), 1.0);
    assert!(score(invented, Check::FactualAccuracy) <= 0.5);
}

#[test]
fn complete_and_concise_responses_score_higher() {
    let complete = obj(json!({"question": Q,
        "response": "The Eiffel Tower was built in 1889 and is 330 metres tall."}));
    let partial = obj(json!({"question": Q, "response": "It was finished in 1889."}));
    assert!(
        score(complete.clone(), Check::ResponseCompleteness)
            > score(partial, Check::ResponseCompleteness)
    );
    let rambling = obj(json!({"question": Q,
        "response": "The Eiffel Tower is 330 metres tall. My cousin likes cheese. Football is popular."}));
    assert!(
        score(complete.clone(), Check::ResponseConciseness)
            > score(rambling.clone(), Check::ResponseConciseness)
    );
    assert!(score(complete, Check::ResponseRelevance) > score(rambling, Check::ResponseRelevance));
}

#[test]
fn list_checks_behave() {
    let close = obj(json!({"question": "How tall is the Eiffel Tower?",
        "variants": ["What is the height of the Eiffel Tower?", "How tall is the Eiffel Tower in metres?"]}));
    let far = obj(json!({"question": "How tall is the Eiffel Tower?",
        "variants": ["Best cheese in Normandy?"]}));
    assert!(score(close, Check::MultiQueryAccuracy) > score(far, Check::MultiQueryAccuracy));

    let covering = obj(json!({"question": Q,
        "sub_questions": ["When was the Eiffel Tower built?", "How tall is the Eiffel Tower?"]}));
    let partial =
        obj(json!({"question": Q, "sub_questions": ["When was the Eiffel Tower built?"]}));
    assert_eq!(score(covering, Check::SubQueryCompleteness), 1.0);
    assert!(score(partial, Check::SubQueryCompleteness) < 1.0);

    let kept = obj(
        json!({"question": "How tall is the tower?", "context": GOOD_CONTEXT,
        "concise_context": "The tower is 330 metres tall."}),
    );
    let lost = obj(
        json!({"question": "How tall is the tower?", "context": GOOD_CONTEXT,
        "concise_context": "It is in Paris."}),
    );
    assert!(score(kept, Check::ContextConciseness) > score(lost, Check::ContextConciseness));
}

#[tokio::test]
async fn every_check_scores_in_range_deterministically_through_the_trait() {
    let evaluator: Arc<dyn Evaluator> = Arc::new(OfflineEvaluator::new());
    let row = obj(json!({
        "question": Q, "context": GOOD_CONTEXT,
        "response": "It was built in 1889 and is 330 metres tall.",
        "variants": ["How high is the Eiffel Tower?"],
        "sub_questions": ["When was it built?"],
        "reranked_context": ["The tower is 330 metres tall.", "Bananas are yellow."],
        "concise_context": "Built 1887-1889, 330 metres tall.",
    }));
    let request = EvaluationRequest::new(vec![row.clone(), row], Check::RAG_FAMILY);
    let first = evaluator.evaluate(&request).await.unwrap();
    let second = tokio::spawn({
        let evaluator = Arc::clone(&evaluator);
        let request = request.clone();
        async move { evaluator.evaluate(&request).await }
    })
    .await
    .unwrap()
    .unwrap();
    assert_eq!(first, second);
    assert_eq!(evaluator.name(), "offline");
    for result in &first.rows[0].checks {
        let s = result.score.unwrap();
        assert!((0.0..=1.0).contains(&s), "{}: {s}", result.check);
        assert!(
            result
                .explanation
                .as_deref()
                .unwrap()
                .starts_with("Offline lexical heuristic"),
            "{}",
            result.check
        );
    }
    assert_eq!(first.rows[0].checks.len(), Check::RAG_FAMILY.len());
    assert_eq!(first.usage, Default::default());
}

#[test]
fn an_empty_response_has_no_facts() {
    let evaluation = OfflineEvaluator::new()
        .evaluate_now(&EvaluationRequest::new(
            vec![obj(
                json!({"question": Q, "context": GOOD_CONTEXT, "response": ""}),
            )],
            [Check::FactualAccuracy, Check::ValidResponse],
        ))
        .unwrap();
    let row = &evaluation.rows[0];
    assert_eq!(
        row.get(Check::FactualAccuracy).unwrap().error,
        Some(CheckError::NoFacts)
    );
    assert_eq!(row.score(Check::ValidResponse), Some(0.0));
    let json = evaluation.to_json_rows();
    assert_eq!(
        json[0]["error_factual_accuracy"],
        "no facts could be extracted from the response"
    );
}

#[test]
fn validation_names_rows_and_keys() {
    let err = OfflineEvaluator::new()
        .evaluate_now(&EvaluationRequest::new(
            vec![
                obj(json!({"question": Q})),
                obj(json!({"question": ["not", "text"], "context": "c"})),
            ],
            [Check::ContextRelevance],
        ))
        .unwrap_err();
    assert_eq!(
        err.to_string(),
        "invalid rows: row 0: missing keys context; row 1: wrong type for question"
    );
    assert!(matches!(err, EvaluationError::InvalidRows { .. }));
    let none = OfflineEvaluator::new()
        .evaluate_now(&EvaluationRequest::new(vec![], []))
        .unwrap_err();
    assert_eq!(none, EvaluationError::NoChecks);
}

#[test]
fn names_parse_with_clear_errors() {
    assert_eq!("UPTRAIN".parse::<KeyType>().unwrap(), KeyType::Uptrain);
    assert_eq!(
        "azure".parse::<KeyType>().unwrap_err().to_string(),
        "unknown key type `azure`: expected one of openai, uptrain"
    );
    let err = "context_reordering"
        .parse::<Check>()
        .unwrap_err()
        .to_string();
    assert!(
        err.starts_with("unknown check `context_reordering`: expected one of context_relevance,")
    );
}
