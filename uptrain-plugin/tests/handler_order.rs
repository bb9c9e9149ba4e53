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

/// The offline evaluator, made to finish out of order: a question `after N` waits until `N`
/// other evaluations have finished. Each finished question is written down, in order.
struct Staggered {
    finished: tokio::sync::watch::Sender<Vec<String>>,
}

impl Staggered {
    fn new() -> Arc<Self> {
        Arc::new(Self {
            finished: tokio::sync::watch::Sender::new(Vec::new()),
        })
    }

    /// The questions in the order their evaluations finished.
    fn finish_order(&self) -> Vec<String> {
        self.finished.borrow().clone()
    }
}

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
            let after = question
                .strip_prefix("after ")
                .and_then(|n| n.trim_end_matches('?').parse::<usize>().ok())
                .unwrap_or(0);
            // A hang catcher only: the order check below fails if the wait ran out.
            let mut finished = self.finished.subscribe();
            let _ = tokio::time::timeout(
                Duration::from_secs(60),
                finished.wait_for(|done| done.len() >= after),
            )
            .await;
            let evaluation = OfflineEvaluator::new().evaluate(request).await;
            self.finished
                .send_modify(|done| done.push(question.to_owned()));
            evaluation
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
    let staggered = Staggered::new();
    let uptrain = Arc::new(
        UptrainHandler::builder()
            .evaluator(staggered.clone())
            .log_results(false)
            .build()
            .unwrap(),
    );
    let manager = CallbackManager::new().with_handler(uptrain.clone());
    let questions = ["after 2?", "after 1?", "after 0?"];
    for q in questions {
        answer(&manager, q);
    }
    let order = |rows: &[uptrain_plugin::EvaluatedRow]| -> Vec<String> {
        rows.iter()
            .map(|r| r.input["question"].as_str().unwrap().to_owned())
            .collect()
    };
    assert_eq!(order(&uptrain.flush()), questions);
    // They did finish last first.
    assert_eq!(
        staggered.finish_order(),
        ["after 0?", "after 1?", "after 2?"]
    );
    assert_eq!(order(&uptrain.results()["langchain_rag"]), questions);

    // A second batch comes after the first in `results`, and alone from `flush_async`.
    let later = ["after 4?", "after 3?"];
    for q in later {
        answer(&manager, q);
    }
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap();
    assert_eq!(order(&runtime.block_on(uptrain.flush_async())), later);
    assert_eq!(staggered.finish_order()[3..], ["after 3?", "after 4?"]);
    let all: Vec<&str> = questions.iter().chain(&later).copied().collect();
    assert_eq!(order(&uptrain.results()["langchain_rag"]), all);
}
