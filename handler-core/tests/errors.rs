//! The error policy: a failing or panicking handler is logged and the others still run; with
//! `raise_error` the error reaches the caller.
#![allow(clippy::unwrap_used, clippy::expect_used)] // tests fail loudly

mod common;

use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};

use common::Probe;
use handler_core::error::*;
use handler_core::event::*;
use handler_core::manager::*;
use handler_core::*;
use serde_json::json;

struct Failing {
    options: HandlerOptions,
    panic: bool,
    calls: AtomicUsize,
}

impl Failing {
    fn new(raise: bool, panic: bool) -> Arc<Self> {
        Arc::new(Self {
            options: HandlerOptions::new().raise_error(raise),
            panic,
            calls: AtomicUsize::new(0),
        })
    }
}

impl CallbackHandler for Failing {
    fn name(&self) -> &str {
        "failing"
    }
    fn options(&self) -> HandlerOptions {
        self.options
    }
    fn on_chain_start(&self, _: &ChainStart<'_>) -> HandlerResult {
        self.calls.fetch_add(1, Ordering::SeqCst);
        if self.panic {
            panic!("handler bug");
        }
        Err(std::io::Error::other("disk full").into())
    }
}

impl AsyncCallbackHandler for Failing {
    fn name(&self) -> &str {
        "failing-async"
    }
    fn options(&self) -> HandlerOptions {
        self.options
    }
    async fn on_chain_start(&self, _: &ChainStart<'_>) -> HandlerResult {
        self.calls.fetch_add(1, Ordering::SeqCst);
        tokio::task::yield_now().await;
        if self.panic {
            panic!("async handler bug");
        }
        Err(HandlerError::msg("remote down"))
    }
}

#[test]
fn an_error_is_caught_and_the_other_handlers_still_run() {
    let before = Arc::new(Probe::new("before"));
    let after = Arc::new(Probe::new("after"));
    let failing = Failing::new(false, false);
    let manager = CallbackManager::new()
        .with_handler(before.clone())
        .with_handler(failing.clone())
        .with_handler(after.clone());
    let run = manager.on_chain_start(None, &json!({}), RunOptions::default());
    assert!(run.is_ok());
    assert_eq!(failing.calls.load(Ordering::SeqCst), 1);
    assert_eq!(before.kinds(), [EventKind::ChainStart]);
    assert_eq!(after.kinds(), [EventKind::ChainStart]);
}

#[test]
fn a_panic_is_caught_and_the_pipeline_goes_on() {
    let after = Arc::new(Probe::new("after"));
    let panicking = Failing::new(false, true);
    let manager = CallbackManager::new()
        .with_handler(panicking.clone())
        .with_handler(after.clone());
    let run = manager
        .on_chain_start(None, &json!({}), RunOptions::default())
        .unwrap();
    assert_eq!(
        panicking.calls.load(Ordering::SeqCst),
        1,
        "it ran, and panicked"
    );
    run.on_chain_end(&json!({})).unwrap();
    assert_eq!(after.kinds(), [EventKind::ChainStart, EventKind::ChainEnd]);
}

#[test]
fn raise_error_returns_the_error_and_stops_later_handlers() {
    let after = Arc::new(Probe::new("after"));
    let manager = CallbackManager::new()
        .with_handler(Failing::new(true, false))
        .with_handler(after.clone());
    let err = manager
        .on_chain_start(None, &json!({}), RunOptions::default())
        .unwrap_err();
    match err.kind() {
        CallbackErrorKind::Handler {
            handler,
            event,
            failure: Failure::Error(e),
            ..
        } => {
            assert_eq!(handler, "failing");
            assert_eq!(*event, EventKind::ChainStart);
            assert_eq!(e.to_string(), "disk full");
        }
        other => panic!("unexpected {other:?}"),
    }
    assert!(err.to_string().contains("disk full"));
    assert_eq!(
        after.kinds(),
        [EventKind::ChainError],
        "as in LangChain's sync dispatch, later handlers skip the start; \
         the run the failed start leaves behind still ends, as abandoned"
    );
}

#[test]
fn raise_error_returns_a_panic_as_an_error() {
    let manager = CallbackManager::new().with_handler(Failing::new(true, true));
    let err = manager
        .on_chain_start(None, &json!({}), RunOptions::default())
        .unwrap_err();
    assert!(
        matches!(err.kind(), CallbackErrorKind::Handler { failure: Failure::Panic(m), .. } if m == "handler bug"),
        "{err}"
    );
}

#[test]
fn not_implemented_is_never_an_error_even_with_raise_error() {
    struct Lazy(AtomicUsize);
    impl CallbackHandler for Lazy {
        fn options(&self) -> HandlerOptions {
            HandlerOptions::new().raise_error(true)
        }
        fn on_text(&self, _: &Text<'_>) -> HandlerResult {
            self.0.fetch_add(1, Ordering::SeqCst);
            Err(HandlerError::not_implemented())
        }
    }
    let lazy = Arc::new(Lazy(AtomicUsize::new(0)));
    let manager = CallbackManager::new().with_handler(lazy.clone());
    let run = manager
        .on_chain_start(None, &json!({}), RunOptions::default())
        .unwrap();
    assert!(run.on_text("hello").is_ok());
    assert_eq!(lazy.0.load(Ordering::SeqCst), 1, "the handler was asked");
}

