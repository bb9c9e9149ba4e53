//! The handler in a long-running service: a full queue becomes counted "queue full" rows,
//! evaluations end at their deadline, `flush` waits only for what came before it,
//! `flush_timeout` / `shutdown` / drop stop at the time given and account for every answer,
//! kept rows are bounded, repeated run ids stay bounded, and an OpenAI key merely present in
//! the environment sends nothing anywhere.
#![allow(clippy::unwrap_used, clippy::expect_used)] // tests fail loudly

mod common;

use std::io::Write;
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::{Arc, mpsc};
use std::time::Duration;

use common::{Gated, Hangs, Slow, answer, answer_with};
use handler_core::registry::PluginConfig;
use handler_core::{CallbackManager, RunOptions, Uuid};
use tokio::sync::Semaphore;
use uptrain_plugin::{
    Check, EvaluatedRow, Evaluator, UptrainConfig, UptrainHandler, UptrainHandlerBuilder,
};

fn quiet(evaluator: impl Evaluator) -> UptrainHandlerBuilder {
    UptrainHandler::builder()
        .evaluator(Arc::new(evaluator))
        .log_results(false)
}

fn ask(manager: &CallbackManager, n: usize) {
    answer(
        manager,
        &format!("Where is Paris? ({n})"),
        "Paris is in France.",
        "Paris is in France.",
    );
}

fn errors_contain(row: &EvaluatedRow, text: &str) -> bool {
    !row.errors.is_empty()
        && Check::RAG
            .iter()
            .all(|c| row.errors.get(c.as_str()).is_some_and(|e| e.contains(text)))
}

fn read_lines(path: &std::path::Path) -> Vec<serde_json::Value> {
    std::fs::read_to_string(path)
        .unwrap()
        .lines()
        .map(|l| serde_json::from_str(l).unwrap())
        .collect()
}

#[test]
fn a_full_queue_records_counted_rows_and_never_blocks_the_emitter() {
    let gate = Arc::new(Semaphore::new(0));
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("rows.jsonl");
    let uptrain = Arc::new(
        quiet(Gated(gate.clone()))
            .queue_capacity(4)
            .output_file(&path)
            .build()
            .unwrap(),
    );
    let manager = CallbackManager::new().with_handler(uptrain.clone());
    const ANSWERS: usize = 200;
    for n in 0..ANSWERS {
        ask(&manager, n);
    }
    let stats = uptrain.stats();
    // At most 64 run and 4 wait: the rest were refused at once, while every evaluation hung.
    assert!(stats.refused >= (ANSWERS - 64 - 4) as u64, "{stats:?}");
    assert_eq!(
        stats.refused + stats.pending as u64,
        ANSWERS as u64,
        "{stats:?}"
    );

    gate.add_permits(ANSWERS);
    let rows = uptrain.flush();
    assert_eq!(rows.len(), ANSWERS, "every answer is a row");
    let refused: Vec<&EvaluatedRow> = rows
        .iter()
        .filter(|r| errors_contain(r, "not evaluated: queue full"))
        .collect();
    assert_eq!(refused.len() as u64, stats.refused);
    assert!(
        refused
            .iter()
            .all(|r| r.scores.values().all(Option::is_none))
    );
    let stats = uptrain.stats();
    assert_eq!(stats.submitted, ANSWERS as u64);
    assert_eq!(stats.evaluated + stats.refused, ANSWERS as u64, "{stats:?}");
    assert_eq!(stats.pending, 0);

    let lines = read_lines(&path);
    assert_eq!(lines.len(), ANSWERS);
    let in_file = lines
        .iter()
        .filter(|l| {
            l["errors"]["context_relevance"]
                .as_str()
                .is_some_and(|e| e.starts_with("not evaluated: queue full"))
        })
        .count();
    assert_eq!(in_file as u64, stats.refused);
}

