//! The async manager: `run_inline` and sync handlers in registration order, then the other
//! async handlers concurrently.

use std::future::Future;
use std::sync::Arc;

use serde_json::Value;

use super::emit::{Emit, emit_end};
use super::run_manager::{ChainRun, LlmRun, RetrieverRun, RunKind, RunManager, ToolRun, run_event};
use super::shared::SharedHandler;
use super::{DispatchMode, Manager, Reach, Sealed};
use crate::current::Current;
use crate::error::CallbackError;
use crate::event::{
    AgentAction, AgentFinish, ChainEnd, ChainError, ChainStart, ChatModelStart, CustomEvent, Event,
    LlmEnd, LlmError, LlmNewToken, LlmStart, RetrieverEnd, RetrieverError, RetrieverStart, ToolEnd,
    ToolError, ToolStart,
};
use crate::handler::{AsyncCallbackHandler, CallbackHandler};
use crate::payload::{
    ChatMessage, Document, ErrorInfo, GenerationChunk, LlmResult, RetryState, Serialized,
};
use crate::run_context::RunOptions;

/// Async dispatch: handlers with `run_inline` and sync handlers run one after another in
/// registration order (sync handlers are called directly on the dispatching task, so they
/// should not block); then the other async handlers run concurrently. Each dispatch completes
/// before the emitting call returns, so one handler sees the events of one run in the order they
/// were emitted.
#[derive(Debug)]
pub enum AsyncMode {}

impl Sealed for AsyncMode {}

impl DispatchMode for AsyncMode {
    type Slot = SharedHandler;

    fn sync_slot(handler: Arc<dyn CallbackHandler>) -> Self::Slot {
        SharedHandler::Sync(handler)
    }

    fn slot_from_shared(handler: SharedHandler) -> Result<Self::Slot, CallbackError> {
        Ok(handler)
    }

    fn into_current(manager: Manager<Self>) -> Current {
        Current::Async(manager)
    }

    fn from_current(current: &Current) -> Option<Manager<Self>> {
        match current {
            Current::Async(manager) => Some(manager.clone()),
            _ => None,
        }
    }
}

impl Manager<AsyncMode> {
    /// Adds an async handler that child runs inherit. Adding a handler twice does nothing.
    pub fn add_async_handler<H: AsyncCallbackHandler>(&mut self, handler: Arc<H>) -> &mut Self {
        self.insert_shared(SharedHandler::from_async(handler), Reach::Inheritable)
    }

    /// Adds an async handler for this manager's runs only.
    pub fn add_local_async_handler<H: AsyncCallbackHandler>(
        &mut self,
        handler: Arc<H>,
    ) -> &mut Self {
        self.insert_shared(SharedHandler::from_async(handler), Reach::Local)
    }

    /// Adds an async handler for child runs only: this manager's own runs do not see it.
    pub fn add_child_async_handler<H: AsyncCallbackHandler>(
        &mut self,
        handler: Arc<H>,
    ) -> &mut Self {
        self.insert_shared(SharedHandler::from_async(handler), Reach::Children)
    }

    /// Builder form of [`add_async_handler`](Self::add_async_handler).
    #[must_use]
    pub fn with_async_handler<H: AsyncCallbackHandler>(mut self, handler: Arc<H>) -> Self {
        self.add_async_handler(handler);
        self
    }

    /// Builder form of [`add_local_async_handler`](Self::add_local_async_handler).
    #[must_use]
    pub fn with_local_async_handler<H: AsyncCallbackHandler>(mut self, handler: Arc<H>) -> Self {
        self.add_local_async_handler(handler);
        self
    }

    /// Adds a shared handler of either kind (e.g. one a plugin built) that child runs inherit.
    pub fn add_shared_handler(&mut self, handler: SharedHandler) -> &mut Self {
        self.insert_shared(handler, Reach::Inheritable)
    }

    fn insert_shared(&mut self, handler: SharedHandler, reach: Reach) -> &mut Self {
        let (options, name, id) = (
            handler.options(),
            Arc::from(handler.name()),
            handler.identity(),
        );
        self.insert(handler, options, name, id, reach)
    }

    /// Dispatches an already-built event to this manager's handlers (used by replay).
    pub async fn emit(&self, event: &Event<'_>) -> Result<(), CallbackError> {
        let handlers = &self.scope.handlers;
        Emit::new(handlers, handlers.interest(), *event).await
    }

