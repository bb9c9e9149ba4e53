//! Shared helpers for the integration tests: a judge pointed at a loopback mock server with
//! tiny retry delays, chat-completion replies, and prompt inspection.
#![allow(dead_code)]

use std::time::Duration;

use serde_json::{Value, json};
use uptrain_plugin::{
    Idempotency, JudgeBuilder, JudgeEvaluator, Limits, ProgressMode, RetryPolicy, Row,
};
use wiremock::{MockServer, Request, ResponseTemplate};

/// A judge builder aimed at `server`, with fast retries and no rate limit.
pub fn judge_builder(server: &MockServer) -> JudgeBuilder {
    JudgeEvaluator::builder()
        .base_url(format!("{}/v1", server.uri()))
        .api_key("test-key")
        .model("judge-model")
        .limits(Limits::unlimited(8))
        .retry(fast_retry(4))
        .progress(ProgressMode::Never)
}

/// Up to `max_attempts` attempts (the first included) with millisecond back-off, by the default
/// rule for paid requests.
pub fn fast_retry(max_attempts: u32) -> RetryPolicy {
    RetryPolicy::default()
        .with_max_retries(max_attempts.saturating_sub(1))
        .with_initial_backoff(Duration::from_millis(1))
        .with_max_backoff(Duration::from_secs(5))
}

/// [`fast_retry`] opted in to sending again what the server may have seen (timeouts, broken
/// replies, 5xx).
pub fn fast_resend(max_attempts: u32) -> RetryPolicy {
    fast_retry(max_attempts).with_idempotency(Idempotency::Idempotent)
}

/// A chat completion whose first choice says `content`, with usage 10 + 5 = 15 tokens.
pub fn chat(content: &str) -> ResponseTemplate {
    ResponseTemplate::new(200).set_body_json(json!({
        "id": "chatcmpl-test",
        "object": "chat.completion",
        "choices": [{"index": 0, "message": {"role": "assistant", "content": content},
                     "finish_reason": "stop"}],
        "usage": {"prompt_tokens": 10, "completion_tokens": 5, "total_tokens": 15}
    }))
}

/// A graded answer.
pub fn choice(letter: &str) -> String {
    json!({"Reasoning": format!("chose {letter}"), "Choice": letter}).to_string()
}

/// The single user message of a judge request.
pub fn prompt_of(request: &Request) -> String {
    let body: Value = serde_json::from_slice(&request.body).unwrap_or(Value::Null);
    body["messages"][0]["content"]
        .as_str()
        .unwrap_or_default()
        .to_owned()
}

/// A well-behaved judge: graded checks answer `letter`, fact extraction gives two facts,
/// fact checking says yes then no, consistency scores 0.7.
pub fn judge_reply(request: &Request, letter: &str) -> ResponseTemplate {
    let prompt = prompt_of(request);
    if prompt.contains("\"Judgement\"") {
        chat(
            r#"{"Result": [{"Fact": "f1", "Reasoning": "stated", "Judgement": "yes"},
                            {"Fact": "f2", "Reasoning": "absent", "Judgement": "no"}]}"#,
        )
    } else if prompt.contains("\"Facts\"") {
        chat(r#"{"Facts": ["f1", "f2"]}"#)
    } else if prompt.contains("\"Score\"") {
        chat(r#"{"Argument": "a", "Reasoning": "r", "Score": 0.7}"#)
    } else {
        chat(&choice(letter))
    }
}

/// A row with every key any check needs; `tag` goes into the question so mocks can tell rows
/// apart.
pub fn full_row(tag: &str) -> Row {
    json!({
        "question": format!("What is the capital of France? ({tag})"),
        "context": "Paris is the capital and largest city of France.",
        "response": "The capital of France is Paris.",
        "variants": ["Which city is France's capital?", "Name the French capital."],
        "sub_questions": ["What country is meant?", "What is its capital?"],
        "reranked_context": ["Paris is the capital of France.", "France is in Europe."],
        "concise_context": "Paris is the capital of France.",
    })
    .as_object()
    .cloned()
    .unwrap_or_default()
}

/// One RAG run through `manager`: a chain with `{question, context}`, a child LLM answering
/// `response`, then the chain's end. Returns the chain's run id.
pub fn answer(
    manager: &handler_core::CallbackManager,
    question: &str,
    context: &str,
    response: &str,
) -> handler_core::Uuid {
    answer_with(
        manager,
        handler_core::RunOptions::named("rag"),
        question,
        context,
        response,
    )
}

/// [`answer`] with the chain's run options (e.g. a chosen run id).
pub fn answer_with(
    manager: &handler_core::CallbackManager,
    options: handler_core::RunOptions,
    question: &str,
    context: &str,
    response: &str,
) -> handler_core::Uuid {
    use handler_core::payload::{LlmResult, Serialized};
    let inputs = json!({"question": question, "context": context});
    let Ok(chain) = manager.on_chain_start(None, &inputs, options) else {
        panic!("chain start failed");
    };
    let run_id = chain.run_id();
    let Ok(llm) = chain.child().on_llm_start(
        &Serialized::named("llm"),
        "prompt",
        handler_core::RunOptions::new(),
    ) else {
        panic!("llm start failed");
    };
    let _ = llm.on_llm_end(&LlmResult::from_text(response));
    let _ = chain.on_chain_end(&json!({}));
    run_id
}

/// A console that keeps what is printed, shareable with the handler.
#[allow(unused_imports)] // not every test binary prints
pub use llm_callbacks_test_support::SharedBuffer;

/// The offline evaluator, behind a gate: each evaluation waits for one permit.
pub struct Gated(pub std::sync::Arc<tokio::sync::Semaphore>);

impl uptrain_plugin::Evaluator for Gated {
    fn name(&self) -> &'static str {
        "gated"
    }

    fn evaluate<'a>(
        &'a self,
        request: &'a uptrain_plugin::EvaluationRequest,
    ) -> futures_util::future::BoxFuture<
        'a,
        Result<uptrain_plugin::Evaluation, uptrain_plugin::EvaluationError>,
    > {
        Box::pin(async move {
            if let Ok(permit) = self.0.acquire().await {
                permit.forget();
            }
            uptrain_plugin::OfflineEvaluator::new()
                .evaluate(request)
                .await
        })
    }
}

/// An evaluator that never answers (a judge that accepts and hangs).
pub struct Hangs;

impl uptrain_plugin::Evaluator for Hangs {
    fn name(&self) -> &'static str {
        "hangs"
    }

    fn evaluate<'a>(
        &'a self,
        _request: &'a uptrain_plugin::EvaluationRequest,
    ) -> futures_util::future::BoxFuture<
        'a,
        Result<uptrain_plugin::Evaluation, uptrain_plugin::EvaluationError>,
    > {
        Box::pin(std::future::pending())
    }
}

/// The offline evaluator, `delay` slower.
pub struct Slow(pub Duration);

impl uptrain_plugin::Evaluator for Slow {
    fn name(&self) -> &'static str {
        "slow"
    }

    fn evaluate<'a>(
        &'a self,
        request: &'a uptrain_plugin::EvaluationRequest,
    ) -> futures_util::future::BoxFuture<
        'a,
        Result<uptrain_plugin::Evaluation, uptrain_plugin::EvaluationError>,
    > {
        Box::pin(async move {
            tokio::time::sleep(self.0).await;
            uptrain_plugin::OfflineEvaluator::new()
                .evaluate(request)
                .await
        })
    }
}
