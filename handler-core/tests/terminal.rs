//! Every run ends once for every handler: a run's terminal event (its end or its error) reaches
//! every interested handler, whatever an earlier handler returned or how it panicked, in the
//! sync and the async manager; then the first raised error goes back to the caller.
#![allow(clippy::unwrap_used, clippy::expect_used)] // tests fail loudly

use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};

use handler_core::error::*;
use handler_core::event::*;
use handler_core::manager::*;
use handler_core::payload::{ErrorInfo, LlmResult, Serialized};
use handler_core::*;
use serde_json::json;

/// How the first handler fails on every terminal event.
#[derive(Clone, Copy, Debug)]
enum Fault {
    /// Returns an error.
    Error,
    /// Panics.
    Panic,
}

/// How a run ends.
#[derive(Clone, Copy, Debug)]
enum Ending {
    End,
    Error,
}

/// The kind of run under test.
#[derive(Clone, Copy, Debug)]
enum Kind {
    Chain,
    Tool,
    Retriever,
    Llm,
}

const KINDS: [Kind; 4] = [Kind::Chain, Kind::Tool, Kind::Retriever, Kind::Llm];

/// The terminal events one handler saw, shared by its sync and async forms.
#[derive(Default)]
struct Ends(Mutex<Vec<EventKind>>);

impl Ends {
    fn push(&self, kind: EventKind) -> HandlerResult {
        self.0.lock().unwrap().push(kind);
        Ok(())
    }
    fn seen(&self) -> Vec<EventKind> {
        self.0.lock().unwrap().clone()
    }
}

