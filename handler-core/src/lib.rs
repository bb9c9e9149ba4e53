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
//! use handler_core::{CallbackHandler, CallbackManager, HandlerResult, RunOptions};
//! use handler_core::event::LlmNewToken;
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

mod attr_support;
mod category;
pub mod cost;
pub mod current;
mod derive_support;
pub mod error;
pub mod evaluation;
pub mod event;
pub mod handlers;
pub mod manager;
pub mod payload;
pub mod registry;
mod run_context;
mod traits;

pub use error::{CallbackError, HandlerResult};
pub use manager::{AsyncCallbackManager, CallbackManager};
pub use run_context::{RunContext, RunOptions};
pub use traits::{AsyncCallbackHandler, CallbackHandler, HandlerOptions};
pub use uuid::Uuid;

/// Paths used by the code the macros generate, and by the facade. Not public API.
#[doc(hidden)]
pub mod __private {
    /// What run attributes (`#[chain]`, `#[tool]`, `#[retriever]`) generate code against.
    pub mod attr {
        pub use crate::attr_support::*;
    }
    pub use crate::derive_support::*;
    pub use inventory;
    pub use serde_json;
    pub use uuid;
}
