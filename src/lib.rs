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

/// Makes a plain type a handler (feature `derive`): pair it with a [`callbacks`] impl block
/// whose methods are marked `#[on(event)]`.
///
/// The macros write the [`CallbackHandler`](trait@CallbackHandler) impl (or the
/// [`AsyncCallbackHandler`] impl, when a marked method is `async`), route each event to its
/// method, and set every `ignore_*` flag to `true` for the categories with no marked method, as
/// a constant (`MyHandler::OPTIONS`): the manager skips those events at no cost. The agent flag
/// stays `false` when a tool or agent event is marked, and the chat model flag stays `false`
/// when `llm_start` is marked, so chat starts reach that method as rendered prompts.
///
/// ```
/// use std::sync::Arc;
/// use std::sync::atomic::{AtomicUsize, Ordering};
/// // One import brings the derive and the trait (they live in different namespaces).
/// use llm_callbacks::{CallbackHandler, CallbackManager, LlmEnd, LlmNewToken, RunContext};
/// use llm_callbacks::payload::{LlmResult, Serialized};
/// use llm_callbacks::{RunOptions, callbacks};
///
/// #[derive(CallbackHandler, Default)]
/// #[callback(name = "token-counter", run_inline)]
/// struct TokenCounter {
///     tokens: AtomicUsize,
/// }
///
/// #[callbacks]
/// impl TokenCounter {
///     #[on(llm_new_token)]
///     fn count(&self, _event: &LlmNewToken<'_>) {
///         self.tokens.fetch_add(1, Ordering::Relaxed);
///     }
///
///     #[on(llm_end)]
///     fn report(&self, _event: &LlmEnd<'_>, run: &RunContext) -> Result<(), String> {
///         match self.tokens.load(Ordering::Relaxed) {
///             0 => Err(format!("run {} streamed nothing", run.run_id)),
///             n => Ok(println!("{n} tokens")),
///         }
///     }
/// }
///
/// // Only LLM events are wanted; everything else is ignored, as constants.
/// const OPTIONS: llm_callbacks::HandlerOptions = TokenCounter::OPTIONS;
/// assert!(!OPTIONS.ignore_llm && OPTIONS.ignore_chain && OPTIONS.ignore_agent);
///
/// let counter = Arc::new(TokenCounter::default());
/// let manager = CallbackManager::new().with_handler(counter.clone());
/// assert_eq!(manager.handlers(), ["token-counter"]);
/// let llm = manager.on_llm_start(&Serialized::named("echo"), "hi", RunOptions::new())?;
/// llm.on_llm_new_token("hel", None)?;
/// llm.on_llm_new_token("lo", None)?;
/// llm.on_llm_end(&LlmResult::from_text("hello"))?;
/// assert_eq!(counter.tokens.load(Ordering::Relaxed), 2);
/// # Ok::<(), llm_callbacks::CallbackError>(())
/// ```
///
/// Options, in `#[callback(...)]`, all optional:
///
/// | option | meaning |
/// |---|---|
/// | `name = "..."` | the handler's name in logs and errors (default: its type name) |
/// | `raise_error`, `raise_error = bool` | return the handler's errors and panics to the caller |
/// | `run_inline`, `run_inline = bool` | in the async manager, run in registration order before the concurrent handlers |
/// | `ignore_<category> = bool` | override a computed flag (`llm`, `chat_model`, `chain`, `agent`, `retriever`, `retry`, `custom_event`); `ignore_chain` alone means `= true` |
/// | `crate = "handler_core"` | for code that depends on `handler-core` directly rather than on this facade; write it on `#[callbacks(crate = "handler_core")]` too |
///
/// Mistakes are compile errors that point at them; a `&mut self` method, for example:
///
/// ```compile_fail
/// use llm_callbacks::{CallbackHandler, ChainEnd, callbacks};
///
/// #[derive(CallbackHandler)]
/// struct Counter { ends: u32 }
///
/// #[callbacks]
/// impl Counter {
///     #[on(chain_end)]
///     fn end(&mut self, _event: &ChainEnd<'_>) { // error: takes `&self`, not `&mut self`
///         self.ends += 1;
///     }
/// }
/// ```
///
/// and so are an unknown event (`#[on(chian_end)]`: "did you mean `chain_end`?"), an argument
/// of the wrong event type, two methods for one event, a generic method, a return type other
/// than `()` or `Result<(), E>`, an unknown option, and a `#[callbacks]` block without the
/// derive.
#[cfg(feature = "derive")]
pub use handler_macros::CallbackHandler;

/// Writes the handler for the methods of an impl block marked `#[on(event)]` (feature
/// `derive`); the type needs [`derive@CallbackHandler`], whose page has the full guide.
///
/// A marked method takes `&self`, the event by reference (`&ChainEnd<'_>`) and, optionally, the
/// run's [`&RunContext`](RunContext); it may be `async`, and returns `()` or `Result<(), E>`
/// for any `E` that converts into a [`HandlerError`] (any `std::error::Error + Send + Sync`, a
/// `String`, a `&'static str`). An `async` method makes the handler an [`AsyncCallbackHandler`]
/// (add it with `add_async_handler`); an all-sync handler is a
/// [`CallbackHandler`](trait@CallbackHandler) and works in both managers. Unmarked methods are
/// left alone. Use one `#[callbacks]` block per type; it also defines
/// `pub const OPTIONS: HandlerOptions` on the type.
///
/// ```
/// use std::sync::Arc;
/// use llm_callbacks::{AsyncCallbackManager, CallbackHandler, ChainEnd, Text, callbacks};
///
/// #[derive(CallbackHandler)]
/// struct Reporter;
///
/// #[callbacks]
/// impl Reporter {
///     #[on(chain_end)]
///     async fn report(&self, event: &ChainEnd<'_>) -> Result<(), std::io::Error> {
///         println!("chain {} returned {}", event.run.run_id, event.outputs);
///         Ok(())
///     }
///
///     #[on(text)]
///     fn text(&self, event: &Text<'_>) {
///         println!("{}", event.text);
///     }
/// }
///
/// let manager = AsyncCallbackManager::new().with_async_handler(Arc::new(Reporter));
/// assert_eq!(manager.handlers().len(), 1);
/// ```
///
/// An unknown event name is an error that suggests the closest one:
///
/// ```compile_fail
/// use llm_callbacks::{CallbackHandler, ChainEnd, callbacks};
///
/// #[derive(CallbackHandler)]
/// struct Handler;
///
/// #[callbacks]
/// impl Handler {
///     #[on(chian_end)] // error: unknown event `chian_end`; did you mean `chain_end`?
///     fn end(&self, _event: &ChainEnd<'_>) {}
/// }
/// ```
#[cfg(feature = "derive")]
pub use handler_macros::callbacks;

#[cfg(feature = "derive")]
mod run_attributes;
#[cfg(feature = "derive")]
pub use run_attributes::*;

/// The UpTrain plugin (feature `uptrain`).
#[cfg(feature = "uptrain")]
pub use uptrain_plugin as uptrain;

/// The instrumented OpenAI-compatible client (feature `openai`).
#[cfg(feature = "openai")]
pub use llm_callbacks_openai as openai;

/// Paths used by the code the macros generate. Not public API.
#[doc(hidden)]
pub mod __private {
    pub use handler_core::__private::*;
    pub use handler_core::*;
}

// Names the plugin crate so that the linker keeps its `inventory` registration.
#[cfg(feature = "uptrain")]
extern crate uptrain_plugin as _;

/// The README's examples, compiled and run as doctests.
#[cfg(doctest)]
#[doc = include_str!("../README.md")]
pub struct ReadmeDoctests;