    /// Starts an LLM run on one prompt; see
    /// [`CallbackManager::on_llm_start`](super::CallbackManager::on_llm_start).
    pub async fn on_llm_start<'s>(
        &self,
        serialized: impl Into<Option<&'s Serialized>>,
        prompt: &str,
        options: RunOptions,
    ) -> Result<RunManager<AsyncMode, LlmRun>, CallbackError> {
        let serialized = serialized.into();
        let prompts = [prompt.to_owned()];
        let manager = self.run_manager(options.run_id, &options);
        let run = manager.context();
        self.emit(&Event::LlmStart(LlmStart {
            run,
            serialized,
            prompts: &prompts,
        }))
        .await?;
        Ok(manager)
    }

    /// Starts one LLM run per prompt; see
    /// [`CallbackManager::on_llm_start_batch`](super::CallbackManager::on_llm_start_batch).
    pub async fn on_llm_start_batch<'s>(
        &self,
        serialized: impl Into<Option<&'s Serialized>>,
        prompts: &[String],
        options: RunOptions,
    ) -> Result<Vec<RunManager<AsyncMode, LlmRun>>, CallbackError> {
        let serialized = serialized.into();
        let mut runs = Vec::with_capacity(prompts.len());
        for (i, prompt) in prompts.iter().enumerate() {
            let manager = self.run_manager(options.run_id.filter(|_| i == 0), &options);
            let run = manager.context();
            self.emit(&Event::LlmStart(LlmStart {
                run,
                serialized,
                prompts: std::slice::from_ref(prompt),
            }))
            .await?;
            runs.push(manager);
        }
        Ok(runs)
    }

    /// Starts a chat model run on one conversation; see
    /// [`CallbackManager::on_chat_model_start`](super::CallbackManager::on_chat_model_start).
    pub async fn on_chat_model_start<'s>(
        &self,
        serialized: impl Into<Option<&'s Serialized>>,
        messages: &[ChatMessage],
        options: RunOptions,
    ) -> Result<RunManager<AsyncMode, LlmRun>, CallbackError> {
        let serialized = serialized.into();
        let conversations = [messages.to_vec()];
        let manager = self.run_manager(options.run_id, &options);
        let run = manager.context();
        self.emit(&Event::ChatModelStart(ChatModelStart {
            run,
            serialized,
            messages: &conversations,
        }))
        .await?;
        Ok(manager)
    }

    /// Starts one chat model run per conversation; see
    /// [`CallbackManager::on_chat_model_start_batch`](super::CallbackManager::on_chat_model_start_batch).
    pub async fn on_chat_model_start_batch<'s>(
        &self,
        serialized: impl Into<Option<&'s Serialized>>,
        messages: &[Vec<ChatMessage>],
        options: RunOptions,
    ) -> Result<Vec<RunManager<AsyncMode, LlmRun>>, CallbackError> {
        let serialized = serialized.into();
        let mut runs = Vec::with_capacity(messages.len());
        for (i, conversation) in messages.iter().enumerate() {
            let manager = self.run_manager(options.run_id.filter(|_| i == 0), &options);
            let run = manager.context();
            self.emit(&Event::ChatModelStart(ChatModelStart {
                run,
                serialized,
                messages: std::slice::from_ref(conversation),
            }))
            .await?;
            runs.push(manager);
        }
        Ok(runs)
    }

    /// Starts a chain run.
    pub async fn on_chain_start<'s>(
        &self,
        serialized: impl Into<Option<&'s Serialized>>,
        inputs: &Value,
        options: RunOptions,
    ) -> Result<RunManager<AsyncMode, ChainRun>, CallbackError> {
        let serialized = serialized.into();
        let manager = self.run_manager(options.run_id, &options);
        let run = manager.context();
        self.emit(&Event::ChainStart(ChainStart {
            run,
            serialized,
            inputs,
        }))
        .await?;
        Ok(manager)
    }

    /// Starts a tool run.
    pub async fn on_tool_start<'s>(
        &self,
        serialized: impl Into<Option<&'s Serialized>>,
        input: &str,
        inputs: Option<&Value>,
        options: RunOptions,
    ) -> Result<RunManager<AsyncMode, ToolRun>, CallbackError> {
        let serialized = serialized.into();
        let manager = self.run_manager(options.run_id, &options);
        let run = manager.context();
        self.emit(&Event::ToolStart(ToolStart {
            run,
            serialized,
            input,
            inputs,
        }))
        .await?;
        Ok(manager)
    }

    /// Starts a retriever run.
    pub async fn on_retriever_start<'s>(
        &self,
        serialized: impl Into<Option<&'s Serialized>>,
        query: &str,
        options: RunOptions,
    ) -> Result<RunManager<AsyncMode, RetrieverRun>, CallbackError> {
        let serialized = serialized.into();
        let manager = self.run_manager(options.run_id, &options);
        let run = manager.context();
        self.emit(&Event::RetrieverStart(RetrieverStart {
            run,
            serialized,
            query,
        }))
        .await?;
        Ok(manager)
    }

    /// Dispatches a custom event attributed to the enclosing run; fails outside any run.
    pub async fn dispatch_custom_event(
        &self,
        name: &str,
        data: &Value,
    ) -> Result<(), CallbackError> {
        let run = self.custom_event_context(name)?;
        self.emit(&Event::CustomEvent(CustomEvent {
            run: &run,
            name,
            data,
        }))
        .await
    }
}

impl<K: RunKind> RunManager<AsyncMode, K> {
    #[inline]
    fn emit<'a>(&'a self, event: Event<'a>) -> Emit<'a> {
        Emit::new(&self.handlers, self.interest, event)
    }

