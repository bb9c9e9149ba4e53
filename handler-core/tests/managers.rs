//! Managers and run managers: inheritance, parent ids, per-prompt runs, tags and metadata,
//! custom events.
#![allow(clippy::unwrap_used, clippy::expect_used)] // tests fail loudly

mod common;

use std::sync::Arc;

use common::Probe;
use handler_core::error::*;
use handler_core::event::*;
use handler_core::manager::*;
use handler_core::payload::{ErrorInfo, LlmResult, Metadata, Serialized};
use handler_core::*;
use serde_json::json;

fn md(pairs: &[(&str, i64)]) -> Metadata {
    pairs
        .iter()
        .map(|(k, v)| ((*k).to_owned(), json!(v)))
        .collect()
}

#[test]
fn children_inherit_inheritable_handlers_tags_and_metadata_only() {
    let inherited = Arc::new(Probe::new("inherited"));
    let local = Arc::new(Probe::new("local"));
    let mut manager = CallbackManager::new();
    manager
        .add_handler(inherited.clone())
        .add_local_handler(local.clone())
        .add_tags(["it"])
        .add_local_tags(["lt"])
        .add_metadata(md(&[("im", 1)]))
        .add_local_metadata(md(&[("lm", 2)]));

    let chain = manager
        .on_chain_start(None, &json!({}), RunOptions::default())
        .unwrap();
    assert_eq!(chain.context().tags.to_vec(), ["it", "lt"]);
    assert_eq!(*chain.context().metadata, md(&[("im", 1), ("lm", 2)]));

    let child = chain.child();
    assert_eq!(child.handler_names(), ["inherited"]);
    assert_eq!(child.inheritable_handlers(), ["inherited"]);
    assert_eq!(child.tags(), ["it"]);
    assert_eq!(child.inheritable_tags(), ["it"]);
    assert_eq!(*child.metadata(), md(&[("im", 1)]));
    assert_eq!(child.parent_run_id(), Some(chain.run_id()));

    let tool = child
        .on_tool_start(None, "x", None, RunOptions::default())
        .unwrap();
    tool.on_tool_end(&json!("y")).unwrap();

    assert_eq!(
        inherited.kinds(),
        [
            EventKind::ChainStart,
            EventKind::ToolStart,
            EventKind::ToolEnd
        ]
    );
    assert_eq!(local.kinds(), [EventKind::ChainStart]);
    let tool_start = &inherited.seen()[1];
    assert_eq!(tool_start.parent_run_id, Some(chain.run_id()));
    assert_eq!(tool_start.tags, ["it"]);
}

#[test]
fn child_tag_is_local_to_the_child() {
    let probe = Arc::new(Probe::new("p"));
    let manager = CallbackManager::new().with_handler(probe.clone());
    let chain = manager
        .on_chain_start(None, &json!({}), RunOptions::default())
        .unwrap();
    let step = chain.child_with_tag("seq:step:1");
    assert_eq!(step.tags(), ["seq:step:1"]);
    let inner = step
        .on_chain_start(None, &json!({}), RunOptions::default())
        .unwrap();
    assert_eq!(inner.child().tags(), Vec::<String>::new());
    assert_eq!(probe.seen()[1].tags, ["seq:step:1"]);
}

#[test]
fn parent_ids_chain_through_three_levels() {
    let probe = Arc::new(Probe::new("p"));
    let manager = CallbackManager::new().with_handler(probe.clone());
    let root = manager
        .on_chain_start(None, &json!({}), RunOptions::default())
        .unwrap();
    let retriever = root
        .child()
        .on_retriever_start(None, "q", RunOptions::default())
        .unwrap();
    let llm = retriever
        .child()
        .on_llm_start(&Serialized::named("m"), "p", RunOptions::default())
        .unwrap();
    assert_eq!(root.parent_run_id(), None);
    assert_eq!(retriever.parent_run_id(), Some(root.run_id()));
    assert_eq!(llm.parent_run_id(), Some(retriever.run_id()));
    let parents: Vec<_> = probe.seen().iter().map(|s| s.parent_run_id).collect();
    assert_eq!(
        parents,
        [None, Some(root.run_id()), Some(retriever.run_id())]
    );
}