#[test]
fn a_hanging_evaluation_ends_at_its_deadline() {
    let uptrain = Arc::new(
        quiet(Hangs)
            .evaluation_deadline(Duration::from_millis(200))
            .build()
            .unwrap(),
    );
    let manager = CallbackManager::new().with_handler(uptrain.clone());
    for n in 0..5 {
        ask(&manager, n);
    }
    let rows = uptrain.flush();
    assert_eq!(rows.len(), 5);
    for row in &rows {
        assert!(errors_contain(row, "deadline of 0.2s exceeded"), "{row:?}");
    }
    assert_eq!(uptrain.stats().deadline_exceeded, 5);
}

#[test]
fn flush_waits_only_for_what_was_enqueued_before_it() {
    let uptrain = Arc::new(quiet(Slow(Duration::from_millis(50))).build().unwrap());
    let manager = Arc::new(CallbackManager::new().with_handler(uptrain.clone()));
    for n in 0..3 {
        ask(&manager, n);
    }
    // Answers keep arriving until the flush returns: the pending count never reaches zero, so
    // a flush that waited for everything would never return. The limit only catches that hang.
    let stop = Arc::new(AtomicBool::new(false));
    let feeder = {
        let (manager, stop) = (manager.clone(), stop.clone());
        std::thread::spawn(move || {
            let mut n = 100;
            while !stop.load(Ordering::Relaxed) {
                ask(&manager, n);
                n += 1;
                std::thread::sleep(Duration::from_millis(5));
            }
        })
    };
    let (sent, flushed) = std::sync::mpsc::channel();
    let flusher = {
        let uptrain = uptrain.clone();
        std::thread::spawn(move || sent.send(uptrain.flush()))
    };
    let rows = flushed.recv_timeout(Duration::from_secs(120));
    stop.store(true, Ordering::Relaxed);
    feeder.join().unwrap();
    let rows = rows.expect("flush waited for answers that arrived after it was called");
    flusher.join().unwrap().unwrap();
    let questions: Vec<&str> = rows
        .iter()
        .map(|r| r.input["question"].as_str().unwrap())
        .collect();
    assert_eq!(
        &questions[..3],
        [
            "Where is Paris? (0)",
            "Where is Paris? (1)",
            "Where is Paris? (2)"
        ]
    );
}

#[test]
fn flush_timeout_says_what_did_not_finish() {
    let gate = Arc::new(Semaphore::new(1));
    let uptrain = Arc::new(quiet(Gated(gate.clone())).build().unwrap());
    let manager = CallbackManager::new().with_handler(uptrain.clone());
    for n in 0..3 {
        ask(&manager, n);
    }
    let report = uptrain.flush_timeout(Duration::from_millis(200));
    assert_eq!(report.unfinished, 2);
    assert!(!report.is_complete());
    assert!(report.rows.len() <= 1);
    gate.add_permits(2);
    let report = uptrain.flush_timeout(Duration::from_secs(30));
    assert!(report.is_complete());
}

#[test]
fn shutdown_gives_up_at_its_timeout_and_accounts_for_everything() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("rows.jsonl");
    let uptrain = Arc::new(quiet(Hangs).output_file(&path).build().unwrap());
    let manager = CallbackManager::new().with_handler(uptrain.clone());
    for n in 0..10 {
        ask(&manager, n);
    }
    let report = uptrain.shutdown(Duration::from_millis(100));
    assert_eq!(
        (report.pending, report.finished, report.given_up),
        (10, 0, 10)
    );
    // Answers after the shutdown are recorded as given up too.
    ask(&manager, 99);
    let stats = uptrain.stats();
    assert_eq!(
        (stats.submitted, stats.given_up, stats.pending),
        (11, 11, 0)
    );
    let rows = uptrain.flush();
    assert_eq!(rows.len(), 11);
    assert!(rows.iter().all(|r| errors_contain(r, "handler shut down")));
    assert_eq!(read_lines(&path).len(), 11);
}

