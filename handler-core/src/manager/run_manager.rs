//! Run managers: the handle of one started run, which emits the run's events and makes child
//! managers for nested runs.

use std::fmt;
use std::marker::PhantomData;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};

use serde_json::Value;
use uuid::Uuid;

use super::dispatch::dispatch_sync_to_all;
use super::set::{HandlerSet, Slot};
use super::synchronous::{SyncMode, dispatch};
use super::{DispatchMode, Manager, Scope};
use crate::category::{Category, Interest};
use crate::error::{CallbackError, CallbackErrorKind};
use crate::event::{
    AgentAction, AgentFinish, ChainEnd, ChainError, CustomEvent, Event, LlmEnd, LlmError,
    LlmNewToken, RetrieverEnd, RetrieverError, Retry, Text, ToolEnd, ToolError,
};
use crate::payload::{
    Document, ErrorInfo, GenerationChunk, LlmResult, Metadata, RetryState, StreamCounter,
    StreamStats,
};
use crate::run_context::RunContext;

mod sealed {
    pub trait Sealed {}
}

/// The kind of a run: which events its run manager emits.
pub trait RunKind: sealed::Sealed + Send + Sync + 'static {
    /// True for model runs, whose run managers count streamed tokens.
    #[doc(hidden)]
    const STREAMS: bool = false;

    /// The error event of this kind of run, sent when a run manager is dropped without an end.
    #[doc(hidden)]
    fn error_event<'a>(
        run: &'a RunContext,
        error: &'a ErrorInfo,
        stream: &'a StreamStats,
    ) -> Event<'a>;
}
/// A run kind whose run manager makes child managers (chain, tool, retriever).
pub trait Nestable: RunKind {}

macro_rules! run_kinds {
    ($($(#[$doc:meta])* $name:ident => $error:ident $(: $nestable:ident)?;)*) => {$(
        $(#[$doc])*
        #[derive(Debug)]
        pub enum $name {}
        impl sealed::Sealed for $name {}
        impl RunKind for $name {
            fn error_event<'a>(
                run: &'a RunContext,
                error: &'a ErrorInfo,
                _: &'a StreamStats,
            ) -> Event<'a> {
                Event::$error($error { run, error })
            }
        }
        $(impl $nestable for $name {})?
    )*};
}

/// An LLM or chat model run: tokens, end, error. It has no children.
#[derive(Debug)]
pub enum LlmRun {}
impl sealed::Sealed for LlmRun {}
impl RunKind for LlmRun {
    const STREAMS: bool = true;

    fn error_event<'a>(
        run: &'a RunContext,
        error: &'a ErrorInfo,
        stream: &'a StreamStats,
    ) -> Event<'a> {
        Event::LlmError(LlmError {
            run,
            error,
            response: None,
            stream,
        })
    }
}

run_kinds! {
    /// A chain run: end, error, agent action and finish; children.
    ChainRun => ChainError: Nestable;
    /// A tool run: end, error; children.
    ToolRun => ToolError: Nestable;
    /// A retriever run: end, error; children.
    RetrieverRun => RetrieverError: Nestable;
}

/// What every clone of one run manager shares: the run, and whether it has ended. When the
/// last clone goes away before the run ended, the run's error event is sent with
/// [`ErrorInfo::abandoned`].
pub(crate) struct RunState<S: Slot> {
    pub(crate) context: RunContext,
    pub(crate) scope: Arc<Scope<S>>,
    ended: AtomicBool,
    /// Model runs count their streamed tokens here.
    stream: Option<StreamCounter>,
    error_event: for<'a> fn(&'a RunContext, &'a ErrorInfo, &'a StreamStats) -> Event<'a>,
}

impl<S: Slot> RunState<S> {
    /// Counts a streamed token.
    #[inline]
    pub(crate) fn count_token(&self) {
        if let Some(stream) = &self.stream {
            stream.count();
        }
    }

    /// What the run streamed so far.
    pub(crate) fn stream_stats(&self) -> StreamStats {
        self.stream
            .as_ref()
            .map_or(StreamStats::NONE, StreamCounter::stats)
    }

