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
//! The names above are also at the crate root. The generic types they are made of
//! ([`Manager`], [`RunManager`], the dispatch modes and run kinds) are here for code that is
//! generic over both managers or over every run kind, with [`IntoCallbackHandler`] (what
//! `add_handler` accepts) and [`SharedHandler`] (a handler of either kind, as plugins build them).

pub use handler_core::{
    AsyncCallbackManager, AsyncChainRunManager, AsyncLlmRunManager, AsyncMode,
    AsyncRetrieverRunManager, AsyncToolRunManager, CallbackManager, ChainRun, ChainRunManager,
    DispatchMode, ErasedAsyncHandler, IntoCallbackHandler, LlmRun, LlmRunManager, Manager,
    Nestable, RetrieverRun, RetrieverRunManager, RunKind, RunManager, SharedHandler, SyncMode,
    ToolRun, ToolRunManager,
};
