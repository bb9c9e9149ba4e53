//! Shared helpers of the end-to-end tests: what each evaluated row must hold for a given
//! answer, an output-file reader, a shared console buffer, and a wiremock judge that grades
//! each check with its own letter.
#![allow(dead_code, clippy::unwrap_used, clippy::expect_used)]

use std::path::Path;
use std::sync::{Arc, Barrier};
use std::time::Duration;

use examples::{Answer, Pipeline, QUESTIONS, Retrieval};
use llm_callbacks::payload::Document;
use llm_callbacks::uptrain::{
    EvaluatedRow, EvaluatorKind, Idempotency, Limits, RetryPolicy, Timeouts, UptrainHandler,
    UptrainHandlerBuilder,
};
use llm_callbacks::{AsyncCallbackManager, CallbackManager};
use serde_json::{Value, json};
use wiremock::{MockServer, Request, ResponseTemplate};

/// Documents rendered as the handler renders compression contexts: `1. text\n2. text`.
pub fn numbered(documents: &[Document]) -> String {
    documents
        .iter()
        .enumerate()
        .map(|(i, d)| format!("{}. {}", i + 1, d.page_content))
        .collect::<Vec<_>>()
        .join("\n")
}

/// The rows an answer must produce, as `(project, run id, input)`, in submission order.
pub fn expected_rows(answer: &Answer) -> Vec<(&'static str, llm_callbacks::Uuid, Value)> {
    let mut rows = Vec::new();
    let retrieved = &answer.retrieved;
    match answer.retrieval {
        Retrieval::Keyword => {}
        Retrieval::MultiQuery => rows.push((
            "langchain_multi_query",
            retrieved.run_id,
            json!({"question": answer.question, "variants": retrieved.variants}),
        )),
        Retrieval::Compression => rows.push((
            "langchain_context_reranking",
            retrieved.run_id,
            json!({
                "question": answer.question,
                "context": numbered(&retrieved.candidates),
                "concise_context": numbered(&retrieved.documents),
                "reranked_context": numbered(&retrieved.documents),
            }),
        )),
    }
    rows.push((
        "langchain_rag",
        answer.runs.prompt,
        json!({
            "question": answer.question,
            "context": answer.context_text(),
            "response": answer.response,
        }),
    ));
    rows
}

/// Asserts that `row` is one of the rows `answers` must produce, with exactly its input, and
/// returns the index of that answer.
pub fn match_row(row: &EvaluatedRow, answers: &[Answer]) -> usize {
    let run_id = row.run_id.expect("a flow's row names its run");
    for (i, answer) in answers.iter().enumerate() {
        for (project, id, input) in expected_rows(answer) {
            if id == run_id {
                assert_eq!(row.project, project, "run {run_id}");
                assert_eq!(Value::Object(row.input.clone()), input, "run {run_id}");
                return i;
            }
        }
    }
    panic!("row of run {run_id} ({}) matches no answer", row.project);
}

/// The JSON lines of an output file.
pub fn read_lines(path: &Path) -> Vec<Value> {
    std::fs::read_to_string(path)
        .unwrap()
        .lines()
        .map(|line| serde_json::from_str(line).unwrap())
        .collect()
}

/// A console the test can read after handing it to the handler.
#[allow(unused_imports)] // not every test binary prints
pub use llm_callbacks_test_support::SharedBuffer;

/// Up to `max_attempts` judge attempts (the first included) with tiny delays, by the default
/// rule for paid calls (resent only when never sent, or when the judge asks).
pub fn judge_retry(max_attempts: u32) -> RetryPolicy {
    RetryPolicy::default()
        .with_max_retries(max_attempts.saturating_sub(1))
        .with_initial_backoff(Duration::from_millis(1))
        .with_max_backoff(Duration::from_millis(5))
}

/// [`judge_retry`], opted in to resending calls the judge may have done (5xx, timeouts).
pub fn judge_resend(max_attempts: u32) -> RetryPolicy {
    judge_retry(max_attempts).with_idempotency(Idempotency::Idempotent)
}

/// A handler that asks the judge at `server`, quietly, with tiny retry delays.
pub fn judge_handler(server: &MockServer, max_attempts: u32) -> UptrainHandlerBuilder {
    UptrainHandler::builder()
        .evaluator_kind(EvaluatorKind::Judge)
        .api_key("test")
        .base_url(server.uri())
        .model("judge-model")
        .limits(Limits::unlimited(16))
        .retry(judge_retry(max_attempts))
        .timeouts(
            Timeouts::default()
                .with_connect(Duration::from_secs(2))
                .with_total(Duration::from_secs(5)),
        )
        .log_results(false)
}

/// A chat completion saying `content`.
pub fn chat(content: &str) -> ResponseTemplate {
    ResponseTemplate::new(200).set_body_json(json!({
        "id": "chatcmpl-test",
        "object": "chat.completion",
        "choices": [{"index": 0, "message": {"role": "assistant", "content": content},
                     "finish_reason": "stop"}],
        "usage": {"prompt_tokens": 10, "completion_tokens": 5, "total_tokens": 15}
    }))
}

