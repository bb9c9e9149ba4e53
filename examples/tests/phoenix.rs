//! End to end against a real Arize Phoenix server: the pipeline's RAG, multi-query and
//! compression flows, graded by the offline UpTrain evaluator, plus a failing tool and an
//! abandoned model run, exported by the OpenTelemetry plugin; then the spans and annotations
//! are read back from Phoenix's REST API and checked: names, kinds, parent links, trace ids,
//! token counts, error statuses and scores.
//!
//! With the `openai` feature too, [`cost`] checks what an `openai_rag` run cost, as we export
//! it and as Phoenix prices it, and its scores on its trace.
//!
//! `.ci/run` starts Phoenix and sets `PHOENIX_URL`. Without it the test says it did not run
//! and passes, except under CI (`CI=true`), where it fails. By hand:
//!
//! ```sh
//! PHOENIX_URL=http://127.0.0.1:6006 cargo test -p examples --features otel --test phoenix
//! ```
#![allow(clippy::unwrap_used, clippy::expect_used)] // tests fail loudly

use std::collections::{BTreeMap, HashMap};
use std::sync::Arc;
use std::time::{Duration, Instant};

use examples::llm::StandInLlm;
use examples::{Answer, Pipeline, QUESTIONS, Retrieval};
use llm_callbacks::otel::{OtelHandler, ids};
use llm_callbacks::payload::{ErrorInfo, Serialized};
use llm_callbacks::uptrain::{EvaluatedRow, UptrainHandler};
use llm_callbacks::{CallbackManager, RunOptions, Uuid};
use serde_json::{Value, json};

#[cfg(feature = "openai")]
#[path = "phoenix/cost.rs"]
mod cost;

/// Phoenix's base URL, or `None` (after saying so) when the test should not run.
fn phoenix() -> Option<String> {
    let in_ci = std::env::var("CI").is_ok_and(|v| v == "true" || v == "1");
    let Some(url) = std::env::var("PHOENIX_URL").ok().filter(|u| !u.is_empty()) else {
        assert!(
            !in_ci,
            "CI=true but PHOENIX_URL is not set: the Phoenix end-to-end test must run in CI (.ci/run starts Phoenix)"
        );
        eprintln!(
            "phoenix end-to-end test DID NOT RUN: set PHOENIX_URL=http://127.0.0.1:6006 with Phoenix serving there (see .ci/run)"
        );
        return None;
    };
    let url = url.trim_end_matches('/').to_owned();
    let client = client();
    let deadline = Instant::now() + Duration::from_secs(30);
    loop {
        match client.get(format!("{url}/healthz")).send() {
            Ok(response) if response.status().is_success() => return Some(url),
            outcome if Instant::now() >= deadline => {
                panic!("Phoenix at {url} is not reachable: {outcome:?}")
            }
            _ => std::thread::sleep(Duration::from_millis(500)),
        }
    }
}

fn client() -> reqwest::blocking::Client {
    reqwest::blocking::Client::builder()
        .timeout(Duration::from_secs(20))
        .build()
        .unwrap()
}

fn hex_span(run_id: Uuid) -> String {
    ids::span_id(run_id).to_string()
}

fn hex_trace(root: Uuid) -> String {
    ids::trace_id(root).to_string()
}

/// The spans of `project`, by span id, once Phoenix has `expected` of them (bounded wait).
fn spans(url: &str, project: &str, expected: usize) -> HashMap<String, Value> {
    let client = client();
    let deadline = Instant::now() + Duration::from_secs(60);
    loop {
        let mut all = HashMap::new();
        let mut cursor: Option<String> = None;
        loop {
            let mut address = format!("{url}/v1/projects/{project}/spans?limit=1000");
            if let Some(cursor) = &cursor {
                address.push_str("&cursor=");
                address.push_str(&encode(cursor));
            }
            let page: Value = match client.get(address).send() {
                Ok(response) if response.status().is_success() => response.json().unwrap(),
                _ => break,
            };
            for span in page["data"].as_array().into_iter().flatten() {
                let id = span["context"]["span_id"].as_str().unwrap().to_owned();
                all.insert(id, span.clone());
            }
            match page["next_cursor"].as_str() {
                Some(next) => cursor = Some(next.to_owned()),
                None => break,
            }
        }
        if all.len() >= expected {
            assert_eq!(all.len(), expected, "more spans than exported");
            return all;
        }
        assert!(
            Instant::now() < deadline,
            "Phoenix shows {} of {expected} spans of project {project}",
            all.len()
        );
        std::thread::sleep(Duration::from_millis(500));
    }
}

