//! End to end against the offline evaluator: the example pipeline's three flows, graded by the
//! UpTrain handler with no key and no network. Each flow yields the right rows, with the
//! right inputs, in order and per project; the output file gets one line per row; runs on
//! several threads and tasks never mix; the plugin is found by discovery.
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod common;

use std::sync::Arc;

use common::{
    SharedBuffer, answer_in_tasks, answer_on_threads, assert_rows_of, expected_rows, read_lines,
};
use examples::{Pipeline, QUESTIONS, Retrieval, score_table};
use llm_callbacks::registry::PluginConfig;
use llm_callbacks::uptrain::{Check, UptrainHandler, env};
use llm_callbacks::{AsyncCallbackManager, CallbackManager};
use serde_json::Value;

fn offline() -> Arc<UptrainHandler> {
    Arc::new(
        UptrainHandler::builder()
            .log_results(false)
            .build()
            .unwrap(),
    )
}

#[test]
fn each_flow_is_evaluated_with_its_checks_on_its_inputs() {
    let uptrain = offline();
    assert_eq!(uptrain.evaluator_name(), "offline");
    let manager = CallbackManager::new().with_handler(uptrain.clone());
    let pipeline = Pipeline::shipped().unwrap();

    for (question, retrieval) in [
        (QUESTIONS[0], Retrieval::Keyword),
        (QUESTIONS[3], Retrieval::MultiQuery),
        (QUESTIONS[4], Retrieval::Compression),
    ] {
        let answer = pipeline.answer(&manager, question, retrieval).unwrap();
        let rows = uptrain.flush();
        let expected = expected_rows(&answer);
        assert_eq!(rows.len(), expected.len(), "{retrieval:?}");
        for (row, (project, run_id, input)) in rows.iter().zip(expected) {
            assert_eq!(row.project, project);
            assert_eq!(row.run_id, Some(run_id));
            assert_eq!(Value::Object(row.input.clone()), input);
            assert!(row.is_ok(), "{:?}", row.errors);
            let checks: Vec<Check> = row.checks.iter().map(|c| c.check.clone()).collect();
            let want: &[Check] = match project {
                "langchain_rag" => &Check::RAG,
                "langchain_multi_query" => &[Check::MultiQueryAccuracy],
                _ => &[Check::ContextConciseness, Check::ContextReranking],
            };
            assert_eq!(checks, want, "{project}");
            for check in want {
                let score = row.score(check).unwrap();
                assert!((0.0..=1.0).contains(&score), "{check}: {score}");
            }
        }
        // The stand-in model quotes its context, so every answer is factually accurate, and
        // the offline evaluator says so.
        let rag = rows.last().unwrap();
        assert_eq!(rag.score(Check::FactualAccuracy), Some(1.0));
        match retrieval {
            Retrieval::MultiQuery => assert_eq!(answer.retrieved.variants.len(), 3),
            Retrieval::Compression => assert!(
                answer.retrieved.documents.len() < answer.retrieved.candidates.len(),
                "the compressor drops a candidate for this question"
            ),
            Retrieval::Keyword => {}
        }
    }
}

#[test]
fn a_retriever_alone_is_evaluated_without_a_rag_row() {
    let uptrain = offline();
    let manager = CallbackManager::new().with_handler(uptrain.clone());
    let pipeline = Pipeline::shipped().unwrap();

    let plain = pipeline
        .retrieve(&manager, QUESTIONS[1], Retrieval::Keyword)
        .unwrap();
    assert!(!plain.documents.is_empty());
    assert!(
        uptrain.flush().is_empty(),
        "a plain retriever is no evaluated flow"
    );

    let multi = pipeline
        .retrieve(&manager, QUESTIONS[1], Retrieval::MultiQuery)
        .unwrap();
    let rows = uptrain.flush();
    assert_eq!(rows.len(), 1);
    assert_eq!(rows[0].project, "langchain_multi_query");
    assert_eq!(rows[0].run_id, Some(multi.run_id));
    assert_eq!(rows[0].input["variants"], serde_json::json!(multi.variants));

    let compressed = pipeline
        .retrieve(&manager, QUESTIONS[2], Retrieval::Compression)
        .unwrap();
    let rows = uptrain.flush();
    assert_eq!(rows.len(), 1);
    assert_eq!(rows[0].project, "langchain_context_reranking");
    assert_eq!(
        rows[0].input["context"],
        common::numbered(&compressed.candidates)
    );
    assert_eq!(
        rows[0].input["concise_context"],
        common::numbered(&compressed.documents)
    );
}