    /// Ends the run with its terminal event. Cancel-safe: once this future has been polled,
    /// every interested handler gets the event even if the caller drops the future midway.
    async fn emit_end(&self, event: Event<'_>) -> Result<(), CallbackError> {
        self.end()?;
        emit_end(&self.handlers, self.interest, event).await
    }

    /// The run printed text. Every handler receives it.
    pub async fn on_text(&self, text: &str) -> Result<(), CallbackError> {
        self.emit(self.text_event(text)).await
    }

    /// A call of this run is about to be retried.
    pub async fn on_retry(&self, state: &RetryState) -> Result<(), CallbackError> {
        self.emit(self.retry_event(state)).await
    }

    /// Dispatches a custom event attributed to this run.
    pub async fn dispatch_custom_event(
        &self,
        name: &str,
        data: &Value,
    ) -> Result<(), CallbackError> {
        let run = self.custom_context();
        self.emit(Event::CustomEvent(CustomEvent {
            run: &run,
            name,
            data,
        }))
        .await
    }
}

impl RunManager<AsyncMode, LlmRun> {
    /// The model streamed a token. No heap allocation when only sync handlers want it; with
    /// async handlers, one box for the dispatch and one per handler's future. The run counts it
    /// (for [`StreamStats`](crate::payload::StreamStats)) when any handler wants LLM events.
    #[inline]
    pub fn on_llm_new_token<'a>(
        &'a self,
        token: &'a str,
        chunk: Option<&'a GenerationChunk>,
    ) -> impl Future<Output = Result<(), CallbackError>> + Send + 'a {
        self.count_token();
        self.emit(run_event!(self, LlmNewToken { token, chunk }))
    }

    /// The model run ended. Ends the run.
    pub async fn on_llm_end(self, response: &LlmResult) -> Result<(), CallbackError> {
        let stream = &self.state.stream_stats();
        self.emit_end(run_event!(self, LlmEnd { response, stream }))
            .await
    }

    /// The model run failed. Ends the run.
    pub async fn on_llm_error(self, error: impl Into<ErrorInfo>) -> Result<(), CallbackError> {
        self.llm_error(&error.into(), None).await
    }

    /// The model run failed after producing `response`. Ends the run.
    pub async fn on_llm_error_with_response(
        self,
        error: impl Into<ErrorInfo>,
        response: &LlmResult,
    ) -> Result<(), CallbackError> {
        self.llm_error(&error.into(), Some(response)).await
    }

    async fn llm_error(
        self,
        error: &ErrorInfo,
        response: Option<&LlmResult>,
    ) -> Result<(), CallbackError> {
        let stream = &self.state.stream_stats();
        self.emit_end(run_event!(
            self,
            LlmError {
                error,
                response,
                stream
            }
        ))
        .await
    }
}

impl RunManager<AsyncMode, ChainRun> {
    /// The chain ended. Ends the run.
    pub async fn on_chain_end(self, outputs: &Value) -> Result<(), CallbackError> {
        self.emit_end(run_event!(self, ChainEnd { outputs })).await
    }

    /// The chain failed. Ends the run.
    pub async fn on_chain_error(self, error: impl Into<ErrorInfo>) -> Result<(), CallbackError> {
        let error = &error.into();
        self.emit_end(run_event!(self, ChainError { error })).await
    }

    /// The agent of this chain chose an action.
    pub async fn on_agent_action(
        &self,
        tool: &str,
        tool_input: &Value,
        log: &str,
    ) -> Result<(), CallbackError> {
        self.emit(run_event!(
            self,
            AgentAction {
                tool,
                tool_input,
                log
            }
        ))
        .await
    }

    /// The agent of this chain finished. The chain itself ends with
    /// [`on_chain_end`](Self::on_chain_end).
    pub async fn on_agent_finish(
        &self,
        return_values: &Value,
        log: &str,
    ) -> Result<(), CallbackError> {
        self.emit(run_event!(self, AgentFinish { return_values, log }))
            .await
    }
}

impl RunManager<AsyncMode, ToolRun> {
    /// The tool ended. Ends the run.
    pub async fn on_tool_end(self, output: &Value) -> Result<(), CallbackError> {
        self.emit_end(run_event!(self, ToolEnd { output })).await
    }

    /// The tool failed. Ends the run.
    pub async fn on_tool_error(self, error: impl Into<ErrorInfo>) -> Result<(), CallbackError> {
        let error = &error.into();
        self.emit_end(run_event!(self, ToolError { error })).await
    }
}

impl RunManager<AsyncMode, RetrieverRun> {
    /// The retriever ended with these documents. Ends the run.
    pub async fn on_retriever_end(self, documents: &[Document]) -> Result<(), CallbackError> {
        self.emit_end(run_event!(self, RetrieverEnd { documents }))
            .await
    }

    /// The retriever failed. Ends the run.
    pub async fn on_retriever_error(
        self,
        error: impl Into<ErrorInfo>,
    ) -> Result<(), CallbackError> {
        let error = &error.into();
        self.emit_end(run_event!(self, RetrieverError { error }))
            .await
    }
}
