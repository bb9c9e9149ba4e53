//! Run managers: the handle of one started run, which emits the run's events and makes child
//! managers for nested runs.

use std::fmt;
use std::marker::PhantomData;
use std::sync::Arc;

use serde_json::Value;
use uuid::Uuid;

use super::set::HandlerSet;
use super::synchronous::{SyncMode, dispatch};
use super::{DispatchMode, Manager, Scope};
use crate::category::Interest;
use crate::error::CallbackError;
use crate::event::{
    AgentAction, AgentFinish, ChainEnd, ChainError, CustomEvent, Event, LlmEnd, LlmError,
    LlmNewToken, RetrieverEnd, RetrieverError, Retry, Text, ToolEnd, ToolError,
};
use crate::payload::{Document, ErrorInfo, GenerationChunk, LlmResult, RetryState};
use crate::run_context::RunContext;

mod sealed {
    pub trait Sealed {}
}

/// The kind of a run: which events its run manager emits.
pub trait RunKind: sealed::Sealed + Send + Sync + 'static {}
/// A run kind whose run manager makes child managers (chain, tool, retriever).
pub trait Nestable: RunKind {}

macro_rules! run_kinds {
    ($($(#[$doc:meta])* $name:ident $(: $nestable:ident)?;)*) => {$(
        $(#[$doc])*
        #[derive(Debug)]
        pub enum $name {}
        impl sealed::Sealed for $name {}
        impl RunKind for $name {}
        $(impl $nestable for $name {})?
    )*};
}

run_kinds! {
    /// An LLM or chat model run: tokens, end, error. It has no children.
    LlmRun;
    /// A chain run: end, error, agent action and finish; children.
    ChainRun: Nestable;
    /// A tool run: end, error; children.
    ToolRun: Nestable;
    /// A retriever run: end, error; children.
    RetrieverRun: Nestable;
}

/// The handle of a started run. Every run manager emits text, retry and custom events; the
/// others depend on the run's kind `K`. Use the aliases ([`ChainRunManager`](super::ChainRunManager),
/// [`AsyncLlmRunManager`](super::AsyncLlmRunManager), ...).
///
/// ```
/// use handler_core::{CallbackManager, RunOptions};
/// use serde_json::json;
///
/// let manager = CallbackManager::new();
/// let chain = manager.on_chain_start(None, &json!({"question": "?"}), RunOptions::default())?;
/// let child = chain.child();
/// assert_eq!(child.parent_run_id(), Some(chain.run_id()));
/// chain.on_chain_end(&json!({"answer": "!"}))?;
/// # Ok::<(), handler_core::CallbackError>(())
/// ```
pub struct RunManager<D: DispatchMode, K: RunKind> {
    pub(crate) context: Arc<RunContext>,
    pub(crate) scope: Arc<Scope<D::Slot>>,
    /// The scope's handlers and their interest, kept here to save two loads per event.
    pub(crate) handlers: Arc<HandlerSet<D::Slot>>,
    pub(crate) interest: Interest,
    kind: PhantomData<fn() -> K>,
}

impl<D: DispatchMode, K: RunKind> RunManager<D, K> {
    pub(crate) fn new(context: Arc<RunContext>, scope: Arc<Scope<D::Slot>>) -> Self {
        Self {
            context,
            handlers: scope.handlers.clone(),
            interest: scope.handlers.interest(),
            scope,
            kind: PhantomData,
        }
    }

    /// The run's id.
    pub fn run_id(&self) -> Uuid {
        self.context.run_id
    }

    /// The run's parent id.
    pub fn parent_run_id(&self) -> Option<Uuid> {
        self.context.parent_run_id
    }

    /// The run's context, as its events carry it.
    pub fn context(&self) -> &RunContext {
        &self.context
    }

    pub(crate) fn text_event<'a>(&'a self, text: &'a str) -> Event<'a> {
        Event::Text(Text {
            run: &self.context,
            text,
        })
    }

    pub(crate) fn retry_event<'a>(&'a self, state: &'a RetryState) -> Event<'a> {
        Event::Retry(Retry {
            run: &self.context,
            state,
        })
    }

    /// The context of a custom event of this run: its id, tags and metadata, no parent.
    pub(crate) fn custom_context(&self) -> RunContext {
        RunContext {
            parent_run_id: None,
            name: None,
            run_type: None,
            ..RunContext::clone(&self.context)
        }
    }
}

impl<D: DispatchMode, K: Nestable> RunManager<D, K> {
    /// A manager for runs nested in this one: its runs have this run as parent, and it holds
    /// this run's inheritable handlers, tags and metadata (all inheritable again); local ones do
    /// not flow down. Costs no allocation after the first child of a scope.
    pub fn child(&self) -> Manager<D> {
        Manager::from_scope(Some(self.context.run_id), self.scope.child())
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
    fn clone(&self) -> Self {
        Self::new(self.context.clone(), self.scope.clone())
    }
}

impl<D: DispatchMode, K: RunKind> fmt::Debug for RunManager<D, K> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("RunManager")
            .field("kind", &std::any::type_name::<K>())
            .field("context", &self.context)
            .finish()
    }
}

/// Builds the event of a run-manager method from its run context and arguments.
macro_rules! run_event {
    ($self:ident, $variant:ident { $($field:ident),* }) => {
        Event::$variant($variant { run: &$self.context, $($field),* })
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
    /// The model streamed a token. Costs no heap allocation.
    #[inline]
    pub fn on_llm_new_token(
        &self,
        token: &str,
        chunk: Option<&GenerationChunk>,
    ) -> Result<(), CallbackError> {
        self.emit(&run_event!(self, LlmNewToken { token, chunk }))
    }

    /// The model run ended.
    pub fn on_llm_end(&self, response: &LlmResult) -> Result<(), CallbackError> {
        self.emit(&run_event!(self, LlmEnd { response }))
    }

    /// The model run failed, with what it produced before, if anything.
    pub fn on_llm_error(
        &self,
        error: impl Into<ErrorInfo>,
        response: Option<&LlmResult>,
    ) -> Result<(), CallbackError> {
        let error = &error.into();
        self.emit(&run_event!(self, LlmError { error, response }))
    }
}

impl RunManager<SyncMode, ChainRun> {
    /// The chain ended.
    pub fn on_chain_end(&self, outputs: &Value) -> Result<(), CallbackError> {
        self.emit(&run_event!(self, ChainEnd { outputs }))
    }

    /// The chain failed.
    pub fn on_chain_error(&self, error: impl Into<ErrorInfo>) -> Result<(), CallbackError> {
        let error = &error.into();
        self.emit(&run_event!(self, ChainError { error }))
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

    /// The agent of this chain finished.
    pub fn on_agent_finish(&self, return_values: &Value, log: &str) -> Result<(), CallbackError> {
        self.emit(&run_event!(self, AgentFinish { return_values, log }))
    }
}

impl RunManager<SyncMode, ToolRun> {
    /// The tool ended.
    pub fn on_tool_end(&self, output: &Value) -> Result<(), CallbackError> {
        self.emit(&run_event!(self, ToolEnd { output }))
    }

    /// The tool failed.
    pub fn on_tool_error(&self, error: impl Into<ErrorInfo>) -> Result<(), CallbackError> {
        let error = &error.into();
        self.emit(&run_event!(self, ToolError { error }))
    }
}

impl RunManager<SyncMode, RetrieverRun> {
    /// The retriever ended with these documents.
    pub fn on_retriever_end(&self, documents: &[Document]) -> Result<(), CallbackError> {
        self.emit(&run_event!(self, RetrieverEnd { documents }))
    }

    /// The retriever failed.
    pub fn on_retriever_error(&self, error: impl Into<ErrorInfo>) -> Result<(), CallbackError> {
        let error = &error.into();
        self.emit(&run_event!(self, RetrieverError { error }))
    }
}