#[test]
fn dropping_waits_the_drop_timeout_then_gives_up() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("rows.jsonl");
    let uptrain = Arc::new(
        quiet(Hangs)
            .output_file(&path)
            .drop_timeout(Duration::from_secs(1))
            .build()
            .unwrap(),
    );
    let manager = CallbackManager::new().with_handler(uptrain.clone());
    for n in 0..3 {
        ask(&manager, n);
    }
    let (done, dropped) = mpsc::channel();
    std::thread::spawn(move || {
        drop(manager);
        drop(uptrain);
        done.send(()).unwrap();
    });
    dropped
        .recv_timeout(Duration::from_secs(30))
        .expect("drop returned");
    let lines = read_lines(&path);
    assert_eq!(lines.len(), 3, "given-up rows are still written");
    assert!(lines.iter().all(|l| {
        l["errors"]["factual_accuracy"]
            .as_str()
            .unwrap()
            .contains("shut down")
    }));
}

#[test]
fn dropping_inside_a_current_thread_runtime_does_not_stall_it() {
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap();
    let (done, dropped) = mpsc::channel();
    std::thread::spawn(move || {
        runtime.block_on(async {
            let uptrain = Arc::new(
                quiet(Hangs)
                    .drop_timeout(Duration::from_secs(600))
                    .build()
                    .unwrap(),
            );
            let manager = CallbackManager::new().with_handler(uptrain.clone());
            ask(&manager, 1);
            drop(manager);
            drop(uptrain); // the last reference: would wait 600 s if it waited
            // The runtime still runs tasks.
            tokio::spawn(async { 7 }).await.unwrap()
        });
        done.send(()).unwrap();
    });
    dropped
        .recv_timeout(Duration::from_secs(30))
        .expect("the runtime was not stalled by the drop");
}

#[test]
fn kept_rows_are_bounded_by_the_retention() {
    let uptrain = Arc::new(
        UptrainHandler::builder()
            .log_results(false)
            .retention(5)
            .build()
            .unwrap(),
    );
    let manager = CallbackManager::new().with_handler(uptrain.clone());
    for n in 0..20 {
        ask(&manager, n);
    }
    let flushed = uptrain.flush();
    assert_eq!(flushed.len(), 5);
    assert_eq!(
        flushed[4].input["question"].as_str(),
        Some("Where is Paris? (19)"),
        "the newest are kept"
    );
    let results = uptrain.results();
    assert_eq!(results["langchain_rag"].len(), 5);
    let stats = uptrain.stats();
    assert_eq!(
        stats.rows_not_kept, 30,
        "15 from the flush list, 15 from the results"
    );
    assert_eq!(stats.evaluated, 20);

    let none = Arc::new(
        UptrainHandler::builder()
            .log_results(false)
            .retention(0)
            .build()
            .unwrap(),
    );
    let manager = CallbackManager::new().with_handler(none.clone());
    ask(&manager, 1);
    assert!(none.flush().is_empty());
    assert!(none.results().is_empty());
    assert_eq!(none.stats().evaluated, 1);
}

#[test]
fn repeated_run_ids_never_hang_or_grow() {
    let uptrain = Arc::new(
        UptrainHandler::builder()
            .log_results(false)
            .retention(5_000)
            .build()
            .unwrap(),
    );
    let manager = CallbackManager::new().with_handler(uptrain.clone());
    let id = Uuid::now_v7();
    for n in 0..2_000 {
        answer_with(
            &manager,
            RunOptions::named("rag").with_run_id(id),
            &format!("q{n}?"),
            "c",
            "r",
        );
    }
    // A chain whose child LLM reuses the chain's own id (so it names itself as its parent):
    // the LLM is taken as a root, so nothing answers the chain and nothing is left behind.
    let inputs = serde_json::json!({"question": "q?", "context": "c"});
    let chain = manager
        .on_chain_start(None, &inputs, RunOptions::new().with_run_id(id))
        .unwrap();
    let llm = chain
        .child()
        .on_llm_start(
            &handler_core::payload::Serialized::named("llm"),
            "p",
            RunOptions::new().with_run_id(id),
        )
        .unwrap();
    llm.on_llm_end(&handler_core::payload::LlmResult::from_text("r"))
        .unwrap();
    chain.on_chain_end(&serde_json::json!({})).unwrap();
    let rows = uptrain.flush();
    assert_eq!(rows.len(), 2_000);
    assert!(rows.iter().all(|r| r.run_id == Some(id)));
    assert_eq!(uptrain.stats().tracked_runs, 0);
}

