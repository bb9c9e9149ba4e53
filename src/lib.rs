//! Typed callbacks for LLM applications, as LangChain's callback system gives Python ones:
//! an event for every step of a run (LLM, chat model, chain, tool, retriever, agent, retry,
//! text, custom events), managers that fan them out to many handlers at almost no cost, a derive
//! macro that turns a plain struct into a handler, and plugins.
//!
//! # A first pipeline
//!
//! A handler is a plain struct: derive [`CallbackHandler`](derive@CallbackHandler) and mark the
//! methods of a [`callbacks`] impl block with the events they handle. A manager fans each event
//! out to its handlers; starting a run returns the run manager that emits the run's later events
//! and makes the manager for its child runs. Every started run gets exactly one end or error
//! event: a run manager dropped without one (an early `?`, a panic) reports the run abandoned.
//!
//! ```
//! use std::sync::Arc;
//! use std::sync::atomic::{AtomicUsize, Ordering};
//! use llm_callbacks::event::LlmNewToken;
//! use llm_callbacks::handlers::ConsoleHandler;
//! use llm_callbacks::payload::{LlmResult, Serialized};
//! use llm_callbacks::{CallbackHandler, CallbackManager, RunOptions, callbacks};
//! use serde_json::json;
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
//! let counter = Arc::new(TokenCounter::default());
//! let manager = CallbackManager::new()
//!     .with_handler(Arc::new(ConsoleHandler::new()))
//!     .with_handler(counter.clone());
//!
//! let chain = manager.on_chain_start(None, &json!({"question": "hi"}), RunOptions::named("qa"))?;
//! let llm = chain.child().on_llm_start(&Serialized::named("echo"), "hi", RunOptions::new())?;
//! for token in ["hel", "lo"] {
//!     llm.on_llm_new_token(token, None)?;
//! }
//! llm.on_llm_end(&LlmResult::from_text("hello"))?; // ending a run consumes its run manager
//! chain.on_chain_end(&json!({"answer": "hello"}))?;
//! assert_eq!(counter.tokens.load(Ordering::Relaxed), 2);
//! # Ok::<(), llm_callbacks::CallbackError>(())
//! ```
//!
//! # Where things are
//!
//! | you want | look at |
//! |---|---|
//! | to dispatch events | [`CallbackManager`] (sync) and [`AsyncCallbackManager`] (async); the run managers their start methods return ([`ChainRunManager`](manager::ChainRunManager), [`LlmRunManager`](manager::LlmRunManager), ...) and the generic machinery are in [`manager`] |
//! | to describe a run | [`RunOptions`] (name, tags, metadata, run id) when you start it; [`RunContext`] on every event |
//! | the run you are in, without passing its manager down | [`current`]: enter a run, carry it across `.await`, and `CallbackManager::current()` |
//! | to write a handler | the derive [`CallbackHandler`](derive@CallbackHandler) with [`callbacks`] (its page is the guide: options, per-instance names and flags, errors); or implement the traits [`CallbackHandler`](trait@CallbackHandler) / [`AsyncCallbackHandler`] by hand, with [`HandlerOptions`] for the flags |
//! | the events and their data | [`event`]: one struct per event, [`EventKind`](event::EventKind), the owned [`EventRecord`](event::EventRecord); [`payload`]: documents, messages, LLM results, errors |
//! | ready-made handlers | [`handlers`]: a console printer, a JSONL recorder and its replay |
//! | what a model run cost | [`cost`]: the shipped price table, your overrides, a run's cost with where its prices came from |
//! | evaluations (scores of a run) | [`evaluation`]: evaluators publish results, listeners subscribe |
//! | plugins | [`registry`]: plugins discovered at run time and added with one call; `llm_callbacks::uptrain` (feature `uptrain`) |
//! | to handle errors | [`CallbackError`] (what a manager returns), [`HandlerError`](error::HandlerError) (what a handler returns); both in [`error`] |
//!
//! A handler's error or panic is logged and the other handlers still run, unless the handler
//! asks for `raise_error`; then the manager returns it as a [`CallbackError`].
//!
//! # Features
//!
//! | feature | default | what it adds |
//! |---|---|---|
//! | `derive` | yes | `#[derive(CallbackHandler)]` and `#[callbacks]` |
//! | `uptrain` | no | the UpTrain evaluator plugin, as `llm_callbacks::uptrain`, discovered by [`registry`] |
//! | `otel` | no | the OpenTelemetry exporter plugin (spans, evaluation events, Phoenix annotations), as `llm_callbacks::otel`, discovered by [`registry`] when an endpoint is configured |
#![deny(missing_docs)]

pub use handler_core::{
    cost, current, error, evaluation, event, handlers, manager, payload, registry,
};

/// Registers a plugin, for plugin crates that depend only on this facade; see [`registry`].
pub use handler_core::register_plugin;

