//! The evaluation bus: results published through the core reach every subscribed listener, a
//! subscription ends when dropped, a panicking listener does not stop the others.
//!
//! The bus is process-wide and the tests of this binary run in parallel: each test holds
//! [`BUS`] while it subscribes, so that the counts `publish` returns are its own, and each
//! listener keeps only the results of its test's evaluator.
#![allow(clippy::unwrap_used, clippy::expect_used)] // tests fail loudly

use std::sync::{Arc, Mutex, MutexGuard, PoisonError};

use handler_core::evaluation::{
    self, EvaluationListener, EvaluationResult, Subscription, has_listeners, publish, subscribe,
};
use handler_core::{CallbackManager, RunOptions};
use serde_json::json;

static BUS: Mutex<()> = Mutex::new(());

/// Holds the bus for one test (a failed test poisons the lock; the next still runs).
fn hold_bus() -> MutexGuard<'static, ()> {
    BUS.lock().unwrap_or_else(PoisonError::into_inner)
}

/// Keeps the results of one evaluator.
struct Keep {
    evaluator: &'static str,
    results: Mutex<Vec<EvaluationResult>>,
}

impl Keep {
    fn new(evaluator: &'static str) -> Arc<Self> {
        Arc::new(Self {
            evaluator,
            results: Mutex::new(Vec::new()),
        })
    }

    fn results(&self) -> Vec<EvaluationResult> {
        self.results.lock().unwrap().clone()
    }

    fn names(&self) -> Vec<String> {
        self.results().into_iter().map(|r| r.name).collect()
    }
}

impl EvaluationListener for Keep {
    fn on_evaluation(&self, result: &EvaluationResult) {
        if result.evaluator == self.evaluator {
            self.results.lock().unwrap().push(result.clone());
        }
    }
}

