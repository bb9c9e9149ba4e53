//! Each `ignore_*` flag gates exactly its events, as in LangChain; text is never gated; chat
//! starts fall back to LLM starts for handlers that do not handle them.
#![allow(clippy::unwrap_used, clippy::expect_used)] // tests fail loudly

mod common;

use std::sync::Arc;

use common::Probe;
use handler_core::event::*;
use handler_core::manager::*;
use handler_core::payload::{
    ChatMessage, Document, ErrorInfo, LlmResult, RetryOutcome, RetryState, Serialized,
};
use handler_core::*;
use serde_json::json;

/// Emits one event of every kind through a sync manager holding `probe`.
fn every_event(probe: Arc<Probe>) {
    let manager = CallbackManager::new().with_handler(probe);
    let err = ErrorInfo::new("E", "boom");
    let chain = manager
        .on_chain_start(None, &json!({}), RunOptions::default())
        .unwrap();
    let child = chain.child();
    let llm = child
        .on_llm_start(&Serialized::named("m"), "p", RunOptions::default())
        .unwrap();
    llm.on_llm_new_token("t", None).unwrap();
    llm.on_llm_end(&LlmResult::from_text("x")).unwrap();
    let failing = child
        .on_llm_start(None, "p", RunOptions::default())
        .unwrap();
    failing.on_llm_error(err.clone()).unwrap();
    let chat = child
        .on_chat_model_start(
            &Serialized::named("c"),
            &[ChatMessage::user("hi")],
            RunOptions::default(),
        )
        .unwrap();
    chat.on_llm_end(&LlmResult::from_text("y")).unwrap();
    let tool = child
        .on_tool_start(None, "in", None, RunOptions::default())
        .unwrap();
    tool.on_tool_end(&json!("out")).unwrap();
    let failing = child
        .on_tool_start(None, "in", None, RunOptions::default())
        .unwrap();
    failing.on_tool_error(err.clone()).unwrap();
    let retriever = child
        .on_retriever_start(None, "q", RunOptions::default())
        .unwrap();
    retriever.on_retriever_end(&[Document::new("d")]).unwrap();
    let failing = child
        .on_retriever_start(None, "q", RunOptions::default())
        .unwrap();
    failing.on_retriever_error(err.clone()).unwrap();
    chain
        .on_agent_action("search", &json!("q"), "thinking")
        .unwrap();
    chain
        .on_agent_finish(&json!({"output": 1}), "done")
        .unwrap();
    chain
        .on_retry(&RetryState {
            attempt: 1,
            idle_for_secs: 0.0,
            upcoming_sleep_secs: None,
            outcome: RetryOutcome::Unknown,
        })
        .unwrap();
    chain.on_text("text").unwrap();
    chain.dispatch_custom_event("mine", &json!(1)).unwrap();
    let failing = child
        .on_chain_start(None, &json!({}), RunOptions::default())
        .unwrap();
    failing.on_chain_error(err).unwrap();
    chain.on_chain_end(&json!({})).unwrap();
}

use EventKind::*;

const ALL_EMITTED: &[EventKind] = &[
    ChainStart,
    LlmStart,
    LlmNewToken,
    LlmEnd,
    LlmStart,
    LlmError,
    ChatModelStart,
    LlmEnd,
    ToolStart,
    ToolEnd,
    ToolStart,
    ToolError,
    RetrieverStart,
    RetrieverEnd,
    RetrieverStart,
    RetrieverError,
    AgentAction,
    AgentFinish,
    Retry,
    Text,
    CustomEvent,
    ChainStart,
    ChainError,
    ChainEnd,
];

fn expected_without(ignored: &[EventKind]) -> Vec<EventKind> {
    ALL_EMITTED
        .iter()
        .copied()
        .filter(|k| !ignored.contains(k))
        .collect()
}

fn seen_with(options: HandlerOptions) -> Vec<EventKind> {
    let probe = Arc::new(Probe::with("probe", options));
    every_event(probe.clone());
    probe.kinds()
}

#[test]
fn default_handler_receives_every_event_in_order() {
    assert_eq!(seen_with(HandlerOptions::new()), ALL_EMITTED);
}

#[test]
fn each_ignore_flag_gates_exactly_its_events() {
    // As in LangChain: `ignore_llm` also gates tokens but not chat starts; `ignore_agent` also
    // gates tool events; text has no flag.
    let table: [(Category, &[EventKind]); 8] = [
        (Category::Llm, &[LlmStart, LlmNewToken, LlmEnd, LlmError]),
        (Category::LlmNewToken, &[LlmNewToken]),
        (Category::ChatModel, &[ChatModelStart]),
        (Category::Chain, &[ChainStart, ChainEnd, ChainError]),
        (
            Category::Agent,
            &[AgentAction, AgentFinish, ToolStart, ToolEnd, ToolError],
        ),
        (
            Category::Retriever,
            &[RetrieverStart, RetrieverEnd, RetrieverError],
        ),
        (Category::Retry, &[Retry]),
        (Category::CustomEvent, &[CustomEvent]),
    ];
    for (category, gated) in table {
        assert_eq!(
            seen_with(HandlerOptions::new().ignore(category)),
            expected_without(gated),
            "ignoring {category:?}"
        );
    }
    // Every category with a flag is in the table (text has none: it has its own test).
    for category in Category::ALL.iter().filter(|c| **c != Category::Text) {
        assert!(
            table.iter().any(|(c, _)| c == category),
            "{category:?} has no row"
        );
    }
}