    /// Marks the run ended; fails when it already was (another clone ended it).
    fn end(&self) -> Result<(), CallbackError> {
        if self.ended.swap(true, Ordering::AcqRel) {
            return Err(CallbackErrorKind::RunAlreadyEnded {
                run_id: self.context.run_id,
            }
            .into());
        }
        Ok(())
    }
}

impl<S: Slot> Drop for RunState<S> {
    fn drop(&mut self) {
        if *self.ended.get_mut() {
            return;
        }
        let error = ErrorInfo::abandoned();
        let stream = self.stream_stats();
        let event = (self.error_event)(&self.context, &error, &stream);
        if self
            .scope
            .handlers
            .interest()
            .contains(event.kind().category())
        {
            // Errors are logged by the dispatch; nobody is left to return them to.
            let _ = S::dispatch_detached(&self.scope.handlers, &event);
        }
    }
}

/// The handle of a started run. Every run manager emits text, retry and custom events; the
/// others depend on the run's kind `K`. Use the aliases ([`ChainRunManager`](super::ChainRunManager),
/// [`AsyncLlmRunManager`](super::AsyncLlmRunManager), ...).
///
/// # Every run ends exactly once
///
/// Handlers may rely on it: every started run gets one terminal event (its end or its error).
/// The methods that end a run (`on_chain_end`, `on_llm_error`, ...) consume the run manager. A
/// run manager dropped without an end (an early `?`, a panic, a cancelled future) sends the
/// run's error event with [`ErrorInfo::abandoned`] when its last clone goes away: sync handlers
/// get it in the drop; async handlers from a task of the current tokio runtime or, outside
/// tokio, in the drop too. When neither works (the dropping thread already runs another
/// executor, or the runtime is shutting down) the async handlers get it from the one background
/// dispatch thread, through a bounded queue (a full queue makes the drop wait for room). Clones
/// share
/// the run: ending it through a second clone fails with
/// [`CallbackErrorKind::RunAlreadyEnded`](crate::CallbackErrorKind::RunAlreadyEnded) and sends
/// nothing.
///
/// ```
/// use handler_core::{CallbackManager, RunOptions};
/// use serde_json::json;
///
/// let manager = CallbackManager::new();
/// let chain = manager.on_chain_start(None, &json!({"question": "?"}), RunOptions::default())?;
/// let child = chain.child();
/// assert_eq!(child.parent_run_id(), Some(chain.run_id()));
/// chain.on_chain_end(&json!({"answer": "!"}))?; // consumes `chain`
/// # Ok::<(), handler_core::CallbackError>(())
/// ```
pub struct RunManager<D: DispatchMode, K: RunKind> {
    pub(crate) state: Arc<RunState<D::Slot>>,
    /// The scope's handlers and their interest, kept here to save two loads per event.
    pub(crate) handlers: Arc<HandlerSet<D::Slot>>,
    pub(crate) interest: Interest,
    kind: PhantomData<fn() -> K>,
}

impl<D: DispatchMode, K: RunKind> RunManager<D, K> {
    pub(crate) fn new(context: RunContext, scope: Arc<Scope<D::Slot>>) -> Self {
        Self::from_state(Arc::new(RunState {
            context,
            scope,
            ended: AtomicBool::new(false),
            stream: K::STREAMS.then(StreamCounter::new),
            error_event: K::error_event,
        }))
    }

    fn from_state(state: Arc<RunState<D::Slot>>) -> Self {
        Self {
            handlers: state.scope.handlers.clone(),
            interest: state.scope.handlers.interest(),
            state,
            kind: PhantomData,
        }
    }

    /// Counts a streamed token when a handler wants LLM events (and so the run's end).
    #[inline(always)]
    pub(crate) fn count_token(&self) {
        if self.interest.contains(Category::Llm) {
            self.state.count_token();
        }
    }

    /// Marks the run ended, before its terminal event is sent.
    pub(crate) fn end(&self) -> Result<(), CallbackError> {
        self.state.end()
    }

    /// The run's id.
    pub fn run_id(&self) -> Uuid {
        self.state.context.run_id
    }

    /// The run's parent id.
    pub fn parent_run_id(&self) -> Option<Uuid> {
        self.state.context.parent_run_id
    }

