//! Macros that turn a plain struct into an `llm-callbacks` handler: `#[derive(CallbackHandler)]`
//! on the type, `#[callbacks]` on the impl block whose methods are marked `#[on(event)]`.
//!
//! Use them through the `llm-callbacks` facade (feature `derive`, on by default), which
//! re-exports them; its documentation describes the attributes in full.
//!
//! ```
//! use std::sync::atomic::{AtomicUsize, Ordering};
//! use llm_callbacks::{CallbackHandler, HandlerOptions, LlmNewToken, callbacks};
//!
//! #[derive(CallbackHandler, Default)]
//! #[callback(name = "token-counter")]
//! struct TokenCounter {
//!     tokens: AtomicUsize,
//! }
//!
//! #[callbacks]
//! impl TokenCounter {
//!     #[on(llm_new_token)]
//!     fn count(&self, _event: &LlmNewToken<'_>) {
//!         self.tokens.fetch_add(1, Ordering::Relaxed);
//!     }
//! }
//!
//! let handler = TokenCounter::default();
//! assert_eq!(handler.name(), "token-counter");
//! assert!(!handler.options().ignore_llm);
//! assert!(handler.options().ignore_chain);
//! ```
//!
//! Inside, the crate is split the way thiserror's is, one job per module: `options` reads the
//! attributes, `ast` reads the impl block, `valid` checks each marked signature, `expand`
//! writes the trait impl, `fallback` writes stand-ins next to an error so that one mistake is
//! one error. `derive` and `callbacks` tie them together as plain functions on token
//! streams, unit-tested without a compiler.
#![deny(missing_docs)]

mod ast;
mod callbacks;
mod derive;
mod errors;
mod events;
mod expand;
mod fallback;
mod options;
mod run_attr;
mod valid;

use proc_macro::TokenStream;

/// Makes a type a callback handler; pair it with a `#[callbacks]` impl block.
///
/// Options, in `#[callback(...)]` (all optional):
///
/// | option | meaning |
/// |---|---|
/// | `name = "..."` | the handler's name in logs and errors (default: its type name) |
/// | `raise_error`, `raise_error = bool` | return this handler's errors to the caller |
/// | `run_inline`, `run_inline = bool` | in the async manager, run in order before the concurrent handlers |
/// | `ignore_<category> = bool` | override a computed flag: `llm`, `chat_model`, `chain`, `agent`, `retriever`, `retry`, `custom_event` |
/// | `crate = "path"` | where the core is, when depending on `handler-core` directly (default `::llm_callbacks`) |
#[proc_macro_derive(CallbackHandler, attributes(callback))]
pub fn derive_callback_handler(input: TokenStream) -> TokenStream {
    derive::derive(input.into()).into()
}

/// Writes the handler trait impl for the methods of this impl block marked `#[on(event)]`.
///
/// A marked method takes `&self`, the event by reference (`&ChainEnd<'_>`) and optionally the
/// run's `&RunContext`; it may be `async`, and returns `()` or `Result<(), E>` for any error
/// type that converts into a `HandlerError`. Any `async` method makes the handler an
/// `AsyncCallbackHandler`; otherwise it is a `CallbackHandler`, usable in both managers. Each
/// category without a marked method is ignored. Also defines `pub const OPTIONS: HandlerOptions`
/// on the type. Takes `crate = "path"` like the derive.
#[proc_macro_attribute]
pub fn callbacks(args: TokenStream, item: TokenStream) -> TokenStream {
    callbacks::callbacks(args.into(), item.into()).into()
}

/// Makes each call of a function a chain run under the current run; see the facade's docs.
#[proc_macro_attribute]
pub fn chain(args: TokenStream, item: TokenStream) -> TokenStream {
    run_attr::run_attr(run_attr::Kind::Chain, args.into(), item.into()).into()
}

/// Makes each call of a function a tool run under the current run; see the facade's docs.
#[proc_macro_attribute]
pub fn tool(args: TokenStream, item: TokenStream) -> TokenStream {
    run_attr::run_attr(run_attr::Kind::Tool, args.into(), item.into()).into()
}

/// Makes each call of a function a retriever run under the current run; see the facade's docs.
#[proc_macro_attribute]
pub fn retriever(args: TokenStream, item: TokenStream) -> TokenStream {
    run_attr::run_attr(run_attr::Kind::Retriever, args.into(), item.into()).into()
}
