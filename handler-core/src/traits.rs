//! The handler traits: one method per event, each a no-op by default.
//!
//! Implement [`CallbackHandler`] for a handler whose methods return at once, and
//! [`AsyncCallbackHandler`] for one that awaits. Override only the events you need, and say
//! which categories you ignore in [`HandlerOptions`]: the manager reads them once, when the
//! handler is added, so an ignored event costs nothing. The `#[derive(CallbackHandler)]` macro
//! of the facade writes all of this for you.

use std::future::Future;

use crate::category::{Categories, Category};
use crate::error::HandlerResult;
use crate::event::{
    AgentAction, AgentFinish, ChainEnd, ChainError, ChainStart, ChatModelStart, CustomEvent,
    LlmEnd, LlmError, LlmNewToken, LlmStart, RetrieverEnd, RetrieverError, RetrieverStart, Retry,
    Text, ToolEnd, ToolError, ToolStart,
};

/// A handler's flags, with LangChain's meaning and defaults (all `false`).
///
/// ```
/// use handler_core::{HandlerOptions};
/// use handler_core::event::Category;
///
/// const OPTIONS: HandlerOptions = HandlerOptions::new().ignore(Category::Chain).run_inline(true);
/// assert!(OPTIONS.ignore_chain);
/// assert!(!OPTIONS.categories().contains(Category::Chain));
/// assert!(OPTIONS.categories().contains(Category::Text)); // text is never ignored
/// ```
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Hash)]
pub struct HandlerOptions {
    /// Ignore LLM start, token, end and error events (and the LLM-start fallback of chat starts).
    pub ignore_llm: bool,
    /// Ignore streamed tokens only. The run's end still tells how many there were and when the
    /// first came ([`LlmEnd::stream`]), so a handler that needs no more than that saves the
    /// dispatch of every token.
    pub ignore_llm_new_token: bool,
    /// Ignore chat model start events.
    pub ignore_chat_model: bool,
    /// Ignore chain start, end and error events.
    pub ignore_chain: bool,
    /// Ignore agent action and finish events, and tool start, end and error events.
    pub ignore_agent: bool,
    /// Ignore retriever start, end and error events.
    pub ignore_retriever: bool,
    /// Ignore retry events.
    pub ignore_retry: bool,
    /// Ignore custom events.
    pub ignore_custom_event: bool,
    /// Return this handler's errors (and panics) to the caller instead of only logging them.
    pub raise_error: bool,
    /// In the async manager, run this handler in registration order before the concurrent ones.
    pub run_inline: bool,
}

impl HandlerOptions {
    /// The defaults: every category wanted, errors logged, not inline.
    pub const fn new() -> Self {
        Self {
            ignore_llm: false,
            ignore_llm_new_token: false,
            ignore_chat_model: false,
            ignore_chain: false,
            ignore_agent: false,
            ignore_retriever: false,
            ignore_retry: false,
            ignore_custom_event: false,
            raise_error: false,
            run_inline: false,
        }
    }

    /// Ignores a category. Ignoring [`Category::Text`] does nothing: text has no flag.
    #[must_use]
    pub const fn ignore(mut self, category: Category) -> Self {
        match category {
            Category::Llm => self.ignore_llm = true,
            Category::LlmNewToken => self.ignore_llm_new_token = true,
            Category::ChatModel => self.ignore_chat_model = true,
            Category::Chain => self.ignore_chain = true,
            Category::Agent => self.ignore_agent = true,
            Category::Retriever => self.ignore_retriever = true,
            Category::Retry => self.ignore_retry = true,
            Category::CustomEvent => self.ignore_custom_event = true,
            Category::Text => {}
        }
        self
    }

    /// Sets `raise_error`.
    #[must_use]
    pub const fn raise_error(mut self, raise_error: bool) -> Self {
        self.raise_error = raise_error;
        self
    }