#[test]
fn results_come_back_in_order_per_project_and_in_the_output_file() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("scores.jsonl");
    let uptrain = Arc::new(
        UptrainHandler::builder()
            .log_results(false)
            .output_file(&path)
            .build()
            .unwrap(),
    );
    let manager = CallbackManager::new().with_handler(uptrain.clone());
    let pipeline = Pipeline::shipped().unwrap();

    let answers: Vec<_> = QUESTIONS
        .iter()
        .take(9)
        .enumerate()
        .map(|(i, q)| {
            let retrieval = Retrieval::ALL[i % 3];
            pipeline.answer(&manager, q, retrieval).unwrap()
        })
        .collect();
    let rows = uptrain.flush();
    let expected: Vec<_> = answers.iter().flat_map(expected_rows).collect();
    assert_eq!(rows.len(), expected.len());
    for (row, (project, run_id, _)) in rows.iter().zip(&expected) {
        assert_eq!(
            (row.project.as_str(), row.run_id),
            (*project, Some(*run_id))
        );
    }

    let by_project = uptrain.results();
    assert_eq!(
        by_project.keys().map(String::as_str).collect::<Vec<_>>(),
        [
            "langchain_context_reranking",
            "langchain_multi_query",
            "langchain_rag"
        ]
    );
    let rag_questions: Vec<&str> = by_project["langchain_rag"]
        .iter()
        .map(|r| r.input["question"].as_str().unwrap())
        .collect();
    assert_eq!(rag_questions, &QUESTIONS[..9]);
    assert_eq!(by_project["langchain_multi_query"].len(), 3);
    assert_eq!(by_project["langchain_context_reranking"].len(), 3);

    let lines = read_lines(&path);
    assert_eq!(lines.len(), rows.len(), "one line per evaluated row");
    for row in &rows {
        let id = row.run_id.unwrap().to_string();
        let line = lines.iter().find(|l| l["run_id"] == id.as_str()).unwrap();
        for key in [
            "project",
            "evaluation",
            "run_id",
            "time",
            "scores",
            "explanations",
            "errors",
        ] {
            assert!(line.get(key).is_some(), "{key} missing from {line}");
        }
        assert_eq!(line["project"], row.project.as_str());
        assert_eq!(line["run_id"], row.run_id.unwrap().to_string());
        assert_eq!(
            line["evaluation"],
            row.project.trim_start_matches("langchain_")
        );
        assert_eq!(line["errors"], serde_json::json!({}));
        let scores = line["scores"].as_object().unwrap();
        assert_eq!(scores.len(), row.checks.len());
        assert!(scores.values().all(Value::is_f64));
        assert!(
            line["explanations"]
                .as_object()
                .unwrap()
                .values()
                .all(|e| e.as_str().unwrap().starts_with("Offline lexical heuristic"))
        );
    }
}

#[test]
fn runs_on_several_threads_never_mix() {
    let uptrain = offline();
    let manager = CallbackManager::new().with_handler(uptrain.clone());
    let answers = answer_on_threads(&manager, 4, |i| Retrieval::ALL[(i / 4) % 3]);
    assert_rows_of(&uptrain.flush(), &answers);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn runs_in_several_tokio_tasks_never_mix() {
    let uptrain = offline();
    let manager = AsyncCallbackManager::new().with_handler(uptrain.clone());
    let answers = answer_in_tasks(&manager).await;
    assert_rows_of(&uptrain.flush_async().await, &answers);
}

#[test]
fn discovery_adds_the_plugin_and_its_blocks_name_every_score() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("plugin.jsonl");
    let mut manager = CallbackManager::new();
    let config = PluginConfig::new()
        .set(env::LOG_RESULTS, "false")
        .set(env::OUTPUT_FILE, path.to_string_lossy());
    let names = manager.add_plugins(&config).unwrap();
    assert!(names.contains(&"uptrain"), "{names:?}");
    let uptrain = manager
        .find_handler::<UptrainHandler>()
        .expect("the uptrain feature registers the plugin");
    assert_eq!(uptrain.evaluator_name(), "offline");

    let pipeline = Pipeline::shipped().unwrap();
    pipeline
        .answer(&manager, QUESTIONS[5], Retrieval::MultiQuery)
        .unwrap();
    let rows = uptrain.flush();
    assert_eq!(rows.len(), 2);
    assert_eq!(read_lines(&path).len(), 2);

    let off = PluginConfig::new().set("LLM_CALLBACKS_PLUGINS", "none");
    let mut bare = CallbackManager::new();
    assert!(bare.add_plugins(&off).unwrap().is_empty());
    assert!(bare.find_handler::<UptrainHandler>().is_none());
}

#[test]
fn logged_blocks_and_the_table_show_every_score() {
    let console = SharedBuffer::default();
    let uptrain = Arc::new(
        UptrainHandler::builder()
            .log_to(console.clone())
            .build()
            .unwrap(),
    );
    let manager = CallbackManager::new().with_handler(uptrain.clone());
    let pipeline = Pipeline::shipped().unwrap();
    let answer = pipeline
        .answer(&manager, QUESTIONS[6], Retrieval::MultiQuery)
        .unwrap();
    let rows = uptrain.flush();

    let printed = console.text();
    assert!(printed.contains(&format!("Question: {}\n", QUESTIONS[6])));
    assert!(printed.contains(&format!("Response: {}\n", answer.response)));
    assert!(printed.contains("Multi Queries:\n"));
    for variant in &answer.retrieved.variants {
        assert!(printed.contains(&format!("  - {variant}\n")), "{printed}");
    }
    for check in [
        Check::MultiQueryAccuracy,
        Check::ContextRelevance,
        Check::FactualAccuracy,
        Check::ResponseCompleteness,
    ] {
        assert!(
            printed.contains(&format!("{} Score: ", check.display_name())),
            "{printed}"
        );
    }

    let table = score_table(&rows);
    let lines: Vec<&str> = table.lines().collect();
    assert!(lines[0].starts_with("project"));
    assert_eq!(
        lines.len(),
        2 + 1 + 3 + 2,
        "header, rule, one line per check, a blank line and the note on estimates"
    );
    assert!(lines[2].starts_with("langchain_multi_query"));
    assert!(lines[2].contains(QUESTIONS[6]));
    let mq = rows[0].score(Check::MultiQueryAccuracy).unwrap();
    assert!(lines[2].contains("Multi Query Accuracy"));
    assert!(lines[2].ends_with(&format!(" {mq:.2} (estimate)")));
    assert!(lines[3].starts_with("langchain_rag"));
    assert!(lines[4].trim_start().starts_with("Factual Accuracy"));
    assert!(lines[4].ends_with("1.00 (estimate)"));
    assert!(lines[7].contains("offline lexical estimate"));
}
