//! The current run: entered on a thread, carried by a future across awaits and tasks, and the
//! child manager `current()` gives.
#![allow(clippy::unwrap_used, clippy::expect_used)] // tests fail loudly

mod common;

use std::sync::Arc;

use common::Probe;
use handler_core::event::*;
use handler_core::manager::*;
use handler_core::*;
use serde_json::json;

/// Starts a tool run from whatever run is current, without being given a manager.
fn tool_from_current() -> Option<Uuid> {
    let manager = CallbackManager::current()?;
    let tool = manager
        .on_tool_start(None, "x", None, RunOptions::named("deep"))
        .unwrap();
    let id = tool.run_id();
    tool.on_tool_end(&json!("y")).unwrap();
    Some(id)
}

#[test]
fn nothing_is_current_outside_a_run() {
    assert!(CallbackManager::current().is_none());
    assert!(AsyncCallbackManager::current().is_none());
    assert_eq!(tool_from_current(), None);
}

#[test]
fn runs_started_from_the_current_run_are_its_children() {
    let probe = Arc::new(Probe::new("probe"));
    let manager = CallbackManager::new().with_handler(probe.clone());
    let chain = manager
        .on_chain_start(None, &json!({}), RunOptions::named("outer"))
        .unwrap();
    let tool_id = chain.in_scope(tool_from_current).unwrap();
    let chain_id = chain.run_id();
    chain.on_chain_end(&json!({})).unwrap();

    let tool_start = probe
        .seen()
        .into_iter()
        .find(|s| s.kind == EventKind::ToolStart)
        .unwrap();
    assert_eq!(tool_start.run_id, tool_id);
    assert_eq!(tool_start.parent_run_id, Some(chain_id));
    assert!(CallbackManager::current().is_none(), "left after the scope");
}

#[test]
fn entering_nests_and_restores_the_outer_run() {
    let manager = CallbackManager::new();
    let outer = manager
        .on_chain_start(None, &json!({}), RunOptions::new())
        .unwrap();
    let _outer_guard = outer.enter();
    let inner = CallbackManager::current()
        .unwrap()
        .on_chain_start(None, &json!({}), RunOptions::new())
        .unwrap();
    assert_eq!(inner.parent_run_id(), Some(outer.run_id()));
    {
        let _inner_guard = inner.enter();
        assert_eq!(
            CallbackManager::current().unwrap().parent_run_id(),
            Some(inner.run_id())
        );
    }
    assert_eq!(
        CallbackManager::current().unwrap().parent_run_id(),
        Some(outer.run_id())
    );
}

#[test]
fn a_run_is_current_on_its_thread_only() {
    let chain = CallbackManager::new()
        .on_chain_start(None, &json!({}), RunOptions::new())
        .unwrap();
    let _guard = chain.enter();
    let elsewhere = std::thread::spawn(|| CallbackManager::current().is_none())
        .join()
        .unwrap();
    assert!(elsewhere);
}

#[test]
fn custom_events_dispatch_to_the_current_run() {
    let probe = Arc::new(Probe::new("probe"));
    let chain = CallbackManager::new()
        .with_handler(probe.clone())
        .on_chain_start(None, &json!({}), RunOptions::new())
        .unwrap();
    chain.in_scope(|| {
        CallbackManager::current()
            .unwrap()
            .dispatch_custom_event("progress", &json!(50))
            .unwrap();
    });
    let custom = probe
        .seen()
        .into_iter()
        .find(|s| s.kind == EventKind::CustomEvent)
        .unwrap();
    assert_eq!(custom.run_id, chain.run_id());
}

#[test]
fn a_sync_run_is_not_current_for_the_async_manager() {
    let chain = CallbackManager::new()
        .on_chain_start(None, &json!({}), RunOptions::new())
        .unwrap();
    chain.in_scope(|| {
        assert!(CallbackManager::current().is_some());
        assert!(AsyncCallbackManager::current().is_none());
    });
}

