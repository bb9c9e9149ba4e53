//! The handler keeps rows in the order their evaluations were enqueued, whatever order the
//! evaluator finishes them in: `flush`, `flush_async` and `results` alike.
#![allow(clippy::unwrap_used)]

use std::sync::Arc;
use std::time::Duration;

use futures_util::future::BoxFuture;
use handler_core::payload::{LlmResult, Serialized};
use handler_core::{CallbackManager, RunOptions};
use serde_json::json;
use uptrain_plugin::{
    Evaluation, EvaluationError, EvaluationRequest, Evaluator, OfflineEvaluator, UptrainHandler,
};

/// The offline evaluator, slowed down for questions that say "slow": the later the question,
/// the sooner its evaluation finishes.
struct Staggered;

impl Evaluator for Staggered {
    fn name(&self) -> &'static str {
        "staggered"
    }

    fn evaluate<'a>(
        &'a self,
        request: &'a EvaluationRequest,
    ) -> BoxFuture<'a, Result<Evaluation, EvaluationError>> {
        Box::pin(async move {
            let question = request.rows[0]["question"].as_str().unwrap_or_default();
            let delay = question
                .strip_prefix("slow ")
                .and_then(|n| n.trim_end_matches('?').parse::<u64>().ok())
                .unwrap_or(0);
            tokio::time::sleep(Duration::from_millis(delay)).await;
            OfflineEvaluator::new().evaluate(request).await
        })
    }
}

fn answer(manager: &CallbackManager, question: &str) {
    let inputs = json!({"question": question, "context": "Some context."});
    let chain = manager
        .on_chain_start(None, &inputs, RunOptions::named("rag"))
        .unwrap();
    let llm = chain
        .child()
        .on_llm_start(&Serialized::named("llm"), "p", RunOptions::new())
        .unwrap();
    llm.on_llm_end(&LlmResult::from_text("Some answer."))
        .unwrap();
    chain.on_chain_end(&json!({})).unwrap();
}

#[test]
fn rows_keep_enqueue_order_when_evaluations_finish_out_of_order() {
    let uptrain = Arc::new(
        UptrainHandler::builder()
            .evaluator(Arc::new(Staggered))
            .log_results(false)
            .build()
            .unwrap(),
    );
    let manager = CallbackManager::new().with_handler(uptrain.clone());
    let questions = ["slow 120?", "slow 60?", "slow 0?"];
    for q in questions {
        answer(&manager, q);
    }
    let order = |rows: &[uptrain_plugin::EvaluatedRow]| -> Vec<String> {
        rows.iter()
            .map(|r| r.input["question"].as_str().unwrap().to_owned())
            .collect()
    };
    assert_eq!(order(&uptrain.flush()), questions);
    assert_eq!(order(&uptrain.results()["langchain_rag"]), questions);

    // A second batch comes after the first in `results`, and alone from `flush_async`.
    let later = ["slow 50?", "slow 1?"];
    for q in later {
        answer(&manager, q);
    }
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap();
    assert_eq!(order(&runtime.block_on(uptrain.flush_async())), later);
    let all: Vec<&str> = questions.iter().chain(&later).copied().collect();
    assert_eq!(order(&uptrain.results()["langchain_rag"]), all);
}
