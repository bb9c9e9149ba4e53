//! Sync derived handlers receive exactly the events they mark, in both managers.
#![allow(clippy::unwrap_used)] // test helpers and handlers outside #[test] fns

mod common;

use std::sync::Arc;

use common::{drive_async, drive_sync, expected};
use llm_callbacks::{AsyncCallbackManager, CallbackHandler, CallbackManager};

recorder!(
    Llm,
    sync {
        llm_start: LlmStart,
        llm_new_token: LlmNewToken,
        llm_end: LlmEnd,
        llm_error: LlmError
    }
);
recorder!(
    ChatModel,
    sync {
        chat_model_start: ChatModelStart
    }
);
recorder!(
    Chain,
    sync {
        chain_start: ChainStart,
        chain_end: ChainEnd,
        chain_error: ChainError
    }
);
recorder!(
    Tools,
    sync {
        tool_start: ToolStart,
        tool_end: ToolEnd,
        tool_error: ToolError
    }
);
recorder!(
    Agent,
    sync {
        agent_action: AgentAction,
        agent_finish: AgentFinish
    }
);
recorder!(
    Retriever,
    sync {
        retriever_start: RetrieverStart,
        retriever_end: RetrieverEnd,
        retriever_error: RetrieverError
    }
);
recorder!(Retry, sync { retry: Retry });
recorder!(Text, sync { text: Text });
recorder!(
    Custom,
    sync {
        custom_event: CustomEvent
    }
);
recorder!(
    TokensOnly,
    sync {
        llm_new_token: LlmNewToken
    }
);
recorder!(
    LlmStartOnly,
    sync {
        llm_start: LlmStart
    }
);
recorder!(
    Everything,
    sync {
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

/// Runs the pipeline with `H` alone in a sync manager, then alone in an async manager, and
/// checks it saw exactly its marked events both times.
fn check<H: CallbackHandler + Default>(marked: &[&str], seen: fn(&H) -> Vec<&'static str>) {
    let handler = Arc::new(H::default());
    drive_sync(&CallbackManager::new().with_handler(handler.clone())).unwrap();
    assert_eq!(seen(&handler), expected(marked), "sync manager");

    let handler = Arc::new(H::default());
    let runtime = tokio::runtime::Builder::new_current_thread()
        .build()
        .unwrap();
    runtime
        .block_on(drive_async(
            &AsyncCallbackManager::new().with_handler(handler.clone()),
        ))
        .unwrap();
    assert_eq!(seen(&handler), expected(marked), "async manager");
}

#[test]
fn llm_events_and_the_chat_fallback() {
    check::<Llm>(Llm::MARKED, Llm::seen);
    assert_eq!(
        expected(Llm::MARKED),
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
}

#[test]
fn chat_model_start() {
    check::<ChatModel>(ChatModel::MARKED, ChatModel::seen);
}

#[test]
fn chain_events() {
    check::<Chain>(Chain::MARKED, Chain::seen);
}

#[test]
fn tool_events() {
    check::<Tools>(Tools::MARKED, Tools::seen);
}

#[test]
fn agent_events() {
    check::<Agent>(Agent::MARKED, Agent::seen);
}

#[test]
fn retriever_events() {
    check::<Retriever>(Retriever::MARKED, Retriever::seen);
}

#[test]
fn retry_events() {
    check::<Retry>(Retry::MARKED, Retry::seen);
}

#[test]
fn text_events() {
    check::<Text>(Text::MARKED, Text::seen);
}

#[test]
fn custom_events() {
    check::<Custom>(Custom::MARKED, Custom::seen);
}

#[test]
fn one_event_of_a_category() {
    check::<TokensOnly>(TokensOnly::MARKED, TokensOnly::seen);
}

#[test]
fn llm_start_only_receives_chat_starts_through_the_fallback() {
    check::<LlmStartOnly>(LlmStartOnly::MARKED, LlmStartOnly::seen);
    assert_eq!(
        expected(LlmStartOnly::MARKED),
        ["llm_start", "llm_start", "llm_start"]
    );
}

#[test]
fn every_event() {
    check::<Everything>(Everything::MARKED, Everything::seen);
    assert_eq!(expected(Everything::MARKED), common::EVERY_EVENT);
}
