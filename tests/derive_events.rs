//! Derived handlers receive exactly the events they mark: one table of marked events, each run
//! three ways (a sync handler in the sync manager, a sync handler in the async manager, an
//! async handler in the async manager), a test per way, named `<case>::<way>`.
#![allow(clippy::unwrap_used)] // test helpers and handlers outside #[test] fns

mod common;

use std::sync::Arc;

use common::{drive_async, drive_sync, expected};
use llm_callbacks::{AsyncCallbackHandler, AsyncCallbackManager, CallbackHandler, CallbackManager};

/// A sync handler alone in a sync manager sees exactly its marked events.
fn sync_handler_in_sync_manager<H: CallbackHandler + Default>(
    marked: &[&str],
    seen: fn(&H) -> Vec<&'static str>,
) {
    let handler = Arc::new(H::default());
    drive_sync(&CallbackManager::new().with_handler(handler.clone())).unwrap();
    assert_eq!(seen(&handler), expected(marked));
}

/// A sync handler alone in an async manager sees exactly its marked events.
async fn sync_handler_in_async_manager<H: CallbackHandler + Default>(
    marked: &[&str],
    seen: fn(&H) -> Vec<&'static str>,
) {
    let handler = Arc::new(H::default());
    drive_async(&AsyncCallbackManager::new().with_handler(handler.clone()))
        .await
        .unwrap();
    assert_eq!(seen(&handler), expected(marked));
}

/// An async handler alone in an async manager sees exactly its marked events.
async fn async_handler_in_async_manager<H: AsyncCallbackHandler + Default>(
    marked: &[&str],
    seen: fn(&H) -> Vec<&'static str>,
) {
    let handler = Arc::new(H::default());
    drive_async(&AsyncCallbackManager::new().with_async_handler(handler.clone()))
        .await
        .unwrap();
    assert_eq!(seen(&handler), expected(marked));
}

/// A module per case: a sync and an async recorder marking the case's events, and a test per
/// way of running them.
macro_rules! cases {
    ($($case:ident { $($event:ident: $ty:ident),* $(,)? })*) => {$(
        mod $case {
            crate::recorder!(SyncRecorder, sync { $($event: $ty),* });
            crate::recorder!(AsyncRecorder, async { $($event: $ty),* });

            /// The events this case marks.
            pub const MARKED: &[&str] = SyncRecorder::MARKED;

            #[test]
            fn sync_handler_in_sync_manager() {
                super::sync_handler_in_sync_manager(MARKED, SyncRecorder::seen);
            }

            #[tokio::test]
            async fn sync_handler_in_async_manager() {
                super::sync_handler_in_async_manager(MARKED, SyncRecorder::seen).await;
            }

            #[tokio::test]
            async fn async_handler_in_async_manager() {
                super::async_handler_in_async_manager(AsyncRecorder::MARKED, AsyncRecorder::seen)
                    .await;
            }
        }
    )*};
}

cases! {
    llm_events_and_the_chat_fallback {
        llm_start: LlmStart,
        llm_new_token: LlmNewToken,
        llm_end: LlmEnd,
        llm_error: LlmError,
    }
    chat_model_start { chat_model_start: ChatModelStart }
    chain_events { chain_start: ChainStart, chain_end: ChainEnd, chain_error: ChainError }
    tool_events { tool_start: ToolStart, tool_end: ToolEnd, tool_error: ToolError }
    agent_events { agent_action: AgentAction, agent_finish: AgentFinish }
    retriever_events {
        retriever_start: RetrieverStart,
        retriever_end: RetrieverEnd,
        retriever_error: RetrieverError,
    }
    retry_events { retry: Retry }
    text_events { text: Text }
    custom_events { custom_event: CustomEvent }
    one_event_of_a_category { llm_new_token: LlmNewToken }
    llm_start_only_receives_chat_starts_through_the_fallback { llm_start: LlmStart }
    every_event {
        llm_start: LlmStart,
        chat_model_start: ChatModelStart,
        llm_new_token: LlmNewToken,
        llm_end: LlmEnd,
        llm_error: LlmError,
        chain_start: ChainStart,
        chain_end: ChainEnd,
        chain_error: ChainError,
        tool_start: ToolStart,
        tool_end: ToolEnd,
        tool_error: ToolError,
        retriever_start: RetrieverStart,
        retriever_end: RetrieverEnd,
        retriever_error: RetrieverError,
        agent_action: AgentAction,
        agent_finish: AgentFinish,
        retry: Retry,
        text: Text,
        custom_event: CustomEvent,
    }
}

/// What the cases above expect where it is not just their marked events: the LLM handler gets
/// the chat start as an LLM start, and so does a handler marking only `llm_start`.
#[test]
fn the_chat_start_reaches_llm_handlers_through_the_fallback() {
    assert_eq!(
        expected(llm_events_and_the_chat_fallback::MARKED),
        [
            "llm_start",
            "llm_new_token",
            "llm_new_token",
            "llm_end",
            "llm_start",
            "llm_error",
            "llm_start",
            "llm_error"
        ]
    );
    assert_eq!(
        expected(llm_start_only_receives_chat_starts_through_the_fallback::MARKED),
        ["llm_start", "llm_start", "llm_start"]
    );
}

/// The handler marking each of the core's events expects every event the pipeline emits, in
/// order; the pipeline emits every event of the core.
#[test]
fn the_pipeline_emits_every_event_of_the_core() {
    common::assert_every_event(every_event::MARKED);
    common::assert_every_event(&common::EVERY_EVENT);
    assert_eq!(expected(every_event::MARKED), common::EVERY_EVENT);
}

/// The per-category cases above mark every event between them.
#[test]
fn the_category_cases_cover_every_event() {
    let marked: Vec<&str> = [
        llm_events_and_the_chat_fallback::MARKED,
        chat_model_start::MARKED,
        chain_events::MARKED,
        tool_events::MARKED,
        agent_events::MARKED,
        retriever_events::MARKED,
        retry_events::MARKED,
        text_events::MARKED,
        custom_events::MARKED,
    ]
    .concat();
    assert_eq!(marked.len(), common::all_event_names().len());
    common::assert_every_event(&marked);
}

crate::recorder!(
    SyncChain,
    sync {
        chain_start: ChainStart,
        chain_end: ChainEnd
    }
);
crate::recorder!(
    AsyncChain,
    async {
        chain_start: ChainStart,
        chain_end: ChainEnd,
        chain_error: ChainError
    }
);
crate::recorder!(
    AsyncTools,
    async {
        tool_start: ToolStart,
        tool_end: ToolEnd,
        tool_error: ToolError
    }
);

/// Sync and async derived handlers side by side in one async manager, on a multi-thread
/// runtime: each still sees exactly its marked events.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sync_and_async_handlers_together() {
    let chain = Arc::new(AsyncChain::default());
    let sync_chain = Arc::new(SyncChain::default());
    let tools = Arc::new(AsyncTools::default());
    let manager = AsyncCallbackManager::new()
        .with_async_handler(chain.clone())
        .with_handler(sync_chain.clone())
        .with_async_handler(tools.clone());
    drive_async(&manager).await.unwrap();
    assert_eq!(chain.seen(), expected(AsyncChain::MARKED));
    assert_eq!(sync_chain.seen(), expected(SyncChain::MARKED));
    assert_eq!(tools.seen(), expected(AsyncTools::MARKED));
}