#[test]
fn runs_that_never_end_are_forgotten() {
    let uptrain = Arc::new(
        UptrainHandler::builder()
            .log_results(false)
            .max_tracked_runs(50)
            .build()
            .unwrap(),
    );
    let manager = CallbackManager::new().with_handler(uptrain.clone());
    let mut open = Vec::new();
    for n in 0..500 {
        let inputs = serde_json::json!({"question": format!("q{n}"), "context": "c"});
        // Kept alive and never ended (as a run whose end is never reached).
        open.push(
            manager
                .on_chain_start(None, &inputs, RunOptions::new())
                .unwrap(),
        );
    }
    let stats = uptrain.stats();
    assert!(stats.tracked_runs <= 50, "{stats:?}");
    assert!(stats.runs_expired >= 450, "{stats:?}");
    std::mem::forget(open); // no end, no abandonment: only the cap frees them
}

#[test]
fn an_openai_key_in_the_environment_sends_nothing() {
    let config =
        UptrainConfig::from_plugin_config(&PluginConfig::new().set("OPENAI_API_KEY", "sk-live"))
            .unwrap();
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("rows.jsonl");
    let printed = common::SharedBuffer::default();
    let uptrain = Arc::new(
        UptrainHandler::builder()
            .config(config)
            .output_file(&path)
            .log_to(printed.clone())
            .build()
            .unwrap(),
    );
    assert_eq!(uptrain.evaluator_name(), "offline");
    let manager = CallbackManager::new().with_handler(uptrain.clone());
    ask(&manager, 1);
    let rows = uptrain.flush();
    assert!(rows[0].estimate);
    assert_eq!(rows[0].evaluator, "offline");
    let lines = read_lines(&path);
    assert_eq!(lines[0]["estimate"], true);
    assert_eq!(lines[0]["evaluator"], "offline");
    let text = printed.text();
    assert!(
        text.contains("Factual Accuracy Score: 1.0 (offline lexical estimate)"),
        "{text}"
    );
}

/// A console that has gone away (a closed pipe): every write fails.
struct ClosedPipe(Arc<AtomicUsize>);

impl Write for ClosedPipe {
    fn write(&mut self, _: &[u8]) -> std::io::Result<usize> {
        self.0.fetch_add(1, Ordering::Relaxed);
        Err(std::io::ErrorKind::BrokenPipe.into())
    }
    fn flush(&mut self) -> std::io::Result<()> {
        Err(std::io::ErrorKind::BrokenPipe.into())
    }
}

#[test]
fn a_closed_console_loses_no_row() {
    let attempts = Arc::new(AtomicUsize::new(0));
    let uptrain = Arc::new(
        UptrainHandler::builder()
            .log_to(ClosedPipe(attempts.clone()))
            .build()
            .unwrap(),
    );
    let manager = CallbackManager::new().with_handler(uptrain.clone());
    for n in 0..3 {
        ask(&manager, n);
    }
    let rows = uptrain.flush();
    assert_eq!(rows.len(), 3);
    assert!(rows.iter().all(EvaluatedRow::is_ok));
    assert!(attempts.load(Ordering::Relaxed) >= 3);
}

