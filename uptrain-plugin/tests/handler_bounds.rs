//! The handler's bounds by memory and the user's choice when they are reached: batch work in
//! wait mode gets every row from one flush; refuse mode refuses and counts; waits end at their
//! deadline, sync and async; refusals are recorded by the worker, so a blocked console never
//! blocks the thread that emits events; `Duration::MAX` as a timeout waits, never panics; two
//! handlers in one process keep to the runs they saw.
#![allow(clippy::unwrap_used, clippy::expect_used)] // tests fail loudly

mod common;

use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Condvar, Mutex, mpsc};
use std::time::Duration;

use common::{Gated, Slow, answer};
use handler_core::CallbackManager;
use tokio::sync::Semaphore;
use uptrain_plugin::{
    Check, EvaluatedRow, EvaluationError, OfflineEvaluator, UptrainHandler, UptrainHandlerBuilder,
    WhenFull,
};

/// A typical RAG answer: a question, about 1 KiB of context, a one-line response.
fn ask(manager: &CallbackManager, tag: &str, n: usize) {
    let context = "Paris is the capital and largest city of France, on the Seine. ".repeat(16);
    answer(
        manager,
        &format!("What is the capital of France? ({tag} {n})"),
        &context,
        "The capital of France is Paris.",
    );
}

fn offline() -> UptrainHandlerBuilder {
    UptrainHandler::builder()
        .evaluator(Arc::new(OfflineEvaluator::new()))
        .log_results(false)
}

fn gated(gate: &Arc<Semaphore>) -> UptrainHandlerBuilder {
    UptrainHandler::builder()
        .evaluator(Arc::new(Gated(gate.clone())))
        .log_results(false)
}

fn question(row: &EvaluatedRow) -> &str {
    row.input["question"].as_str().unwrap()
}

fn refused(row: &EvaluatedRow) -> bool {
    Check::RAG.iter().all(|c| {
        row.errors
            .get(c.as_str())
            .is_some_and(|e| e.starts_with("not evaluated: queue full"))
    })
}

/// Sends `threads` x `each` answers through one handler, then flushes once.
fn push_and_flush(builder: UptrainHandlerBuilder, threads: usize, each: usize) {
    let uptrain = Arc::new(builder.build().unwrap());
    let manager = Arc::new(CallbackManager::new().with_handler(uptrain.clone()));
    let senders: Vec<_> = (0..threads)
        .map(|t| {
            let manager = manager.clone();
            std::thread::spawn(move || {
                for n in 0..each {
                    ask(&manager, &format!("t{t}"), n);
                }
            })
        })
        .collect();
    for sender in senders {
        sender.join().unwrap();
    }
    let report = uptrain.flush_timeout(Duration::MAX);
    let total = threads * each;
    let stats = uptrain.stats();
    assert_eq!(report.rows.len(), total, "{stats:?}");
    assert!(report.is_complete(), "{report:?}");
    assert!(report.rows.iter().all(EvaluatedRow::is_ok));
    assert_eq!(
        (
            stats.submitted,
            stats.evaluated,
            stats.refused,
            stats.pending
        ),
        (total as u64, total as u64, 0, 0),
        "{stats:?}"
    );
    // Each thread's answers come back in the order it sent them.
    for t in 0..threads {
        let tag = format!("(t{t} ");
        let mine: Vec<&str> = report
            .rows
            .iter()
            .map(question)
            .filter(|q| q.contains(&tag))
            .collect();
        assert_eq!(mine.len(), each);
        assert!(mine[each - 1].ends_with(&format!("(t{t} {})", each - 1)));
    }
}

#[test]
fn batch_work_gets_every_row_from_one_flush() {
    // 64 KiB of pending room holds a few dozen rows: the senders really wait.
    let small = || {
        offline()
            .pending_bytes(64 << 10)
            .when_full(WhenFull::Wait(Duration::MAX))
    };
    push_and_flush(small(), 1, 4_000);
    push_and_flush(small(), 8, 500);
    // With the default budget, 4,000 answers fit without waiting, even in refuse mode.
    push_and_flush(offline(), 1, 4_000);
}

#[test]
fn refuse_mode_refuses_under_a_tiny_budget_and_counts_it() {
    let gate = Arc::new(Semaphore::new(0));
    let uptrain = Arc::new(gated(&gate).pending_bytes(1).build().unwrap());
    let manager = CallbackManager::new().with_handler(uptrain.clone());
    for n in 0..50 {
        ask(&manager, "r", n);
    }
    let stats = uptrain.stats();
    assert_eq!((stats.refused, stats.pending), (49, 1), "{stats:?}");
    gate.add_permits(1);
    let rows = uptrain.flush();
    assert_eq!(rows.len(), 50);
    assert!(rows[0].is_ok(), "the first answer fit");
    assert!(rows[1..].iter().all(refused));
    assert!(
        rows[1].errors["context_relevance"].contains("(1 evaluations waiting)"),
        "{:?}",
        rows[1].errors
    );
}

