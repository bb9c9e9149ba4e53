//! End to end against a judge: the example pipeline graded by the UpTrain handler through an
//! OpenAI-compatible server on loopback (wiremock). The judge's request bodies carry the
//! question, context and response of their own run; each check gets its own reply and score;
//! rows come back in order, per project and in the output file; concurrent runs never mix; a
//! failing judge yields rows with errors, not lost rows.
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod common;

use std::collections::BTreeMap;
use std::sync::Arc;
use std::time::Duration;

use common::{
    GRADES, answer_in_tasks, answer_on_threads, assert_rows_of, expected_rows, field,
    judge_handler, judge_reply, match_row, numbered, prompt_of, read_lines, title_of,
};
use examples::{Answer, Pipeline, QUESTIONS, Retrieval};
use llm_callbacks::uptrain::{Check, EvaluatedRow};
use llm_callbacks::{AsyncCallbackManager, CallbackManager};
use wiremock::matchers::{header, method, path};
use wiremock::{Mock, MockServer, Request, ResponseTemplate};

async fn judge_server() -> MockServer {
    let server = MockServer::start().await;
    Mock::given(method("POST"))
        .and(path("/chat/completions"))
        .and(header("authorization", "Bearer test"))
        .respond_with(judge_reply)
        .mount(&server)
        .await;
    server
}

/// The prompts the judge received, by evaluation title.
async fn prompts(server: &MockServer) -> BTreeMap<String, Vec<String>> {
    let mut by_title: BTreeMap<String, Vec<String>> = BTreeMap::new();
    for request in server.received_requests().await.unwrap() {
        let prompt = prompt_of(&request);
        by_title
            .entry(title_of(&prompt).to_owned())
            .or_default()
            .push(prompt);
    }
    by_title
}

/// The one prompt of `title` whose `[Question]` is `question`.
fn prompt_for<'a>(
    prompts: &'a BTreeMap<String, Vec<String>>,
    title: &str,
    question: &str,
) -> &'a str {
    let matching: Vec<&String> = prompts[title]
        .iter()
        .filter(|p| field(p, "Question") == Some(question))
        .collect();
    assert_eq!(matching.len(), 1, "{title} prompts for {question:?}");
    matching[0]
}

fn grade(title: &str) -> f64 {
    GRADES.iter().find(|(t, _, _)| *t == title).unwrap().2
}

fn assert_judged(row: &EvaluatedRow) {
    assert!(row.is_ok(), "{:?}", row.errors);
    for check in &row.checks {
        let want = match &check.check {
            Check::FactualAccuracy => 0.5, // one fact of two supported
            other => grade(other.display_name()),
        };
        assert_eq!(check.score, Some(want), "{}", check.check);
        assert!(row.explanations.contains_key(check.check.as_str()));
    }
}

