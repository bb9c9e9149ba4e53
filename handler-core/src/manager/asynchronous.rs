//! The async manager: `run_inline` and sync handlers in registration order, then the other
//! async handlers concurrently.

use std::any::Any;
use std::fmt;
use std::future::Future;
use std::panic::AssertUnwindSafe;
use std::pin::Pin;
use std::sync::Arc;
use std::task::{Context, Poll};

use futures_util::FutureExt;
use futures_util::future::{BoxFuture, join_all};
use serde_json::Value;

use super::dispatch::{
    Next, call_sync, dispatch_sync, fallback_event, panic_message, report, triage,
};
use super::run::{ChainRun, LlmRun, RetrieverRun, RunKind, RunManager, ToolRun, run_event};
use super::scope::{DispatchMode, Manager, Sealed, identity};
use super::set::{Entry, HandlerSet, Lists, Slot};
use crate::category::Interest;
use crate::error::{CallbackError, Failure, HandlerResult};
use crate::event::{
    AgentAction, AgentFinish, ChainEnd, ChainError, ChainStart, ChatModelStart, CustomEvent, Event,
    LlmEnd, LlmError, LlmNewToken, LlmStart, RetrieverEnd, RetrieverError, RetrieverStart, ToolEnd,
    ToolError, ToolStart,
};
use crate::handler::{AsyncCallbackHandler, CallbackHandler, HandlerOptions};
use crate::payload::{
    ChatMessage, Document, ErrorInfo, GenerationChunk, LlmResult, RetryState, Serialized,
};
use crate::run::RunOptions;

/// Async dispatch: handlers with `run_inline` and sync handlers run one after another in
/// registration order (sync handlers are called directly on the dispatching task, so they
/// should not block); then the other async handlers run concurrently. Each dispatch completes
/// before the emitting call returns, so one handler sees the events of one run in the order they
/// were emitted.
#[derive(Debug)]
pub enum AsyncMode {}

impl Sealed for AsyncMode {}

/// The object-safe form of [`AsyncCallbackHandler`], implemented for every async handler, so
/// that handlers of different types can be stored together.
pub trait ErasedAsyncHandler: Any + Send + Sync {
    /// The handler's name.
    fn name(&self) -> &str;
    /// The handler's flags.
    fn options(&self) -> HandlerOptions;
    /// Calls the method that receives `event`.
    fn handle<'a>(&'a self, event: &'a Event<'a>) -> BoxFuture<'a, HandlerResult>;
}

impl<T: AsyncCallbackHandler> ErasedAsyncHandler for T {
    fn name(&self) -> &str {
        AsyncCallbackHandler::name(self)
    }

    fn options(&self) -> HandlerOptions {
        AsyncCallbackHandler::options(self)
    }

    fn handle<'a>(&'a self, event: &'a Event<'a>) -> BoxFuture<'a, HandlerResult> {
        match event {
            Event::LlmStart(e) => Box::pin(self.on_llm_start(e)),
            Event::ChatModelStart(e) => Box::pin(self.on_chat_model_start(e)),
            Event::LlmNewToken(e) => Box::pin(self.on_llm_new_token(e)),
            Event::LlmEnd(e) => Box::pin(self.on_llm_end(e)),
            Event::LlmError(e) => Box::pin(self.on_llm_error(e)),
            Event::ChainStart(e) => Box::pin(self.on_chain_start(e)),
            Event::ChainEnd(e) => Box::pin(self.on_chain_end(e)),
            Event::ChainError(e) => Box::pin(self.on_chain_error(e)),
            Event::ToolStart(e) => Box::pin(self.on_tool_start(e)),
            Event::ToolEnd(e) => Box::pin(self.on_tool_end(e)),
            Event::ToolError(e) => Box::pin(self.on_tool_error(e)),
            Event::RetrieverStart(e) => Box::pin(self.on_retriever_start(e)),
            Event::RetrieverEnd(e) => Box::pin(self.on_retriever_end(e)),
            Event::RetrieverError(e) => Box::pin(self.on_retriever_error(e)),
            Event::AgentAction(e) => Box::pin(self.on_agent_action(e)),
            Event::AgentFinish(e) => Box::pin(self.on_agent_finish(e)),
            Event::Retry(e) => Box::pin(self.on_retry(e)),
            Event::Text(e) => Box::pin(self.on_text(e)),
            Event::CustomEvent(e) => Box::pin(self.on_custom_event(e)),
        }
    }
}

