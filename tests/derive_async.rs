//! Async derived handlers receive exactly the events they mark, next to sync ones, in the async
//! manager.
#![allow(clippy::unwrap_used)] // test helpers and handlers outside #[test] fns

mod common;

use std::sync::Arc;

use common::{drive_async, expected};
use llm_callbacks::{AsyncCallbackHandler, AsyncCallbackManager};

recorder!(Llm, async { llm_start: LlmStart, llm_new_token: LlmNewToken, llm_end: LlmEnd, llm_error: LlmError });
recorder!(ChatModel, async { chat_model_start: ChatModelStart });
recorder!(Chain, async { chain_start: ChainStart, chain_end: ChainEnd, chain_error: ChainError });
recorder!(Tools, async { tool_start: ToolStart, tool_end: ToolEnd, tool_error: ToolError });
recorder!(Agent, async { agent_action: AgentAction, agent_finish: AgentFinish });
recorder!(Retriever, async { retriever_start: RetrieverStart, retriever_end: RetrieverEnd, retriever_error: RetrieverError });
recorder!(Retry, async { retry: Retry });
recorder!(Text, async { text: Text });
recorder!(Custom, async { custom_event: CustomEvent });
recorder!(LlmStartOnly, async { llm_start: LlmStart });
recorder!(
    Everything,
    async {
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
);
recorder!(
    SyncChain,
    sync {
        chain_start: ChainStart,
        chain_end: ChainEnd
    }
);

async fn check<H: AsyncCallbackHandler + Default>(
    marked: &[&str],
    seen: fn(&H) -> Vec<&'static str>,
) {
    let handler = Arc::new(H::default());
    drive_async(&AsyncCallbackManager::new().with_async_handler(handler.clone()))
        .await
        .unwrap();
    assert_eq!(seen(&handler), expected(marked));
}

#[tokio::test]
async fn llm_events_and_the_chat_fallback() {
    check::<Llm>(Llm::MARKED, Llm::seen).await;
}

#[tokio::test]
async fn chat_model_start() {
    check::<ChatModel>(ChatModel::MARKED, ChatModel::seen).await;
}

#[tokio::test]
async fn chain_events() {
    check::<Chain>(Chain::MARKED, Chain::seen).await;
}

#[tokio::test]
async fn tool_events() {
    check::<Tools>(Tools::MARKED, Tools::seen).await;
}

#[tokio::test]
async fn agent_events() {
    check::<Agent>(Agent::MARKED, Agent::seen).await;
}

#[tokio::test]
async fn retriever_events() {
    check::<Retriever>(Retriever::MARKED, Retriever::seen).await;
}

#[tokio::test]
async fn retry_events() {
    check::<Retry>(Retry::MARKED, Retry::seen).await;
}

#[tokio::test]
async fn text_events() {
    check::<Text>(Text::MARKED, Text::seen).await;
}

#[tokio::test]
async fn custom_events() {
    check::<Custom>(Custom::MARKED, Custom::seen).await;
}

#[tokio::test]
async fn llm_start_only_receives_chat_starts_through_the_fallback() {
    check::<LlmStartOnly>(LlmStartOnly::MARKED, LlmStartOnly::seen).await;
}

/// One async handler marking each of the core's events gets every event, in order.
#[tokio::test]
async fn every_event() {
    common::assert_every_event(Everything::MARKED);
    check::<Everything>(Everything::MARKED, Everything::seen).await;
    assert_eq!(expected(Everything::MARKED), common::EVERY_EVENT);
}

/// The async handlers of the tests above, one per category, mark every event between them.
#[test]
fn the_category_handlers_cover_every_event() {
    let marked: Vec<&str> = [
        Llm::MARKED,
        ChatModel::MARKED,
        Chain::MARKED,
        Tools::MARKED,
        Agent::MARKED,
        Retriever::MARKED,
        Retry::MARKED,
        Text::MARKED,
        Custom::MARKED,
    ]
    .concat();
    assert_eq!(marked.len(), common::all_event_names().len());
    common::assert_every_event(&marked);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sync_and_async_handlers_together() {
    let chain = Arc::new(Chain::default());
    let sync_chain = Arc::new(SyncChain::default());
    let tools = Arc::new(Tools::default());
    let manager = AsyncCallbackManager::new()
        .with_async_handler(chain.clone())
        .with_handler(sync_chain.clone())
        .with_async_handler(tools.clone());
    drive_async(&manager).await.unwrap();
    assert_eq!(chain.seen(), expected(Chain::MARKED));
    assert_eq!(sync_chain.seen(), expected(SyncChain::MARKED));
    assert_eq!(tools.seen(), expected(Tools::MARKED));
}