#[test]
fn a_sync_wait_for_room_ends_at_its_deadline_or_when_room_comes() {
    // With a deadline: the second answer waits, then is refused.
    let gate = Arc::new(Semaphore::new(0));
    let uptrain = Arc::new(
        gated(&gate)
            .pending_bytes(1)
            .when_full(WhenFull::Wait(Duration::from_millis(100)))
            .build()
            .unwrap(),
    );
    let manager = CallbackManager::new().with_handler(uptrain.clone());
    ask(&manager, "d", 0);
    ask(&manager, "d", 1);
    assert_eq!(uptrain.stats().refused, 1);
    gate.add_permits(1);
    let rows = uptrain.flush();
    assert!(rows[0].is_ok() && refused(&rows[1]));

    // Without a deadline: the second answer waits until the first is graded.
    let gate = Arc::new(Semaphore::new(0));
    let uptrain = Arc::new(
        gated(&gate)
            .pending_bytes(1)
            .when_full(WhenFull::Wait(Duration::MAX))
            .build()
            .unwrap(),
    );
    let manager = Arc::new(CallbackManager::new().with_handler(uptrain.clone()));
    ask(&manager, "w", 0);
    let (sent, done) = mpsc::channel();
    let sender = {
        let manager = manager.clone();
        std::thread::spawn(move || {
            ask(&manager, "w", 1);
            sent.send(()).unwrap();
        })
    };
    assert_eq!(
        done.recv_timeout(Duration::from_millis(100)),
        Err(mpsc::RecvTimeoutError::Timeout),
        "the sender waits for room"
    );
    gate.add_permits(2);
    done.recv_timeout(Duration::from_secs(30))
        .expect("room came");
    sender.join().unwrap();
    let rows = uptrain.flush();
    assert_eq!(rows.len(), 2);
    assert!(rows.iter().all(EvaluatedRow::is_ok));
    assert_eq!(uptrain.stats().refused, 0);
}

#[tokio::test(flavor = "current_thread")]
async fn an_async_wait_for_room_awaits_without_blocking_its_runtime() {
    let rows = || vec![common::full_row("async")];
    let gate = Arc::new(Semaphore::new(0));
    let uptrain = gated(&gate)
        .pending_bytes(1)
        .when_full(WhenFull::Wait(Duration::from_millis(50)))
        .build()
        .unwrap();
    let ticks = AtomicUsize::new(0);
    let first = uptrain.uptrain_evaluate("first", rows(), vec![Check::ContextRelevance]);
    let second = uptrain.uptrain_evaluate("second", rows(), vec![Check::ContextRelevance]);
    let ticker = async {
        // Runs while `second` waits: the runtime's only thread is free.
        for _ in 0..5 {
            tokio::task::yield_now().await;
            ticks.fetch_add(1, Ordering::Relaxed);
        }
    };
    let opener = async {
        // Opened only after `second` gave up, so `first` holds the room till then.
        tokio::time::sleep(Duration::from_millis(200)).await;
        gate.add_permits(1);
    };
    let (first, second, (), ()) = tokio::join!(first, second, ticker, opener);
    assert_eq!(ticks.load(Ordering::Relaxed), 5);
    assert!(first.unwrap()[0].is_ok());
    assert!(
        matches!(second, Err(EvaluationError::QueueFull { .. })),
        "{second:?}"
    );

    // Without a deadline the second call gets its turn.
    let gate = Arc::new(Semaphore::new(0));
    let uptrain = gated(&gate)
        .pending_bytes(1)
        .when_full(WhenFull::Wait(Duration::MAX))
        .build()
        .unwrap();
    let first = uptrain.uptrain_evaluate("first", rows(), vec![Check::ContextRelevance]);
    let second = uptrain.uptrain_evaluate("second", rows(), vec![Check::ContextRelevance]);
    let opener = async {
        tokio::task::yield_now().await;
        gate.add_permits(2);
    };
    let (first, second, ()) = tokio::join!(first, second, opener);
    assert!(first.unwrap()[0].is_ok());
    assert!(second.unwrap()[0].is_ok());
    assert_eq!(uptrain.stats().refused, 0);
}

