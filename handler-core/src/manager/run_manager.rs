//! Run managers: the handle of one started run, which emits the run's events (see the event
//! API) and makes child managers for nested runs.

use std::fmt;
use std::marker::PhantomData;
use std::sync::Arc;

use uuid::Uuid;

use super::base::Manager;
use super::mode::DispatchMode;
use super::run_state::RunState;
use super::scope::Scope;
use super::set::HandlerSet;
use super::shared::SharedHandler;
use crate::category::{Categories, Category};
use crate::error::CallbackError;
use crate::event::{ChainError, Event, LlmError, RetrieverError, Retry, Text, ToolError};
use crate::payload::{ErrorInfo, Metadata, RetryState, StreamStats};
use crate::run_context::{RunContext, RunOptions};

mod sealed {
    use super::*;

    /// What a run kind does, out of users' reach (public in a private module).
    pub trait Kind: Send + Sync + 'static {
        /// True for model runs, whose run managers count streamed tokens.
        const STREAMS: bool = false;

        /// The error event of this kind of run, sent when a run manager is dropped without an end.
        fn error_event<'a>(
            run: &'a RunContext,
            error: &'a ErrorInfo,
            stream: &'a StreamStats,
        ) -> Event<'a>;
    }
}

/// The kind of a run: which events its run manager emits. Sealed: its workings are private.
pub trait RunKind: sealed::Kind {}
/// A run kind whose run manager makes child managers (chain, tool, retriever).
pub trait Nestable: RunKind {}

macro_rules! run_kinds {
    ($($(#[$doc:meta])* $name:ident => $error:ident $(: $nestable:ident)?;)*) => {$(
        $(#[$doc])*
        #[derive(Debug)]
        pub enum $name {}
        impl RunKind for $name {}
        impl sealed::Kind for $name {
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
impl RunKind for LlmRun {}
impl sealed::Kind for LlmRun {
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
/// [`CallbackErrorKind::RunAlreadyEnded`](crate::error::CallbackErrorKind::RunAlreadyEnded) and sends
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
///
/// An LLM run streams tokens, and its end consumes its run manager:
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
pub struct RunManager<D: DispatchMode, K: RunKind> {
    pub(crate) state: Arc<RunState<D>>,
    /// The scope's handlers and their interest, kept here to save two loads per event.
    pub(crate) handlers: Arc<HandlerSet<D::Slot>>,
    pub(crate) interest: Categories,
    kind: PhantomData<fn() -> K>,
}

impl<D: DispatchMode, K: RunKind> RunManager<D, K> {
    pub(crate) fn new(context: RunContext, scope: Arc<Scope<D::Slot>>) -> Self {
        Self::from_state(Arc::new(RunState::new(
            context,
            scope,
            K::STREAMS,
            K::error_event,
        )))
    }

    fn from_state(state: Arc<RunState<D>>) -> Self {
        Self {
            handlers: state.scope.handlers.clone(),
            interest: state.scope.handlers.interest(),
            state,
            kind: PhantomData,
        }
    }

    /// Counts a streamed token when a handler wants LLM events (and so the run's end). This is
    /// the only gate; the counter itself is `RunState`'s, in `run_state.rs`.
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
    pub fn shared_handlers(&self) -> Vec<SharedHandler> {
        self.handlers
            .entries()
            .iter()
            .map(|e| D::to_shared(&e.handler))
            .collect()
    }

    /// True once the run has ended (through any clone of this run manager).
    pub fn is_ended(&self) -> bool {
        self.state.is_ended()
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

impl<D: DispatchMode> Manager<D> {
    /// Makes the context of a new run of this manager.
    pub(crate) fn new_run(&self, run_id: Option<Uuid>, options: &RunOptions) -> RunContext {
        RunContext {
            run_id: run_id.unwrap_or_else(crate::run_context::new_run_id),
            parent_run_id: self.parent_run_id,
            root_run_id: self.root_run_id.or(self.parent_run_id),
            tags: self.scope.tags.clone(),
            metadata: self.scope.metadata.clone(),
            name: options.name.clone(),
            run_type: options.run_type.clone(),
        }
    }

    /// The run manager of a new run of this manager, before its start event is sent. When the
    /// start's dispatch fails (a handler with `raise_error`), the caller drops it, so the run
    /// still gets its one terminal event (abandoned).
    pub(crate) fn run_manager<K: RunKind>(
        &self,
        run_id: Option<Uuid>,
        options: &RunOptions,
    ) -> RunManager<D, K> {
        RunManager::new(self.new_run(run_id, options), self.scope.clone())
    }
}

/// Builds the event of a run-manager method from its run context and arguments.
macro_rules! run_event {
    ($self:ident, $variant:ident { $($field:ident),* }) => {
        Event::$variant($variant { run: &$self.state.context, $($field),* })
    };
}
pub(crate) use run_event;