#[tokio::test]
async fn async_errors_and_panics_are_caught_or_raised() {
    let after = Arc::new(Probe::new("after"));
    let mut manager = AsyncCallbackManager::new();
    manager.add_async_handler(Failing::new(false, false));
    manager.add_async_handler(Failing::new(false, true));
    manager.add_handler(after.clone());
    // Kept open: a dropped run would send its abandoned error to `after` at once.
    let chain = manager
        .on_chain_start(None, &json!({}), RunOptions::default())
        .await;
    assert!(chain.is_ok());
    assert_eq!(after.kinds(), [EventKind::ChainStart]);

    let raising = Failing::new(true, false);
    let sibling = Failing::new(false, false);
    let mut manager = AsyncCallbackManager::new();
    manager
        .add_async_handler(raising.clone())
        .add_async_handler(sibling.clone());
    let err = manager
        .on_chain_start(None, &json!({}), RunOptions::default())
        .await
        .unwrap_err();
    assert!(err.to_string().contains("remote down"), "{err}");
    assert_eq!(
        sibling.calls.load(Ordering::SeqCst),
        1,
        "concurrent siblings still run"
    );
}

#[test]
fn an_async_handler_is_refused_by_the_sync_manager() {
    let mut manager = CallbackManager::new();
    let err = manager
        .add_shared_handler(SharedHandler::from_async(Failing::new(false, false)))
        .unwrap_err();
    assert!(err.to_string().contains("AsyncCallbackManager"), "{err}");
}

/// Collects what the `tracing` subscriber prints.
#[derive(Clone, Default)]
struct Captured(Arc<std::sync::Mutex<Vec<u8>>>);

impl std::io::Write for Captured {
    fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
        self.0.lock().unwrap().extend_from_slice(buf);
        Ok(buf.len())
    }
    fn flush(&mut self) -> std::io::Result<()> {
        Ok(())
    }
}

#[test]
fn a_failure_is_logged_with_handler_event_and_run_id() {
    let captured = Captured::default();
    let writer = captured.clone();
    let subscriber = tracing_subscriber::fmt()
        .with_writer(move || writer.clone())
        .with_ansi(false)
        .finish();
    let run_id = tracing::subscriber::with_default(subscriber, || {
        let manager = CallbackManager::new().with_handler(Failing::new(false, false));
        let run = manager
            .on_chain_start(None, &json!({}), RunOptions::default())
            .unwrap();
        run.run_id()
    });
    let log = String::from_utf8(captured.0.lock().unwrap().clone()).unwrap();
    assert!(log.contains("WARN"), "{log}");
    assert!(log.contains("callback handler failed"), "{log}");
    assert!(log.contains("handler=failing"), "{log}");
    assert!(log.contains("event=\"chain_start\""), "{log}");
    assert!(log.contains(&format!("run_id={run_id}")), "{log}");
    assert!(log.contains("disk full"), "{log}");
}

#[test]
fn the_callback_error_source_is_the_handlers_error() {
    use std::error::Error as _;
    let manager = CallbackManager::new().with_handler(Failing::new(true, false));
    let err = manager
        .on_chain_start(None, &json!({}), RunOptions::default())
        .unwrap_err();
    let source = err.source().expect("the handler's error is the source");
    let io = source
        .downcast_ref::<std::io::Error>()
        .expect("an io::Error");
    assert_eq!(io.to_string(), "disk full");
    assert!(
        err.kind().source().is_some(),
        "the kind reports it too, for callers that take it by value"
    );
    let handler_error = err.handler_error().unwrap();
    assert!(handler_error.downcast_ref::<std::io::Error>().is_some());
    assert_eq!(
        payload::ErrorInfo::from(handler_error.as_error()).kind,
        "io::Error"
    );
}

#[test]
fn a_panic_has_no_source_but_keeps_its_message() {
    use std::error::Error as _;
    let manager = CallbackManager::new().with_handler(Failing::new(true, true));
    let err = manager
        .on_chain_start(None, &json!({}), RunOptions::default())
        .unwrap_err();
    assert!(err.source().is_none());
    assert!(err.to_string().contains("panicked: handler bug"), "{err}");
}

#[test]
fn a_handler_error_is_viewable_as_a_std_error_with_its_chain() {
    #[derive(Debug)]
    struct Wrapped(std::io::Error);
    impl std::fmt::Display for Wrapped {
        fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
            f.write_str("writing the trace")
        }
    }
    impl std::error::Error for Wrapped {
        fn source(&self) -> Option<&(dyn std::error::Error + 'static)> {
            Some(&self.0)
        }
    }
    let err = HandlerError::from(Wrapped(std::io::Error::other("disk full")));
    let view: &(dyn std::error::Error + 'static) = err.as_ref();
    assert_eq!(view.to_string(), "writing the trace");
    assert_eq!(view.source().unwrap().to_string(), "disk full");
    assert!(err.downcast_ref::<Wrapped>().is_some());
    let not_handled = HandlerError::not_implemented();
    assert!(not_handled.get_ref().is_none());
    assert_eq!(not_handled.as_error().to_string(), "event not handled");
    let boxed = err.into_error();
    assert!(boxed.downcast_ref::<Wrapped>().is_some());
}
