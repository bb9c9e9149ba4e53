//! The checks beyond the RAG family in the handler: chosen per flow (builder or environment),
//! graded offline where an estimate exists and "needs a judge" elsewhere, printed under
//! UpTrain's output key names, and reachable through `uptrain_evaluate`.
#![allow(clippy::unwrap_used, clippy::expect_used)] // tests fail loudly

mod common;

use std::sync::Arc;

use handler_core::CallbackManager;
use handler_core::registry::PluginConfig;
use uptrain_plugin::{
    Check, Flow, MatchMethod, ResponseMatching, UptrainConfig, UptrainError, UptrainHandler,
};

#[test]
fn a_flow_runs_the_checks_configured_for_it() {
    let console = common::SharedBuffer::default();
    let handler = Arc::new(
        UptrainHandler::builder()
            .flow_checks(
                Flow::Rag,
                [
                    Check::ContextRelevance,
                    Check::QuestionCompleteness,
                    Check::CritiqueLanguage,
                ],
            )
            .log_to(console.clone())
            .build()
            .unwrap(),
    );
    let manager = CallbackManager::new().with_handler(handler.clone());
    common::answer(
        &manager,
        "What colour is Mars?",
        "Mars is red.",
        "Mars is red.",
    );
    let rows = handler.flush();
    assert_eq!(rows.len(), 1);
    let row = &rows[0];
    assert!(row.score(Check::ContextRelevance).is_some());
    assert_eq!(row.score(Check::QuestionCompleteness), Some(1.0));
    assert!(row.score(Check::FactualAccuracy).is_none());
    for aspect in ["fluency", "coherence", "grammar", "politeness"] {
        assert_eq!(row.scores.get(aspect), Some(&None), "{aspect}");
        assert!(row.errors[aspect].contains("needs a judge"), "{aspect}");
    }
    let printed = console.text();
    assert!(
        printed.contains("Question Completeness Score: 1"),
        "{printed}"
    );
    assert!(printed.contains("Fluency"), "{printed}");
}

#[test]
fn a_check_the_flow_cannot_feed_is_refused_at_build() {
    let err = UptrainHandler::builder()
        .flow_checks(Flow::MultiQuery, [Check::CritiqueLanguage])
        .build()
        .unwrap_err();
    let UptrainError::Config(err) = err else {
        panic!("{err:?}")
    };
    assert_eq!(err.name, "UPTRAIN_MULTI_QUERY_CHECKS");
    assert!(err.to_string().contains("needs response"), "{err}");
}

#[test]
fn flow_checks_are_read_from_plugin_configuration() {
    let source = PluginConfig::new().set(
        "UPTRAIN_RAG_CHECKS",
        r#"["prompt_injection", {"check_name": "CritiqueTone", "llm_persona": "calm"}]"#,
    );
    let config = UptrainConfig::from_plugin_config(&source).unwrap();
    let checks = config.flow_checks.get(Flow::Rag);
    assert_eq!(checks.len(), 2);
    assert_eq!(checks[0], Check::PromptInjection);
    assert_eq!(checks[1].score_key(), "score_tone");
    assert_eq!(
        config.flow_checks.get(Flow::MultiQuery),
        [Check::MultiQueryAccuracy]
    );
}

#[tokio::test]
async fn uptrain_evaluate_takes_parametric_checks() {
    let handler = UptrainHandler::builder()
        .log_results(false)
        .build()
        .unwrap();
    let rows = vec![uptrain_plugin::row([
        ("question", "Capital of France?"),
        ("response", "Paris"),
        ("ground_truth", " paris "),
    ])];
    let exact = Check::from(ResponseMatching::new(MatchMethod::Exact));
    let out = handler
        .uptrain_evaluate("matching", rows.clone(), vec![exact.clone()])
        .await
        .unwrap();
    assert_eq!(out[0].score(&exact), Some(1.0));
    assert_eq!(out[0].scores["response_match_precision"], Some(1.0));
    assert_eq!(out[0].scores["response_match_recall"], Some(1.0));

    let err = handler
        .uptrain_evaluate(
            "matching",
            rows,
            vec![
                Check::CritiqueLanguage.clone(),
                Check::from(uptrain_plugin::ConversationSatisfaction::default()),
            ],
        )
        .await
        .unwrap_err();
    assert!(
        err.to_string().contains("missing keys conversation"),
        "{err}"
    );
}
