//! A handler that remembers what it received, for the tests.
#![allow(clippy::unwrap_used, clippy::expect_used)] // tests fail loudly
#![allow(dead_code)]

use std::sync::Mutex;

use handler_core::error::*;
use handler_core::event::*;
use handler_core::*;

/// What one handler saw of one event.
#[derive(Debug, Clone, PartialEq)]
pub struct Seen {
    pub kind: EventKind,
    pub run_id: Uuid,
    pub parent_run_id: Option<Uuid>,
    /// The root of the run's tree, as the event carries it.
    pub root_id: Uuid,
    pub tags: Vec<String>,
    /// The prompt of a start, the token of a token event, the error kind of an error event.
    pub detail: String,
}

/// Records every event it receives; its options are given at construction.
pub struct Probe {
    pub label: &'static str,
    pub options: HandlerOptions,
    pub seen: Mutex<Vec<Seen>>,
    /// When set, `on_chat_model_start` is handled (no fallback).
    pub handles_chat: bool,
}

impl Probe {
    pub fn new(label: &'static str) -> Self {
        Self::with(label, HandlerOptions::new())
    }

    pub fn with(label: &'static str, options: HandlerOptions) -> Self {
        Self {
            label,
            options,
            seen: Mutex::new(Vec::new()),
            handles_chat: true,
        }
    }

    pub fn without_chat(mut self) -> Self {
        self.handles_chat = false;
        self
    }

    pub fn seen(&self) -> Vec<Seen> {
        self.seen.lock().unwrap().clone()
    }

    pub fn kinds(&self) -> Vec<EventKind> {
        self.seen().into_iter().map(|s| s.kind).collect()
    }

    fn push(&self, event: Event<'_>, detail: String) -> HandlerResult {
        let run = event.run();
        self.seen.lock().unwrap().push(Seen {
            kind: event.kind(),
            run_id: run.run_id,
            parent_run_id: run.parent_run_id,
            root_id: run.root_id(),
            tags: run.tags.to_vec(),
            detail,
        });
        Ok(())
    }
}

macro_rules! probe_methods {
    ($($method:ident($event:ident);)*) => {
        impl CallbackHandler for Probe {
            fn name(&self) -> &str {
                self.label
            }
            fn options(&self) -> HandlerOptions {
                self.options
            }
            fn on_llm_start(&self, e: &LlmStart<'_>) -> HandlerResult {
                self.push(Event::LlmStart(*e), e.prompts.join("|"))
            }
            fn on_chat_model_start(&self, e: &ChatModelStart<'_>) -> HandlerResult {
                if !self.handles_chat {
                    return Err(HandlerError::not_implemented());
                }
                self.push(Event::ChatModelStart(*e), String::new())
            }
            fn on_llm_new_token(&self, e: &LlmNewToken<'_>) -> HandlerResult {
                self.push(Event::LlmNewToken(*e), e.token.to_owned())
            }
            fn on_llm_error(&self, e: &LlmError<'_>) -> HandlerResult {
                self.push(Event::LlmError(*e), e.error.kind.clone())
            }
            fn on_chain_error(&self, e: &ChainError<'_>) -> HandlerResult {
                self.push(Event::ChainError(*e), e.error.kind.clone())
            }
            fn on_tool_error(&self, e: &ToolError<'_>) -> HandlerResult {
                self.push(Event::ToolError(*e), e.error.kind.clone())
            }
            fn on_retriever_error(&self, e: &RetrieverError<'_>) -> HandlerResult {
                self.push(Event::RetrieverError(*e), e.error.kind.clone())
            }
            $(
                fn $method(&self, e: &$event<'_>) -> HandlerResult {
                    self.push(Event::$event(*e), String::new())
                }
            )*
        }
    };
}

probe_methods! {
    on_llm_end(LlmEnd);
    on_chain_start(ChainStart);
    on_chain_end(ChainEnd);
    on_tool_start(ToolStart);
    on_tool_end(ToolEnd);
    on_retriever_start(RetrieverStart);
    on_retriever_end(RetrieverEnd);
    on_agent_action(AgentAction);
    on_agent_finish(AgentFinish);
    on_retry(Retry);
    on_text(Text);
    on_custom_event(CustomEvent);
}
