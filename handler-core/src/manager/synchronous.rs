//! The sync manager: start methods, and the dispatch loop that runs each interested handler in
//! registration order.

use std::sync::Arc;

use serde_json::Value;

use super::dispatch::{dispatch_sync, dispatch_sync_to_all};
use super::run_manager::{ChainRun, LlmRun, RetrieverRun, RunManager, ToolRun};
use super::set::{HandlerSet, Slot};
use super::shared::SharedHandler;
use super::{DispatchMode, Manager, Sealed};
use crate::current::Current;
use crate::error::CallbackError;
use crate::event::{
    ChainStart, ChatModelStart, CustomEvent, Event, LlmStart, RetrieverStart, ToolStart,
};
use crate::handler::{CallbackHandler, HandlerOptions};
use crate::payload::{ChatMessage, Serialized};
use crate::run_context::RunOptions;

/// Synchronous dispatch: every handler is called on the caller's thread, in registration
/// order. A handler with `raise_error` that fails stops the dispatch: later handlers are not
/// called, as in LangChain; except for a run's terminal event (its end or its error), which
/// every interested handler gets, so that every run ends once for every handler.
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

    fn to_shared(&self) -> SharedHandler {
        SharedHandler::Sync(self.clone())
    }

    fn dispatch_detached(
        set: &Arc<HandlerSet<Self>>,
        event: &Event<'_>,
    ) -> Result<(), CallbackError> {
        dispatch_sync_to_all(set.lists(event.kind().category()), event)
    }
}

impl DispatchMode for SyncMode {
    type Slot = Arc<dyn CallbackHandler>;

    fn sync_slot(handler: Arc<dyn CallbackHandler>) -> Self::Slot {
        handler
    }

    fn slot_from_shared(handler: SharedHandler) -> Result<Self::Slot, CallbackError> {
        match handler {
            SharedHandler::Sync(handler) => Ok(handler),
            SharedHandler::Async(handler) => {
                Err(crate::CallbackErrorKind::AsyncHandlerInSyncManager {
                    handler: handler.name().to_owned(),
                }
                .into())
            }
        }
    }

    fn into_current(manager: Manager<Self>) -> Current {
        Current::Sync(manager)
    }

    fn from_current(current: &Current) -> Option<Manager<Self>> {
        match current {
            Current::Sync(manager) => Some(manager.clone()),
            _ => None,
        }
    }
}