/// A handler of either kind, shared: what plugins build and what the async manager stores.
#[derive(Clone)]
pub enum SharedHandler {
    /// A sync handler.
    Sync(Arc<dyn CallbackHandler>),
    /// An async handler.
    Async(Arc<dyn ErasedAsyncHandler>),
}

impl SharedHandler {
    /// Shares a sync handler.
    pub fn from_sync<H: CallbackHandler>(handler: Arc<H>) -> Self {
        SharedHandler::Sync(handler)
    }

    /// Shares an async handler.
    pub fn from_async<H: AsyncCallbackHandler>(handler: Arc<H>) -> Self {
        SharedHandler::Async(handler)
    }

    /// The handler's name.
    pub fn name(&self) -> &str {
        match self {
            SharedHandler::Sync(h) => h.name(),
            SharedHandler::Async(h) => h.name(),
        }
    }

    /// The handler's flags.
    pub fn options(&self) -> HandlerOptions {
        match self {
            SharedHandler::Sync(h) => h.options(),
            SharedHandler::Async(h) => h.options(),
        }
    }

    /// The handler as its concrete type, when it is a `T`.
    ///
    /// ```
    /// use std::sync::Arc;
    /// use handler_core::{CallbackHandler, SharedHandler};
    ///
    /// struct Scores;
    /// impl CallbackHandler for Scores {}
    ///
    /// let shared = SharedHandler::from_sync(Arc::new(Scores));
    /// assert!(shared.downcast::<Scores>().is_some());
    /// ```
    pub fn downcast<T: Any + Send + Sync>(&self) -> Option<Arc<T>> {
        self.as_any().downcast::<T>().ok()
    }

    pub(crate) fn identity(&self) -> usize {
        match self {
            SharedHandler::Sync(h) => identity(h),
            SharedHandler::Async(h) => identity(h),
        }
    }
}

impl fmt::Debug for SharedHandler {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let kind = match self {
            SharedHandler::Sync(_) => "Sync",
            SharedHandler::Async(_) => "Async",
        };
        f.debug_tuple(kind).field(&self.name()).finish()
    }
}

impl Slot for SharedHandler {
    fn is_concurrent(&self, options: &HandlerOptions) -> bool {
        matches!(self, SharedHandler::Async(_)) && !options.run_inline
    }

    fn as_sync(&self) -> Option<&Arc<dyn CallbackHandler>> {
        match self {
            SharedHandler::Sync(h) => Some(h),
            SharedHandler::Async(_) => None,
        }
    }

    fn as_any(&self) -> Arc<dyn Any + Send + Sync> {
        match self {
            SharedHandler::Sync(h) => h.clone(),
            SharedHandler::Async(h) => h.clone(),
        }
    }
}

impl DispatchMode for AsyncMode {
    type Slot = SharedHandler;

    fn sync_slot(handler: Arc<dyn CallbackHandler>) -> Self::Slot {
        SharedHandler::Sync(handler)
    }
}

impl Manager<SyncMode> {
    /// Adds a shared handler (e.g. one a plugin built); an async one is refused.
    pub fn add_shared_handler(
        &mut self,
        handler: SharedHandler,
    ) -> Result<&mut Self, CallbackError> {
        match handler {
            SharedHandler::Sync(h) => {
                let (options, name, id) = (h.options(), h.name().to_owned(), identity(&h));
                Ok(self.insert(h, options, &name, id, true))
            }
            SharedHandler::Async(h) => Err(crate::CallbackErrorKind::AsyncHandlerInSyncManager {
                handler: h.name().to_owned(),
            }
            .into()),
        }
    }
}
use super::synchronous::SyncMode;