async fn retrieve_from_current(query: &str) -> Option<Uuid> {
    let manager = AsyncCallbackManager::current()?;
    let run = manager
        .on_retriever_start(None, query, RunOptions::new())
        .await
        .unwrap();
    tokio::task::yield_now().await; // an await point inside the run
    assert!(
        AsyncCallbackManager::current().is_some(),
        "still current after an await"
    );
    let id = run.run_id();
    run.on_retriever_end(&[]).await.unwrap();
    Some(id)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_instrumented_future_carries_the_run_across_awaits_and_tasks() {
    let probe = Arc::new(Probe::new("probe"));
    let chain = AsyncCallbackManager::new()
        .with_handler(probe.clone())
        .on_chain_start(None, &json!({}), RunOptions::named("rag"))
        .await
        .unwrap();

    let here = chain.instrument(retrieve_from_current("a")).await.unwrap();
    let spawned = tokio::spawn(chain.instrument(retrieve_from_current("b")))
        .await
        .unwrap()
        .unwrap();
    assert!(
        AsyncCallbackManager::current().is_none(),
        "the run is current only inside the instrumented future"
    );
    let chain_id = chain.run_id();
    chain.on_chain_end(&json!({})).await.unwrap();

    let starts: Vec<_> = probe
        .seen()
        .into_iter()
        .filter(|s| s.kind == EventKind::RetrieverStart)
        .collect();
    assert_eq!(starts.len(), 2);
    for (start, id) in starts.iter().zip([here, spawned]) {
        assert_eq!(start.run_id, id);
        assert_eq!(start.parent_run_id, Some(chain_id));
    }
}

#[test]
fn runs_nested_through_the_current_run_share_the_root_id() {
    let root = CallbackManager::new()
        .on_chain_start(None, &json!({}), RunOptions::new())
        .unwrap();
    let root_id = root.run_id();
    root.in_scope(|| {
        let child = CallbackManager::current()
            .unwrap()
            .on_chain_start(None, &json!({}), RunOptions::new())
            .unwrap();
        child.in_scope(|| {
            let grandchild = CallbackManager::current()
                .unwrap()
                .on_llm_start(None, "p", RunOptions::new())
                .unwrap();
            assert_eq!(grandchild.context().root_id(), root_id);
            assert_eq!(grandchild.parent_run_id(), Some(child.run_id()));
            grandchild.on_llm_end(&Default::default()).unwrap();
        });
        child.on_chain_end(&json!({})).unwrap();
    });
    root.on_chain_end(&json!({})).unwrap();
}

#[test]
fn an_entered_manager_starts_root_runs_and_a_run_inside_takes_over() {
    let probe = Arc::new(Probe::new("probe"));
    let manager = CallbackManager::new().with_handler(probe.clone());
    manager.in_scope(|| {
        let root = CallbackManager::current()
            .unwrap()
            .on_chain_start(None, &json!({}), RunOptions::new())
            .unwrap();
        assert_eq!(root.parent_run_id(), None);
        let tool_id = root.in_scope(tool_from_current).unwrap();
        assert!(
            CallbackManager::current()
                .unwrap()
                .parent_run_id()
                .is_none(),
            "the manager is current again after the run is left"
        );
        let root_id = root.run_id();
        root.on_chain_end(&json!({})).unwrap();
        let tool = probe
            .seen()
            .into_iter()
            .find(|s| s.run_id == tool_id)
            .unwrap();
        assert_eq!(tool.parent_run_id, Some(root_id));
    });
    assert!(CallbackManager::current().is_none());
}

#[test]
fn a_panic_inside_an_instrumented_future_does_not_leak_its_run_to_the_next_task() {
    // One worker thread: the next task runs where the panicking one did.
    let runtime = tokio::runtime::Builder::new_current_thread()
        .build()
        .unwrap();
    runtime.block_on(async {
        let chain = AsyncCallbackManager::new()
            .on_chain_start(None, &json!({}), RunOptions::named("request"))
            .await
            .unwrap();
        let request = chain.instrument(async {
            assert!(AsyncCallbackManager::current().is_some());
            panic!("request handler bug");
        });
        let joined = tokio::spawn(request).await;
        assert!(joined.unwrap_err().is_panic());

        let next_request = tokio::spawn(async { AsyncCallbackManager::current().is_none() });
        assert!(
            next_request.await.unwrap(),
            "the panicked request's run is still current for the next task"
        );
        assert!(AsyncCallbackManager::current().is_none());
        chain.on_chain_end(&json!({})).await.unwrap();
    });
}

#[test]
fn a_panic_inside_an_instrumented_manager_future_restores_what_was_current() {
    let mut outer = AsyncCallbackManager::new();
    outer.add_tags(["outer"]);
    let _entered = outer.enter();
    let panicked = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| {
        futures_executor::block_on(AsyncCallbackManager::new().instrument(async {
            panic!("bug");
        }))
    }));
    assert!(panicked.is_err());
    let current = AsyncCallbackManager::current().expect("the outer manager is current again");
    assert_eq!(current.inheritable_tags(), ["outer"]);
}