#[test]
fn flush_returns_what_the_kept_budget_holds_and_counts_the_rest() {
    let uptrain = Arc::new(offline().kept_bytes(32 << 10).build().unwrap());
    let manager = CallbackManager::new().with_handler(uptrain.clone());
    for n in 0..100 {
        ask(&manager, "k", n);
    }
    let report = uptrain.flush_timeout(Duration::MAX);
    assert!(report.not_kept > 0, "32 KiB holds fewer than 100 rows");
    assert_eq!(report.rows.len() as u64 + report.not_kept, 100);
    assert!(!report.is_complete());
    assert!(
        question(&report.rows[report.rows.len() - 1]).ends_with("(k 99)"),
        "the newest are kept"
    );
    assert!(uptrain.stats().rows_not_kept >= report.not_kept);
    assert!(uptrain.stats().evaluated == 100);
    let again = uptrain.flush_timeout(Duration::MAX);
    assert_eq!((again.rows.len(), again.not_kept), (0, 0));
}

/// A console that blocks every write until it is opened (a stdout nobody reads).
#[derive(Clone, Default)]
struct BlockedConsole(Arc<(Mutex<bool>, Condvar)>);

impl BlockedConsole {
    fn open(&self) {
        *self.0.0.lock().unwrap() = true;
        self.0.1.notify_all();
    }
}

impl std::io::Write for BlockedConsole {
    fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
        let mut open = self.0.0.lock().unwrap();
        while !*open {
            open = self.0.1.wait(open).unwrap();
        }
        Ok(buf.len())
    }

    fn flush(&mut self) -> std::io::Result<()> {
        Ok(())
    }
}

#[test]
fn a_full_queue_with_a_blocked_console_never_blocks_the_emitter() {
    let gate = Arc::new(Semaphore::new(0));
    let console = BlockedConsole::default();
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("rows.jsonl");
    let uptrain = Arc::new(
        UptrainHandler::builder()
            .evaluator(Arc::new(Gated(gate.clone())))
            .log_to(console.clone())
            .output_file(&path)
            .pending_bytes(1)
            .build()
            .unwrap(),
    );
    let manager = Arc::new(CallbackManager::new().with_handler(uptrain.clone()));
    const ANSWERS: usize = 3_000;
    let (sent, done) = mpsc::channel();
    {
        let manager = manager.clone();
        std::thread::spawn(move || {
            for n in 0..ANSWERS {
                ask(&manager, "b", n);
            }
            sent.send(()).unwrap();
        });
    }
    done.recv_timeout(Duration::from_secs(60))
        .expect("emitting events blocked on the console");
    let stats = uptrain.stats();
    assert_eq!(stats.refused, ANSWERS as u64 - 1, "{stats:?}");
    // The worker is stuck printing the first refusal; the hand-off queue then filled, and the
    // rest were only counted.
    assert!(stats.refused_unrecorded > 0, "{stats:?}");
    assert_eq!(
        stats.submitted,
        stats.refused + stats.pending as u64,
        "{stats:?}"
    );

    console.open();
    gate.add_permits(1);
    let report = uptrain.flush_timeout(Duration::MAX);
    let stats = uptrain.stats();
    assert_eq!(report.not_kept, stats.refused_unrecorded);
    assert_eq!(
        report.rows.len() as u64,
        ANSWERS as u64 - stats.refused_unrecorded
    );
    assert!(report.rows[0].is_ok());
    assert!(report.rows[1..].iter().all(refused));
    assert_eq!(stats.evaluated + stats.refused, ANSWERS as u64);
    let lines = std::fs::read_to_string(&path).unwrap().lines().count();
    assert_eq!(
        lines,
        report.rows.len(),
        "the worker wrote every recorded row"
    );
}