/// Calls an async handler, catching its panic.
async fn call_async(handler: &dyn ErasedAsyncHandler, event: &Event<'_>) -> Result<(), Failure> {
    match AssertUnwindSafe(async { handler.handle(event).await })
        .catch_unwind()
        .await
    {
        Ok(Ok(())) => Ok(()),
        Ok(Err(error)) => Err(Failure::Error(error)),
        Err(panic) => Err(Failure::Panic(panic_message(panic))),
    }
}

/// Calls one handler of either kind.
async fn call_any(handler: &SharedHandler, event: &Event<'_>) -> Result<(), Failure> {
    match handler {
        SharedHandler::Sync(h) => call_sync(&**h, event),
        SharedHandler::Async(h) => call_async(&**h, event).await,
    }
}

/// Calls one handler and applies the error policy.
async fn call_entry(entry: &Entry<SharedHandler>, event: &Event<'_>) -> Result<(), CallbackError> {
    match call_any(&entry.handler, event).await {
        Ok(()) => Ok(()),
        Err(failure) => settle(entry, event, failure).await,
    }
}

/// Applies the error policy to a failure, running the chat fallback when it applies.
async fn settle(
    entry: &Entry<SharedHandler>,
    event: &Event<'_>,
    failure: Failure,
) -> Result<(), CallbackError> {
    match triage(entry, event, failure) {
        Next::Done(result) => result,
        Next::Fallback(prompts) => match fallback_event(event, &prompts) {
            Some(fallback) => match call_any(&entry.handler, &fallback).await {
                Ok(()) => Ok(()),
                Err(failure) => report(entry, &fallback, failure),
            },
            None => Ok(()),
        },
    }
}

/// The future of an async emitting method. On its first poll it checks the handlers' interest
/// and, when only sync handlers want the event, dispatches to them at once: no allocation, and
/// a future as small as the event. When async handlers want it, the dispatch is boxed.
#[must_use = "futures do nothing unless awaited"]
pub(crate) struct Emit<'a> {
    state: EmitState<'a>,
}

enum EmitState<'a> {
    Start {
        handlers: &'a HandlerSet<SharedHandler>,
        interest: Interest,
        event: Event<'a>,
    },
    Mixed(BoxFuture<'a, Result<(), CallbackError>>),
    Done,
}

impl<'a> Emit<'a> {
    #[inline]
    pub(crate) fn new(
        handlers: &'a HandlerSet<SharedHandler>,
        interest: Interest,
        event: Event<'a>,
    ) -> Self {
        Self {
            state: EmitState::Start {
                handlers,
                interest,
                event,
            },
        }
    }
}

impl Future for Emit<'_> {
    type Output = Result<(), CallbackError>;

    fn poll(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Self::Output> {
        let this = self.get_mut();
        loop {
            match std::mem::replace(&mut this.state, EmitState::Done) {
                EmitState::Start {
                    handlers,
                    interest,
                    event,
                } => {
                    let category = event.kind().category();
                    if !interest.contains(category) {
                        return Poll::Ready(Ok(()));
                    }
                    let lists = handlers.lists(category);
                    if lists.sync_only {
                        return Poll::Ready(dispatch_sync(lists, &event));
                    }
                    this.state =
                        EmitState::Mixed(Box::pin(
                            async move { dispatch_mixed(lists, &event).await },
                        ));
                }
                EmitState::Mixed(mut dispatch) => {
                    return match dispatch.as_mut().poll(cx) {
                        Poll::Ready(result) => Poll::Ready(result),
                        Poll::Pending => {
                            this.state = EmitState::Mixed(dispatch);
                            Poll::Pending
                        }
                    };
                }
                EmitState::Done => return Poll::Ready(Ok(())),
            }
        }
    }
}

