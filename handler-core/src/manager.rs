//! Managers and run managers: how events get from the application to the handlers.
//!
//! A [`Manager`] holds handlers, tags and metadata, each either inheritable (it flows to child
//! runs) or local. Starting a run (`on_chain_start`, `on_llm_start`, ...) dispatches the start
//! event and returns a [`RunManager`] that emits the run's later events and makes child managers
//! for nested runs. [`CallbackManager`] dispatches synchronously to [`CallbackHandler`]s;
//! [`AsyncCallbackManager`] also runs [`AsyncCallbackHandler`]s.
//!
//! [`CallbackHandler`]: crate::CallbackHandler
//! [`AsyncCallbackHandler`]: crate::AsyncCallbackHandler
//!
//! The files below, bottom to top (each imports only from files above it in this list):
//! `shared` (handler references), `set` (handler sets), `dispatch` (sync delivery), `emit` and
//! `background` (async delivery), `mode` (the two modes), `scope`, `base` (the [`Manager`]
//! type) and `edit` (editing it), `run_state` and `run_manager` (run managers), `send` (the
//! per-mode primitives) and `events` (the event API, written once for both modes).

mod background;
mod base;
mod dispatch;
mod edit;
mod emit;
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