#[test]
fn text_reaches_a_handler_that_ignores_everything() {
    let mut options = HandlerOptions::new();
    for &category in Category::ALL {
        options = options.ignore(category);
    }
    assert_eq!(seen_with(options), [Text]);
}

/// Starts two chat runs and returns them still open: what the probe saw is the starts alone.
fn chat_start(probe: Arc<Probe>) -> Vec<LlmRunManager> {
    let manager = CallbackManager::new().with_handler(probe);
    let conversations = [
        vec![
            ChatMessage::system("s"),
            ChatMessage::user("hi"),
            ChatMessage::assistant("yo"),
        ],
        vec![ChatMessage::user("second")],
    ];
    manager
        .on_chat_model_start_batch(
            &Serialized::named("chat"),
            &conversations,
            RunOptions::default(),
        )
        .unwrap()
}

#[test]
fn chat_start_falls_back_to_llm_start_with_rendered_prompts() {
    let probe = Arc::new(Probe::new("fallback").without_chat());
    let _open = chat_start(probe.clone());
    let seen = probe.seen();
    assert_eq!(probe.kinds(), [LlmStart, LlmStart]);
    assert_eq!(seen[0].detail, "System: s\nHuman: hi\nAI: yo");
    assert_eq!(seen[1].detail, "Human: second");
    assert_ne!(seen[0].run_id, seen[1].run_id);
}

#[test]
fn chat_fallback_honours_ignore_llm_and_ignore_chat_model() {
    let no_llm =
        Arc::new(Probe::with("no-llm", HandlerOptions::new().ignore(Category::Llm)).without_chat());
    let _open = chat_start(no_llm.clone());
    assert!(no_llm.kinds().is_empty());

    let no_chat = Arc::new(
        Probe::with("no-chat", HandlerOptions::new().ignore(Category::ChatModel)).without_chat(),
    );
    let _open = chat_start(no_chat.clone());
    assert!(no_chat.kinds().is_empty());
}

#[test]
fn a_handler_that_handles_chat_start_gets_no_fallback() {
    let probe = Arc::new(Probe::new("chat"));
    let open = chat_start(probe.clone());
    assert_eq!(probe.kinds(), [ChatModelStart, ChatModelStart]);
    drop(open);
    assert_eq!(
        probe.kinds(),
        [ChatModelStart, ChatModelStart, LlmError, LlmError],
        "runs dropped without an end are abandoned"
    );
}

#[tokio::test]
async fn async_manager_gates_like_the_sync_one() {
    let probe = Arc::new(
        Probe::with("probe", HandlerOptions::new().ignore(Category::Agent)).without_chat(),
    );
    let mut manager = AsyncCallbackManager::new();
    manager.add_handler(probe.clone());
    let chain = manager
        .on_chain_start(None, &json!({}), RunOptions::default())
        .await
        .unwrap();
    let child = chain.child();
    let tool = child
        .on_tool_start(None, "in", None, RunOptions::default())
        .await
        .unwrap();
    tool.on_tool_end(&json!("out")).await.unwrap();
    chain.on_agent_action("t", &json!({}), "l").await.unwrap();
    child
        .on_chat_model_start(
            &Serialized::named("c"),
            &[ChatMessage::user("hi")],
            RunOptions::default(),
        )
        .await
        .unwrap()
        .on_llm_end(&LlmResult::from_text("yo"))
        .await
        .unwrap();
    chain.on_text("t").await.unwrap();
    chain.on_chain_end(&json!({})).await.unwrap();
    assert_eq!(
        probe.kinds(),
        [ChainStart, LlmStart, LlmEnd, Text, ChainEnd]
    );
    assert_eq!(probe.seen()[1].detail, "Human: hi");
}

#[test]
fn manager_interest_is_the_union_of_its_handlers() {
    // `a` ignores model events and `b` ignores chains: each still gets what it wants, so the
    // manager's cached interest holds both categories, not only the common ones.
    let a = Arc::new(Probe::with(
        "a",
        HandlerOptions::new().ignore(Category::Llm),
    ));
    let b = Arc::new(Probe::with(
        "b",
        HandlerOptions::new().ignore(Category::Chain),
    ));
    let manager = CallbackManager::new()
        .with_handler(a.clone())
        .with_handler(b.clone());
    let chain = manager
        .on_chain_start(None, &json!({}), RunOptions::default())
        .unwrap();
    let llm = chain
        .child()
        .on_llm_start(None, "p", RunOptions::default())
        .unwrap();
    llm.on_llm_end(&LlmResult::from_text("x")).unwrap();
    chain.on_chain_end(&json!({})).unwrap();
    assert_eq!(a.kinds(), [ChainStart, ChainEnd]);
    assert_eq!(b.kinds(), [LlmStart, LlmEnd]);

    // Nobody wants model events: the fast path skips them for both.
    let c = Arc::new(Probe::with(
        "c",
        HandlerOptions::new().ignore(Category::Llm),
    ));
    let manager = CallbackManager::new()
        .with_handler(a.clone())
        .with_handler(c.clone());
    let llm = manager
        .on_llm_start(None, "p", RunOptions::default())
        .unwrap();
    llm.on_llm_end(&LlmResult::from_text("x")).unwrap();
    assert_eq!(a.kinds(), [ChainStart, ChainEnd]);
    assert!(c.kinds().is_empty());
}
