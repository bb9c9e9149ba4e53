//! Derived handlers whose instances differ: a `#[callback(name)]` field gives each instance its
//! name, a `#[callback(options)]` field its flags (LangChain's `FakeCallbackHandler(ignore_chain_=True)`),
//! while the type's `OPTIONS` stay a constant and unmarked types keep constant names and flags.

use std::borrow::Cow;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};

use llm_callbacks::error::CallbackErrorKind;
use llm_callbacks::event::Category;
use llm_callbacks::event::{ChainEnd, ChainStart, Text};
use llm_callbacks::{
    AsyncCallbackHandler, AsyncCallbackManager, CallbackError, CallbackHandler, CallbackManager,
    HandlerOptions, RunOptions, callbacks,
};
use serde_json::json;

/// Counts chain and text events; its name and flags come from its fields.
#[derive(CallbackHandler, Default, Debug)]
#[callback(name = "fake")]
struct Fake {
    #[callback(name)]
    name: Option<String>,
    #[callback(options)]
    options: Option<HandlerOptions>,
    chains: AtomicUsize,
    texts: AtomicUsize,
}

#[callbacks]
impl Fake {
    #[on(chain_start)]
    fn start(&self, _event: &ChainStart<'_>) -> Result<(), String> {
        self.chains.fetch_add(1, Ordering::Relaxed);
        Ok(())
    }

    #[on(chain_end)]
    fn end(&self, _event: &ChainEnd<'_>) -> Result<(), String> {
        self.chains.fetch_add(1, Ordering::Relaxed);
        Err(format!("{} refuses", CallbackHandler::name(self)))
    }

    #[on(text)]
    fn text(&self, _event: &Text<'_>) {
        self.texts.fetch_add(1, Ordering::Relaxed);
    }
}

impl Fake {
    fn with(name: &str, options: HandlerOptions) -> Self {
        Fake {
            name: Some(name.to_owned()),
            options: Some(options),
            ..Fake::default()
        }
    }
}

/// The type's flags are still a constant, computed from the marked methods: checked at compile
/// time.
const _: () =
    assert!(!Fake::OPTIONS.ignore_chain && Fake::OPTIONS.ignore_llm && !Fake::OPTIONS.raise_error);

fn run(manager: &CallbackManager) -> Result<(), CallbackError> {
    let chain = manager.on_chain_start(None, &json!({}), RunOptions::new())?;
    chain.on_text("hello")?;
    chain.on_chain_end(&json!({}))
}

#[test]
fn the_type_keeps_its_constants() {
    let fake = Fake::default();
    assert_eq!(CallbackHandler::name(&fake), "fake");
    assert_eq!(CallbackHandler::options(&fake), Fake::OPTIONS);
}

#[test]
fn two_instances_of_one_type_differ_in_name_and_flags() {
    let plain = Arc::new(Fake::with("plain", Fake::OPTIONS));
    let no_chains = Arc::new(Fake::with(
        "no-chains",
        Fake::OPTIONS.ignore(Category::Chain),
    ));
    assert_eq!(CallbackHandler::name(&*plain), "plain");
    assert_eq!(CallbackHandler::name(&*no_chains), "no-chains");
    assert!(CallbackHandler::options(&*no_chains).ignore_chain);
    assert!(!CallbackHandler::options(&*plain).ignore_chain);

    let manager = CallbackManager::new()
        .with_handler(plain.clone())
        .with_handler(no_chains.clone());
    run(&manager).unwrap();
    assert_eq!(plain.chains.load(Ordering::Relaxed), 2);
    assert_eq!(no_chains.chains.load(Ordering::Relaxed), 0);
    // Text has no flag: both see it.
    assert_eq!(plain.texts.load(Ordering::Relaxed), 1);
    assert_eq!(no_chains.texts.load(Ordering::Relaxed), 1);
}

#[test]
fn raise_error_per_instance() {
    let strict = Arc::new(Fake::with("strict", Fake::OPTIONS.raise_error(true)));
    let lenient = Arc::new(Fake::with("lenient", Fake::OPTIONS));

    let error = run(&CallbackManager::new().with_handler(strict.clone())).unwrap_err();
    match error.kind() {
        CallbackErrorKind::Handler { handler, .. } => assert_eq!(handler, "strict"),
        other => panic!("unexpected error: {other:?}"),
    }
    assert_eq!(
        error.handler_error().map(ToString::to_string).as_deref(),
        Some("strict refuses")
    );
    run(&CallbackManager::new().with_handler(lenient.clone())).unwrap();
    assert_eq!(lenient.chains.load(Ordering::Relaxed), 2);
}

#[test]
fn empty_fields_fall_back_to_the_type() {
    let fake = Fake {
        name: Some(String::new()),
        options: None,
        ..Fake::default()
    };
    assert_eq!(CallbackHandler::name(&fake), "fake");
    assert_eq!(CallbackHandler::options(&fake), Fake::OPTIONS);
}

/// A tuple struct with plain (not optional) fields, and no name on the type.
#[derive(CallbackHandler)]
struct Labelled(
    #[callback(name)] Cow<'static, str>,
    #[callback(options)] HandlerOptions,
);

#[callbacks]
impl Labelled {
    #[on(text)]
    fn text(&self, _event: &Text<'_>) {}
}

#[test]
fn tuple_structs_and_plain_fields() {
    let quiet = Labelled(Cow::Borrowed("quiet"), Labelled::OPTIONS.run_inline(true));
    assert_eq!(CallbackHandler::name(&quiet), "quiet");
    assert!(CallbackHandler::options(&quiet).run_inline);
    let unnamed = Labelled(Cow::Borrowed(""), Labelled::OPTIONS);
    assert!(CallbackHandler::name(&unnamed).ends_with("Labelled"));
}

/// An async handler with a name per instance only.
#[derive(CallbackHandler, Debug)]
struct AsyncFake {
    #[callback(name)]
    label: &'static str,
    seen: Mutex<Vec<&'static str>>,
}

#[callbacks]
impl AsyncFake {
    #[on(chain_end)]
    async fn end(&self, _event: &ChainEnd<'_>) {
        tokio::task::yield_now().await;
        if let Ok(mut seen) = self.seen.lock() {
            seen.push(self.label);
        }
    }
}

#[tokio::test]
async fn async_handlers_too() {
    let first = Arc::new(AsyncFake {
        label: "first",
        seen: Mutex::default(),
    });
    let second = Arc::new(AsyncFake {
        label: "second",
        seen: Mutex::default(),
    });
    assert_eq!(AsyncCallbackHandler::name(&*first), "first");
    assert_eq!(AsyncCallbackHandler::name(&*second), "second");
    assert_eq!(AsyncCallbackHandler::options(&*first), AsyncFake::OPTIONS);
    let manager = AsyncCallbackManager::new()
        .with_async_handler(first.clone())
        .with_async_handler(second.clone());
    let chain = manager
        .on_chain_start(None, &json!({}), RunOptions::new())
        .await
        .unwrap();
    chain.on_chain_end(&json!({})).await.unwrap();
    assert_eq!(*first.seen.lock().unwrap(), ["first"]);
    assert_eq!(*second.seen.lock().unwrap(), ["second"]);
}