#[test]
fn llm_start_with_n_prompts_starts_n_runs_and_uses_the_given_id_for_the_first_only() {
    let probe = Arc::new(Probe::new("p"));
    let manager = CallbackManager::new().with_handler(probe.clone());
    let given = Uuid::now_v7();
    let prompts: Vec<String> = ["a", "b", "c"].map(String::from).to_vec();
    let runs = manager
        .on_llm_start_batch(
            &Serialized::named("m"),
            &prompts,
            RunOptions::new().with_run_id(given),
        )
        .unwrap();
    assert_eq!(runs.len(), 3);
    assert_eq!(runs[0].run_id(), given);
    assert_ne!(runs[1].run_id(), given);
    assert_ne!(runs[1].run_id(), runs[2].run_id());
    let seen = probe.seen();
    let details: Vec<_> = seen.iter().map(|s| s.detail.as_str()).collect();
    assert_eq!(
        details,
        ["a", "b", "c"],
        "one start per prompt, with that prompt alone"
    );
    let ids: Vec<_> = seen.iter().map(|s| s.run_id).collect();
    assert_eq!(ids, runs.iter().map(|r| r.run_id()).collect::<Vec<_>>());
}

#[test]
fn fresh_run_ids_are_time_ordered_v7() {
    let manager = CallbackManager::new();
    let a = manager
        .on_chain_start(None, &json!({}), RunOptions::default())
        .unwrap();
    let b = manager
        .on_chain_start(None, &json!({}), RunOptions::default())
        .unwrap();
    assert_eq!(a.run_id().get_version_num(), 7);
    assert!(a.run_id() < b.run_id());
}

#[test]
fn configure_merges_parent_inheritables_with_locals_as_langchain_does() {
    // LangChain: configure([a], [l], inheritable_tags=["it"], local_tags=["lt"], {"im":1}, {"lm":2})
    let a = Arc::new(Probe::new("a"));
    let l = Arc::new(Probe::new("l"));
    let mut parent = CallbackManager::new();
    parent
        .add_handler(a)
        .add_tags(["it"])
        .add_metadata(md(&[("im", 1)]));
    let mut configured = parent.clone();
    configured
        .add_local_handler(l)
        .add_local_tags(["lt"])
        .add_local_metadata(md(&[("lm", 2)]));
    assert_eq!(configured.handler_names(), ["a", "l"]);
    assert_eq!(configured.inheritable_handlers(), ["a"]);
    assert_eq!(configured.tags(), ["it", "lt"]);
    assert_eq!(configured.inheritable_tags(), ["it"]);
    assert_eq!(*configured.metadata(), md(&[("im", 1), ("lm", 2)]));
    assert_eq!(*configured.inheritable_metadata(), md(&[("im", 1)]));
    assert_eq!(parent.handler_names(), ["a"], "the parent is not changed");
}

#[test]
fn re_adding_a_tag_moves_it_to_the_end_with_the_new_inheritability() {
    let mut manager = CallbackManager::new();
    manager.add_tags(["a", "b"]).add_local_tags(["a"]);
    assert_eq!(manager.tags(), ["b", "a"]);
    assert_eq!(manager.inheritable_tags(), ["b"]);
    manager.remove_tags(["b"]);
    assert_eq!(manager.tags(), ["a"]);
    assert!(manager.inheritable_tags().is_empty());
}

#[test]
fn metadata_merge_is_last_writer_wins_and_removal_clears_both() {
    let mut manager = CallbackManager::new();
    manager
        .add_metadata(md(&[("k", 1), ("j", 0)]))
        .add_local_metadata(md(&[("k", 2)]));
    assert_eq!(manager.metadata()["k"], json!(2));
    assert_eq!(manager.inheritable_metadata()["k"], json!(1));
    manager.remove_metadata(["k"]);
    assert!(!manager.metadata().contains_key("k"));
    assert!(!manager.inheritable_metadata().contains_key("k"));
}