/// Dispatches `event` to the handlers of `set` that want its category. Inlined into the
/// emitting methods: their fast path (nobody wants the event) is a test before this call, and
/// the call itself would cost an interested token as much as the dispatch.
#[inline]
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

    /// Starts an LLM run on one prompt.
    ///
    /// ```
    /// use handler_core::{CallbackManager, RunOptions};
    /// use handler_core::payload::{LlmResult, Serialized};
    ///
    /// let manager = CallbackManager::new();
    /// let llm = manager.on_llm_start(&Serialized::named("echo"), "Say hi", RunOptions::new())?;
    /// assert_eq!(llm.parent_run_id(), None); // started from a root manager
    /// assert!(!llm.is_ended());
    /// llm.on_llm_new_token("hi", None)?;
    /// let ended = llm.clone();
    /// llm.on_llm_end(&LlmResult::from_text("hi"))?; // consumes `llm`
    /// assert!(ended.is_ended());
    /// # Ok::<(), handler_core::CallbackError>(())
    /// ```
    pub fn on_llm_start<'s>(
        &self,
        serialized: impl Into<Option<&'s Serialized>>,
        prompt: &str,
        options: RunOptions,
    ) -> Result<RunManager<SyncMode, LlmRun>, CallbackError> {
        let serialized = serialized.into();
        let prompts = [prompt.to_owned()];
        let manager = self.run_manager(options.run_id, &options);
        let run = manager.context();
        self.emit(&Event::LlmStart(LlmStart {
            run,
            serialized,
            prompts: &prompts,
        }))?;
        Ok(manager)
    }

    /// Starts one LLM run per prompt and returns their run managers, in prompt order (LangChain's
    /// shape). Each handler receives one `on_llm_start` per prompt, with that prompt alone.
    /// `options.run_id` is used for the first prompt only.
    pub fn on_llm_start_batch<'s>(
        &self,
        serialized: impl Into<Option<&'s Serialized>>,
        prompts: &[String],
        options: RunOptions,
    ) -> Result<Vec<RunManager<SyncMode, LlmRun>>, CallbackError> {
        let serialized = serialized.into();
        let mut runs = Vec::with_capacity(prompts.len());
        for (i, prompt) in prompts.iter().enumerate() {
            let manager = self.run_manager(options.run_id.filter(|_| i == 0), &options);
            let run = manager.context();
            self.emit(&Event::LlmStart(LlmStart {
                run,
                serialized,
                prompts: std::slice::from_ref(prompt),
            }))?;
            runs.push(manager);
        }
        Ok(runs)
    }

    /// Starts a chat model run on one conversation. Handlers that do not handle chat model
    /// start receive `on_llm_start` with the conversation rendered as text, unless they ignore
    /// LLM events. (The conversation is copied once; [`on_chat_model_start_batch`] borrows it.)
    ///
    /// [`on_chat_model_start_batch`]: Self::on_chat_model_start_batch
    pub fn on_chat_model_start<'s>(
        &self,
        serialized: impl Into<Option<&'s Serialized>>,
        messages: &[ChatMessage],
        options: RunOptions,
    ) -> Result<RunManager<SyncMode, LlmRun>, CallbackError> {
        let serialized = serialized.into();
        let conversations = [messages.to_vec()];
        let manager = self.run_manager(options.run_id, &options);
        let run = manager.context();
        self.emit(&Event::ChatModelStart(ChatModelStart {
            run,
            serialized,
            messages: &conversations,
        }))?;
        Ok(manager)
    }

    /// Starts one chat model run per conversation and returns their run managers, in order.
    /// `options.run_id` is used for the first conversation only.
    pub fn on_chat_model_start_batch<'s>(
        &self,
        serialized: impl Into<Option<&'s Serialized>>,
        messages: &[Vec<ChatMessage>],
        options: RunOptions,
    ) -> Result<Vec<RunManager<SyncMode, LlmRun>>, CallbackError> {
        let serialized = serialized.into();
        let mut runs = Vec::with_capacity(messages.len());
        for (i, conversation) in messages.iter().enumerate() {
            let manager = self.run_manager(options.run_id.filter(|_| i == 0), &options);
            let run = manager.context();
            self.emit(&Event::ChatModelStart(ChatModelStart {
                run,
                serialized,
                messages: std::slice::from_ref(conversation),
            }))?;
            runs.push(manager);
        }
        Ok(runs)
    }

    /// Starts a chain run.
    pub fn on_chain_start<'s>(
        &self,
        serialized: impl Into<Option<&'s Serialized>>,
        inputs: &Value,
        options: RunOptions,
    ) -> Result<RunManager<SyncMode, ChainRun>, CallbackError> {
        let serialized = serialized.into();
        let manager = self.run_manager(options.run_id, &options);
        let run = manager.context();
        self.emit(&Event::ChainStart(ChainStart {
            run,
            serialized,
            inputs,
        }))?;
        Ok(manager)
    }

    /// Starts a tool run. `input` is the tool's input as a string; `inputs` its structured
    /// form, if any.
    pub fn on_tool_start<'s>(
        &self,
        serialized: impl Into<Option<&'s Serialized>>,
        input: &str,
        inputs: Option<&Value>,
        options: RunOptions,
    ) -> Result<RunManager<SyncMode, ToolRun>, CallbackError> {
        let serialized = serialized.into();
        let manager = self.run_manager(options.run_id, &options);
        let run = manager.context();
        self.emit(&Event::ToolStart(ToolStart {
            run,
            serialized,
            input,
            inputs,
        }))?;
        Ok(manager)
    }

    /// Starts a retriever run.
    pub fn on_retriever_start<'s>(
        &self,
        serialized: impl Into<Option<&'s Serialized>>,
        query: &str,
        options: RunOptions,
    ) -> Result<RunManager<SyncMode, RetrieverRun>, CallbackError> {
        let serialized = serialized.into();
        let manager = self.run_manager(options.run_id, &options);
        let run = manager.context();
        self.emit(&Event::RetrieverStart(RetrieverStart {
            run,
            serialized,
            query,
        }))?;
        Ok(manager)
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