/// Panics on every result of its evaluator.
struct Panics(&'static str);

impl EvaluationListener for Panics {
    fn on_evaluation(&self, result: &EvaluationResult) {
        if result.evaluator == self.0 {
            panic!("listener bug");
        }
    }
}

#[test]
fn a_subscribed_listener_gets_every_result_until_it_unsubscribes() {
    let _bus = hold_bus();
    let keep = Keep::new("eval-subscribe");
    let subscription = subscribe(keep.clone());
    assert!(has_listeners());

    let result = EvaluationResult::new("eval-subscribe", "relevance")
        .with_score(0.75)
        .with_label("relevant")
        .with_explanation("mentions Paris")
        .with_metadata("project", "demo");
    assert_eq!(publish(&result), 1);
    assert_eq!(
        publish(&EvaluationResult::new("eval-subscribe", "tone").with_error("timeout")),
        1
    );
    let results = keep.results();
    assert_eq!(results.len(), 2);
    assert_eq!(results[0], result, "delivered as published");
    assert_eq!(results[1].score, None);
    assert_eq!(results[1].error.as_deref(), Some("timeout"));

    drop(subscription);
    assert!(!has_listeners());
    assert_eq!(
        publish(&EvaluationResult::new("eval-subscribe", "after")),
        0,
        "nobody listens any more"
    );
    assert_eq!(keep.names(), ["relevance", "tone"]);
}

#[test]
fn publish_counts_the_listeners_it_reached_in_subscription_order() {
    let _bus = hold_bus();
    assert_eq!(publish(&EvaluationResult::new("eval-count", "none")), 0);

    /// Appends its label to a shared log.
    struct Logs(&'static str, Arc<Mutex<Vec<&'static str>>>);
    impl EvaluationListener for Logs {
        fn on_evaluation(&self, result: &EvaluationResult) {
            if result.evaluator == "eval-count" {
                self.1.lock().unwrap().push(self.0);
            }
        }
    }

    let log = Arc::new(Mutex::new(Vec::new()));
    let first = subscribe(Arc::new(Logs("first", log.clone())));
    let second = subscribe(Arc::new(Logs("second", log.clone())));
    let third = subscribe(Arc::new(Logs("third", log.clone())));
    assert_eq!(publish(&EvaluationResult::new("eval-count", "a")), 3);
    assert_eq!(*log.lock().unwrap(), ["first", "second", "third"]);

    drop(second);
    log.lock().unwrap().clear();
    assert_eq!(publish(&EvaluationResult::new("eval-count", "b")), 2);
    assert_eq!(
        *log.lock().unwrap(),
        ["first", "third"],
        "only `second` left"
    );
    drop((first, third));
    assert_eq!(publish(&EvaluationResult::new("eval-count", "c")), 0);
}

#[test]
fn a_panicking_listener_does_not_stop_the_others() {
    let _bus = hold_bus();
    let before = Keep::new("eval-panic");
    let after = Keep::new("eval-panic");
    let _before = subscribe(before.clone());
    let _panics = subscribe(Arc::new(Panics("eval-panic")));
    let _after = subscribe(after.clone());

    for name in ["one", "two"] {
        assert_eq!(
            publish(&EvaluationResult::new("eval-panic", name)),
            3,
            "the panicking listener was reached too"
        );
    }
    assert_eq!(before.names(), ["one", "two"]);
    assert_eq!(
        after.names(),
        ["one", "two"],
        "after the panicking listener"
    );
}

#[test]
fn a_listener_may_unsubscribe_or_subscribe_from_inside_its_callback() {
    let _bus = hold_bus();

    /// Drops its own subscription on its first result, and subscribes a newcomer.
    struct Once {
        own: Mutex<Option<Subscription>>,
        newcomer: Arc<Keep>,
        newcomer_subscription: Mutex<Option<Subscription>>,
        calls: Mutex<usize>,
    }
    impl EvaluationListener for Once {
        fn on_evaluation(&self, result: &EvaluationResult) {
            if result.evaluator != "eval-reentrant" {
                return;
            }
            *self.calls.lock().unwrap() += 1;
            drop(self.own.lock().unwrap().take());
            *self.newcomer_subscription.lock().unwrap() = Some(subscribe(self.newcomer.clone()));
        }
    }

    let newcomer = Keep::new("eval-reentrant");
    let once = Arc::new(Once {
        own: Mutex::new(None),
        newcomer: newcomer.clone(),
        newcomer_subscription: Mutex::new(None),
        calls: Mutex::new(0),
    });
    *once.own.lock().unwrap() = Some(subscribe(once.clone()));

    assert_eq!(publish(&EvaluationResult::new("eval-reentrant", "a")), 1);
    assert!(
        newcomer.results().is_empty(),
        "subscribed after this publish began"
    );
    assert_eq!(publish(&EvaluationResult::new("eval-reentrant", "b")), 1);
    assert_eq!(*once.calls.lock().unwrap(), 1, "unsubscribed itself");
    assert_eq!(newcomer.names(), ["b"]);
    drop(once.newcomer_subscription.lock().unwrap().take());
    assert!(!has_listeners());
}

#[test]
fn results_published_from_many_threads_all_arrive() {
    let _bus = hold_bus();
    let keep = Keep::new("eval-threads");
    let _subscription = subscribe(keep.clone());
    std::thread::scope(|scope| {
        for t in 0..4 {
            scope.spawn(move || {
                for i in 0..50 {
                    let result = EvaluationResult::new("eval-threads", format!("{t}-{i}"));
                    assert_eq!(publish(&result), 1);
                }
            });
        }
    });
    let mut names = keep.names();
    names.sort();
    names.dedup();
    assert_eq!(names.len(), 200);
}

#[test]
fn with_run_carries_the_run_and_its_root() {
    let manager = CallbackManager::new();
    let chain = manager
        .on_chain_start(None, &json!({}), RunOptions::new())
        .unwrap();
    let retriever = chain
        .child()
        .on_tool_start(None, "x", None, RunOptions::new())
        .unwrap()
        .child()
        .on_retriever_start(None, "q", RunOptions::new())
        .unwrap();

    let graded = EvaluationResult::new("eval-ids", "context").with_run(retriever.context());
    assert_eq!(graded.run_id, Some(retriever.run_id()));
    assert_eq!(
        graded.root_run_id,
        Some(chain.run_id()),
        "a grandchild's root"
    );

    let root = EvaluationResult::new("eval-ids", "answer").with_run(chain.context());
    assert_eq!(root.run_id, Some(chain.run_id()));
    assert_eq!(
        root.root_run_id,
        Some(chain.run_id()),
        "a root run is its own root"
    );

    let by_ids = EvaluationResult::new("eval-ids", "x").with_run_ids(retriever.run_id(), None);
    assert_eq!(by_ids.run_id, Some(retriever.run_id()));
    assert_eq!(by_ids.root_run_id, None);

    // The ids survive a trip through JSON, and absent fields are left out.
    let text = serde_json::to_string(&graded).unwrap();
    let back: EvaluationResult = serde_json::from_str(&text).unwrap();
    assert_eq!(back, graded);
    let bare = serde_json::to_value(EvaluationResult::new("eval-ids", "bare")).unwrap();
    assert_eq!(bare, json!({"evaluator": "eval-ids", "name": "bare"}));

    retriever.on_retriever_end(&[]).unwrap();
    chain.on_chain_end(&json!({})).unwrap();
}

#[test]
fn published_results_keep_their_run_ids() {
    let _bus = hold_bus();
    let keep = Keep::new("eval-published-ids");
    let _subscription = evaluation::subscribe(keep.clone());
    let manager = CallbackManager::new();
    let chain = manager
        .on_chain_start(None, &json!({}), RunOptions::new())
        .unwrap();
    let llm = chain
        .child()
        .on_llm_start(None, "p", RunOptions::new())
        .unwrap();
    evaluation::publish(
        &EvaluationResult::new("eval-published-ids", "faithfulness")
            .with_run(llm.context())
            .with_score(1.0),
    );
    let results = keep.results();
    assert_eq!(results.len(), 1);
    assert_eq!(results[0].run_id, Some(llm.run_id()));
    assert_eq!(results[0].root_run_id, Some(chain.run_id()));
    assert_eq!(results[0].score, Some(1.0));
}