    /// The run's context, as its events carry it.
    pub fn context(&self) -> &RunContext {
        &self.state.context
    }

    /// The run's tags, as its events carry them.
    pub fn tags(&self) -> &[String] {
        &self.state.context.tags
    }

    /// The run's metadata, as its events carry it.
    pub fn metadata(&self) -> &Metadata {
        &self.state.context.metadata
    }

    /// The names of the handlers that receive this run's events, in registration order.
    pub fn handler_names(&self) -> Vec<&str> {
        self.handlers.entries().iter().map(|e| &*e.name).collect()
    }

    /// The handlers that receive this run's events, in registration order.
    pub fn shared_handlers(&self) -> Vec<super::SharedHandler> {
        self.handlers
            .entries()
            .iter()
            .map(|e| e.handler.to_shared())
            .collect()
    }

    /// True once the run has ended (through any clone of this run manager).
    pub fn is_ended(&self) -> bool {
        self.state.ended.load(Ordering::Acquire)
    }

    pub(crate) fn text_event<'a>(&'a self, text: &'a str) -> Event<'a> {
        Event::Text(Text {
            run: &self.state.context,
            text,
        })
    }

    pub(crate) fn retry_event<'a>(&'a self, state: &'a RetryState) -> Event<'a> {
        Event::Retry(Retry {
            run: &self.state.context,
            state,
        })
    }

    /// The context of a custom event of this run: its id, tags and metadata, no parent.
    pub(crate) fn custom_context(&self) -> RunContext {
        RunContext {
            parent_run_id: None,
            name: None,
            run_type: None,
            ..RunContext::clone(&self.state.context)
        }
    }
}

impl<D: DispatchMode, K: Nestable> RunManager<D, K> {
    /// A manager for runs nested in this one: its runs have this run as parent, and it holds
    /// this run's inheritable handlers, tags and metadata (all inheritable again); local ones do
    /// not flow down. Costs no allocation after the first child of a scope.
    pub fn child(&self) -> Manager<D> {
        Manager::from_scope(&self.state.context, self.state.scope.child())
    }

    /// Like [`child`](Self::child), with a tag that the child's runs carry but that does not
    /// flow further down (e.g. `"seq:step:2"`).
    pub fn child_with_tag(&self, tag: impl Into<String>) -> Manager<D> {
        let mut child = self.child();
        child.add_local_tags([tag.into()]);
        child
    }
}

impl<D: DispatchMode, K: RunKind> Clone for RunManager<D, K> {
    /// Another handle of the same run: the run ends once, through either handle, and is
    /// abandoned when every handle is dropped without an end.
    fn clone(&self) -> Self {
        Self::from_state(self.state.clone())
    }
}

impl<D: DispatchMode, K: RunKind> fmt::Debug for RunManager<D, K> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("RunManager")
            .field("kind", &std::any::type_name::<K>())
            .field("context", &self.state.context)
            .field("ended", &self.is_ended())
            .finish()
    }
}

/// Builds the event of a run-manager method from its run context and arguments.
macro_rules! run_event {
    ($self:ident, $variant:ident { $($field:ident),* }) => {
        Event::$variant($variant { run: &$self.state.context, $($field),* })
    };
}
pub(crate) use run_event;

impl<K: RunKind> RunManager<SyncMode, K> {
    /// The fast path: an event no handler wants returns after one load and a branch.
    #[inline(always)]
    fn emit(&self, event: &Event<'_>) -> Result<(), CallbackError> {
        if !self.interest.contains(event.kind().category()) {
            return Ok(());
        }
        dispatch(&self.handlers, event)
    }

    /// Ends the run with its terminal event, which every interested handler gets whatever an
    /// earlier one returned; the first raised error is returned.
    fn emit_end(&self, event: &Event<'_>) -> Result<(), CallbackError> {
        self.end()?;
        let category = event.kind().category();
        if !self.interest.contains(category) {
            return Ok(());
        }
        dispatch_sync_to_all(self.handlers.lists(category), event)
    }

    /// The run printed text. Every handler receives it: no flag gates text.
    pub fn on_text(&self, text: &str) -> Result<(), CallbackError> {
        self.emit(&self.text_event(text))
    }

