//! # llm-callbacks
//!
//! Typed callbacks for LLM applications, as LangChain's callback system gives Python ones:
//! events for every step of a run (LLM, chat model, chain, tool, retriever, agent, retry, text,
//! custom events), managers that fan them out to many handlers at almost no cost, a derive macro
//! that turns a plain struct into a handler, and plugins.
//!
//! Everything of [`handler_core`] is re-exported here. Cargo features:
//!
//! | feature | default | what it adds |
//! |---|---|---|
//! | `derive` | yes | `#[derive(CallbackHandler)]` and `#[callbacks]` |
//! | `uptrain` | no | the UpTrain evaluator plugin, discovered by [`registry`] |
#![deny(missing_docs)]

pub use handler_core::*;

#[cfg(feature = "derive")]
pub use handler_macros::*;

/// The UpTrain plugin (feature `uptrain`).
#[cfg(feature = "uptrain")]
pub use uptrain_plugin as uptrain;

/// Paths used by the code the macros generate. Not public API.
#[doc(hidden)]
pub mod __private {
    pub use handler_core::__private::*;
    pub use handler_core::*;
}

// Names the plugin crate so that the linker keeps its `inventory` registration.
#[cfg(feature = "uptrain")]
extern crate uptrain_plugin as _;
