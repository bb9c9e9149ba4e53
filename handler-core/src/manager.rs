//! Managers and run managers: how events get from your code to the handlers.
//!
//! A manager holds handlers, tags and metadata. Starting a run (`on_chain_start`,
//! `on_llm_start`, `on_tool_start`, `on_retriever_start`) dispatches the start event and returns
//! a run manager: it emits the run's later events (tokens, end, error) and makes the child
//! manager for nested runs ([`RunManager::child`]), so children get the right parent run id and
//! inherit handlers, tags and metadata.
//!
//! | you use | it dispatches to | its run managers |
//! |---|---|---|
//! | [`CallbackManager`] | [`CallbackHandler`](crate::CallbackHandler)s, on the caller's thread | [`ChainRunManager`], [`LlmRunManager`], [`ToolRunManager`], [`RetrieverRunManager`] |
//! | [`AsyncCallbackManager`] | sync handlers and [`AsyncCallbackHandler`](crate::AsyncCallbackHandler)s, on any executor | [`AsyncChainRunManager`], [`AsyncLlmRunManager`], [`AsyncToolRunManager`], [`AsyncRetrieverRunManager`] |
//!
//! [`CallbackManager`] and [`AsyncCallbackManager`] are also at the crate root. The generic
//! types the others are made of
//! ([`Manager`], [`RunManager`], the dispatch modes and run kinds) are here for code that is
//! generic over both managers or over every run kind, with [`IntoCallbackHandler`] (what
//! `add_handler` accepts) and [`SharedHandler`] (a handler of either kind, as plugins build them).

// Words: a handler is *delivered* one event; a list of handlers is *dispatched* to (sync or
// async); a manager or run manager *emits* an event (its public methods).
//
// The files below, bottom to top (each imports only from files above it in this list):
// `shared` (handler references), `set` (handler sets), `dispatch_sync`, `background` and
// `dispatch_async`, `mode` (the two modes), `scope`, `base` (the `Manager` type) and `edit`
// (editing it), `run_state` and `run_manager` (run managers), `send` (the per-mode emit
// primitives) and `events` (the event API, written once for both modes).

mod background;
mod base;
mod dispatch_async;
mod dispatch_sync;
mod edit;
mod events;
mod mode;
mod run_manager;
mod run_state;
mod scope;
mod send;
mod set;
mod shared;

pub(crate) use base::ErasedManager;
pub use base::Manager;
pub use mode::{AsyncMode, DispatchMode, SyncMode};
pub use run_manager::{ChainRun, LlmRun, Nestable, RetrieverRun, RunKind, RunManager, ToolRun};
pub use shared::{ErasedAsyncHandler, IntoCallbackHandler, SharedHandler};

/// A manager that dispatches synchronously to [`CallbackHandler`](crate::CallbackHandler)s.
pub type CallbackManager = Manager<SyncMode>;
/// A manager that dispatches to sync and async handlers, on tokio or any executor.
pub type AsyncCallbackManager = Manager<AsyncMode>;

/// The run manager of an LLM or chat model run.
pub type LlmRunManager = RunManager<SyncMode, LlmRun>;
/// The run manager of a chain run.
pub type ChainRunManager = RunManager<SyncMode, ChainRun>;
/// The run manager of a tool run.
pub type ToolRunManager = RunManager<SyncMode, ToolRun>;
/// The run manager of a retriever run.
pub type RetrieverRunManager = RunManager<SyncMode, RetrieverRun>;
/// The async run manager of an LLM or chat model run.
pub type AsyncLlmRunManager = RunManager<AsyncMode, LlmRun>;
/// The async run manager of a chain run.
pub type AsyncChainRunManager = RunManager<AsyncMode, ChainRun>;
/// The async run manager of a tool run.
pub type AsyncToolRunManager = RunManager<AsyncMode, ToolRun>;
/// The async run manager of a retriever run.
pub type AsyncRetrieverRunManager = RunManager<AsyncMode, RetrieverRun>;
