//! Handler references, the bottom layer of the managers: a handler of either kind behind one
//! type ([`SharedHandler`]), the object-safe async handler, what `add_handler` takes, and a
//! handler's identity. Knows nothing of storage or delivery.

use std::any::Any;
use std::fmt;
use std::sync::Arc;

use futures_util::future::BoxFuture;

use crate::error::HandlerResult;
use crate::event::Event;
use crate::traits::{AsyncCallbackHandler, CallbackHandler, HandlerOptions};

/// The object-safe form of [`AsyncCallbackHandler`], implemented for every async handler, so
/// that handlers of different types can be stored together.
pub trait ErasedAsyncHandler: Any + Send + Sync {
    /// The handler's name.
    fn name(&self) -> &str;
    /// The handler's flags.
    fn options(&self) -> HandlerOptions;
    /// Calls the method that receives `event`.
    fn handle<'a>(&'a self, event: &'a Event<'a>) -> BoxFuture<'a, HandlerResult>;
}

impl<T: AsyncCallbackHandler> ErasedAsyncHandler for T {
    fn name(&self) -> &str {
        AsyncCallbackHandler::name(self)
    }

    fn options(&self) -> HandlerOptions {
        AsyncCallbackHandler::options(self)
    }

    fn handle<'a>(&'a self, event: &'a Event<'a>) -> BoxFuture<'a, HandlerResult> {
        match event {
            Event::LlmStart(e) => Box::pin(self.on_llm_start(e)),
            Event::ChatModelStart(e) => Box::pin(self.on_chat_model_start(e)),
            Event::LlmNewToken(e) => Box::pin(self.on_llm_new_token(e)),
            Event::LlmEnd(e) => Box::pin(self.on_llm_end(e)),
            Event::LlmError(e) => Box::pin(self.on_llm_error(e)),
            Event::ChainStart(e) => Box::pin(self.on_chain_start(e)),
            Event::ChainEnd(e) => Box::pin(self.on_chain_end(e)),
            Event::ChainError(e) => Box::pin(self.on_chain_error(e)),
            Event::ToolStart(e) => Box::pin(self.on_tool_start(e)),
            Event::ToolEnd(e) => Box::pin(self.on_tool_end(e)),
            Event::ToolError(e) => Box::pin(self.on_tool_error(e)),
            Event::RetrieverStart(e) => Box::pin(self.on_retriever_start(e)),
            Event::RetrieverEnd(e) => Box::pin(self.on_retriever_end(e)),
            Event::RetrieverError(e) => Box::pin(self.on_retriever_error(e)),
            Event::AgentAction(e) => Box::pin(self.on_agent_action(e)),
            Event::AgentFinish(e) => Box::pin(self.on_agent_finish(e)),
            Event::Retry(e) => Box::pin(self.on_retry(e)),
            Event::Text(e) => Box::pin(self.on_text(e)),
            Event::CustomEvent(e) => Box::pin(self.on_custom_event(e)),
        }
    }
}

/// A handler of either kind, shared: what plugins build and what the async manager stores.
#[derive(Clone)]
pub enum SharedHandler {
    /// A sync handler.
    Sync(Arc<dyn CallbackHandler>),
    /// An async handler.
    Async(Arc<dyn ErasedAsyncHandler>),
}

impl SharedHandler {
    /// Shares a sync handler.
    pub fn from_sync<H: CallbackHandler>(handler: Arc<H>) -> Self {
        SharedHandler::Sync(handler)
    }

    /// Shares an async handler.
    pub fn from_async<H: AsyncCallbackHandler>(handler: Arc<H>) -> Self {
        SharedHandler::Async(handler)
    }

    /// The handler's name.
    pub fn name(&self) -> &str {
        match self {
            SharedHandler::Sync(h) => h.name(),
            SharedHandler::Async(h) => h.name(),
        }
    }

    /// The handler's flags.
    pub fn options(&self) -> HandlerOptions {
        match self {
            SharedHandler::Sync(h) => h.options(),
            SharedHandler::Async(h) => h.options(),
        }
    }

    /// The handler as its concrete type, when it is a `T`.
    ///
    /// ```
    /// use std::sync::Arc;
    /// use handler_core::{CallbackHandler};
    /// use handler_core::manager::SharedHandler;
    ///
    /// struct Scores;
    /// impl CallbackHandler for Scores {}
    ///
    /// let shared = SharedHandler::from_sync(Arc::new(Scores));
    /// assert!(shared.downcast::<Scores>().is_some());
    /// ```
    pub fn downcast<T: Any + Send + Sync>(&self) -> Option<Arc<T>> {
        self.as_any().downcast::<T>().ok()
    }

    /// The handler, for downcasting.
    pub(crate) fn as_any(&self) -> Arc<dyn Any + Send + Sync> {
        match self {
            SharedHandler::Sync(h) => h.clone(),
            SharedHandler::Async(h) => h.clone(),
        }
    }

    pub(crate) fn identity(&self) -> usize {
        match self {
            SharedHandler::Sync(h) => identity(h),
            SharedHandler::Async(h) => identity(h),
        }
    }
}

impl fmt::Debug for SharedHandler {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let kind = match self {
            SharedHandler::Sync(_) => "Sync",
            SharedHandler::Async(_) => "Async",
        };
        f.debug_tuple(kind).field(&self.name()).finish()
    }
}

/// A sync handler as [`Manager::add_handler`](super::Manager::add_handler) takes it: an `Arc`
/// of a handler type, or an `Arc<dyn CallbackHandler>`.
pub trait IntoCallbackHandler {
    /// The handler, shared.
    fn into_callback_handler(self) -> Arc<dyn CallbackHandler>;
}

impl<H: CallbackHandler> IntoCallbackHandler for Arc<H> {
    fn into_callback_handler(self) -> Arc<dyn CallbackHandler> {
        self
    }
}

impl IntoCallbackHandler for Arc<dyn CallbackHandler> {
    fn into_callback_handler(self) -> Arc<dyn CallbackHandler> {
        self
    }
}

/// The identity of a handler: the address of its shared allocation.
pub(crate) fn identity<H: ?Sized>(handler: &Arc<H>) -> usize {
    Arc::as_ptr(handler).cast::<()>() as usize
}