#[test]
fn handlers_are_added_once_and_removed_from_both_lists() {
    let a = Arc::new(Probe::new("a"));
    let mut manager = CallbackManager::new();
    manager
        .add_handler(a.clone())
        .add_handler(a.clone())
        .add_local_handler(a.clone());
    assert_eq!(manager.handler_names(), ["a"]);
    assert_eq!(
        manager.inheritable_handlers(),
        ["a"],
        "adding as local keeps it inheritable"
    );
    assert!(manager.remove_handler(&a));
    assert!(manager.is_empty());
    assert!(manager.inheritable_handlers().is_empty());
    assert!(!manager.remove_handler(&a));
}

#[test]
fn a_run_keeps_the_handlers_it_started_with() {
    let a = Arc::new(Probe::new("a"));
    let mut manager = CallbackManager::new().with_handler(a.clone());
    let chain = manager
        .on_chain_start(None, &json!({}), RunOptions::default())
        .unwrap();
    manager.remove_handler(&a);
    chain.on_chain_end(&json!({})).unwrap();
    assert_eq!(a.kinds(), [EventKind::ChainStart, EventKind::ChainEnd]);
}

#[test]
fn custom_events_use_the_enclosing_run_and_carry_no_parent() {
    let probe = Arc::new(Probe::new("p"));
    let mut manager = CallbackManager::new().with_handler(probe.clone());
    manager.add_tags(["t"]);
    let err = manager
        .dispatch_custom_event("progress", &json!(1))
        .unwrap_err();
    assert!(
        matches!(err.kind(), CallbackErrorKind::NoEnclosingRun { .. }),
        "{err}"
    );

    let chain = manager
        .on_chain_start(None, &json!({}), RunOptions::default())
        .unwrap();
    let child = chain.child();
    child
        .dispatch_custom_event("progress", &json!({"pct": 50}))
        .unwrap();
    let tool = child
        .on_tool_start(None, "x", None, RunOptions::default())
        .unwrap();
    tool.dispatch_custom_event("inside-tool", &json!(null))
        .unwrap();

    let customs: Vec<_> = probe
        .seen()
        .into_iter()
        .filter(|s| s.kind == EventKind::CustomEvent)
        .collect();
    assert_eq!(customs.len(), 2);
    assert_eq!(customs[0].run_id, chain.run_id());
    assert_eq!(customs[0].parent_run_id, None);
    assert_eq!(customs[0].tags, ["t"]);
    assert_eq!(customs[1].run_id, tool.run_id());
    assert_eq!(customs[1].parent_run_id, None);
}

#[test]
fn start_methods_mint_ids_even_without_handlers() {
    let manager = CallbackManager::new();
    let runs = manager
        .on_llm_start_batch(
            &Serialized::named("m"),
            &["a".into(), "b".into()],
            RunOptions::default(),
        )
        .unwrap();
    assert_eq!(runs.len(), 2);
    let ids: Vec<Uuid> = runs.iter().map(|run| run.run_id()).collect();
    assert!(ids.iter().all(|id| !id.is_nil()), "{ids:?}");
    assert_ne!(ids[0], ids[1], "each run of a batch has its own id");
    assert!(runs.iter().all(|run| run.parent_run_id().is_none()));
    runs[0].on_llm_new_token("x", None).unwrap();
}

#[test]
fn run_name_and_type_reach_the_context() {
    let manager = CallbackManager::new();
    let run = manager
        .on_chain_start(
            None,
            &json!({}),
            RunOptions::named("rag").with_run_type("chain"),
        )
        .unwrap();
    assert_eq!(run.context().name.as_deref(), Some("rag"));
    assert_eq!(run.context().run_type.as_deref(), Some("chain"));
}