/// Percent-encodes a query value.
fn encode(value: &str) -> String {
    value
        .bytes()
        .map(|b| match b {
            b'A'..=b'Z' | b'a'..=b'z' | b'0'..=b'9' | b'-' | b'_' | b'.' | b'~' => {
                (b as char).to_string()
            }
            _ => format!("%{b:02X}"),
        })
        .collect()
}

fn annotations(url: &str, project: &str, span_id: &str) -> Vec<Value> {
    annotations_of(url, project, "span", span_id)
}

/// The annotations of a span or a trace (`of`: `span` or `trace`), by its hex id.
fn annotations_of(url: &str, project: &str, of: &str, id: &str) -> Vec<Value> {
    let page: Value = client()
        .get(format!(
            "{url}/v1/projects/{project}/{of}_annotations?{of}_ids={id}&limit=100"
        ))
        .send()
        .unwrap()
        .json()
        .unwrap();
    page["data"].as_array().cloned().unwrap_or_default()
}

fn span(spans: &HashMap<String, Value>, run_id: Uuid) -> &Value {
    let id = hex_span(run_id);
    spans
        .get(&id)
        .unwrap_or_else(|| panic!("no span {id} (run {run_id}) in Phoenix"))
}

fn children<'a>(spans: &'a HashMap<String, Value>, parent: &Value) -> Vec<&'a Value> {
    let id = parent["context"]["span_id"].as_str().unwrap();
    let mut out: Vec<&Value> = spans
        .values()
        .filter(|s| s["parent_id"].as_str() == Some(id))
        .collect();
    out.sort_by_key(|s| s["start_time"].as_str().unwrap_or_default().to_owned());
    out
}

fn shape(span: &Value) -> (&str, &str) {
    (
        span["name"].as_str().unwrap_or_default(),
        span["span_kind"].as_str().unwrap_or_default(),
    )
}

/// Ids of the runs of the failing flow.
struct Failures {
    chain: Uuid,
    tool: Uuid,
    abandoned: Uuid,
}

/// A chain whose tool times out, and a model run given up half-way.
fn failing_flow(manager: &CallbackManager) -> Failures {
    let chain = manager
        .on_chain_start(
            None,
            &json!({"question": "fails"}),
            RunOptions::named("flaky"),
        )
        .unwrap();
    let tool = chain
        .child()
        .on_tool_start(
            Some(&Serialized::named("search_web")),
            "mars",
            None,
            RunOptions::named("search_web"),
        )
        .unwrap();
    let tool_id = tool.run_id();
    tool.on_tool_error(ErrorInfo::new("Timeout", "no answer in 30 s"))
        .unwrap();
    let llm = chain
        .child()
        .on_llm_start(
            &Serialized::named("stand-in"),
            "p",
            RunOptions::named("given-up"),
        )
        .unwrap();
    let abandoned = llm.run_id();
    llm.on_llm_new_token("half ", None).unwrap();
    drop(llm); // given up without an end: the core ends it as abandoned
    let chain_id = chain.run_id();
    chain
        .on_chain_error(ErrorInfo::new("ToolFailed", "search_web timed out"))
        .unwrap();
    Failures {
        chain: chain_id,
        tool: tool_id,
        abandoned,
    }
}