/// Dispatches to sync and async handlers: ordered ones first, then the concurrent group.
async fn dispatch_mixed(
    lists: &Lists<SharedHandler>,
    event: &Event<'_>,
) -> Result<(), CallbackError> {
    for entry in lists.ordered.iter() {
        match &entry.handler {
            // The common case, kept free of futures and allocation.
            SharedHandler::Sync(h) => {
                if let Err(failure) = call_sync(&**h, event) {
                    settle(entry, event, failure).await?;
                }
            }
            SharedHandler::Async(_) => call_entry(entry, event).await?,
        }
    }
    match &*lists.concurrent {
        [] => Ok(()),
        [one] => call_entry(one, event).await,
        many => {
            let results = join_all(many.iter().map(|entry| call_entry(entry, event))).await;
            results.into_iter().find(Result::is_err).unwrap_or(Ok(()))
        }
    }
}

impl Manager<AsyncMode> {
    /// Adds an async handler that child runs inherit. Adding a handler twice does nothing.
    pub fn add_async_handler<H: AsyncCallbackHandler>(&mut self, handler: Arc<H>) -> &mut Self {
        self.add_shared(SharedHandler::from_async(handler), true)
    }

    /// Adds an async handler for this manager's runs only.
    pub fn add_local_async_handler<H: AsyncCallbackHandler>(
        &mut self,
        handler: Arc<H>,
    ) -> &mut Self {
        self.add_shared(SharedHandler::from_async(handler), false)
    }

    /// Builder form of [`add_async_handler`](Self::add_async_handler).
    #[must_use]
    pub fn with_async_handler<H: AsyncCallbackHandler>(mut self, handler: Arc<H>) -> Self {
        self.add_async_handler(handler);
        self
    }

    /// Adds a shared handler of either kind (e.g. one a plugin built) that child runs inherit.
    pub fn add_shared_handler(&mut self, handler: SharedHandler) -> &mut Self {
        self.add_shared(handler, true)
    }

    fn add_shared(&mut self, handler: SharedHandler, inherit: bool) -> &mut Self {
        let (options, name, id) = (
            handler.options(),
            handler.name().to_owned(),
            handler.identity(),
        );
        self.insert(handler, options, &name, id, inherit)
    }

    /// Dispatches an already-built event to this manager's handlers (used by replay).
    pub async fn emit(&self, event: &Event<'_>) -> Result<(), CallbackError> {
        let handlers = &self.scope.handlers;
        Emit::new(handlers, handlers.interest(), *event).await
    }

    /// Starts one LLM run per prompt; see [`CallbackManager::on_llm_start`](super::CallbackManager::on_llm_start).
    pub async fn on_llm_start(
        &self,
        serialized: &Serialized,
        prompts: &[String],
        options: RunOptions,
    ) -> Result<Vec<RunManager<AsyncMode, LlmRun>>, CallbackError> {
        let mut runs = Vec::with_capacity(prompts.len());
        for (i, prompt) in prompts.iter().enumerate() {
            let run = self.new_run(options.run_id.filter(|_| i == 0), &options);
            self.emit(&Event::LlmStart(LlmStart {
                run: &run,
                serialized,
                prompts: std::slice::from_ref(prompt),
            }))
            .await?;
            runs.push(RunManager::new(run, self.scope.clone()));
        }
        Ok(runs)
    }

    /// Starts one chat model run per conversation; see
    /// [`CallbackManager::on_chat_model_start`](super::CallbackManager::on_chat_model_start).
    pub async fn on_chat_model_start(
        &self,
        serialized: &Serialized,
        messages: &[Vec<ChatMessage>],
        options: RunOptions,
    ) -> Result<Vec<RunManager<AsyncMode, LlmRun>>, CallbackError> {
        let mut runs = Vec::with_capacity(messages.len());
        for (i, conversation) in messages.iter().enumerate() {
            let run = self.new_run(options.run_id.filter(|_| i == 0), &options);
            self.emit(&Event::ChatModelStart(ChatModelStart {
                run: &run,
                serialized,
                messages: std::slice::from_ref(conversation),
            }))
            .await?;
            runs.push(RunManager::new(run, self.scope.clone()));
        }
        Ok(runs)
    }