    /// A call of this run is about to be retried.
    pub fn on_retry(&self, state: &RetryState) -> Result<(), CallbackError> {
        self.emit(&self.retry_event(state))
    }

    /// Dispatches a custom event attributed to this run.
    pub fn dispatch_custom_event(&self, name: &str, data: &Value) -> Result<(), CallbackError> {
        let run = self.custom_context();
        self.emit(&Event::CustomEvent(CustomEvent {
            run: &run,
            name,
            data,
        }))
    }
}

impl RunManager<SyncMode, LlmRun> {
    /// The model streamed a token. Costs no heap allocation. The run counts it (for
    /// [`StreamStats`]) when any handler wants LLM events.
    #[inline]
    pub fn on_llm_new_token(
        &self,
        token: &str,
        chunk: Option<&GenerationChunk>,
    ) -> Result<(), CallbackError> {
        self.count_token();
        self.emit(&run_event!(self, LlmNewToken { token, chunk }))
    }

    /// The model run ended. Ends the run.
    pub fn on_llm_end(self, response: &LlmResult) -> Result<(), CallbackError> {
        let stream = &self.state.stream_stats();
        self.emit_end(&run_event!(self, LlmEnd { response, stream }))
    }

    /// The model run failed. Ends the run.
    pub fn on_llm_error(self, error: impl Into<ErrorInfo>) -> Result<(), CallbackError> {
        self.llm_error(&error.into(), None)
    }

    /// The model run failed after producing `response`. Ends the run.
    pub fn on_llm_error_with_response(
        self,
        error: impl Into<ErrorInfo>,
        response: &LlmResult,
    ) -> Result<(), CallbackError> {
        self.llm_error(&error.into(), Some(response))
    }

    fn llm_error(
        self,
        error: &ErrorInfo,
        response: Option<&LlmResult>,
    ) -> Result<(), CallbackError> {
        let stream = &self.state.stream_stats();
        self.emit_end(&run_event!(
            self,
            LlmError {
                error,
                response,
                stream
            }
        ))
    }
}

impl RunManager<SyncMode, ChainRun> {
    /// The chain ended. Ends the run.
    pub fn on_chain_end(self, outputs: &Value) -> Result<(), CallbackError> {
        self.emit_end(&run_event!(self, ChainEnd { outputs }))
    }

    /// The chain failed. Ends the run.
    pub fn on_chain_error(self, error: impl Into<ErrorInfo>) -> Result<(), CallbackError> {
        let error = &error.into();
        self.emit_end(&run_event!(self, ChainError { error }))
    }

    /// The agent of this chain chose an action.
    pub fn on_agent_action(
        &self,
        tool: &str,
        tool_input: &Value,
        log: &str,
    ) -> Result<(), CallbackError> {
        self.emit(&run_event!(
            self,
            AgentAction {
                tool,
                tool_input,
                log
            }
        ))
    }

    /// The agent of this chain finished. The chain itself ends with
    /// [`on_chain_end`](Self::on_chain_end).
    pub fn on_agent_finish(&self, return_values: &Value, log: &str) -> Result<(), CallbackError> {
        self.emit(&run_event!(self, AgentFinish { return_values, log }))
    }
}

impl RunManager<SyncMode, ToolRun> {
    /// The tool ended. Ends the run.
    pub fn on_tool_end(self, output: &Value) -> Result<(), CallbackError> {
        self.emit_end(&run_event!(self, ToolEnd { output }))
    }

    /// The tool failed. Ends the run.
    pub fn on_tool_error(self, error: impl Into<ErrorInfo>) -> Result<(), CallbackError> {
        let error = &error.into();
        self.emit_end(&run_event!(self, ToolError { error }))
    }
}

impl RunManager<SyncMode, RetrieverRun> {
    /// The retriever ended with these documents. Ends the run.
    pub fn on_retriever_end(self, documents: &[Document]) -> Result<(), CallbackError> {
        self.emit_end(&run_event!(self, RetrieverEnd { documents }))
    }

    /// The retriever failed. Ends the run.
    pub fn on_retriever_error(self, error: impl Into<ErrorInfo>) -> Result<(), CallbackError> {
        let error = &error.into();
        self.emit_end(&run_event!(self, RetrieverError { error }))
    }
}