#[test]
fn the_longest_timeouts_wait_and_never_panic() {
    // flush_timeout(MAX) and shutdown(MAX) wait for the work, whatever it takes.
    let uptrain = Arc::new(
        UptrainHandler::builder()
            .evaluator(Arc::new(Slow(Duration::from_millis(50))))
            .log_results(false)
            .evaluation_deadline(Duration::MAX)
            .build()
            .unwrap(),
    );
    let manager = CallbackManager::new().with_handler(uptrain.clone());
    for n in 0..3 {
        ask(&manager, "m", n);
    }
    let report = uptrain.flush_timeout(Duration::MAX);
    assert_eq!(report.rows.len(), 3);
    assert!(report.is_complete());
    for n in 3..6 {
        ask(&manager, "m", n);
    }
    let report = uptrain.shutdown(Duration::MAX);
    assert_eq!(
        (report.pending, report.finished, report.given_up),
        (3, 3, 0)
    );

    // A drop timeout of MAX waits for the evaluations to finish.
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("rows.jsonl");
    let uptrain = Arc::new(
        UptrainHandler::builder()
            .evaluator(Arc::new(Slow(Duration::from_millis(50))))
            .log_results(false)
            .output_file(&path)
            .drop_timeout(Duration::MAX)
            .build()
            .unwrap(),
    );
    let manager = CallbackManager::new().with_handler(uptrain.clone());
    for n in 0..3 {
        ask(&manager, "d", n);
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
    let text = std::fs::read_to_string(&path).unwrap();
    assert_eq!(text.lines().count(), 3);
    assert!(!text.contains("shut down"), "nothing was given up: {text}");
}

#[test]
fn two_handlers_in_one_process_keep_to_the_runs_they_saw() {
    let tenant = |name: &str| Arc::new(offline().project_name(name).build().unwrap());
    let (a, b) = (tenant("tenant_a"), tenant("tenant_b"));

    // One manager each.
    let manager_a = CallbackManager::new().with_handler(a.clone());
    let manager_b = CallbackManager::new().with_handler(b.clone());
    for n in 0..3 {
        ask(&manager_a, "a", n);
    }
    for n in 0..5 {
        ask(&manager_b, "b", n);
    }
    // Both on one manager: each grades what it saw there too.
    let both = CallbackManager::new()
        .with_handler(a.clone())
        .with_handler(b.clone());
    for n in 0..2 {
        ask(&both, "both", n);
    }

    let (rows_a, rows_b) = (a.flush(), b.flush());
    let tags = |rows: &[EvaluatedRow]| -> Vec<String> {
        rows.iter()
            .map(|r| question(r).rsplit('(').next().unwrap().to_owned())
            .collect()
    };
    assert_eq!(
        tags(&rows_a),
        ["a 0)", "a 1)", "a 2)", "both 0)", "both 1)"]
    );
    assert_eq!(
        tags(&rows_b),
        ["b 0)", "b 1)", "b 2)", "b 3)", "b 4)", "both 0)", "both 1)"]
    );
    assert!(rows_a.iter().all(|r| r.project == "tenant_a_rag"));
    assert!(rows_b.iter().all(|r| r.project == "tenant_b_rag"));
    assert_eq!((a.stats().submitted, b.stats().submitted), (5, 7));
    assert_eq!(a.results().keys().collect::<Vec<_>>(), ["tenant_a_rag"]);
    assert_eq!(b.results()["tenant_b_rag"].len(), 7);
}

/// An evaluator that, on its first evaluation, emits one more answer into a pipeline that
/// holds its own handler (as an instrumented judge client could).
struct Reentrant(Mutex<Option<Arc<CallbackManager>>>);

impl uptrain_plugin::Evaluator for Reentrant {
    fn name(&self) -> &'static str {
        "reentrant"
    }

    fn evaluate<'a>(
        &'a self,
        request: &'a uptrain_plugin::EvaluationRequest,
    ) -> futures_util::future::BoxFuture<
        'a,
        Result<uptrain_plugin::Evaluation, uptrain_plugin::EvaluationError>,
    > {
        let manager = self.0.lock().unwrap().take();
        if let Some(manager) = manager {
            ask(&manager, "nested", 0);
        }
        Box::pin(async move { OfflineEvaluator::new().evaluate(request).await })
    }
}

#[test]
fn the_evaluation_thread_never_waits_for_room_it_would_free() {
    let evaluator = Arc::new(Reentrant(Mutex::new(None)));
    let uptrain = Arc::new(
        UptrainHandler::builder()
            .evaluator(evaluator.clone())
            .log_results(false)
            .pending_bytes(1)
            .when_full(WhenFull::Wait(Duration::MAX))
            .build()
            .unwrap(),
    );
    let manager = Arc::new(CallbackManager::new().with_handler(uptrain.clone()));
    *evaluator.0.lock().unwrap() = Some(manager.clone());
    let (done, flushed) = mpsc::channel();
    {
        let uptrain = uptrain.clone();
        std::thread::spawn(move || {
            ask(&manager, "outer", 0);
            // The nested answer is enqueued while the outer one is graded: before the
            // outer's row is settled, so the second flush waits for it.
            let mut rows = uptrain.flush();
            rows.extend(uptrain.flush());
            done.send(rows).unwrap();
        });
    }
    let rows = flushed
        .recv_timeout(Duration::from_secs(30))
        .expect("the evaluation thread waited for itself");
    assert_eq!(rows.len(), 2);
    assert!(question(&rows[0]).ends_with("(outer 0)") && rows[0].is_ok());
    assert!(question(&rows[1]).ends_with("(nested 0)") && refused(&rows[1]));
}