/// The prompt of a judge request (its single user message).
pub fn prompt_of(request: &Request) -> String {
    let body: Value = serde_json::from_slice(&request.body).unwrap();
    body["messages"][0]["content"].as_str().unwrap().to_owned()
}

/// The evaluation a prompt asks for: its first line without `Evaluation: `.
pub fn title_of(prompt: &str) -> &str {
    prompt
        .lines()
        .next()
        .and_then(|l| l.strip_prefix("Evaluation: "))
        .unwrap_or("")
}

/// The text of a labelled field of a prompt (`[Question]\n...`), up to the next field.
pub fn field<'a>(prompt: &'a str, label: &str) -> Option<&'a str> {
    let start = prompt.find(&format!("[{label}]\n"))? + label.len() + 3;
    let rest = &prompt[start..];
    Some(rest.split("\n\n[").next().unwrap_or(rest))
}

/// The letter the test judge answers for each graded check, and the score it maps to.
pub const GRADES: &[(&str, &str, f64)] = &[
    ("Context Relevance", "A", 1.0),
    ("Response Completeness", "B", 0.5),
    ("Multi Query Accuracy", "C", 0.0),
    ("Context Conciseness", "B", 0.5),
    ("Context Reranking", "A", 1.0),
];

/// The test judge: each graded check gets its letter from [`GRADES`]; factual accuracy
/// extracts two facts and judges them yes then no (score 0.5). Anything else is a 400.
pub fn judge_reply(request: &Request) -> ResponseTemplate {
    let prompt = prompt_of(request);
    match title_of(&prompt) {
        "Factual Accuracy (fact extraction)" => chat(r#"{"Facts": ["fact one", "fact two"]}"#),
        "Factual Accuracy (fact checking)" => chat(
            r#"{"Result": [{"Fact": "fact one", "Reasoning": "stated", "Judgement": "yes"},
                           {"Fact": "fact two", "Reasoning": "absent", "Judgement": "no"}]}"#,
        ),
        title => match GRADES.iter().find(|(t, _, _)| *t == title) {
            Some((_, letter, _)) => {
                chat(&json!({"Reasoning": format!("graded {title}"), "Choice": letter}).to_string())
            }
            None => ResponseTemplate::new(400).set_body_string(format!("unknown prompt {title:?}")),
        },
    }
}

/// Answers every shipped question in its own tokio task, cycling through the three
/// retrievals, with a token delay so that the runs interleave.
pub async fn answer_in_tasks(manager: &AsyncCallbackManager) -> Vec<Answer> {
    let pipeline = Arc::new(
        Pipeline::shipped()
            .unwrap()
            .with_token_delay(Duration::from_millis(1)),
    );
    let tasks: Vec<_> = QUESTIONS
        .iter()
        .enumerate()
        .map(|(i, q)| {
            let (manager, pipeline) = (manager.clone(), pipeline.clone());
            tokio::spawn(async move {
                pipeline
                    .answer_async(&manager, q, Retrieval::ALL[i % 3])
                    .await
            })
        })
        .collect();
    let mut answers = Vec::new();
    for task in tasks {
        answers.push(task.await.unwrap().unwrap());
    }
    answers
}

/// Answers every question on `threads` threads started together (question `i` on thread
/// `i % threads`, retrieved by `retrieval(i)`), through the sync manager.
pub fn answer_on_threads(
    manager: &CallbackManager,
    threads: usize,
    retrieval: fn(usize) -> Retrieval,
) -> Vec<Answer> {
    let pipeline = Pipeline::shipped()
        .unwrap()
        .with_token_delay(Duration::from_millis(1));
    let barrier = Barrier::new(threads);
    let answers: Vec<Answer> = std::thread::scope(|scope| {
        let handles: Vec<_> = (0..threads)
            .map(|t| {
                let (pipeline, barrier) = (&pipeline, &barrier);
                scope.spawn(move || {
                    barrier.wait();
                    QUESTIONS
                        .iter()
                        .enumerate()
                        .filter(|(i, _)| i % threads == t)
                        .map(|(i, q)| pipeline.answer(manager, q, retrieval(i)).unwrap())
                        .collect::<Vec<_>>()
                })
            })
            .collect();
        handles
            .into_iter()
            .flat_map(|h| h.join().unwrap())
            .collect()
    });
    assert_eq!(answers.len(), QUESTIONS.len());
    answers
}

/// Asserts that `rows` are the rows `answers` must produce, no more and no fewer, each with
/// the inputs of its own run.
pub fn assert_rows_of(rows: &[EvaluatedRow], answers: &[Answer]) {
    let expected: usize = answers.iter().map(|a| expected_rows(a).len()).sum();
    assert_eq!(rows.len(), expected);
    let mut seen = vec![0; answers.len()];
    for row in rows {
        seen[match_row(row, answers)] += 1;
    }
    for (answer, n) in answers.iter().zip(seen) {
        assert_eq!(n, expected_rows(answer).len(), "{}", answer.question);
    }
}