#[tokio::test]
async fn each_flow_sends_its_checks_with_the_inputs_of_its_run() {
    let server = judge_server().await;
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("judge.jsonl");
    let uptrain = Arc::new(
        judge_handler(&server, 3)
            .output_file(&file)
            .build()
            .unwrap(),
    );
    assert_eq!(uptrain.evaluator_name(), "judge");
    let manager = CallbackManager::new().with_handler(uptrain.clone());
    let pipeline = Pipeline::shipped().unwrap();

    let answers: Vec<Answer> = [
        (QUESTIONS[0], Retrieval::Keyword),
        (QUESTIONS[3], Retrieval::MultiQuery),
        (QUESTIONS[4], Retrieval::Compression),
    ]
    .into_iter()
    .map(|(q, r)| pipeline.answer(&manager, q, r).unwrap())
    .collect();
    let rows = uptrain.flush_async().await;

    // Rows: one per flow, in the order the runs produced them, with their judged scores.
    let expected: Vec<_> = answers.iter().flat_map(expected_rows).collect();
    let got: Vec<_> = rows
        .iter()
        .map(|r| (r.project.as_str(), r.run_id))
        .collect();
    let want: Vec<_> = expected.iter().map(|(p, id, _)| (*p, Some(*id))).collect();
    assert_eq!(got, want);
    for row in &rows {
        match_row(row, &answers);
        assert_judged(row);
    }

    // Requests: 4 per RAG row (factual accuracy takes two), 1 multi-query, 2 compression.
    let prompts = prompts(&server).await;
    let count = |t: &str| prompts.get(t).map_or(0, Vec::len);
    assert_eq!(count("Context Relevance"), 3);
    assert_eq!(count("Response Completeness"), 3);
    assert_eq!(count("Factual Accuracy (fact extraction)"), 3);
    assert_eq!(count("Factual Accuracy (fact checking)"), 3);
    assert_eq!(count("Multi Query Accuracy"), 1);
    assert_eq!(count("Context Conciseness"), 1);
    assert_eq!(count("Context Reranking"), 1);
    assert_eq!(prompts.len(), 7, "{:?}", prompts.keys());

    for answer in &answers {
        let q = answer.question.as_str();
        let context = answer.context_text();
        let relevance = prompt_for(&prompts, "Context Relevance", q);
        assert_eq!(field(relevance, "Context"), Some(context.trim()));
        let completeness = prompt_for(&prompts, "Response Completeness", q);
        assert_eq!(
            field(completeness, "Response"),
            Some(answer.response.as_str())
        );
        let facts = prompt_for(&prompts, "Factual Accuracy (fact extraction)", q);
        assert_eq!(field(facts, "Response"), Some(answer.response.as_str()));
        // Fact checking shows the context and the extracted facts, not the question.
        assert!(
            prompts["Factual Accuracy (fact checking)"]
                .iter()
                .any(|p| field(p, "Context") == Some(context.trim())
                    && field(p, "Facts") == Some("1. fact one\n2. fact two")),
            "no fact check against the context of {q:?}"
        );
    }

    let multi = &answers[1];
    let mq = prompt_for(&prompts, "Multi Query Accuracy", &multi.question);
    let variants: Vec<String> = multi
        .retrieved
        .variants
        .iter()
        .enumerate()
        .map(|(i, v)| format!("{}. {v}", i + 1))
        .collect();
    assert_eq!(multi.retrieved.variants.len(), 3);
    assert_eq!(field(mq, "Variants"), Some(variants.join("\n").as_str()));

    let compressed = &answers[2];
    let original = numbered(&compressed.retrieved.candidates);
    let concise = numbered(&compressed.retrieved.documents);
    assert_ne!(original, concise);
    let conciseness = prompt_for(&prompts, "Context Conciseness", &compressed.question);
    assert_eq!(
        field(conciseness, "Original context"),
        Some(original.as_str())
    );
    assert_eq!(
        field(conciseness, "Concise context"),
        Some(concise.as_str())
    );
    let reranking = prompt_for(&prompts, "Context Reranking", &compressed.question);
    assert_eq!(
        field(reranking, "Original context"),
        Some(original.as_str())
    );
    assert_eq!(field(reranking, "Reranked context"), Some(concise.as_str()));

    // The output file: one line per row (written as each evaluation finishes), with the
    // judge's explanations.
    let lines = read_lines(&file);
    assert_eq!(lines.len(), rows.len());
    for row in &rows {
        let id = row.run_id.unwrap().to_string();
        let line = lines.iter().find(|l| l["run_id"] == id.as_str()).unwrap();
        assert_eq!(line["project"], row.project.as_str());
        assert_eq!(line["run_id"], row.run_id.unwrap().to_string());
        assert!(line["time"].as_str().unwrap().ends_with('Z'));
        assert_eq!(line["errors"], serde_json::json!({}));
        assert_eq!(line["scores"].as_object().unwrap().len(), row.checks.len());
        assert!(line["explanations"].to_string().contains("graded"));
    }
}

