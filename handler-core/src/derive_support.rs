//! Items the `#[derive(CallbackHandler)]` / `#[callbacks]` macros generate code against.
//! Not public API: reached through `llm_callbacks::__private` (or `handler_core::__private`).
//!
//! The derive implements [`HandlerConfig`] (the handler's name and explicit flag overrides);
//! `#[callbacks]` implements the handler trait, computing the flags from the marked methods and
//! applying the overrides on top with [`DeriveConfig::apply`], in a constant.
//!
//! A handler whose instances differ marks fields: `#[callback(name)]` on a [`NameField`],
//! `#[callback(options)]` on an [`OptionsField`]. The derive then overrides
//! [`HandlerConfig::instance_name`] / [`HandlerConfig::instance_options`] to read them; without
//! such fields both keep their default bodies and `name()` / `options()` stay constants.

use std::borrow::Cow;
use std::sync::Arc;

pub use crate::category::Category;
pub use crate::error::{HandlerError, HandlerResult};
pub use crate::event::{
    AgentAction, AgentFinish, ChainEnd, ChainError, ChainStart, ChatModelStart, CustomEvent,
    LlmEnd, LlmError, LlmNewToken, LlmStart, RetrieverEnd, RetrieverError, RetrieverStart, Retry,
    Text, ToolEnd, ToolError, ToolStart,
};
pub use crate::run_context::RunContext;
pub use crate::traits::{AsyncCallbackHandler, CallbackHandler, HandlerOptions};
pub use core::future::Future;

/// What `#[callback(...)]` says: a name, and flags set explicitly (`None`: computed from the
/// marked methods, or `false` for `raise_error` and `run_inline`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct DeriveConfig {
    /// The handler's name in logs; its type name when `None`.
    pub name: Option<&'static str>,
    /// Override of `ignore_llm`.
    pub ignore_llm: Option<bool>,
    /// Override of `ignore_llm_new_token`.
    pub ignore_llm_new_token: Option<bool>,
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
        ignore_llm_new_token: None,
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
            ignore_llm_new_token: pick(self.ignore_llm_new_token, computed.ignore_llm_new_token),
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

    /// This instance's name, read from its `#[callback(name)]` field; `None` when it has no such
    /// field or the field holds no name (the type's name then applies).
    #[inline]
    fn instance_name(&self) -> Option<&str> {
        None
    }

    /// This instance's flags, read from its `#[callback(options)]` field; `defaults` (the type's
    /// `OPTIONS`) when it has no such field or the field holds `None`.
    #[inline]
    fn instance_options(&self, defaults: HandlerOptions) -> HandlerOptions {
        defaults
    }
}

/// What a `#[callback(name)]` field may hold: a string type, or an `Option` of one. An empty
/// string or `None` means "no name of its own": the type's name applies.
#[diagnostic::on_unimplemented(
    message = "a `#[callback(name)]` field holds the handler's name, not `{Self}`",
    label = "expected `String`, `&'static str`, `Cow<'static, str>`, `Box<str>`, `Arc<str>` or an `Option` of one",
    note = "for a fixed name, write `#[callback(name = \"...\")]` on the type instead"
)]
pub trait NameField {
    /// The name, if the field holds one.
    fn handler_name(&self) -> Option<&str>;
}

const fn non_empty(name: &str) -> Option<&str> {
    if name.is_empty() { None } else { Some(name) }
}

impl NameField for String {
    #[inline]
    fn handler_name(&self) -> Option<&str> {
        non_empty(self)
    }
}

impl NameField for &str {
    #[inline]
    fn handler_name(&self) -> Option<&str> {
        non_empty(self)
    }
}

impl NameField for Box<str> {
    #[inline]
    fn handler_name(&self) -> Option<&str> {
        non_empty(self)
    }
}

impl NameField for Arc<str> {
    #[inline]
    fn handler_name(&self) -> Option<&str> {
        non_empty(self)
    }
}

impl NameField for Cow<'_, str> {
    #[inline]
    fn handler_name(&self) -> Option<&str> {
        non_empty(self)
    }
}

impl<T: NameField> NameField for Option<T> {
    #[inline]
    fn handler_name(&self) -> Option<&str> {
        self.as_ref().and_then(NameField::handler_name)
    }
}

/// What a `#[callback(options)]` field may hold: the instance's [`HandlerOptions`], or an
/// `Option` of them where `None` keeps the type's (so `#[derive(Default)]` keeps them too).
#[diagnostic::on_unimplemented(
    message = "a `#[callback(options)]` field holds the handler's flags, not `{Self}`",
    label = "expected `HandlerOptions` or `Option<HandlerOptions>`",
    note = "start from the type's flags: `MyHandler::OPTIONS.ignore(Category::Llm)`"
)]
pub trait OptionsField {
    /// The instance's flags, given the type's.
    fn handler_options(&self, defaults: HandlerOptions) -> HandlerOptions;
}

impl OptionsField for HandlerOptions {
    #[inline]
    fn handler_options(&self, _defaults: HandlerOptions) -> HandlerOptions {
        *self
    }
}

impl OptionsField for Option<HandlerOptions> {
    #[inline]
    fn handler_options(&self, defaults: HandlerOptions) -> HandlerOptions {
        self.unwrap_or(defaults)
    }
}

/// Reads a `#[callback(name)]` field (a function, so a wrong field type is an error at the field).
#[inline]
pub fn field_name<F: NameField + ?Sized>(field: &F) -> Option<&str> {
    field.handler_name()
}

/// Reads a `#[callback(options)]` field.
#[inline]
pub fn field_options<F: OptionsField + ?Sized>(
    field: &F,
    defaults: HandlerOptions,
) -> HandlerOptions {
    field.handler_options(defaults)
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

/// The name an instance reports: its `#[callback(name)]` field when that holds a name, else
/// [`name_of`].
#[inline]
pub fn instance_name_of<'a, T: ?Sized>(
    instance: Option<&'a str>,
    configured: Option<&'static str>,
) -> &'a str {
    match instance {
        Some(name) => name,
        None => name_of::<T>(configured),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn name_fields() {
        assert_eq!(field_name(&String::from("a")), Some("a"));
        assert_eq!(field_name(&String::new()), None);
        assert_eq!(field_name(&"b"), Some("b"));
        assert_eq!(field_name(&Some(Arc::<str>::from("c"))), Some("c"));
        assert_eq!(field_name(&None::<Box<str>>), None);
        assert_eq!(field_name(&Cow::Borrowed("d")), Some("d"));
        assert_eq!(instance_name_of::<u8>(None, None), "u8");
        assert_eq!(instance_name_of::<u8>(None, Some("fixed")), "fixed");
        assert_eq!(instance_name_of::<u8>(Some("mine"), Some("fixed")), "mine");
    }

    #[test]
    fn options_fields() {
        let defaults = HandlerOptions::new().raise_error(true);
        let own = HandlerOptions::new().run_inline(true);
        assert_eq!(field_options(&own, defaults), own);
        assert_eq!(field_options(&Some(own), defaults), own);
        assert_eq!(field_options(&None::<HandlerOptions>, defaults), defaults);
    }
}