#[test]
fn runs_and_scores_land_in_phoenix() {
    let Some(url) = phoenix() else {
        return;
    };
    let project = format!("llm-callbacks-e2e-{}", Uuid::now_v7().simple());
    let otel = OtelHandler::builder()
        .endpoint(&url)
        .phoenix_url(&url)
        .project_name(&project)
        // Inputs, answers and explanations are read back below: capture them.
        .capture_content(true)
        .scheduled_delay(Duration::from_millis(100))
        .build()
        .unwrap();
    let uptrain = Arc::new(
        UptrainHandler::builder()
            .log_results(false)
            .build()
            .unwrap(),
    );
    assert_eq!(uptrain.evaluator_name(), "offline");
    let manager = CallbackManager::new()
        .with_handler(uptrain.clone())
        .with_handler(Arc::new(otel.clone()));
    let pipeline = Pipeline::shipped().unwrap();

    let mut answers: Vec<Answer> = Vec::new();
    let mut rows: Vec<EvaluatedRow> = Vec::new();
    for (question, retrieval) in [
        (QUESTIONS[0], Retrieval::Keyword),
        (QUESTIONS[3], Retrieval::MultiQuery),
        (QUESTIONS[4], Retrieval::Compression),
    ] {
        answers.push(pipeline.answer(&manager, question, retrieval).unwrap());
        // The UpTrain handler publishes each score through the core; the exporter listens.
        rows.extend(uptrain.flush());
    }
    let failures = failing_flow(&manager);
    let checks: usize = rows.iter().map(|r| r.checks.len()).sum();
    assert_eq!(rows.len(), 5, "3 RAG rows, 1 multi-query, 1 compression");
    assert_eq!(checks, 3 * 3 + 1 + 2);

    let report = otel.shutdown(Duration::from_secs(60));
    assert!(report.complete, "{report:?}");
    assert_eq!(report.spans.failed + report.spans.dropped, 0, "{report:?}");
    // Each score annotates its run's span and its trace.
    assert_eq!(report.annotations.sent, 2 * checks as u64, "{report:?}");
    assert_eq!(
        report.annotations.failed + report.annotations.rejected + report.annotations.dropped,
        0,
        "{report:?}"
    );
    // A score lands on its run's span while the span is open, else on a child span.
    assert_eq!(
        report.evaluations_on_span + report.evaluations_late,
        checks as u64,
        "{report:?}"
    );

    let spans = spans(&url, &project, report.spans.exported as usize);

    // The three flows: a tree per question, in the question's own trace.
    for answer in &answers {
        let chain = span(&spans, answer.runs.chain);
        let trace = hex_trace(answer.runs.chain);
        assert_eq!(shape(chain), ("rag", "CHAIN"));
        assert!(chain["parent_id"].is_null());
        assert_eq!(chain["context"]["trace_id"], trace.as_str());
        assert_eq!(chain["status_code"], "UNSET");
        assert_eq!(
            chain["attributes"]["input.value"],
            json!({"question": answer.question}).to_string()
        );

        let steps: Vec<(&str, &str)> = children(&spans, chain).into_iter().map(shape).collect();
        let retriever_name = match answer.retrieval {
            Retrieval::Keyword => "KeywordRetriever",
            Retrieval::MultiQuery => "MultiQueryRetriever",
            Retrieval::Compression => "ContextualCompressionRetriever",
        };
        assert_eq!(
            steps,
            [
                (retriever_name, "RETRIEVER"),
                ("prompt", "CHAIN"),
                (StandInLlm::MODEL_NAME, "LLM")
            ]
        );

        let llm = span(&spans, answer.runs.llm);
        assert_eq!(llm["parent_id"], chain["context"]["span_id"]);
        assert_eq!(llm["context"]["trace_id"], trace.as_str());
        let usage = StandInLlm::result(&answer.prompt, &answer.response)
            .token_usage
            .unwrap();
        let attributes = &llm["attributes"];
        assert_eq!(attributes["llm.token_count.prompt"], usage.prompt_tokens);
        assert_eq!(
            attributes["llm.token_count.completion"],
            usage.completion_tokens
        );
        assert_eq!(attributes["llm.token_count.total"], usage.total_tokens);
        assert_eq!(
            attributes["gen_ai.usage.output_tokens"],
            usage.completion_tokens
        );
        assert_eq!(attributes["llm_callbacks.streamed_tokens"], answer.tokens);
        // A model the price table does not know: no cost, and why (never a zero).
        assert!(attributes.get("llm.cost.total").is_none(), "{attributes}");
        let unknown = attributes["llm_callbacks.cost.unknown"]
            .as_str()
            .unwrap_or_default();
        assert!(unknown.starts_with("model \""), "{unknown}");
        assert_eq!(attributes["output.value"], answer.response.as_str());
        assert!(
            attributes["llm_callbacks.time_to_first_token_ms"]
                .as_f64()
                .is_some()
        );
        assert!(
            llm["events"]
                .as_array()
                .unwrap()
                .iter()
                .any(|e| e["name"] == "first_token")
        );

        let retriever = span(&spans, answer.retrieved.run_id);
        assert_eq!(
            retriever["attributes"]["retrieval.documents.0.document.content"],
            answer.retrieved.documents[0].page_content.as_str()
        );
        let inner: Vec<(&str, &str)> = children(&spans, retriever).into_iter().map(shape).collect();
        let expected_inner: Vec<(&str, &str)> = match answer.retrieval {
            Retrieval::Keyword => vec![],
            Retrieval::MultiQuery => vec![
                (StandInLlm::MODEL_NAME, "LLM"),
                ("KeywordRetriever", "RETRIEVER"),
                ("KeywordRetriever", "RETRIEVER"),
                ("KeywordRetriever", "RETRIEVER"),
            ],
            Retrieval::Compression => vec![("KeywordRetriever", "RETRIEVER")],
        };
        // The retriever's evaluations hang under it too; compare the pipeline's own steps.
        let inner: Vec<_> = inner
            .into_iter()
            .filter(|(_, kind)| *kind != "EVALUATOR")
            .collect();
        assert_eq!(inner, expected_inner, "{:?}", answer.retrieval);
        for span in spans.values() {
            if span["context"]["trace_id"] == trace.as_str() {
                continue;
            }
            assert_ne!(
                span["parent_id"], chain["context"]["span_id"],
                "a child in another trace"
            );
        }
    }

    // Scores: an annotation per check on the graded span and on its trace, and an evaluation
    // span under it.
    for row in &rows {
        let run_id = row.run_id.unwrap();
        let graded = span(&spans, run_id);
        let found = annotations(&url, &project, &hex_span(run_id));
        let trace = graded["context"]["trace_id"].as_str().unwrap();
        let on_trace = annotations_of(&url, &project, "trace", trace);
        for check in &row.checks {
            let annotation = on_trace
                .iter()
                .find(|a| a["name"] == check.check.as_str() && a["identifier"] == hex_span(run_id))
                .unwrap_or_else(|| panic!("no trace annotation {} of {run_id}", check.check));
            assert_eq!(annotation["result"]["score"].as_f64(), check.score);
        }
        let mut by_name: BTreeMap<&str, &Value> = BTreeMap::new();
        for annotation in &found {
            assert_eq!(annotation["annotator_kind"], "LLM");
            by_name.insert(annotation["name"].as_str().unwrap(), annotation);
        }
        let evaluations: Vec<&Value> = children(&spans, graded)
            .into_iter()
            .filter(|s| s["span_kind"] == "EVALUATOR")
            .collect();
        for check in &row.checks {
            let name = check.check.as_str();
            let annotation = by_name
                .get(name)
                .unwrap_or_else(|| panic!("no annotation {name} on {run_id}: {found:?}"));
            let score = check.score.unwrap();
            let annotated = annotation["result"]["score"].as_f64().unwrap();
            assert!(
                (annotated - score).abs() < 1e-9,
                "{name}: {annotated} vs {score}"
            );
            assert_eq!(
                annotation["result"]["explanation"].as_str(),
                check.explanation.as_deref()
            );

            // The `gen_ai.evaluation.result` event: on the graded span, or on its child.
            let child = evaluations
                .iter()
                .find(|s| s["name"] == format!("uptrain.{name}"));
            let holder = match child {
                Some(child) => {
                    assert_eq!(child["context"]["trace_id"], graded["context"]["trace_id"]);
                    *child
                }
                None => graded,
            };
            let event = holder["events"]
                .as_array()
                .unwrap()
                .iter()
                .find(|e| {
                    e["name"] == "gen_ai.evaluation.result"
                        && e["attributes"]["gen_ai.evaluation.name"] == name
                })
                .unwrap_or_else(|| panic!("no evaluation event {name} for run {run_id}"));
            let evented = event["attributes"]["gen_ai.evaluation.score.value"]
                .as_f64()
                .unwrap();
            assert!((evented - score).abs() < 1e-9);
        }
    }

    // Failures: error statuses with the error's kind and message.
    let chain = span(&spans, failures.chain);
    assert_eq!(shape(chain), ("flaky", "CHAIN"));
    assert_eq!(chain["status_code"], "ERROR");
    assert_eq!(chain["status_message"], "ToolFailed: search_web timed out");
    let tool = span(&spans, failures.tool);
    assert_eq!(shape(tool), ("search_web", "TOOL"));
    assert_eq!(tool["parent_id"], chain["context"]["span_id"]);
    assert_eq!(tool["status_code"], "ERROR");
    assert_eq!(tool["status_message"], "Timeout: no answer in 30 s");
    assert_eq!(tool["attributes"]["error.type"], "Timeout");
    let abandoned = span(&spans, failures.abandoned);
    assert_eq!(shape(abandoned), ("given-up", "LLM"));
    assert_eq!(abandoned["status_code"], "ERROR");
    assert_eq!(abandoned["attributes"]["error.type"], ErrorInfo::ABANDONED);
    assert_eq!(abandoned["attributes"]["llm_callbacks.streamed_tokens"], 1);
}

