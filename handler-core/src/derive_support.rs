//! Items the `#[derive(CallbackHandler)]` / `#[callbacks]` macros generate code against.
//! Not public API: reached through `llm_callbacks::__private` (or `handler_core::__private`).
//!
//! The derive implements [`HandlerConfig`] (the handler's name and explicit flag overrides);
//! `#[callbacks]` implements the handler trait, computing the flags from the marked methods and
//! applying the overrides on top with [`DeriveConfig::apply`], in a constant.

pub use crate::error::{HandlerError, HandlerResult};
pub use crate::event::{
    AgentAction, AgentFinish, ChainEnd, ChainError, ChainStart, ChatModelStart, CustomEvent,
    LlmEnd, LlmError, LlmNewToken, LlmStart, RetrieverEnd, RetrieverError, RetrieverStart, Retry,
    Text, ToolEnd, ToolError, ToolStart,
};
pub use crate::handler::{AsyncCallbackHandler, CallbackHandler, HandlerOptions};
pub use crate::run_context::RunContext;
pub use core::future::Future;

/// What `#[callback(...)]` says: a name, and flags set explicitly (`None`: computed from the
/// marked methods, or `false` for `raise_error` and `run_inline`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct DeriveConfig {
    /// The handler's name in logs; its type name when `None`.
    pub name: Option<&'static str>,
    /// Override of `ignore_llm`.
    pub ignore_llm: Option<bool>,
    /// Override of `ignore_chat_model`.
    pub ignore_chat_model: Option<bool>,
    /// Override of `ignore_chain`.
    pub ignore_chain: Option<bool>,
    /// Override of `ignore_agent`.
    pub ignore_agent: Option<bool>,
    /// Override of `ignore_retriever`.
    pub ignore_retriever: Option<bool>,
    /// Override of `ignore_retry`.
    pub ignore_retry: Option<bool>,
    /// Override of `ignore_custom_event`.
    pub ignore_custom_event: Option<bool>,
    /// `raise_error`.
    pub raise_error: Option<bool>,
    /// `run_inline`.
    pub run_inline: Option<bool>,
}

const fn pick(explicit: Option<bool>, computed: bool) -> bool {
    match explicit {
        Some(value) => value,
        None => computed,
    }
}

impl DeriveConfig {
    /// No name, no override.
    pub const DEFAULT: DeriveConfig = DeriveConfig {
        name: None,
        ignore_llm: None,
        ignore_chat_model: None,
        ignore_chain: None,
        ignore_agent: None,
        ignore_retriever: None,
        ignore_retry: None,
        ignore_custom_event: None,
        raise_error: None,
        run_inline: None,
    };

    /// The flags computed from the marked methods, with the explicit ones applied on top.
    pub const fn apply(self, computed: HandlerOptions) -> HandlerOptions {
        HandlerOptions {
            ignore_llm: pick(self.ignore_llm, computed.ignore_llm),
            ignore_chat_model: pick(self.ignore_chat_model, computed.ignore_chat_model),
            ignore_chain: pick(self.ignore_chain, computed.ignore_chain),
            ignore_agent: pick(self.ignore_agent, computed.ignore_agent),
            ignore_retriever: pick(self.ignore_retriever, computed.ignore_retriever),
            ignore_retry: pick(self.ignore_retry, computed.ignore_retry),
            ignore_custom_event: pick(self.ignore_custom_event, computed.ignore_custom_event),
            raise_error: pick(self.raise_error, computed.raise_error),
            run_inline: pick(self.run_inline, computed.run_inline),
        }
    }
}

/// Implemented by `#[derive(CallbackHandler)]`: the handler's `#[callback(...)]` options.
#[diagnostic::on_unimplemented(
    message = "`{Self}` has a `#[callbacks]` impl but no `#[derive(CallbackHandler)]`",
    label = "add `#[derive(CallbackHandler)]` to the definition of `{Self}`",
    note = "the derive carries the handler's `#[callback(...)]` options; `#[callbacks]` routes the events"
)]
pub trait HandlerConfig {
    /// The options.
    const CONFIG: DeriveConfig;
}

/// What a marked method may return: `()` or `Result<(), E>` with `E` convertible into a
/// [`HandlerError`] (any `std::error::Error + Send + Sync + 'static`, or a string).
#[diagnostic::on_unimplemented(
    message = "a `#[on(...)]` method must return `()` or `Result<(), E>`, not `{Self}`",
    label = "this return type is not `()` or `Result<(), E>`",
    note = "`E` may be any `std::error::Error + Send + Sync + 'static`, a `String` or a `&'static str`"
)]
pub trait HandlerReturn {
    /// Converts into a [`HandlerResult`].
    fn into_handler_result(self) -> HandlerResult;
}

impl HandlerReturn for () {
    #[inline]
    fn into_handler_result(self) -> HandlerResult {
        Ok(())
    }
}

impl<E: Into<HandlerError>> HandlerReturn for Result<(), E> {
    #[inline]
    fn into_handler_result(self) -> HandlerResult {
        self.map_err(Into::into)
    }
}

/// Converts what a marked method returned.
#[inline]
pub fn returned<R: HandlerReturn>(value: R) -> HandlerResult {
    value.into_handler_result()
}

/// The name a handler reports: its `#[callback(name = ...)]`, else its type name.
#[inline]
pub fn name_of<T: ?Sized>(configured: Option<&'static str>) -> &'static str {
    match configured {
        Some(name) => name,
        None => core::any::type_name::<T>(),
    }
}
