//! Building and combining managers: configure, merge, set and clear handlers, handlers for
//! children only, listing the handlers themselves, and what run managers expose.
#![allow(clippy::unwrap_used, clippy::expect_used)] // tests fail loudly

mod common;

use std::sync::Arc;

use common::Probe;
use handler_core::error::*;
use handler_core::event::*;
use handler_core::manager::*;
use handler_core::payload::Metadata;
use handler_core::*;
use serde_json::json;

fn metadata(pairs: &[(&str, i64)]) -> Metadata {
    pairs
        .iter()
        .map(|(k, v)| ((*k).to_owned(), json!(v)))
        .collect()
}

#[test]
fn add_handler_takes_a_trait_object() {
    let probe: Arc<dyn CallbackHandler> = Arc::new(Probe::new("dyn"));
    let mut manager = CallbackManager::new();
    manager.add_handler(probe.clone());
    assert_eq!(manager.handler_names(), ["dyn"]);
    assert!(manager.remove_handler(&probe));
    assert!(manager.is_empty());
}

#[test]
fn a_child_handler_sees_child_runs_only() {
    let probe = Arc::new(Probe::new("children"));
    let mut manager = CallbackManager::new();
    manager.add_child_handler(probe.clone());
    assert!(manager.handler_names().is_empty());
    assert_eq!(manager.inheritable_handlers(), ["children"]);

    let chain = manager
        .on_chain_start(None, &json!({}), RunOptions::new())
        .unwrap();
    let tool = chain
        .child()
        .on_tool_start(None, "x", None, RunOptions::new())
        .unwrap();
    tool.on_tool_end(&json!("y")).unwrap();
    chain.on_chain_end(&json!({})).unwrap();
    assert_eq!(probe.kinds(), [EventKind::ToolStart, EventKind::ToolEnd]);
}

#[test]
fn configure_keeps_inheritable_parts_and_makes_local_ones_local() {
    let trace = Arc::new(Probe::new("trace"));
    let step = Arc::new(Probe::new("step"));
    let mut parent = CallbackManager::new().with_handler(trace.clone());
    parent
        .add_tags(["prod"])
        .add_metadata(metadata(&[("user", 1)]));
    let mut local = CallbackManager::new().with_handler(step.clone());
    local
        .add_tags(["step-1"])
        .add_metadata(metadata(&[("attempt", 2)]));

    let configured = CallbackManager::configure(Some(&parent), Some(&local));
    assert_eq!(configured.handler_names(), ["trace", "step"]);
    assert_eq!(configured.inheritable_handlers(), ["trace"]);
    assert_eq!(configured.tags(), ["prod", "step-1"]);
    assert_eq!(configured.inheritable_tags(), ["prod"]);
    assert_eq!(
        configured.metadata(),
        &metadata(&[("user", 1), ("attempt", 2)])
    );
    assert_eq!(configured.inheritable_metadata(), &metadata(&[("user", 1)]));

    // What flows into a child run is the inheritable part only.
    let chain = configured
        .on_chain_start(None, &json!({}), RunOptions::new())
        .unwrap();
    assert_eq!(chain.tags(), ["prod", "step-1"]);
    assert_eq!(chain.handler_names(), ["trace", "step"]);
    let child = chain.child();
    assert_eq!(child.handler_names(), ["trace"]);
    assert_eq!(child.tags(), ["prod"]);
    chain.on_chain_end(&json!({})).unwrap();

    assert_eq!(
        CallbackManager::configure(None, None).handler_names(),
        [] as [&str; 0]
    );
}

#[test]
fn merge_combines_without_duplicates_and_keeps_reach() {
    let shared = Arc::new(Probe::new("shared"));
    let only_a = Arc::new(Probe::new("a"));
    let only_b = Arc::new(Probe::new("b"));
    let mut a = CallbackManager::new()
        .with_handler(shared.clone())
        .with_local_handler(only_a.clone());
    a.add_tags(["x"]).add_metadata(metadata(&[("k", 1)]));
    let mut b = CallbackManager::new()
        .with_handler(shared.clone())
        .with_handler(only_b.clone());
    b.add_local_tags(["y", "x"])
        .add_metadata(metadata(&[("k", 2), ("j", 3)]));

    let merged = a.merge(&b);
    assert_eq!(merged.handler_names(), ["shared", "a", "b"]);
    assert_eq!(merged.inheritable_handlers(), ["shared", "b"]);
    assert_eq!(merged.metadata(), &metadata(&[("k", 2), ("j", 3)]));
    let mut tags = merged.tags().to_vec();
    tags.sort();
    assert_eq!(tags, ["x", "y"], "both managers' tags, without duplicates");
}