/// Without content capture (the default), what Phoenix receives carries no question, prompt,
/// answer, error message or explanation, yet the names, kinds, token counts, error types and
/// scores are all there.
#[test]
fn without_capture_phoenix_sees_no_content() {
    let Some(url) = phoenix() else {
        return;
    };
    let project = format!("llm-callbacks-private-{}", Uuid::now_v7().simple());
    let otel = OtelHandler::builder()
        .endpoint(&url)
        .phoenix_url(&url)
        .project_name(&project)
        .scheduled_delay(Duration::from_millis(100))
        .build()
        .unwrap();
    let manager = CallbackManager::new().with_handler(Arc::new(otel.clone()));
    let secret = "SECRET-CONTENT";
    let chain = manager
        .on_chain_start(
            None,
            &json!({"question": secret}),
            RunOptions::named("private"),
        )
        .unwrap();
    let llm = chain
        .child()
        .on_llm_start(
            &Serialized::named("stand-in"),
            secret,
            RunOptions::named("model"),
        )
        .unwrap();
    llm.on_llm_error(ErrorInfo::new("ParseError", secret))
        .unwrap();
    let chain_id = chain.run_id();
    otel.record_evaluation(
        &llm_callbacks::evaluation::EvaluationResult::new("judge", "relevance")
            .with_run(chain.context())
            .with_score(0.25)
            .with_explanation(secret),
    );
    chain.on_chain_end(&json!({"answer": secret})).unwrap();
    let report = otel.shutdown(Duration::from_secs(60));
    assert!(report.complete, "{report:?}");
    assert_eq!(report.annotations.sent, 2, "{report:?}");

    let spans = spans(&url, &project, 2);
    let stored = serde_json::to_string(&spans).unwrap();
    assert!(!stored.contains(secret), "{stored}");
    let chain = span(&spans, chain_id);
    assert_eq!(shape(chain), ("private", "CHAIN"));
    let found = annotations(&url, &project, &hex_span(chain_id));
    assert_eq!(found.len(), 1, "{found:?}");
    assert_eq!(found[0]["result"]["score"], 0.25);
    assert!(!serde_json::to_string(&found).unwrap().contains(secret));
    let model = spans
        .values()
        .find(|s| s["name"] == "model")
        .expect("the model's span");
    assert_eq!(model["status_message"], "ParseError");
    assert_eq!(model["attributes"]["error.type"], "ParseError");
}