#[test]
fn custom_events_carry_the_runs_tags_and_metadata_but_not_its_name_or_type() {
    /// Keeps the run context of each custom event.
    #[derive(Default)]
    struct Contexts(std::sync::Mutex<Vec<RunContext>>);
    impl CallbackHandler for Contexts {
        fn on_custom_event(&self, e: &CustomEvent<'_>) -> HandlerResult {
            self.0.lock().unwrap().push(e.run.clone());
            Ok(())
        }
    }

    let contexts = Arc::new(Contexts::default());
    let mut manager = CallbackManager::new().with_handler(contexts.clone());
    manager.add_tags(["t"]).add_metadata(md(&[("m", 1)]));
    let chain = manager
        .on_chain_start(
            None,
            &json!({}),
            RunOptions::named("rag").with_run_type("chain"),
        )
        .unwrap();
    chain.dispatch_custom_event("progress", &json!(1)).unwrap();

    let contexts = contexts.0.lock().unwrap();
    assert_eq!(contexts.len(), 1);
    let custom = &contexts[0];
    assert_eq!(custom.run_id, chain.run_id());
    assert_eq!(custom.tags.to_vec(), ["t"]);
    assert_eq!(*custom.metadata, md(&[("m", 1)]));
    assert_eq!(
        custom.name, None,
        "a custom event is not the run's start: no name"
    );
    assert_eq!(custom.run_type, None, "nor its type");
    assert_eq!(
        chain.context().name.as_deref(),
        Some("rag"),
        "the run keeps both"
    );
    assert_eq!(chain.context().run_type.as_deref(), Some("chain"));
}

#[test]
fn a_run_manager_debugs_as_its_kind_context_and_whether_it_ended() {
    let manager = CallbackManager::new();
    let chain = manager
        .on_chain_start(None, &json!({}), RunOptions::named("rag"))
        .unwrap();
    let twin = chain.clone();
    let open = format!("{chain:?}");
    assert!(open.starts_with("RunManager {"), "{open}");
    assert!(open.contains("ChainRun"), "{open}");
    assert!(open.contains(&chain.run_id().to_string()), "{open}");
    assert!(open.contains("\"rag\""), "{open}");
    assert!(open.contains("ended: false"), "{open}");
    chain.on_chain_end(&json!({})).unwrap();
    let ended = format!("{twin:?}");
    assert!(ended.contains("ended: true"), "{ended}");
}

#[test]
fn llm_error_with_response_ends_the_run_with_the_partial_response() {
    /// Keeps what each LLM error carried.
    #[derive(Default)]
    struct Errors(std::sync::Mutex<Vec<(String, Option<LlmResult>)>>);
    impl CallbackHandler for Errors {
        fn on_llm_error(&self, e: &LlmError<'_>) -> HandlerResult {
            let kept = (e.error.kind.clone(), e.response.cloned());
            self.0.lock().unwrap().push(kept);
            Ok(())
        }
    }

    let partial = LlmResult::from_text("half an ans");
    let errors = Arc::new(Errors::default());
    let manager = CallbackManager::new().with_handler(errors.clone());
    let llm = manager.on_llm_start(None, "p", RunOptions::new()).unwrap();
    let twin = llm.clone();
    llm.on_llm_error_with_response(ErrorInfo::new("Cut", "stream cut"), &partial)
        .unwrap();
    assert!(twin.is_ended(), "the error ended the run");
    drop(twin); // ended: no abandoned error follows
    assert_eq!(
        *errors.0.lock().unwrap(),
        [("Cut".to_owned(), Some(partial))],
        "one error, the caller's, with the partial response"
    );

    let async_errors = Arc::new(Errors::default());
    let manager = AsyncCallbackManager::new().with_handler(async_errors.clone());
    let partial = LlmResult::from_text("half");
    futures_executor::block_on(async {
        let llm = manager
            .on_llm_start(None, "p", RunOptions::new())
            .await
            .unwrap();
        llm.on_llm_error_with_response(ErrorInfo::new("Cut", "stream cut"), &partial)
            .await
            .unwrap();
    });
    assert_eq!(
        *async_errors.0.lock().unwrap(),
        [("Cut".to_owned(), Some(partial))],
        "the async manager: the same"
    );
}