#[tokio::test]
async fn rows_come_back_in_run_order_even_when_the_judge_answers_out_of_order() {
    let server = MockServer::start().await;
    // The judge holds the first question's calls far longer than the others take, so its
    // evaluation finishes last (the output file, written as each finishes, shows it).
    let slow = QUESTIONS[0];
    Mock::given(method("POST"))
        .respond_with(move |request: &Request| {
            let reply = judge_reply(request);
            if field(&prompt_of(request), "Question") == Some(slow) {
                reply.set_delay(Duration::from_secs(2))
            } else {
                reply
            }
        })
        .mount(&server)
        .await;
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("rows.jsonl");
    let uptrain = Arc::new(
        judge_handler(&server, 2)
            .output_file(&file)
            .build()
            .unwrap(),
    );
    let manager = CallbackManager::new().with_handler(uptrain.clone());
    let pipeline = Pipeline::shipped().unwrap();
    let answers: Vec<Answer> = QUESTIONS[..4]
        .iter()
        .map(|q| pipeline.answer(&manager, q, Retrieval::Keyword).unwrap())
        .collect();

    let rows = uptrain.flush_async().await;
    let finished: Vec<String> = read_lines(&file)
        .iter()
        .map(|line| line["run_id"].as_str().unwrap().to_owned())
        .collect();
    let first = answers[0].runs.prompt.to_string();
    assert_eq!(finished.len(), 4);
    assert_eq!(
        finished.last(),
        Some(&first),
        "the slow question's evaluation did not finish last"
    );
    let questions: Vec<&str> = rows
        .iter()
        .map(|r| r.input["question"].as_str().unwrap())
        .collect();
    assert_eq!(questions, &QUESTIONS[..4]);
    let rag: Vec<_> = uptrain.results()["langchain_rag"]
        .iter()
        .map(|r| r.run_id)
        .collect();
    let want: Vec<_> = answers.iter().map(|a| Some(a.runs.prompt)).collect();
    assert_eq!(rag, want);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn concurrent_tasks_send_each_run_its_own_inputs() {
    let server = judge_server().await;
    let uptrain = Arc::new(judge_handler(&server, 3).build().unwrap());
    let manager = AsyncCallbackManager::new().with_handler(uptrain.clone());
    let answers = answer_in_tasks(&manager).await;
    let rows = uptrain.flush_async().await;
    assert_rows_of(&rows, &answers);
    for row in &rows {
        assert_judged(row);
    }

    // Every judge request pairs a question with its own answer's response and context.
    let prompts = prompts(&server).await;
    for answer in &answers {
        let completeness = prompt_for(&prompts, "Response Completeness", &answer.question);
        assert_eq!(
            field(completeness, "Response"),
            Some(answer.response.as_str())
        );
        let relevance = prompt_for(&prompts, "Context Relevance", &answer.question);
        assert_eq!(
            field(relevance, "Context"),
            Some(answer.context_text().trim())
        );
    }
}

#[test]
fn runs_on_several_threads_send_each_run_its_own_inputs() {
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap();
    let server = runtime.block_on(judge_server());
    let uptrain = Arc::new(judge_handler(&server, 3).build().unwrap());
    let manager = CallbackManager::new().with_handler(uptrain.clone());
    let answers = answer_on_threads(&manager, 4, |_| Retrieval::Keyword);
    let rows = uptrain.flush();
    assert_rows_of(&rows, &answers);
    for row in &rows {
        assert_judged(row);
    }
    let prompts = runtime.block_on(prompts(&server));
    for answer in &answers {
        let completeness = prompt_for(&prompts, "Response Completeness", &answer.question);
        assert_eq!(
            field(completeness, "Response"),
            Some(answer.response.as_str())
        );
    }
}

#[tokio::test]
async fn a_failing_judge_yields_rows_with_errors_not_lost_rows() {
    let server = MockServer::start().await;
    Mock::given(method("POST"))
        .respond_with(ResponseTemplate::new(500).set_body_string("judge down"))
        .mount(&server)
        .await;
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("failed.jsonl");
    let uptrain = Arc::new(
        // Opted in: a 500 after the judge may have done the work is sent again.
        judge_handler(&server, 2)
            .retry(common::judge_resend(2))
            .output_file(&file)
            .build()
            .unwrap(),
    );
    let manager = CallbackManager::new().with_handler(uptrain.clone());
    let pipeline = Pipeline::shipped().unwrap();
    let answers: Vec<Answer> = Retrieval::ALL
        .iter()
        .zip(QUESTIONS)
        .map(|(r, q)| pipeline.answer(&manager, q, *r).unwrap())
        .collect();

    let rows = uptrain.flush_async().await;
    assert_eq!(rows.len(), 5, "1 + 2 + 2 rows, none lost");
    for row in &rows {
        match_row(row, &answers);
        assert!(!row.is_ok());
        assert_eq!(row.errors.len(), row.scores.len());
        assert!(!row.scores.is_empty());
        assert!(row.scores.values().all(Option::is_none), "{:?}", row.scores);
        for error in row.errors.values() {
            assert!(error.contains("500"), "{error}");
        }
    }
    // Every request was tried twice: 2 attempts × (3 RAG rows × 3 first calls + 1 + 2).
    let requests = server.received_requests().await.unwrap();
    assert_eq!(requests.len(), 2 * (3 * 3 + 1 + 2));

    let lines = read_lines(&file);
    assert_eq!(lines.len(), 5);
    for line in &lines {
        let errors = line["errors"].as_object().unwrap();
        assert!(!errors.is_empty());
        assert!(
            line["scores"]
                .as_object()
                .unwrap()
                .values()
                .all(|s| s.is_null())
        );
    }
}