    /// Sets `run_inline`.
    #[must_use]
    pub const fn run_inline(mut self, run_inline: bool) -> Self {
        self.run_inline = run_inline;
        self
    }

    /// True when the flag of `category` is set.
    pub const fn ignores(&self, category: Category) -> bool {
        match category {
            Category::Llm => self.ignore_llm,
            Category::LlmNewToken => self.ignore_llm || self.ignore_llm_new_token,
            Category::ChatModel => self.ignore_chat_model,
            Category::Chain => self.ignore_chain,
            Category::Agent => self.ignore_agent,
            Category::Retriever => self.ignore_retriever,
            Category::Retry => self.ignore_retry,
            Category::CustomEvent => self.ignore_custom_event,
            Category::Text => false,
        }
    }

    /// The categories these options want.
    pub const fn categories(&self) -> Categories {
        let mut interest = Categories::NONE;
        let mut i = 0;
        while i < Category::ALL.len() {
            let category = Category::ALL[i];
            if !self.ignores(category) {
                interest = interest.with(category);
            }
            i += 1;
        }
        interest
    }
}

macro_rules! handler_trait {
    (
        $(#[$trait_doc:meta])*
        trait $trait:ident;
        $(
            $(#[$doc:meta])*
            fn $method:ident($event:ident) $(= $default:expr)?;
        )*
    ) => {
        $(#[$trait_doc])*
        pub trait $trait: std::any::Any + Send + Sync {
            /// The handler's name in logs and errors; its type name by default.
            fn name(&self) -> &str {
                std::any::type_name::<Self>()
            }

            /// The handler's flags. Read once, when the handler is added to a manager.
            fn options(&self) -> HandlerOptions {
                HandlerOptions::new()
            }

            $(
                handler_trait!(@method $trait [$(#[$doc])*] $method $event $($default)?);
            )*
        }
    };
    (@method CallbackHandler [$(#[$doc:meta])*] $method:ident $event:ident $($default:expr)?) => {
        $(#[$doc])*
        #[allow(unused_variables)]
        fn $method(&self, event: &$event<'_>) -> HandlerResult {
            handler_trait!(@default $($default)?)
        }
    };
    (@method AsyncCallbackHandler [$(#[$doc:meta])*] $method:ident $event:ident $($default:expr)?) => {
        $(#[$doc])*
        #[allow(unused_variables)]
        fn $method(&self, event: &$event<'_>) -> impl Future<Output = HandlerResult> + Send {
            async { handler_trait!(@default $($default)?) }
        }
    };
    (@default) => { Ok(()) };
    (@default $default:expr) => { $default };
}

macro_rules! with_handler_methods {
    ($($head:tt)*) => {
        handler_trait! {
            $($head)*
            /// A text model starts on one prompt.
            fn on_llm_start(LlmStart);
            /// A chat model starts on one conversation. By default this is not handled: the
            /// manager then calls [`on_llm_start`](Self::on_llm_start) with the conversation
            /// rendered as one prompt string (`Role: text` lines), unless `ignore_llm` is set, as
            /// LangChain does.
            fn on_chat_model_start(ChatModelStart) = Err(crate::error::HandlerError::not_implemented());
            /// A model streamed a token.
            fn on_llm_new_token(LlmNewToken);
            /// A model run ended.
            fn on_llm_end(LlmEnd);
            /// A model run failed.
            fn on_llm_error(LlmError);
            /// A chain starts.
            fn on_chain_start(ChainStart);
            /// A chain ended.
            fn on_chain_end(ChainEnd);
            /// A chain failed.
            fn on_chain_error(ChainError);
            /// A tool starts.
            fn on_tool_start(ToolStart);
            /// A tool ended.
            fn on_tool_end(ToolEnd);
            /// A tool failed.
            fn on_tool_error(ToolError);
            /// A retriever starts.
            fn on_retriever_start(RetrieverStart);
            /// A retriever ended.
            fn on_retriever_end(RetrieverEnd);
            /// A retriever failed.
            fn on_retriever_error(RetrieverError);
            /// An agent chose an action.
            fn on_agent_action(AgentAction);
            /// An agent finished.
            fn on_agent_finish(AgentFinish);
            /// A call is about to be retried.
            fn on_retry(Retry);
            /// A run printed text.
            fn on_text(Text);
            /// User code dispatched a custom event.
            fn on_custom_event(CustomEvent);
        }
    };
}

with_handler_methods! {
    /// A handler whose methods return at once. Works with both managers.
    ///
    /// Every event method has a default that does nothing. A method returns a
    /// [`HandlerResult`]: an error is logged with the handler's name, the event and the run id,
    /// and returned to the caller when [`HandlerOptions::raise_error`] is set. A panic is caught
    /// and treated as an error.
    ///
    /// ```
    /// use std::sync::atomic::{AtomicUsize, Ordering};
    /// use handler_core::{CallbackHandler, HandlerOptions, HandlerResult};
    /// use handler_core::event::{Category, LlmNewToken};
    ///
    /// #[derive(Default)]
    /// struct TokenCounter(AtomicUsize);
    ///
    /// impl CallbackHandler for TokenCounter {
    ///     fn options(&self) -> HandlerOptions {
    ///         HandlerOptions::new().ignore(Category::Chain)
    ///     }
    ///     fn on_llm_new_token(&self, _event: &LlmNewToken<'_>) -> HandlerResult {
    ///         self.0.fetch_add(1, Ordering::Relaxed);
    ///         Ok(())
    ///     }
    /// }
    ///
    /// # use std::sync::Arc;
    /// # use handler_core::{CallbackManager, RunOptions};
    /// let counter = Arc::new(TokenCounter::default());
    /// let manager = CallbackManager::new().with_handler(counter.clone());
    /// let llm = manager.on_llm_start(None, "Say hi", RunOptions::new())?;
    /// llm.on_llm_new_token("h", None)?;
    /// llm.on_llm_new_token("i", None)?;
    /// assert_eq!(counter.0.load(Ordering::Relaxed), 2);
    /// # Ok::<(), handler_core::CallbackError>(())
    /// ```
    trait CallbackHandler;
}

with_handler_methods! {
    /// A handler whose methods are asynchronous. Works with the
    /// [`AsyncCallbackManager`](crate::AsyncCallbackManager).
    ///
    /// Write the methods as `async fn`; the futures must be `Send`.
    ///
    /// ```
    /// use std::sync::{Arc, Mutex};
    /// use handler_core::{AsyncCallbackHandler, AsyncCallbackManager, HandlerResult, RunOptions};
    /// use handler_core::event::ChainEnd;
    /// use serde_json::json;
    ///
    /// #[derive(Default)]
    /// struct Reporter(Mutex<Vec<String>>);
    ///
    /// impl AsyncCallbackHandler for Reporter {
    ///     async fn on_chain_end(&self, event: &ChainEnd<'_>) -> HandlerResult {
    ///         tokio::task::yield_now().await; // e.g. a write to a socket
    ///         self.0.lock().map_err(|e| e.to_string())?.push(event.outputs.to_string());
    ///         Ok(())
    ///     }
    /// }
    ///
    /// # tokio::runtime::Builder::new_current_thread().build().unwrap().block_on(async {
    /// let reporter = Arc::new(Reporter::default());
    /// let manager = AsyncCallbackManager::new().with_async_handler(reporter.clone());
    /// let chain = manager.on_chain_start(None, &json!({}), RunOptions::new()).await?;
    /// chain.on_chain_end(&json!({"answer": 42})).await?;
    /// assert_eq!(*reporter.0.lock().unwrap(), [r#"{"answer":42}"#]);
    /// # Ok::<(), handler_core::CallbackError>(())
    /// # }).unwrap();
    /// ```
    trait AsyncCallbackHandler;
}