    /// Starts a chain run.
    pub async fn on_chain_start(
        &self,
        serialized: Option<&Serialized>,
        inputs: &Value,
        options: RunOptions,
    ) -> Result<RunManager<AsyncMode, ChainRun>, CallbackError> {
        let run = self.new_run(options.run_id, &options);
        self.emit(&Event::ChainStart(ChainStart {
            run: &run,
            serialized,
            inputs,
        }))
        .await?;
        Ok(RunManager::new(run, self.scope.clone()))
    }

    /// Starts a tool run.
    pub async fn on_tool_start(
        &self,
        serialized: Option<&Serialized>,
        input: &str,
        inputs: Option<&Value>,
        options: RunOptions,
    ) -> Result<RunManager<AsyncMode, ToolRun>, CallbackError> {
        let run = self.new_run(options.run_id, &options);
        self.emit(&Event::ToolStart(ToolStart {
            run: &run,
            serialized,
            input,
            inputs,
        }))
        .await?;
        Ok(RunManager::new(run, self.scope.clone()))
    }

    /// Starts a retriever run.
    pub async fn on_retriever_start(
        &self,
        serialized: Option<&Serialized>,
        query: &str,
        options: RunOptions,
    ) -> Result<RunManager<AsyncMode, RetrieverRun>, CallbackError> {
        let run = self.new_run(options.run_id, &options);
        self.emit(&Event::RetrieverStart(RetrieverStart {
            run: &run,
            serialized,
            query,
        }))
        .await?;
        Ok(RunManager::new(run, self.scope.clone()))
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
    /// async handlers, one box for the dispatch and one per handler's future.
    pub fn on_llm_new_token<'a>(
        &'a self,
        token: &'a str,
        chunk: Option<&'a GenerationChunk>,
    ) -> impl Future<Output = Result<(), CallbackError>> + Send + 'a {
        self.emit(run_event!(self, LlmNewToken { token, chunk }))
    }

    /// The model run ended.
    pub async fn on_llm_end(&self, response: &LlmResult) -> Result<(), CallbackError> {
        self.emit(run_event!(self, LlmEnd { response })).await
    }

    /// The model run failed.
    pub async fn on_llm_error(
        &self,
        error: impl Into<ErrorInfo>,
        response: Option<&LlmResult>,
    ) -> Result<(), CallbackError> {
        let error = &error.into();
        self.emit(run_event!(self, LlmError { error, response }))
            .await
    }
}

impl RunManager<AsyncMode, ChainRun> {
    /// The chain ended.
    pub async fn on_chain_end(&self, outputs: &Value) -> Result<(), CallbackError> {
        self.emit(run_event!(self, ChainEnd { outputs })).await
    }

    /// The chain failed.
    pub async fn on_chain_error(&self, error: impl Into<ErrorInfo>) -> Result<(), CallbackError> {
        let error = &error.into();
        self.emit(run_event!(self, ChainError { error })).await
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

    /// The agent of this chain finished.
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
    /// The tool ended.
    pub async fn on_tool_end(&self, output: &Value) -> Result<(), CallbackError> {
        self.emit(run_event!(self, ToolEnd { output })).await
    }

    /// The tool failed.
    pub async fn on_tool_error(&self, error: impl Into<ErrorInfo>) -> Result<(), CallbackError> {
        let error = &error.into();
        self.emit(run_event!(self, ToolError { error })).await
    }
}

impl RunManager<AsyncMode, RetrieverRun> {
    /// The retriever ended with these documents.
    pub async fn on_retriever_end(&self, documents: &[Document]) -> Result<(), CallbackError> {
        self.emit(run_event!(self, RetrieverEnd { documents }))
            .await
    }

    /// The retriever failed.
    pub async fn on_retriever_error(
        &self,
        error: impl Into<ErrorInfo>,
    ) -> Result<(), CallbackError> {
        let error = &error.into();
        self.emit(run_event!(self, RetrieverError { error })).await
    }
}