pub use handler_core::{
    AsyncCallbackHandler, AsyncCallbackManager, CallbackError, CallbackHandler, CallbackManager,
    HandlerOptions, HandlerResult, RunContext, RunOptions, Uuid,
};

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
/// use llm_callbacks::{CallbackHandler, CallbackManager, RunContext};
/// use llm_callbacks::event::{LlmEnd, LlmNewToken};
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
/// assert_eq!(manager.handler_names(), ["token-counter"]);
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
/// These are the type's: every instance reports them, as constants. When instances of one type
/// must differ (LangChain's `FakeCallbackHandler(ignore_llm_=True)`), mark fields:
///
/// | field | holds | when empty |
/// |---|---|---|
/// | `#[callback(name)]` | the instance's name: `String`, `&'static str`, `Cow<'static, str>`, `Box<str>`, `Arc<str>`, or an `Option` of one | `""` or `None`: the type's name |
/// | `#[callback(options)]` | the instance's flags: `HandlerOptions`, or `Option<HandlerOptions>` | `None`: the type's `OPTIONS` |
///
/// Start an instance's flags from the type's (`MyHandler::OPTIONS.ignore(Category::Chain)`); the
/// `Option` forms keep the type's name and flags under `#[derive(Default)]`. The manager reads
/// them when the handler is added.
///
/// ```
/// use std::sync::Arc;
/// use std::sync::atomic::{AtomicUsize, Ordering};
/// use llm_callbacks::event::ChainStart;
/// use llm_callbacks::{CallbackHandler, CallbackManager, HandlerOptions, RunOptions, callbacks};
/// use llm_callbacks::event::Category;
///
/// #[derive(CallbackHandler, Default)]
/// #[callback(name = "fake")]
/// struct Fake {
///     #[callback(name)]
///     name: Option<String>,
///     #[callback(options)]
///     options: Option<HandlerOptions>,
///     starts: AtomicUsize,
/// }
///
/// #[callbacks]
/// impl Fake {
///     #[on(chain_start)]
///     fn start(&self, _event: &ChainStart<'_>) {
///         self.starts.fetch_add(1, Ordering::Relaxed);
///     }
/// }
///
/// let plain = Arc::new(Fake::default());
/// let deaf = Arc::new(Fake {
///     name: Some("deaf".into()),
///     options: Some(Fake::OPTIONS.ignore(Category::Chain)),
///     ..Fake::default()
/// });
/// assert_eq!((plain.name(), deaf.name()), ("fake", "deaf"));
///
/// let manager = CallbackManager::new().with_handler(plain.clone()).with_handler(deaf.clone());
/// manager.on_chain_start(None, &serde_json::json!({}), RunOptions::new())?;
/// assert_eq!(plain.starts.load(Ordering::Relaxed), 1);
/// assert_eq!(deaf.starts.load(Ordering::Relaxed), 0);
/// # Ok::<(), llm_callbacks::CallbackError>(())
/// ```
///
/// Mistakes are compile errors that point at them; a `&mut self` method, for example:
///
/// ```compile_fail
/// use llm_callbacks::event::ChainEnd;
/// use llm_callbacks::{CallbackHandler, callbacks};
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
/// than `()` or `Result<(), E>`, an unknown option, a `#[callbacks]` block without the derive,
/// and a marked field of the wrong type or marked twice.
#[cfg(feature = "derive")]
pub use handler_macros::CallbackHandler;

/// Writes the handler for the methods of an impl block marked `#[on(event)]` (feature
/// `derive`); the type needs [`derive@CallbackHandler`], whose page has the full guide.
///
/// A marked method takes `&self`, the event by reference (`&ChainEnd<'_>`) and, optionally, the
/// run's [`&RunContext`](RunContext); it may be `async`, and returns `()` or `Result<(), E>`
/// for any `E` that converts into a [`HandlerError`](error::HandlerError) (any `std::error::Error + Send + Sync`, a
/// `String`, a `&'static str`). An `async` method makes the handler an [`AsyncCallbackHandler`]
/// (add it with `add_async_handler`); an all-sync handler is a
/// [`CallbackHandler`](trait@CallbackHandler) and works in both managers. Unmarked methods are
/// left alone. Use one `#[callbacks]` block per type; it also defines
/// `pub const OPTIONS: HandlerOptions` on the type.
///
/// ```
/// use std::sync::Arc;
/// use llm_callbacks::event::{ChainEnd, Text};
/// use llm_callbacks::{AsyncCallbackManager, CallbackHandler, callbacks};
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
/// assert_eq!(manager.handler_names().len(), 1);
/// ```
///
/// An unknown event name is an error that suggests the closest one:
///
/// ```compile_fail
/// use llm_callbacks::event::ChainEnd;
/// use llm_callbacks::{CallbackHandler, callbacks};
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
/// The OpenTelemetry exporter plugin (feature `otel`).
#[cfg(feature = "otel")]
pub use otel_plugin as otel;

/// Paths used by the code the macros generate. Not public API.
#[doc(hidden)]
pub mod __private {
    pub use handler_core::__private::*;
    pub use handler_core::*;
}

// Names the plugin crate so that the linker keeps its `inventory` registration.
#[cfg(feature = "otel")]
extern crate otel_plugin as _;
#[cfg(feature = "uptrain")]
extern crate uptrain_plugin as _;

/// The README's examples, compiled and run as doctests.
#[cfg(doctest)]
#[doc = include_str!("../README.md")]
pub struct ReadmeDoctests;