/// Implements every terminal method of a handler trait by calling `$body(self, EventKind)`
/// (and awaiting it, for the async trait).
macro_rules! terminal_methods {
    (async $body:expr) => {
        terminal_methods!(@ [async] [.await] $body);
    };
    (sync $body:expr) => {
        terminal_methods!(@ [] [] $body);
    };
    (@ [$($async:tt)*] [$($await:tt)*] $body:expr) => {
        $($async)* fn on_chain_end(&self, _: &ChainEnd<'_>) -> HandlerResult { $body(self, EventKind::ChainEnd)$($await)* }
        $($async)* fn on_chain_error(&self, _: &ChainError<'_>) -> HandlerResult { $body(self, EventKind::ChainError)$($await)* }
        $($async)* fn on_tool_end(&self, _: &ToolEnd<'_>) -> HandlerResult { $body(self, EventKind::ToolEnd)$($await)* }
        $($async)* fn on_tool_error(&self, _: &ToolError<'_>) -> HandlerResult { $body(self, EventKind::ToolError)$($await)* }
        $($async)* fn on_retriever_end(&self, _: &RetrieverEnd<'_>) -> HandlerResult { $body(self, EventKind::RetrieverEnd)$($await)* }
        $($async)* fn on_retriever_error(&self, _: &RetrieverError<'_>) -> HandlerResult { $body(self, EventKind::RetrieverError)$($await)* }
        $($async)* fn on_llm_end(&self, _: &LlmEnd<'_>) -> HandlerResult { $body(self, EventKind::LlmEnd)$($await)* }
        $($async)* fn on_llm_error(&self, _: &LlmError<'_>) -> HandlerResult { $body(self, EventKind::LlmError)$($await)* }
    };
}

/// A sync handler that records the terminal events it gets.
struct SyncEnds(Arc<Ends>);
impl CallbackHandler for SyncEnds {
    fn name(&self) -> &str {
        "sync-after"
    }
    terminal_methods!(sync |h: &Self, kind| h.0.push(kind));
}

/// An async handler that records the terminal events it gets, after yielding once.
struct AsyncEnds(Arc<Ends>, HandlerOptions);
impl AsyncCallbackHandler for AsyncEnds {
    fn name(&self) -> &str {
        "async-after"
    }
    fn options(&self) -> HandlerOptions {
        self.1
    }
    terminal_methods!(async AsyncEnds::record);
}

impl AsyncEnds {
    async fn record(&self, kind: EventKind) -> HandlerResult {
        tokio::task::yield_now().await;
        self.0.push(kind)
    }
}

/// A handler with `raise_error` that fails on every terminal event, after recording it.
struct Failing {
    fault: Fault,
    ends: Arc<Ends>,
}

impl Failing {
    fn fail(&self, kind: EventKind) -> HandlerResult {
        self.ends.push(kind)?;
        match self.fault {
            Fault::Error => Err("exporter unreachable".into()),
            Fault::Panic => panic!("handler bug"),
        }
    }
}

impl CallbackHandler for Failing {
    fn name(&self) -> &str {
        "failing"
    }
    fn options(&self) -> HandlerOptions {
        HandlerOptions::new().raise_error(true)
    }
    terminal_methods!(sync Failing::fail);
}

/// The async form of [`Failing`].
struct AsyncFailing(Failing);
impl AsyncCallbackHandler for AsyncFailing {
    fn name(&self) -> &str {
        "failing"
    }
    fn options(&self) -> HandlerOptions {
        HandlerOptions::new().raise_error(true).run_inline(true)
    }
    terminal_methods!(async AsyncFailing::fail);
}

impl AsyncFailing {
    async fn fail(&self, kind: EventKind) -> HandlerResult {
        self.0.fail(kind)
    }
}

/// The terminal event a run of `kind` ends with.
fn terminal(kind: Kind, ending: Ending) -> EventKind {
    match (kind, ending) {
        (Kind::Chain, Ending::End) => EventKind::ChainEnd,
        (Kind::Chain, Ending::Error) => EventKind::ChainError,
        (Kind::Tool, Ending::End) => EventKind::ToolEnd,
        (Kind::Tool, Ending::Error) => EventKind::ToolError,
        (Kind::Retriever, Ending::End) => EventKind::RetrieverEnd,
        (Kind::Retriever, Ending::Error) => EventKind::RetrieverError,
        (Kind::Llm, Ending::End) => EventKind::LlmEnd,
        (Kind::Llm, Ending::Error) => EventKind::LlmError,
    }
}

/// Starts and ends one run of `kind` on a sync manager; returns the result of the end.
fn sync_run(manager: &CallbackManager, kind: Kind, ending: Ending) -> Result<(), CallbackError> {
    let error = ErrorInfo::new("Timeout", "took too long");
    let options = RunOptions::new;
    match kind {
        Kind::Chain => {
            let run = manager.on_chain_start(None, &json!({}), options())?;
            match ending {
                Ending::End => run.on_chain_end(&json!({})),
                Ending::Error => run.on_chain_error(error),
            }
        }
        Kind::Tool => {
            let run = manager.on_tool_start(None, "2 + 2", None, options())?;
            match ending {
                Ending::End => run.on_tool_end(&json!("4")),
                Ending::Error => run.on_tool_error(error),
            }
        }
        Kind::Retriever => {
            let run = manager.on_retriever_start(None, "where?", options())?;
            match ending {
                Ending::End => run.on_retriever_end(&[]),
                Ending::Error => run.on_retriever_error(error),
            }
        }
        Kind::Llm => {
            let run = manager.on_llm_start(&Serialized::named("m"), "hi", options())?;
            match ending {
                Ending::End => run.on_llm_end(&LlmResult::from_text("hello")),
                Ending::Error => run.on_llm_error(error),
            }
        }
    }
}

/// Starts and ends one run of `kind` on an async manager; returns the result of the end.
async fn async_run(
    manager: &AsyncCallbackManager,
    kind: Kind,
    ending: Ending,
) -> Result<(), CallbackError> {
    let error = ErrorInfo::new("Timeout", "took too long");
    let options = RunOptions::new;
    match kind {
        Kind::Chain => {
            let run = manager.on_chain_start(None, &json!({}), options()).await?;
            match ending {
                Ending::End => run.on_chain_end(&json!({})).await,
                Ending::Error => run.on_chain_error(error).await,
            }
        }
        Kind::Tool => {
            let run = manager
                .on_tool_start(None, "2 + 2", None, options())
                .await?;
            match ending {
                Ending::End => run.on_tool_end(&json!("4")).await,
                Ending::Error => run.on_tool_error(error).await,
            }
        }
        Kind::Retriever => {
            let run = manager
                .on_retriever_start(None, "where?", options())
                .await?;
            match ending {
                Ending::End => run.on_retriever_end(&[]).await,
                Ending::Error => run.on_retriever_error(error).await,
            }
        }
        Kind::Llm => {
            let run = manager
                .on_llm_start(&Serialized::named("m"), "hi", options())
                .await?;
            match ending {
                Ending::End => run.on_llm_end(&LlmResult::from_text("hello")).await,
                Ending::Error => run.on_llm_error(error).await,
            }
        }
    }
}

/// The caller gets the first handler's failure, as a raised error.
fn assert_raised(result: Result<(), CallbackError>, expected: EventKind, case: &str) {
    let error = result.expect_err(case);
    match error.kind() {
        CallbackErrorKind::Handler { handler, event, .. } => {
            assert_eq!(handler, "failing", "{case}");
            assert_eq!(*event, expected, "{case}");
        }
        other => panic!("{case}: unexpected {other:?}"),
    }
}

#[test]
fn a_failing_handler_does_not_hide_the_end_from_later_sync_handlers() {
    for fault in [Fault::Error, Fault::Panic] {
        for kind in KINDS {
            for ending in [Ending::End, Ending::Error] {
                let case = format!("{fault:?} {kind:?} {ending:?}");
                let (first, after) = (Arc::new(Ends::default()), Arc::new(Ends::default()));
                let manager = CallbackManager::new()
                    .with_handler(Arc::new(Failing {
                        fault,
                        ends: first.clone(),
                    }))
                    .with_handler(Arc::new(SyncEnds(after.clone())));

                let expected = terminal(kind, ending);
                assert_raised(sync_run(&manager, kind, ending), expected, &case);
                assert_eq!(first.seen(), [expected], "{case}: the failing handler");
                assert_eq!(after.seen(), [expected], "{case}: the handler after it");
            }
        }
    }
}

#[tokio::test]
async fn a_failing_handler_does_not_hide_the_end_from_later_async_handlers() {
    // Later handlers of each kind: a sync one, an inline async one, a concurrent async one.
    let inline = HandlerOptions::new().run_inline(true);
    for async_first in [false, true] {
        for fault in [Fault::Error, Fault::Panic] {
            for kind in KINDS {
                for ending in [Ending::End, Ending::Error] {
                    let case = format!("async_first={async_first} {fault:?} {kind:?} {ending:?}");
                    let first = Arc::new(Ends::default());
                    let after: [Arc<Ends>; 3] = Default::default();
                    let failing = Failing {
                        fault,
                        ends: first.clone(),
                    };
                    let mut manager = AsyncCallbackManager::new();
                    if async_first {
                        manager.add_async_handler(Arc::new(AsyncFailing(failing)));
                    } else {
                        manager.add_handler(Arc::new(failing));
                    }
                    manager
                        .add_handler(Arc::new(SyncEnds(after[0].clone())))
                        .add_async_handler(Arc::new(AsyncEnds(after[1].clone(), inline)))
                        .add_async_handler(Arc::new(AsyncEnds(
                            after[2].clone(),
                            HandlerOptions::new(),
                        )));

                    let expected = terminal(kind, ending);
                    assert_raised(async_run(&manager, kind, ending).await, expected, &case);
                    assert_eq!(first.seen(), [expected], "{case}: the failing handler");
                    for (i, ends) in after.iter().enumerate() {
                        assert_eq!(ends.seen(), [expected], "{case}: handler {i} after it");
                    }
                }
            }
        }
    }
}

#[test]
fn starts_and_other_events_still_stop_at_a_raised_error() {
    // Only terminal events go to every handler; the rest keep LangChain's rule.
    struct FailsText(AtomicUsize);
    impl CallbackHandler for FailsText {
        fn options(&self) -> HandlerOptions {
            HandlerOptions::new().raise_error(true)
        }
        fn on_text(&self, _: &Text<'_>) -> HandlerResult {
            self.0.fetch_add(1, Ordering::SeqCst);
            Err("no".into())
        }
    }
    struct CountsText(AtomicUsize);
    impl CallbackHandler for CountsText {
        fn on_text(&self, _: &Text<'_>) -> HandlerResult {
            self.0.fetch_add(1, Ordering::SeqCst);
            Ok(())
        }
    }
    let (fails, counts) = (
        Arc::new(FailsText(AtomicUsize::new(0))),
        Arc::new(CountsText(AtomicUsize::new(0))),
    );
    let manager = CallbackManager::new()
        .with_handler(fails.clone())
        .with_handler(counts.clone());
    let run = manager
        .on_chain_start(None, &json!({}), RunOptions::new())
        .unwrap();
    assert!(run.on_text("hello").is_err());
    assert_eq!(fails.0.load(Ordering::SeqCst), 1);
    assert_eq!(counts.0.load(Ordering::SeqCst), 0);
    run.on_chain_end(&json!({})).unwrap();
}
