//! The sync manager: start methods, and the dispatch loop that runs each interested handler in
//! registration order.

use std::sync::Arc;

use serde_json::Value;

use super::dispatch::dispatch_sync;
use super::run_manager::{ChainRun, LlmRun, RetrieverRun, RunManager, ToolRun};
use super::set::{HandlerSet, Slot};
use super::{DispatchMode, Manager, Sealed};
use crate::error::CallbackError;
use crate::event::{
    ChainStart, ChatModelStart, CustomEvent, Event, LlmStart, RetrieverStart, ToolStart,
};
use crate::handler::{CallbackHandler, HandlerOptions};
use crate::payload::{ChatMessage, Serialized};
use crate::run_context::RunOptions;

/// Synchronous dispatch: every handler is called on the caller's thread, in registration
/// order. A handler with `raise_error` that fails stops the dispatch: later handlers are not
/// called, as in LangChain.
#[derive(Debug)]
pub enum SyncMode {}

impl Sealed for SyncMode {}

impl Slot for Arc<dyn CallbackHandler> {
    fn is_concurrent(&self, _options: &HandlerOptions) -> bool {
        false
    }

    fn as_sync(&self) -> Option<&Arc<dyn CallbackHandler>> {
        Some(self)
    }

    fn as_any(&self) -> Arc<dyn std::any::Any + Send + Sync> {
        self.clone()
    }
}

impl DispatchMode for SyncMode {
    type Slot = Arc<dyn CallbackHandler>;

    fn sync_slot(handler: Arc<dyn CallbackHandler>) -> Self::Slot {
        handler
    }
}

/// Dispatches `event` to the handlers of `set` that want its category. Not inlined into the
/// emitting methods, so that their fast path (nobody wants the event) stays a few instructions.
#[inline(never)]
pub(crate) fn dispatch(
    set: &HandlerSet<Arc<dyn CallbackHandler>>,
    event: &Event<'_>,
) -> Result<(), CallbackError> {
    dispatch_sync(set.lists(event.kind().category()), event)
}

impl Manager<SyncMode> {
    /// Dispatches an already-built event to this manager's handlers (used by replay).
    pub fn emit(&self, event: &Event<'_>) -> Result<(), CallbackError> {
        dispatch(&self.scope.handlers, event)
    }

    /// Starts one LLM run per prompt and returns their run managers, in prompt order. Each
    /// handler receives one `on_llm_start` per prompt, with that prompt alone. `options.run_id`
    /// is used for the first prompt only.
    pub fn on_llm_start(
        &self,
        serialized: &Serialized,
        prompts: &[String],
        options: RunOptions,
    ) -> Result<Vec<RunManager<SyncMode, LlmRun>>, CallbackError> {
        let mut runs = Vec::with_capacity(prompts.len());
        for (i, prompt) in prompts.iter().enumerate() {
            let run = self.new_run(options.run_id.filter(|_| i == 0), &options);
            self.emit(&Event::LlmStart(LlmStart {
                run: &run,
                serialized,
                prompts: std::slice::from_ref(prompt),
            }))?;
            runs.push(RunManager::new(run, self.scope.clone()));
        }
        Ok(runs)
    }

    /// Starts one chat model run per conversation and returns their run managers. Handlers that
    /// do not handle chat model start receive `on_llm_start` with the conversation rendered as
    /// text, unless they ignore LLM events.
    pub fn on_chat_model_start(
        &self,
        serialized: &Serialized,
        messages: &[Vec<ChatMessage>],
        options: RunOptions,
    ) -> Result<Vec<RunManager<SyncMode, LlmRun>>, CallbackError> {
        let mut runs = Vec::with_capacity(messages.len());
        for (i, conversation) in messages.iter().enumerate() {
            let run = self.new_run(options.run_id.filter(|_| i == 0), &options);
            self.emit(&Event::ChatModelStart(ChatModelStart {
                run: &run,
                serialized,
                messages: std::slice::from_ref(conversation),
            }))?;
            runs.push(RunManager::new(run, self.scope.clone()));
        }
        Ok(runs)
    }

    /// Starts a chain run.
    pub fn on_chain_start(
        &self,
        serialized: Option<&Serialized>,
        inputs: &Value,
        options: RunOptions,
    ) -> Result<RunManager<SyncMode, ChainRun>, CallbackError> {
        let run = self.new_run(options.run_id, &options);
        self.emit(&Event::ChainStart(ChainStart {
            run: &run,
            serialized,
            inputs,
        }))?;
        Ok(RunManager::new(run, self.scope.clone()))
    }

    /// Starts a tool run. `input` is the tool's input as a string; `inputs` its structured
    /// form, if any.
    pub fn on_tool_start(
        &self,
        serialized: Option<&Serialized>,
        input: &str,
        inputs: Option<&Value>,
        options: RunOptions,
    ) -> Result<RunManager<SyncMode, ToolRun>, CallbackError> {
        let run = self.new_run(options.run_id, &options);
        self.emit(&Event::ToolStart(ToolStart {
            run: &run,
            serialized,
            input,
            inputs,
        }))?;
        Ok(RunManager::new(run, self.scope.clone()))
    }

    /// Starts a retriever run.
    pub fn on_retriever_start(
        &self,
        serialized: Option<&Serialized>,
        query: &str,
        options: RunOptions,
    ) -> Result<RunManager<SyncMode, RetrieverRun>, CallbackError> {
        let run = self.new_run(options.run_id, &options);
        self.emit(&Event::RetrieverStart(RetrieverStart {
            run: &run,
            serialized,
            query,
        }))?;
        Ok(RunManager::new(run, self.scope.clone()))
    }

    /// Dispatches a custom event attributed to the enclosing run (this manager's parent run),
    /// as LangChain's `dispatch_custom_event`. Fails when the manager has no parent run.
    pub fn dispatch_custom_event(&self, name: &str, data: &Value) -> Result<(), CallbackError> {
        let run = self.custom_event_context(name)?;
        self.emit(&Event::CustomEvent(CustomEvent {
            run: &run,
            name,
            data,
        }))
    }
}
