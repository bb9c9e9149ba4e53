//! The core of llm-callbacks: typed events for every step of an LLM application's run, handler
//! traits, managers that dispatch events to many handlers at almost no cost, built-in handlers,
//! what a model run cost ([`cost`]) and the plugin registry.
//!
//! Most users depend on the `llm-callbacks` facade, which re-exports this crate and adds the
//! `#[derive(CallbackHandler)]` macro and plugins.
//!
//! ```
//! use std::sync::Arc;
//! use std::sync::atomic::{AtomicUsize, Ordering};
//! use handler_core::{CallbackHandler, CallbackManager, HandlerResult, LlmNewToken, RunOptions};
//! use handler_core::payload::{LlmResult, Serialized};
//! use serde_json::json;
//!
//! #[derive(Default)]
//! struct Tokens(AtomicUsize);
//! impl CallbackHandler for Tokens {
//!     fn on_llm_new_token(&self, _: &LlmNewToken<'_>) -> HandlerResult {
//!         self.0.fetch_add(1, Ordering::Relaxed);
//!         Ok(())
//!     }
//! }
//!
//! let tokens = Arc::new(Tokens::default());
//! let manager = CallbackManager::new().with_handler(tokens.clone());
//!
//! let chain = manager.on_chain_start(None, &json!({"question": "hi"}), RunOptions::named("qa"))?;
//! let llm = chain.child().on_llm_start(&Serialized::named("echo"), "hi", RunOptions::new())?;
//! for token in ["hel", "lo"] {
//!     llm.on_llm_new_token(token, None)?;
//! }
//! llm.on_llm_end(&LlmResult::from_text("hello"))?;
//! chain.on_chain_end(&json!({"answer": "hello"}))?;
//! assert_eq!(tokens.0.load(Ordering::Relaxed), 2);
//! # Ok::<(), handler_core::CallbackError>(())
//! ```
#![deny(missing_docs)]

#[doc(hidden)]
pub mod attr_support;
mod category;
pub mod cost;
pub mod current;
#[doc(hidden)]
pub mod derive_support;
mod error;
pub mod evaluation;
pub mod event;
pub mod handlers;
mod manager;
pub mod payload;
pub mod registry;
mod run_context;
mod traits;

pub use category::{Categories, Category};
pub use error::{
    CallbackError, CallbackErrorKind, Failure, HandlerError, HandlerResult, IntoHandlerResult,
};
pub use event::{
    AgentAction, AgentFinish, ChainEnd, ChainError, ChainStart, ChatModelStart, CustomEvent, Event,
    EventKind, EventRecord, LlmEnd, LlmError, LlmNewToken, LlmStart, RetrieverEnd, RetrieverError,
    RetrieverStart, Retry, Text, ToolEnd, ToolError, ToolStart,
};
pub use manager::{
    AsyncCallbackManager, AsyncChainRunManager, AsyncLlmRunManager, AsyncMode,
    AsyncRetrieverRunManager, AsyncToolRunManager, CallbackManager, ChainRun, ChainRunManager,
    DispatchMode, ErasedAsyncHandler, IntoCallbackHandler, LlmRun, LlmRunManager, Manager,
    Nestable, RetrieverRun, RetrieverRunManager, RunKind, RunManager, SharedHandler, SyncMode,
    ToolRun, ToolRunManager,
};
pub use run_context::{RunContext, RunOptions};
pub use traits::{AsyncCallbackHandler, CallbackHandler, HandlerOptions};

/// Re-exports used by generated code and plugins.
#[doc(hidden)]
pub mod __private {
    pub use crate::attr_support as attr;
    pub use crate::derive_support::*;
    pub use inventory;
    pub use serde_json;
    pub use uuid;
}
pub use uuid::Uuid;