#[test]
fn set_and_clear_handlers() {
    let old = Arc::new(Probe::new("old"));
    let new = Arc::new(Probe::new("new"));
    let mut manager = CallbackManager::new().with_handler(old.clone());
    manager
        .set_handlers([SharedHandler::from_sync(new.clone())], false)
        .unwrap();
    assert_eq!(manager.handler_names(), ["new"]);
    assert!(manager.inheritable_handlers().is_empty());
    manager.clear_handlers();
    assert!(manager.is_empty());
    assert!(manager.inheritable_handlers().is_empty());
}

#[test]
fn a_sync_manager_refuses_async_handlers_and_stays_as_it_was() {
    struct Slow;
    impl AsyncCallbackHandler for Slow {}
    let kept = Arc::new(Probe::new("kept"));
    let mut manager = CallbackManager::new().with_handler(kept);
    let err = manager
        .set_handlers([SharedHandler::from_async(Arc::new(Slow))], true)
        .unwrap_err();
    assert!(matches!(
        err.kind(),
        CallbackErrorKind::AsyncHandlerInSyncManager { .. }
    ));
    assert_eq!(manager.handler_names(), ["kept"]);
}

#[test]
fn handlers_copy_from_one_manager_into_another() {
    let probe = Arc::new(Probe::new("probe"));
    let sync = CallbackManager::new().with_handler(probe.clone());
    let mut copy = AsyncCallbackManager::new();
    copy.set_handlers(sync.shared_handlers(), true).unwrap();
    assert_eq!(copy.handler_names(), ["probe"]);
    assert!(copy.find_handler::<Probe>().is_some());
    let listed = sync.inheritable_shared_handlers();
    assert_eq!(listed.len(), 1);
    assert!(listed[0].downcast::<Probe>().is_some());
}

#[test]
fn with_local_async_handler_is_local() {
    struct Quiet;
    impl AsyncCallbackHandler for Quiet {
        fn name(&self) -> &str {
            "quiet"
        }
    }
    let manager = AsyncCallbackManager::new().with_local_async_handler(Arc::new(Quiet));
    assert_eq!(manager.handler_names(), ["quiet"]);
    assert!(manager.inheritable_handlers().is_empty());
}

#[test]
fn run_managers_expose_tags_metadata_and_handlers() {
    let probe = Arc::new(Probe::new("probe"));
    let mut manager = CallbackManager::new().with_handler(probe);
    manager.add_tags(["t"]).add_metadata(metadata(&[("m", 1)]));
    let chain = manager
        .on_chain_start(None, &json!({}), RunOptions::new())
        .unwrap();
    assert_eq!(chain.tags(), ["t"]);
    assert_eq!(chain.metadata(), &metadata(&[("m", 1)]));
    assert_eq!(chain.handler_names(), ["probe"]);
    assert_eq!(chain.shared_handlers().len(), 1);
    chain.on_chain_end(&json!({})).unwrap();
}

#[tokio::test]
async fn an_async_child_handler_sees_child_runs_only() {
    #[derive(Default)]
    struct AsyncKinds(std::sync::Mutex<Vec<EventKind>>);
    impl AsyncCallbackHandler for AsyncKinds {
        fn name(&self) -> &str {
            "children"
        }
        async fn on_chain_start(&self, _: &ChainStart<'_>) -> HandlerResult {
            self.0.lock().unwrap().push(EventKind::ChainStart);
            Ok(())
        }
        async fn on_tool_start(&self, _: &ToolStart<'_>) -> HandlerResult {
            self.0.lock().unwrap().push(EventKind::ToolStart);
            Ok(())
        }
    }
    let handler = Arc::new(AsyncKinds::default());
    let mut manager = AsyncCallbackManager::new();
    manager.add_child_async_handler(handler.clone());
    assert!(manager.handler_names().is_empty());
    assert_eq!(manager.inheritable_handlers(), ["children"]);

    let chain = manager
        .on_chain_start(None, &json!({}), RunOptions::new())
        .await
        .unwrap();
    let tool = chain
        .child()
        .on_tool_start(None, "x", None, RunOptions::new())
        .await
        .unwrap();
    tool.on_tool_end(&json!("y")).await.unwrap();
    chain.on_chain_end(&json!({})).await.unwrap();
    assert_eq!(*handler.0.lock().unwrap(), [EventKind::ToolStart]);
}