#[cfg(target_os = "linux")]
#[test]
fn a_full_disk_loses_no_row_and_does_not_panic() {
    let uptrain = Arc::new(
        UptrainHandler::builder()
            .log_results(false)
            .output_file("/dev/full")
            .build()
            .unwrap(),
    );
    let manager = CallbackManager::new().with_handler(uptrain.clone());
    ask(&manager, 1);
    let rows = uptrain.flush();
    assert_eq!(rows.len(), 1);
    assert!(rows[0].is_ok());
}

/// Collects the evaluation results the core delivers, for one project name.
struct Listener {
    project: String,
    results: std::sync::Mutex<Vec<handler_core::evaluation::EvaluationResult>>,
}

impl handler_core::evaluation::EvaluationListener for Listener {
    fn on_evaluation(&self, result: &handler_core::evaluation::EvaluationResult) {
        if result.metadata.get("project").and_then(|p| p.as_str()) == Some(&self.project) {
            self.results.lock().unwrap().push(result.clone());
        }
    }
}

#[test]
fn each_check_of_each_row_is_published_through_the_core() {
    // Other tests publish too: this one listens to its own project name only.
    let listener = Arc::new(Listener {
        project: "published_rag".into(),
        results: std::sync::Mutex::new(Vec::new()),
    });
    let _subscription = handler_core::evaluation::subscribe(listener.clone());
    let uptrain = Arc::new(
        UptrainHandler::builder()
            .log_results(false)
            .project_name("published")
            .build()
            .unwrap(),
    );
    let manager = CallbackManager::new().with_handler(uptrain.clone());
    // The RAG chain nested in an outer chain, so its tree root is another run.
    let outer = manager
        .on_chain_start(None, &serde_json::json!({}), RunOptions::named("app"))
        .unwrap();
    let root = outer.run_id();
    let graded = answer(
        &outer.child(),
        "Where is Paris?",
        "Paris is in France.",
        "In France.",
    );
    outer.on_chain_end(&serde_json::json!({})).unwrap();
    let rows = uptrain.flush();
    assert_eq!(rows[0].root_run_id, Some(root));

    let results = listener.results.lock().unwrap().clone();
    let names: Vec<&str> = results.iter().map(|r| r.name.as_str()).collect();
    assert_eq!(
        names,
        [
            "context_relevance",
            "factual_accuracy",
            "response_completeness"
        ]
    );
    for result in &results {
        assert_eq!(result.evaluator, "uptrain");
        assert_eq!(result.run_id, Some(graded));
        assert_eq!(result.root_run_id, Some(root));
        assert_eq!(result.score, rows[0].scores[&result.name]);
        assert!(
            result
                .explanation
                .as_deref()
                .unwrap()
                .starts_with("Offline lexical heuristic")
        );
        assert_eq!(result.error, None);
        assert_eq!(result.metadata["evaluation"], "rag");
        assert_eq!(result.metadata["evaluator_kind"], "offline");
        assert_eq!(result.metadata["estimate"], true);
    }

    // A row that was not evaluated is published with its reason.
    let none = Arc::new(quiet(Hangs).project_name("published").build().unwrap());
    let manager = CallbackManager::new().with_handler(none.clone());
    answer(&manager, "q?", "c", "r");
    none.shutdown(Duration::from_millis(50));
    let results = listener.results.lock().unwrap().clone();
    let last = &results[results.len() - 1];
    assert_eq!(last.score, None);
    assert!(last.error.as_deref().unwrap().contains("handler shut down"));
    assert_eq!(last.metadata["evaluator_kind"], "hangs");
}

#[test]
fn results_logged_to_tracing_never_reach_the_console() {
    let printed = common::SharedBuffer::default();
    let uptrain = Arc::new(
        UptrainHandler::builder()
            .log_to(printed.clone())
            .results_log(uptrain_plugin::ResultsLog::Tracing)
            .build()
            .unwrap(),
    );
    let manager = CallbackManager::new().with_handler(uptrain.clone());
    ask(&manager, 1);
    assert_eq!(uptrain.flush().len(), 1);
    assert_eq!(printed.text(), "", "no question or answer on the console");
}
