//! The flags a derived handler reports, its options, its name, the run context argument, error
//! returns and the error policy, generic handlers, and the `crate = "..."` path override.
#![allow(clippy::unwrap_used)] // test helpers and handlers outside #[test] fns

use std::fmt;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};

// One import brings the derive macro and the trait: they live in different namespaces.
use llm_callbacks::error::CallbackErrorKind;
use llm_callbacks::event::Category;
use llm_callbacks::event::{ChainEnd, ChainStart, LlmEnd, LlmNewToken, LlmStart, Text, ToolEnd};
use llm_callbacks::{
    AsyncCallbackHandler, AsyncCallbackManager, CallbackHandler, CallbackManager, HandlerOptions,
    RunContext, RunOptions, callbacks,
};
use serde_json::json;

#[derive(CallbackHandler, Default, Debug)]
struct Tokens(AtomicUsize);

#[callbacks]
impl Tokens {
    #[on(llm_new_token)]
    fn count(&self, _event: &LlmNewToken<'_>) {
        self.0.fetch_add(1, Ordering::Relaxed);
    }
}

#[derive(CallbackHandler, Debug)]
#[callback(
    name = "tuned",
    ignore_chain = false,
    ignore_llm,
    raise_error,
    run_inline
)]
struct Tuned;

#[callbacks]
impl Tuned {
    #[on(tool_end)]
    fn tool(&self, _event: &ToolEnd<'_>) {}

    #[on(llm_start)]
    fn start(&self, _event: &LlmStart<'_>) {}
}

/// Only text: no flag gates it, so every category is ignored.
#[derive(CallbackHandler, Debug)]
struct TextOnly;

#[callbacks]
impl TextOnly {
    #[on(text)]
    fn text(&self, _event: &Text<'_>) {}
}

const TOKENS: HandlerOptions = Tokens::OPTIONS;

#[test]
fn flags_are_constants_computed_from_the_marked_methods() {
    let everything_but_llm = HandlerOptions::new()
        .ignore(Category::ChatModel)
        .ignore(Category::Chain)
        .ignore(Category::Agent)
        .ignore(Category::Retriever)
        .ignore(Category::Retry)
        .ignore(Category::CustomEvent);
    assert_eq!(TOKENS, everything_but_llm);
    assert_eq!(Tokens::default().options(), TOKENS);
    assert_eq!(
        TextOnly.options(),
        everything_but_llm
            .ignore(Category::Llm)
            .ignore(Category::LlmNewToken),
        "text has no flag: marking it wants no category"
    );
    assert!(TextOnly.options().categories().contains(Category::Text));
}

/// Ends without tokens: the tokens are not dispatched, their count still arrives.
#[derive(CallbackHandler, Debug, Default)]
struct Ends;

#[callbacks]
impl Ends {
    #[on(llm_end)]
    fn end(&self, _event: &LlmEnd<'_>) {}
}

/// The same, keeping the tokens by an explicit flag.
#[derive(CallbackHandler, Debug, Default)]
#[callback(ignore_llm_new_token = false)]
struct EndsAndTokens;

#[callbacks]
impl EndsAndTokens {
    #[on(llm_end)]
    fn end(&self, _event: &LlmEnd<'_>) {}
}

#[test]
fn a_handler_without_a_token_method_ignores_tokens_only() {
    let ends = Ends.options();
    assert!(ends.ignore_llm_new_token && !ends.ignore_llm);
    assert!(ends.categories().contains(Category::Llm));
    assert!(!ends.categories().contains(Category::LlmNewToken));
    assert!(
        EndsAndTokens
            .options()
            .categories()
            .contains(Category::LlmNewToken)
    );
    // A handler of tokens alone keeps the LLM category: `ignore_llm` would drop its tokens.
    assert!(TOKENS.categories().contains(Category::LlmNewToken));
    const { assert!(!TOKENS.ignore_llm) };
}

#[test]
fn explicit_options_apply_on_top() {
    let options = Tuned.options();
    assert_eq!(
        options,
        HandlerOptions {
            ignore_llm: true,           // explicit, although llm_start is marked
            ignore_llm_new_token: true, // no token method
            ignore_chat_model: false,   // llm_start marked: chat starts fall back to it
            ignore_chain: false,        // explicit
            ignore_agent: false,        // a tool event is marked
            ignore_retriever: true,
            ignore_retry: true,
            ignore_custom_event: true,
            raise_error: true,
            run_inline: true,
        }
    );
    assert_eq!(CallbackHandler::name(&Tuned), "tuned");
}

#[test]
fn default_name_is_the_type_name() {
    assert_eq!(Tokens::default().name(), std::any::type_name::<Tokens>());
    let manager = CallbackManager::new().with_handler(Arc::new(Tokens::default()));
    assert_eq!(manager.handler_names(), [std::any::type_name::<Tokens>()]);
}

#[derive(Debug)]
struct Refused(&'static str);

impl fmt::Display for Refused {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "refused: {}", self.0)
    }
}

impl std::error::Error for Refused {}

/// Fails on every chain end; records the run ids it saw at chain start.
#[derive(CallbackHandler, Default, Debug)]
#[callback(raise_error)]
struct Strict {
    runs: Mutex<Vec<String>>,
}

#[callbacks]
impl Strict {
    #[on(chain_start)]
    fn start(&self, event: &ChainStart<'_>, run: &RunContext) -> Result<(), String> {
        assert_eq!(event.run.run_id, run.run_id);
        self.runs.lock().unwrap().push(run.run_id.to_string());
        Ok(())
    }

    #[on(chain_end)]
    fn end(&self, _event: &ChainEnd<'_>) -> Result<(), Refused> {
        Err(Refused("no"))
    }
}

/// Same, without raise_error: errors are logged and the pipeline goes on.
#[derive(CallbackHandler, Default, Debug)]
struct Lenient(AtomicUsize);

#[callbacks]
impl Lenient {
    #[on(chain_end)]
    fn end(&self, _event: &ChainEnd<'_>) -> Result<(), Refused> {
        self.0.fetch_add(1, Ordering::Relaxed);
        Err(Refused("ignored"))
    }
}

#[test]
fn errors_reach_the_error_policy() {
    let strict = Arc::new(Strict::default());
    let manager = CallbackManager::new().with_handler(strict.clone());
    let chain = manager
        .on_chain_start(None, &json!({}), RunOptions::new())
        .unwrap();
    assert_eq!(*strict.runs.lock().unwrap(), [chain.run_id().to_string()]);
    let error = chain.on_chain_end(&json!({})).unwrap_err();
    assert!(
        matches!(error.kind(), CallbackErrorKind::Handler { .. }),
        "{error:?}"
    );
    assert_eq!(error.handler_error().unwrap().to_string(), "refused: no");

    let lenient = Arc::new(Lenient::default());
    let manager = CallbackManager::new().with_handler(lenient.clone());
    let chain = manager
        .on_chain_start(None, &json!({}), RunOptions::new())
        .unwrap();
    chain.on_chain_end(&json!({})).unwrap();
    assert_eq!(lenient.0.load(Ordering::Relaxed), 1);
}

/// An async handler that fails, with raise_error.
#[derive(CallbackHandler, Default, Debug)]
#[callback(raise_error, name = "async-strict")]
struct AsyncStrict;

#[callbacks]
impl AsyncStrict {
    #[on(chain_end)]
    async fn end(&self, event: &ChainEnd<'_>, run: &RunContext) -> Result<(), Refused> {
        tokio::task::yield_now().await;
        assert_eq!(event.run.run_id, run.run_id);
        Err(Refused("async"))
    }
}

#[tokio::test]
async fn async_errors_reach_the_error_policy() {
    let manager = AsyncCallbackManager::new().with_async_handler(Arc::new(AsyncStrict));
    let chain = manager
        .on_chain_start(None, &json!({}), RunOptions::new())
        .await
        .unwrap();
    let error = chain.on_chain_end(&json!({})).await.unwrap_err();
    assert!(error.to_string().contains("async-strict"), "{error}");
    assert_eq!(error.handler_error().unwrap().to_string(), "refused: async");
    assert_eq!(AsyncCallbackHandler::name(&AsyncStrict), "async-strict");
}

/// A generic handler: implemented for every `T` that can be shared between threads.
#[derive(CallbackHandler, Debug)]
struct Labeled<T> {
    label: T,
    seen: Mutex<Vec<String>>,
}

#[callbacks]
impl<T: fmt::Display> Labeled<T> {
    #[on(text)]
    fn text(&self, event: &Text<'_>) {
        self.seen
            .lock()
            .unwrap()
            .push(format!("{}: {}", self.label, event.text));
    }
}

#[test]
fn generic_handlers() {
    let handler = Arc::new(Labeled {
        label: 7_u8,
        seen: Mutex::default(),
    });
    let manager = CallbackManager::new().with_handler(handler.clone());
    let chain = manager
        .on_chain_start(None, &json!({}), RunOptions::new())
        .unwrap();
    chain.on_text("hi").unwrap();
    assert_eq!(*handler.seen.lock().unwrap(), ["7: hi"]);
    assert_eq!(Labeled::<u8>::OPTIONS, TextOnly::OPTIONS);
}

/// For users who depend on `handler-core` directly.
mod direct {
    use std::sync::Arc;
    use std::sync::atomic::{AtomicUsize, Ordering};

    use handler_core::event::ChainEnd;
    use handler_core::{CallbackManager, RunOptions};
    use serde_json::json;

    #[derive(handler_macros::CallbackHandler, Default, Debug)]
    #[callback(crate = "handler_core", name = "direct")]
    struct Direct(AtomicUsize);

    #[handler_macros::callbacks(crate = "handler_core")]
    impl Direct {
        #[on(chain_end)]
        fn end(&self, _event: &ChainEnd<'_>) {
            self.0.fetch_add(1, Ordering::Relaxed);
        }
    }

    const _: () = assert!(Direct::OPTIONS.ignore_llm && !Direct::OPTIONS.ignore_chain);

    #[test]
    fn crate_path_override() {
        let handler = Arc::new(Direct::default());
        let manager = CallbackManager::new().with_handler(handler.clone());
        assert_eq!(manager.handler_names(), ["direct"]);
        let chain = manager
            .on_chain_start(None, &json!({}), RunOptions::new())
            .unwrap();
        chain.on_chain_end(&json!({})).unwrap();
        assert_eq!(handler.0.load(Ordering::Relaxed), 1);
    }
}

/// One type per overridable flag: only text is handled, so every flag is computed `true`, and
/// the attribute turns one back off.
macro_rules! overridden {
    ($($ty:ident: $flag:ident),* $(,)?) => {$(
        #[derive(CallbackHandler, Debug)]
        #[callback($flag = false)]
        struct $ty;

        #[callbacks]
        impl $ty {
            #[on(text)]
            fn text(&self, _event: &Text<'_>) {}
        }
    )*};
}

overridden!(
    NoIgnoreLlm: ignore_llm,
    NoIgnoreTokens: ignore_llm_new_token,
    NoIgnoreChatModel: ignore_chat_model,
    NoIgnoreChain: ignore_chain,
    NoIgnoreAgent: ignore_agent,
    NoIgnoreRetriever: ignore_retriever,
    NoIgnoreRetry: ignore_retry,
    NoIgnoreCustomEvent: ignore_custom_event,
);

/// The flag a case overrides, as a place in the options.
type Flag = fn(&mut HandlerOptions) -> &mut bool;

#[test]
fn each_ignore_flag_can_be_overridden_alone() {
    let computed = TextOnly::OPTIONS;
    let cases: [(HandlerOptions, &str, Flag); 8] = [
        (NoIgnoreLlm::OPTIONS, "ignore_llm", |o| &mut o.ignore_llm),
        (NoIgnoreTokens::OPTIONS, "ignore_llm_new_token", |o| {
            &mut o.ignore_llm_new_token
        }),
        (NoIgnoreChatModel::OPTIONS, "ignore_chat_model", |o| {
            &mut o.ignore_chat_model
        }),
        (NoIgnoreChain::OPTIONS, "ignore_chain", |o| {
            &mut o.ignore_chain
        }),
        (NoIgnoreAgent::OPTIONS, "ignore_agent", |o| {
            &mut o.ignore_agent
        }),
        (NoIgnoreRetriever::OPTIONS, "ignore_retriever", |o| {
            &mut o.ignore_retriever
        }),
        (NoIgnoreRetry::OPTIONS, "ignore_retry", |o| {
            &mut o.ignore_retry
        }),
        (NoIgnoreCustomEvent::OPTIONS, "ignore_custom_event", |o| {
            &mut o.ignore_custom_event
        }),
    ];
    for (options, flag, field) in cases {
        // Exactly that flag differs from the computed options.
        let mut expected = computed;
        assert!(*field(&mut expected), "{flag} is computed true");
        *field(&mut expected) = false;
        assert_eq!(options, expected, "{flag} = false");
    }
}
