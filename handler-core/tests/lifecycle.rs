//! Every started run gets exactly one terminal event: ending a run consumes its run manager, a
//! run manager dropped without an end (an early `?`, a panic, a cancelled future, a failed start)
//! sends the run's error event with `ErrorInfo::abandoned()`, and the async manager's end events
//! survive the caller's cancellation. Also: root ids through nested runs and custom events.
#![allow(clippy::unwrap_used, clippy::expect_used)] // tests fail loudly

mod common;

use std::future::Future;
use std::panic::{AssertUnwindSafe, catch_unwind};
use std::pin::Pin;
use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::Duration;

use common::{Probe, Seen};
use handler_core::error::*;
use handler_core::event::*;
use handler_core::manager::*;
use handler_core::payload::{ChatMessage, ErrorInfo, LlmResult};
use handler_core::*;
use serde_json::json;
use tokio::sync::{Notify, watch};

/// How long a test waits for something that should happen at once. Reaching it is a failure.
const PATIENCE: Duration = Duration::from_secs(10);

type BoxFuture<T> = Pin<Box<dyn Future<Output = T> + Send>>;

// ---------------------------------------------------------------------------------------------
// The run kinds, behind one interface so that every test covers all of them.
// ---------------------------------------------------------------------------------------------

/// A run of any kind, started on the sync manager.
trait SyncRun {
    fn id(&self) -> Uuid;
    /// Ends the run normally.
    fn end(self: Box<Self>) -> Result<(), CallbackError>;
    /// Ends the run with an error of the caller's.
    fn fail(self: Box<Self>) -> Result<(), CallbackError>;
    /// Another handle of the same run.
    fn twin(&self) -> Box<dyn SyncRun>;
}

/// A run of any kind, started on the async manager.
trait AsyncRun: Send {
    fn id(&self) -> Uuid;
    fn end(self: Box<Self>) -> BoxFuture<Result<(), CallbackError>>;
    fn fail(self: Box<Self>) -> BoxFuture<Result<(), CallbackError>>;
    fn twin(&self) -> Box<dyn AsyncRun>;
}

fn caller_error() -> ErrorInfo {
    ErrorInfo::new("TimeoutError", "the model took too long")
}

macro_rules! runs {
    ($($sync:ty, $async:ty => |$run:ident| $end:expr, $fail:expr;)*) => {$(
        impl SyncRun for $sync {
            fn id(&self) -> Uuid {
                self.run_id()
            }
            fn end(self: Box<Self>) -> Result<(), CallbackError> {
                let $run = *self;
                $end
            }
            fn fail(self: Box<Self>) -> Result<(), CallbackError> {
                let $run = *self;
                $fail
            }
            fn twin(&self) -> Box<dyn SyncRun> {
                Box::new(self.clone())
            }
        }

        impl AsyncRun for $async {
            fn id(&self) -> Uuid {
                self.run_id()
            }
            fn end(self: Box<Self>) -> BoxFuture<Result<(), CallbackError>> {
                Box::pin(async move {
                    let $run = *self;
                    $end.await
                })
            }
            fn fail(self: Box<Self>) -> BoxFuture<Result<(), CallbackError>> {
                Box::pin(async move {
                    let $run = *self;
                    $fail.await
                })
            }
            fn twin(&self) -> Box<dyn AsyncRun> {
                Box::new(self.clone())
            }
        }
    )*};
}

runs! {
    ChainRunManager, AsyncChainRunManager =>
        |run| run.on_chain_end(&json!({"answer": 42})), run.on_chain_error(caller_error());
    ToolRunManager, AsyncToolRunManager =>
        |run| run.on_tool_end(&json!("done")), run.on_tool_error(caller_error());
    RetrieverRunManager, AsyncRetrieverRunManager =>
        |run| run.on_retriever_end(&[]), run.on_retriever_error(caller_error());
    LlmRunManager, AsyncLlmRunManager =>
        |run| run.on_llm_end(&LlmResult::from_text("hi")), run.on_llm_error(caller_error());
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Kind {
    Chain,
    Tool,
    Retriever,
    Llm,
    ChatModel,
}

const KINDS: [Kind; 5] = [
    Kind::Chain,
    Kind::Tool,
    Kind::Retriever,
    Kind::Llm,
    Kind::ChatModel,
];

impl Kind {
    fn start_event(self) -> EventKind {
        match self {
            Kind::Chain => EventKind::ChainStart,
            Kind::Tool => EventKind::ToolStart,
            Kind::Retriever => EventKind::RetrieverStart,
            Kind::Llm => EventKind::LlmStart,
            Kind::ChatModel => EventKind::ChatModelStart,
        }
    }

    fn end_event(self) -> EventKind {
        match self {
            Kind::Chain => EventKind::ChainEnd,
            Kind::Tool => EventKind::ToolEnd,
            Kind::Retriever => EventKind::RetrieverEnd,
            Kind::Llm | Kind::ChatModel => EventKind::LlmEnd,
        }
    }

    fn error_event(self) -> EventKind {
        match self {
            Kind::Chain => EventKind::ChainError,
            Kind::Tool => EventKind::ToolError,
            Kind::Retriever => EventKind::RetrieverError,
            Kind::Llm | Kind::ChatModel => EventKind::LlmError,
        }
    }

    fn start(self, manager: &CallbackManager, id: Uuid) -> Result<Box<dyn SyncRun>, CallbackError> {
        let options = RunOptions::new().with_run_id(id);
        Ok(match self {
            Kind::Chain => Box::new(manager.on_chain_start(None, &json!({"q": 1}), options)?),
            Kind::Tool => Box::new(manager.on_tool_start(None, "input", None, options)?),
            Kind::Retriever => Box::new(manager.on_retriever_start(None, "query", options)?),
            Kind::Llm => Box::new(manager.on_llm_start(None, "prompt", options)?),
            Kind::ChatModel => {
                Box::new(manager.on_chat_model_start(None, &[ChatMessage::user("hi")], options)?)
            }
        })
    }

    async fn start_async(
        self,
        manager: &AsyncCallbackManager,
        id: Uuid,
    ) -> Result<Box<dyn AsyncRun>, CallbackError> {
        let options = RunOptions::new().with_run_id(id);
        Ok(match self {
            Kind::Chain => Box::new(
                manager
                    .on_chain_start(None, &json!({"q": 1}), options)
                    .await?,
            ),
            Kind::Tool => Box::new(manager.on_tool_start(None, "input", None, options).await?),
            Kind::Retriever => Box::new(manager.on_retriever_start(None, "query", options).await?),
            Kind::Llm => Box::new(manager.on_llm_start(None, "prompt", options).await?),
            Kind::ChatModel => Box::new(
                manager
                    .on_chat_model_start(None, &[ChatMessage::user("hi")], options)
                    .await?,
            ),
        })
    }
}

// ---------------------------------------------------------------------------------------------
// Handlers and assertions.
// ---------------------------------------------------------------------------------------------

/// An async handler that records like [`Probe`] and counts the events, so that a test can wait
/// (boundedly) for events dispatched by a task it does not await.
struct AsyncProbe {
    inner: Probe,
    count: watch::Sender<usize>,
}

impl AsyncProbe {
    fn new(label: &'static str) -> Arc<Self> {
        Self::with(label, HandlerOptions::new())
    }

    fn with(label: &'static str, options: HandlerOptions) -> Arc<Self> {
        Arc::new(Self {
            inner: Probe::with(label, options),
            count: watch::Sender::new(0),
        })
    }

    fn seen(&self) -> Vec<Seen> {
        self.inner.seen()
    }

    /// Waits until the handler has received `n` events; fails after [`PATIENCE`].
    async fn wait_for(&self, n: usize) -> Vec<Seen> {
        let mut count = self.count.subscribe();
        let reached = tokio::time::timeout(PATIENCE, count.wait_for(|c| *c >= n)).await;
        assert!(
            matches!(reached, Ok(Ok(_))),
            "{} waited for {n} events, got {:?}",
            self.inner.label,
            self.inner.kinds()
        );
        self.seen()
    }
}

macro_rules! forward_to_probe {
    ($($method:ident($event:ident);)*) => {
        impl AsyncCallbackHandler for AsyncProbe {
            fn name(&self) -> &str {
                self.inner.label
            }
            fn options(&self) -> HandlerOptions {
                self.inner.options
            }
            $(
                async fn $method(&self, e: &$event<'_>) -> HandlerResult {
                    let result = CallbackHandler::$method(&self.inner, e);
                    self.count.send_modify(|n| *n += 1);
                    result
                }
            )*
        }
    };
}

forward_to_probe! {
    on_llm_start(LlmStart);
    on_chat_model_start(ChatModelStart);
    on_llm_new_token(LlmNewToken);
    on_llm_end(LlmEnd);
    on_llm_error(LlmError);
    on_chain_start(ChainStart);
    on_chain_end(ChainEnd);
    on_chain_error(ChainError);
    on_tool_start(ToolStart);
    on_tool_end(ToolEnd);
    on_tool_error(ToolError);
    on_retriever_start(RetrieverStart);
    on_retriever_end(RetrieverEnd);
    on_retriever_error(RetrieverError);
    on_agent_action(AgentAction);
    on_agent_finish(AgentFinish);
    on_retry(Retry);
    on_text(Text);
    on_custom_event(CustomEvent);
}

/// A handler with `raise_error` that fails every start event (and only those).
struct FailsStarts {
    sync_calls: AtomicUsize,
}

impl FailsStarts {
    fn new() -> Arc<Self> {
        Arc::new(Self {
            sync_calls: AtomicUsize::new(0),
        })
    }

    fn fail(&self) -> HandlerResult {
        self.sync_calls.fetch_add(1, Ordering::SeqCst);
        Err(HandlerError::msg("start refused"))
    }
}

impl CallbackHandler for FailsStarts {
    fn name(&self) -> &str {
        "fails-starts"
    }
    fn options(&self) -> HandlerOptions {
        HandlerOptions::new().raise_error(true)
    }
    fn on_chain_start(&self, _: &ChainStart<'_>) -> HandlerResult {
        self.fail()
    }
    fn on_tool_start(&self, _: &ToolStart<'_>) -> HandlerResult {
        self.fail()
    }
    fn on_retriever_start(&self, _: &RetrieverStart<'_>) -> HandlerResult {
        self.fail()
    }
    fn on_llm_start(&self, _: &LlmStart<'_>) -> HandlerResult {
        self.fail()
    }
    fn on_chat_model_start(&self, _: &ChatModelStart<'_>) -> HandlerResult {
        self.fail()
    }
}

impl AsyncCallbackHandler for FailsStarts {
    fn name(&self) -> &str {
        "fails-starts-async"
    }
    fn options(&self) -> HandlerOptions {
        HandlerOptions::new().raise_error(true)
    }
    async fn on_chain_start(&self, _: &ChainStart<'_>) -> HandlerResult {
        self.fail()
    }
    async fn on_tool_start(&self, _: &ToolStart<'_>) -> HandlerResult {
        self.fail()
    }
    async fn on_retriever_start(&self, _: &RetrieverStart<'_>) -> HandlerResult {
        self.fail()
    }
    async fn on_llm_start(&self, _: &LlmStart<'_>) -> HandlerResult {
        self.fail()
    }
    async fn on_chat_model_start(&self, _: &ChatModelStart<'_>) -> HandlerResult {
        self.fail()
    }
}

/// The events of one run, as one handler saw them.
fn of_run(seen: &[Seen], id: Uuid) -> Vec<Seen> {
    seen.iter().filter(|s| s.run_id == id).cloned().collect()
}

/// The run was started and then abandoned: its start, then exactly one error event of its kind,
/// carrying its id and the abandoned error.
fn assert_abandoned(seen: &[Seen], kind: Kind, id: Uuid) {
    let run = of_run(seen, id);
    let kinds: Vec<_> = run.iter().map(|s| s.kind).collect();
    assert_eq!(
        kinds,
        [kind.start_event(), kind.error_event()],
        "{kind:?}: a start and one error event"
    );
    assert_eq!(
        run[1].detail,
        ErrorInfo::ABANDONED,
        "{kind:?}: the error says abandoned"
    );
    assert_eq!(seen.len(), run.len(), "{kind:?}: no event of another run");
}

/// The run's events are exactly these kinds, and none is an abandoned error.
fn assert_events(seen: &[Seen], kind: Kind, id: Uuid, expected: &[EventKind]) {
    let kinds: Vec<_> = of_run(seen, id).iter().map(|s| s.kind).collect();
    assert_eq!(kinds, expected, "{kind:?}");
    assert!(
        seen.iter().all(|s| s.detail != ErrorInfo::ABANDONED),
        "{kind:?}: nothing abandoned: {seen:?}"
    );
    assert_eq!(seen.len(), expected.len(), "{kind:?}: no other events");
}

fn already_ended(result: Result<(), CallbackError>, id: Uuid) {
    match result.map_err(CallbackError::into_kind) {
        Err(CallbackErrorKind::RunAlreadyEnded { run_id }) => assert_eq!(run_id, id),
        other => panic!("expected RunAlreadyEnded for {id}, got {other:?}"),
    }
}

fn sync_setup() -> (CallbackManager, Arc<Probe>) {
    let probe = Arc::new(Probe::new("probe"));
    (CallbackManager::new().with_handler(probe.clone()), probe)
}

fn async_setup() -> (AsyncCallbackManager, Arc<AsyncProbe>) {
    let probe = AsyncProbe::new("async-probe");
    (
        AsyncCallbackManager::new().with_async_handler(probe.clone()),
        probe,
    )
}

#[derive(Debug)]
struct ModelDown;

impl std::fmt::Display for ModelDown {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("model down")
    }
}

impl std::error::Error for ModelDown {}

fn call_model() -> Result<(), ModelDown> {
    Err(ModelDown)
}

// ---------------------------------------------------------------------------------------------
// One table: each behaviour below runs in each setup (a module per setup, a test per
// behaviour), for each kind of run.
// ---------------------------------------------------------------------------------------------

/// Where the runs of a case live: the manager, its recording handler, and how the case drives
/// the async calls and where it drops the runs.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Setup {
    /// The sync manager and a sync handler.
    SyncManager,
    /// The async manager and a sync handler, on a current-thread tokio runtime: the handler gets
    /// every event at once, even from a `Drop`.
    AsyncManagerSyncHandler,
    /// The async manager and an async handler, outside any tokio runtime: each call blocks on
    /// `futures_executor`, and the runs are dropped outside any executor, where the drop
    /// dispatches the abandoned error to completion before it returns.
    AsyncHandlerWithoutRuntime,
    /// The async manager and an async handler, each call and drop inside a current-thread tokio
    /// runtime: the abandoned error is a task.
    AsyncHandlerCurrentThread,
    /// The async manager and an async handler, each call and drop in a task of a multi-thread
    /// tokio runtime.
    AsyncHandlerMultiThread,
}

/// How a handler that refuses every start joins the recording one.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Refuser {
    Sync,
    Async,
}

impl Setup {
    /// Sync handlers can refuse a start in either manager, async ones in the async manager.
    fn refusers(self) -> &'static [Refuser] {
        match self {
            Setup::SyncManager => &[Refuser::Sync],
            _ => &[Refuser::Sync, Refuser::Async],
        }
    }

    /// Whether the recording handler gets a start that the refusing handler fails. Ordered
    /// handlers (sync or inline) run first, in registration order, and a raised error stops the
    /// start's dispatch (as in LangChain): the recorder, registered first, gets the start when
    /// it is sync; an async recorder, in the concurrent group after the ordered handlers, gets
    /// it only when the refuser is in that group too.
    fn recorder_sees_a_refused_start(self, refuser: Refuser) -> bool {
        match self {
            Setup::SyncManager | Setup::AsyncManagerSyncHandler => true,
            _ => refuser == Refuser::Async,
        }
    }

    fn driver(self) -> Driver {
        let build = |builder: &mut tokio::runtime::Builder| {
            Arc::new(builder.enable_time().build().expect("a test runtime"))
        };
        match self {
            Setup::SyncManager => Driver::Direct,
            Setup::AsyncHandlerWithoutRuntime => Driver::Blocking,
            Setup::AsyncManagerSyncHandler | Setup::AsyncHandlerCurrentThread => {
                Driver::Runtime(build(&mut tokio::runtime::Builder::new_current_thread()))
            }
            Setup::AsyncHandlerMultiThread => Driver::Tasks(build(
                tokio::runtime::Builder::new_multi_thread().worker_threads(2),
            )),
        }
    }
}

/// How a setup runs the async calls and the drops of its runs.
#[derive(Clone)]
enum Driver {
    /// Sync calls; drops where they happen.
    Direct,
    /// Each call blocks on `futures_executor`; drops outside any executor.
    Blocking,
    /// Each call and drop inside `block_on` of this runtime.
    Runtime(Arc<tokio::runtime::Runtime>),
    /// Each call and drop in a task of this runtime.
    Tasks(Arc<tokio::runtime::Runtime>),
}

impl Driver {
    fn run<T: Send + 'static>(&self, work: impl Future<Output = T> + Send + 'static) -> T {
        match self {
            Driver::Direct | Driver::Blocking => futures_executor::block_on(work),
            Driver::Runtime(runtime) => runtime.block_on(work),
            Driver::Tasks(runtime) => match runtime.block_on(runtime.spawn(work)) {
                Ok(done) => done,
                Err(failed) => std::panic::resume_unwind(failed.into_panic()),
            },
        }
    }

    fn drop_run(&self, run: Box<dyn AsyncRun>) {
        match self {
            Driver::Direct | Driver::Blocking => drop(run),
            Driver::Runtime(_) | Driver::Tasks(_) => self.run(async move { drop(run) }),
        }
    }

    /// Waits (boundedly) until no task of the runtime is left: an event a task owes has
    /// arrived by then, and one it should not send would have too.
    fn settle(&self) {
        let (Driver::Runtime(runtime) | Driver::Tasks(runtime)) = self else {
            return;
        };
        runtime.block_on(async {
            let idle = async {
                while runtime.metrics().num_alive_tasks() > 0 {
                    tokio::task::yield_now().await;
                }
            };
            let settled = tokio::time::timeout(PATIENCE, idle).await;
            assert!(settled.is_ok(), "tasks still running after {PATIENCE:?}");
        });
    }
}

/// A run handle of either manager.
enum Handle {
    Sync(Box<dyn SyncRun>),
    Async(Box<dyn AsyncRun>),
}

/// A started run of a case: its calls and its drop go through the case's driver.
struct Run {
    handle: Option<Handle>,
    driver: Driver,
}

impl Run {
    fn id(&self) -> Uuid {
        match self.handle.as_ref().expect("a live run") {
            Handle::Sync(run) => run.id(),
            Handle::Async(run) => run.id(),
        }
    }

    fn end(mut self) -> Result<(), CallbackError> {
        match self.handle.take().expect("a live run") {
            Handle::Sync(run) => run.end(),
            Handle::Async(run) => self.driver.run(run.end()),
        }
    }

    fn fail(mut self) -> Result<(), CallbackError> {
        match self.handle.take().expect("a live run") {
            Handle::Sync(run) => run.fail(),
            Handle::Async(run) => self.driver.run(run.fail()),
        }
    }

    fn twin(&self) -> Run {
        let twin = match self.handle.as_ref().expect("a live run") {
            Handle::Sync(run) => Handle::Sync(run.twin()),
            Handle::Async(run) => Handle::Async(run.twin()),
        };
        Run {
            handle: Some(twin),
            driver: self.driver.clone(),
        }
    }
}

impl Drop for Run {
    fn drop(&mut self) {
        if let Some(Handle::Async(run)) = self.handle.take() {
            self.driver.drop_run(run);
        }
    }
}

/// Either manager.
enum AnyManager {
    Sync(CallbackManager),
    Async(AsyncCallbackManager),
}

/// The recording handler of a case.
enum Recorder {
    Sync(Arc<Probe>),
    Async(Arc<AsyncProbe>),
}

/// One case of the table: a manager of its setup, its recording handler and maybe a handler
/// refusing every start after it.
struct Case {
    manager: AnyManager,
    recorder: Recorder,
    driver: Driver,
}

impl Case {
    fn new(setup: Setup) -> Self {
        Self::build(setup, None)
    }

    fn refusing_starts(setup: Setup, refuser: Refuser, fails: Arc<FailsStarts>) -> Self {
        Self::build(setup, Some((refuser, fails)))
    }

    fn build(setup: Setup, refuser: Option<(Refuser, Arc<FailsStarts>)>) -> Self {
        let add_refuser = |manager: AsyncCallbackManager| match refuser.clone() {
            None => manager,
            Some((Refuser::Sync, fails)) => manager.with_handler(fails),
            Some((Refuser::Async, fails)) => manager.with_async_handler(fails),
        };
        let (manager, recorder) = match setup {
            Setup::SyncManager => {
                let probe = Arc::new(Probe::new("probe"));
                let mut manager = CallbackManager::new().with_handler(probe.clone());
                if let Some((refuser, fails)) = refuser.clone() {
                    assert_eq!(refuser, Refuser::Sync, "the sync manager has sync handlers");
                    manager = manager.with_handler(fails);
                }
                (AnyManager::Sync(manager), Recorder::Sync(probe))
            }
            Setup::AsyncManagerSyncHandler => {
                let probe = Arc::new(Probe::new("probe"));
                let manager = add_refuser(AsyncCallbackManager::new().with_handler(probe.clone()));
                (AnyManager::Async(manager), Recorder::Sync(probe))
            }
            _ => {
                let probe = AsyncProbe::new("async-probe");
                let manager =
                    add_refuser(AsyncCallbackManager::new().with_async_handler(probe.clone()));
                (AnyManager::Async(manager), Recorder::Async(probe))
            }
        };
        Case {
            manager,
            recorder,
            driver: setup.driver(),
        }
    }

    fn start(&self, kind: Kind, id: Uuid) -> Result<Run, CallbackError> {
        let handle = match &self.manager {
            AnyManager::Sync(manager) => Handle::Sync(kind.start(manager, id)?),
            AnyManager::Async(manager) => {
                let manager = manager.clone();
                let start = async move { kind.start_async(&manager, id).await };
                Handle::Async(self.driver.run(start)?)
            }
        };
        Ok(Run {
            handle: Some(handle),
            driver: self.driver.clone(),
        })
    }

    /// What the recording handler saw, once the setup delivered what it owes: at once for a
    /// sync handler or outside tokio, once no task is left on a runtime.
    fn seen(&self) -> Vec<Seen> {
        self.driver.settle();
        match &self.recorder {
            Recorder::Sync(probe) => probe.seen(),
            Recorder::Async(probe) => probe.seen(),
        }
    }

    /// Like [`seen`](Self::seen), after waiting (boundedly) for `n` events when the setup may
    /// deliver them from another thread: a run dropped inside `futures_executor` (its start
    /// failed there) reaches async handlers from the background dispatcher.
    fn seen_at_least(&self, n: usize) -> Vec<Seen> {
        if let (Driver::Blocking, Recorder::Async(probe)) = (&self.driver, &self.recorder) {
            let waiter = tokio::runtime::Builder::new_current_thread()
                .enable_time()
                .build()
                .unwrap();
            waiter.block_on(probe.wait_for(n));
        }
        self.seen()
    }
}

fn dropped_run_sends_one_abandoned_error(setup: Setup) {
    for kind in KINDS {
        let case = Case::new(setup);
        let id = Uuid::now_v7();
        let run = case.start(kind, id).unwrap();
        assert_eq!(run.id(), id);
        drop(run);
        assert_abandoned(&case.seen(), kind, id);
    }
}

fn ended_run_sends_nothing_on_drop(setup: Setup) {
    for kind in KINDS {
        let case = Case::new(setup);
        let id = Uuid::now_v7();
        case.start(kind, id).unwrap().end().unwrap();
        let expected = [kind.start_event(), kind.end_event()];
        assert_events(&case.seen(), kind, id, &expected);
    }
}

fn failed_run_sends_the_callers_error_and_nothing_on_drop(setup: Setup) {
    for kind in KINDS {
        let case = Case::new(setup);
        let id = Uuid::now_v7();
        case.start(kind, id).unwrap().fail().unwrap();
        let seen = case.seen();
        assert_events(&seen, kind, id, &[kind.start_event(), kind.error_event()]);
        assert_eq!(
            seen[1].detail, "TimeoutError",
            "{kind:?}: the caller's error"
        );
    }
}

fn clone_keeps_the_run_open_until_the_last_clone_drops(setup: Setup) {
    for kind in KINDS {
        let case = Case::new(setup);
        let id = Uuid::now_v7();
        let run = case.start(kind, id).unwrap();
        let twin = run.twin();
        let third = twin.twin();
        drop(run);
        drop(third);
        let kinds: Vec<_> = case.seen().iter().map(|s| s.kind).collect();
        assert_eq!(kinds, [kind.start_event()], "{kind:?}: still open");
        drop(twin);
        assert_abandoned(&case.seen(), kind, id);
    }
}

fn second_end_through_a_clone_fails_and_sends_nothing(setup: Setup) {
    for kind in KINDS {
        for first_fails in [false, true] {
            let case = Case::new(setup);
            let id = Uuid::now_v7();
            let run = case.start(kind, id).unwrap();
            let twin = run.twin();
            let third = run.twin();
            let terminal = if first_fails {
                run.fail().unwrap();
                kind.error_event()
            } else {
                run.end().unwrap();
                kind.end_event()
            };
            already_ended(twin.fail(), id);
            already_ended(third.end(), id);
            assert_events(&case.seen(), kind, id, &[kind.start_event(), terminal]);
        }
    }
}

fn run_ended_through_a_clone_is_not_abandoned_when_the_original_drops(setup: Setup) {
    for kind in KINDS {
        let case = Case::new(setup);
        let id = Uuid::now_v7();
        let run = case.start(kind, id).unwrap();
        run.twin().fail().unwrap();
        drop(run);
        let expected = [kind.start_event(), kind.error_event()];
        assert_events(&case.seen(), kind, id, &expected);
    }
}

fn early_return_with_question_mark_abandons_the_run(setup: Setup) {
    fn answer(case: &Case, kind: Kind, id: Uuid) -> Result<(), Box<dyn std::error::Error>> {
        let run = case.start(kind, id)?;
        call_model()?; // returns early: `run` is dropped without an end
        run.end()?;
        Ok(())
    }

    for kind in KINDS {
        let case = Case::new(setup);
        let id = Uuid::now_v7();
        let err = answer(&case, kind, id).unwrap_err();
        assert_eq!(err.to_string(), "model down");
        assert_abandoned(&case.seen(), kind, id);
    }
}

fn panic_unwinding_through_the_run_abandons_it(setup: Setup) {
    for kind in KINDS {
        let case = Case::new(setup);
        let id = Uuid::now_v7();
        let unwound = catch_unwind(AssertUnwindSafe(|| {
            let run = case.start(kind, id).unwrap();
            if run.id() == id {
                panic!("bug in the model call");
            }
            run.end().unwrap();
        }));
        assert!(unwound.is_err(), "{kind:?}: the scope panicked");
        assert_abandoned(&case.seen(), kind, id);
    }
}

fn failed_start_leaves_an_abandoned_run(setup: Setup) {
    for kind in KINDS {
        for &refuser in setup.refusers() {
            let fails = FailsStarts::new();
            let case = Case::refusing_starts(setup, refuser, fails.clone());
            let id = Uuid::now_v7();
            let err = case.start(kind, id).err().expect("the start fails");
            match err.kind() {
                CallbackErrorKind::Handler { run_id, event, .. } => {
                    assert_eq!(*run_id, id, "{kind:?}, {refuser:?} refuser");
                    assert_eq!(*event, kind.start_event(), "{kind:?}, {refuser:?} refuser");
                }
                other => panic!("{kind:?}, {refuser:?} refuser: a handler error, got {other:?}"),
            }
            let calls = fails.sync_calls.load(Ordering::SeqCst);
            assert_eq!(calls, 1, "{kind:?}, {refuser:?} refuser: asked once");
            if setup.recorder_sees_a_refused_start(refuser) {
                assert_abandoned(&case.seen_at_least(2), kind, id);
            } else {
                let seen = case.seen_at_least(1);
                let kinds: Vec<_> = seen.iter().map(|s| s.kind).collect();
                assert_eq!(
                    kinds,
                    [kind.error_event()],
                    "{kind:?}, {refuser:?} refuser: the refusal stopped the start before the \
                     recorder, the run's one terminal event still reaches it"
                );
                assert_eq!(seen[0].run_id, id);
                assert_eq!(seen[0].detail, ErrorInfo::ABANDONED);
            }
        }
    }
}

/// Makes a module per setup holding a test per behaviour, e.g.
/// `async_handler_multi_thread::failed_start_leaves_an_abandoned_run`.
macro_rules! every_setup {
    ($($module:ident: $setup:ident,)* => $behaviours:tt) => {
        $(every_setup!(@module $module $setup $behaviours);)*
    };
    (@module $module:ident $setup:ident [$($behaviour:ident,)*]) => {
        mod $module {
            $(
                #[test]
                fn $behaviour() {
                    super::$behaviour(super::Setup::$setup);
                }
            )*
        }
    };
}

every_setup! {
    sync_manager: SyncManager,
    async_manager_sync_handler: AsyncManagerSyncHandler,
    async_handler_without_runtime: AsyncHandlerWithoutRuntime,
    async_handler_current_thread: AsyncHandlerCurrentThread,
    async_handler_multi_thread: AsyncHandlerMultiThread,
    => [
        dropped_run_sends_one_abandoned_error,
        ended_run_sends_nothing_on_drop,
        failed_run_sends_the_callers_error_and_nothing_on_drop,
        clone_keeps_the_run_open_until_the_last_clone_drops,
        second_end_through_a_clone_fails_and_sends_nothing,
        run_ended_through_a_clone_is_not_abandoned_when_the_original_drops,
        early_return_with_question_mark_abandons_the_run,
        panic_unwinding_through_the_run_abandons_it,
        failed_start_leaves_an_abandoned_run,
    ]
}

// ---------------------------------------------------------------------------------------------
// The sync manager: batches, ignore flags, parents.
// ---------------------------------------------------------------------------------------------

#[test]
fn sync_run_manager_reports_whether_its_run_ended() {
    let (manager, _probe) = sync_setup();
    let chain = manager
        .on_chain_start(None, &json!({}), RunOptions::new())
        .unwrap();
    let twin = chain.clone();
    assert!(!twin.is_ended());
    chain.on_chain_end(&json!({})).unwrap();
    assert!(twin.is_ended(), "ended through the other clone");
}

#[test]
fn sync_failed_batch_start_abandons_every_run_it_started() {
    /// Fails the start of the second prompt only.
    struct FailsSecond(AtomicUsize);
    impl CallbackHandler for FailsSecond {
        fn options(&self) -> HandlerOptions {
            HandlerOptions::new().raise_error(true)
        }
        fn on_llm_start(&self, _: &LlmStart<'_>) -> HandlerResult {
            if self.0.fetch_add(1, Ordering::SeqCst) == 1 {
                return Err(HandlerError::msg("second refused"));
            }
            Ok(())
        }
    }

    let probe = Arc::new(Probe::new("probe"));
    let manager = CallbackManager::new()
        .with_handler(probe.clone())
        .with_handler(Arc::new(FailsSecond(AtomicUsize::new(0))));
    let prompts = ["a", "b", "c"].map(String::from);
    assert!(
        manager
            .on_llm_start_batch(None, &prompts, RunOptions::new())
            .is_err()
    );
    let seen = probe.seen();
    let kinds: Vec<_> = seen.iter().map(|s| s.kind).collect();
    assert_eq!(
        kinds,
        [
            EventKind::LlmStart,
            EventKind::LlmStart,
            EventKind::LlmError,
            EventKind::LlmError
        ],
        "two runs started, the third never was; both started runs end abandoned"
    );
    let (first, second) = (seen[0].run_id, seen[1].run_id);
    assert_ne!(first, second);
    let mut abandoned: Vec<_> = seen[2..]
        .iter()
        .inspect(|s| assert_eq!(s.detail, ErrorInfo::ABANDONED))
        .map(|s| s.run_id)
        .collect();
    abandoned.sort();
    let mut started = vec![first, second];
    started.sort();
    assert_eq!(abandoned, started);
}

#[test]
fn sync_batch_runs_are_abandoned_one_by_one() {
    let (manager, probe) = sync_setup();
    let prompts = ["a", "b"].map(String::from);
    let mut runs = manager
        .on_llm_start_batch(None, &prompts, RunOptions::new())
        .unwrap();
    let second = runs.pop().unwrap();
    let first = runs.pop().unwrap();
    let (first_id, second_id) = (first.run_id(), second.run_id());
    first.on_llm_end(&LlmResult::from_text("a!")).unwrap();
    drop(second);
    let seen = probe.seen();
    let first_kinds: Vec<_> = of_run(&seen, first_id).iter().map(|s| s.kind).collect();
    assert_eq!(first_kinds, [EventKind::LlmStart, EventKind::LlmEnd]);
    let second_run = of_run(&seen, second_id);
    let second_kinds: Vec<_> = second_run.iter().map(|s| s.kind).collect();
    assert_eq!(second_kinds, [EventKind::LlmStart, EventKind::LlmError]);
    assert_eq!(second_run[1].detail, ErrorInfo::ABANDONED);
}

#[test]
fn abandoned_error_respects_the_handlers_ignore_flags() {
    // A handler that ignores chains never sees a chain's start, so it must not get its error.
    let probe = Arc::new(Probe::with(
        "no-chains",
        HandlerOptions::new().ignore(Category::Chain),
    ));
    let manager = CallbackManager::new().with_handler(probe.clone());
    let chain = manager
        .on_chain_start(None, &json!({}), RunOptions::new())
        .unwrap();
    let tool = chain
        .child()
        .on_tool_start(None, "x", None, RunOptions::new())
        .unwrap();
    let tool_id = tool.run_id();
    drop(tool);
    drop(chain);
    let seen = probe.seen();
    assert_abandoned(&seen, Kind::Tool, tool_id);
}

#[test]
fn abandoned_child_carries_its_parent_and_the_parent_still_ends_normally() {
    let (manager, probe) = sync_setup();
    let chain = manager
        .on_chain_start(None, &json!({}), RunOptions::new())
        .unwrap();
    let llm = chain
        .child()
        .on_llm_start(None, "p", RunOptions::new())
        .unwrap();
    let llm_id = llm.run_id();
    drop(llm);
    let chain_id = chain.run_id();
    chain.on_chain_end(&json!({})).unwrap();
    let seen = probe.seen();
    let kinds: Vec<_> = seen.iter().map(|s| s.kind).collect();
    assert_eq!(
        kinds,
        [
            EventKind::ChainStart,
            EventKind::LlmStart,
            EventKind::LlmError,
            EventKind::ChainEnd
        ]
    );
    assert_eq!(seen[2].run_id, llm_id);
    assert_eq!(seen[2].parent_run_id, Some(chain_id));
    assert_eq!(seen[2].root_id, chain_id);
    assert_eq!(seen[2].detail, ErrorInfo::ABANDONED);
}

// ---------------------------------------------------------------------------------------------
// The async manager: a future dropped unpolled, another executor, tasks, threads, cancelled
// starts.
// ---------------------------------------------------------------------------------------------

#[tokio::test]
async fn async_end_future_dropped_before_its_first_poll_abandons_the_run() {
    // The end never started, so nothing was sent: the run is abandoned instead.
    let (manager, probe) = async_setup();
    let (outputs, documents, response) = (json!({}), [], LlmResult::from_text("x"));
    let mut ids = Vec::new();
    let chain = manager
        .on_chain_start(None, &outputs, RunOptions::new())
        .await
        .unwrap();
    ids.push((Kind::Chain, chain.run_id()));
    drop(chain.on_chain_end(&outputs));
    let tool = manager
        .on_tool_start(None, "x", None, RunOptions::new())
        .await
        .unwrap();
    ids.push((Kind::Tool, tool.run_id()));
    drop(tool.on_tool_error(caller_error()));
    let retriever = manager
        .on_retriever_start(None, "q", RunOptions::new())
        .await
        .unwrap();
    ids.push((Kind::Retriever, retriever.run_id()));
    drop(retriever.on_retriever_end(&documents));
    let llm = manager
        .on_llm_start(None, "p", RunOptions::new())
        .await
        .unwrap();
    ids.push((Kind::Llm, llm.run_id()));
    drop(llm.on_llm_end(&response));

    let seen = probe.wait_for(8).await;
    for (kind, id) in ids {
        let run = of_run(&seen, id);
        let kinds: Vec<_> = run.iter().map(|s| s.kind).collect();
        assert_eq!(kinds, [kind.start_event(), kind.error_event()], "{kind:?}");
        assert_eq!(run[1].detail, ErrorInfo::ABANDONED);
    }
}

#[test]
fn run_dropped_inside_another_executor_is_abandoned_without_panicking() {
    // Outside tokio, the abandoned error cannot block on the async handlers when this thread
    // already runs an executor (here `futures_executor`'s): sync handlers get it at once, async
    // handlers soon after, from another thread.
    for kind in KINDS {
        let (mut manager, probe) = async_setup();
        let sync_probe = Arc::new(Probe::new("sync"));
        manager.add_handler(sync_probe.clone());
        let id = Uuid::now_v7();
        futures_executor::block_on(async {
            let run = kind.start_async(&manager, id).await.unwrap();
            drop(run);
            assert_abandoned(&sync_probe.seen(), kind, id);
        });
        let waiter = tokio::runtime::Builder::new_current_thread()
            .enable_time()
            .build()
            .unwrap();
        let seen = waiter.block_on(probe.wait_for(2));
        assert_abandoned(&seen, kind, id);
    }
}

#[tokio::test]
async fn async_handler_gets_the_abandoned_error_when_a_task_panics() {
    let (manager, probe) = async_setup();
    let id = Uuid::now_v7();
    let task = tokio::spawn(async move {
        let run = manager
            .on_chain_start(None, &json!({}), RunOptions::new().with_run_id(id))
            .await
            .unwrap();
        if run.run_id() == id {
            panic!("bug in the chain");
        }
        run.on_chain_end(&json!({})).await.unwrap();
    });
    assert!(task.await.unwrap_err().is_panic());
    assert_abandoned(&probe.wait_for(2).await, Kind::Chain, id);
}

#[tokio::test]
async fn async_handler_gets_the_abandoned_error_of_a_run_dropped_on_a_plain_thread() {
    // The run manager crosses to a thread outside the runtime: its drop dispatches there.
    let (manager, probe) = async_setup();
    let id = Uuid::now_v7();
    let run = Kind::Tool.start_async(&manager, id).await.unwrap();
    std::thread::spawn(move || drop(run)).join().unwrap();
    assert_abandoned(&probe.seen(), Kind::Tool, id);
}

#[tokio::test]
async fn async_start_cancelled_midway_abandons_the_run() {
    // The start's dispatch is not shielded, but the run it created still gets its one terminal
    // event when the cancelled start drops it.
    struct SlowStart(Notify);
    impl AsyncCallbackHandler for SlowStart {
        fn options(&self) -> HandlerOptions {
            HandlerOptions::new().run_inline(true)
        }
        async fn on_chain_start(&self, _: &ChainStart<'_>) -> HandlerResult {
            self.0.notify_one();
            std::future::pending::<()>().await;
            Ok(())
        }
    }

    let slow = Arc::new(SlowStart(Notify::new()));
    let probe = AsyncProbe::new("after");
    let manager = AsyncCallbackManager::new()
        .with_async_handler(slow.clone())
        .with_async_handler(probe.clone());
    let id = Uuid::now_v7();
    let inputs = json!({});
    let start = manager.on_chain_start(None, &inputs, RunOptions::new().with_run_id(id));
    let cancelled = tokio::time::timeout(Duration::from_millis(50), start).await;
    assert!(cancelled.is_err(), "the start cannot finish");
    tokio::time::timeout(PATIENCE, slow.0.notified())
        .await
        .expect("the start's dispatch had begun");
    let seen = probe.wait_for(1).await;
    let kinds: Vec<_> = seen.iter().map(|s| s.kind).collect();
    assert_eq!(kinds, [EventKind::ChainError], "never saw the start");
    assert_eq!(seen[0].run_id, id);
    assert_eq!(seen[0].detail, ErrorInfo::ABANDONED);
}

// ---------------------------------------------------------------------------------------------
// Cancel-safety of the async manager's end events.
// ---------------------------------------------------------------------------------------------

/// An async handler whose `on_chain_end` announces that it was entered and then waits until the
/// test releases it.
struct Gate {
    inline: bool,
    entered: Notify,
    release: Notify,
    probe: Probe,
}

impl Gate {
    fn new(inline: bool) -> Arc<Self> {
        Arc::new(Self {
            inline,
            entered: Notify::new(),
            release: Notify::new(),
            probe: Probe::new("gate"),
        })
    }
}

impl AsyncCallbackHandler for Gate {
    fn name(&self) -> &str {
        "gate"
    }
    fn options(&self) -> HandlerOptions {
        HandlerOptions::new().run_inline(self.inline)
    }
    async fn on_chain_start(&self, e: &ChainStart<'_>) -> HandlerResult {
        CallbackHandler::on_chain_start(&self.probe, e)
    }
    async fn on_chain_end(&self, e: &ChainEnd<'_>) -> HandlerResult {
        self.entered.notify_one();
        self.release.notified().await;
        CallbackHandler::on_chain_end(&self.probe, e)
    }
    async fn on_chain_error(&self, e: &ChainError<'_>) -> HandlerResult {
        CallbackHandler::on_chain_error(&self.probe, e)
    }
}

/// Ends a chain with `on_chain_end` under a timeout that fires while `gate` holds the dispatch,
/// then releases the gate and checks that every handler got the end, and nothing else.
async fn end_cancelled_midway(inline: bool) {
    let gate = Gate::new(inline);
    let later = AsyncProbe::new("later");
    let sync_probe = Arc::new(Probe::new("sync"));
    let manager = AsyncCallbackManager::new()
        .with_async_handler(gate.clone())
        .with_async_handler(later.clone())
        .with_handler(sync_probe.clone());
    let chain = manager
        .on_chain_start(None, &json!({}), RunOptions::new())
        .await
        .unwrap();
    let id = chain.run_id();
    let outputs = json!({"answer": 42});

    // The gate cannot let the dispatch finish before it is released, which happens only after
    // the timeout: the caller's future is necessarily dropped midway.
    let end = chain.on_chain_end(&outputs);
    let cancelled = tokio::time::timeout(Duration::from_millis(50), end).await;
    assert!(cancelled.is_err(), "the end cannot complete while gated");
    tokio::time::timeout(PATIENCE, gate.entered.notified())
        .await
        .expect("the dispatch reached the gate");
    gate.release.notify_one();

    let seen = later.wait_for(2).await;
    let expected = [EventKind::ChainStart, EventKind::ChainEnd];
    assert_events(&seen, Kind::Chain, id, &expected);
    // The gate records after its release: wait for it boundedly.
    let gate_saw = tokio::time::timeout(PATIENCE, async {
        loop {
            let seen = gate.probe.seen();
            if seen.len() >= 2 {
                return seen;
            }
            tokio::task::yield_now().await;
        }
    })
    .await
    .expect("the gated handler finished its end");
    assert_events(&gate_saw, Kind::Chain, id, &expected);
    assert_events(&sync_probe.seen(), Kind::Chain, id, &expected);
}

#[tokio::test]
async fn async_end_survives_cancellation_on_a_current_thread_runtime() {
    end_cancelled_midway(true).await;
    end_cancelled_midway(false).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn async_end_survives_cancellation_on_a_multi_thread_runtime() {
    end_cancelled_midway(true).await;
    end_cancelled_midway(false).await;
}

#[tokio::test]
async fn async_end_returns_the_raised_error_of_its_shielded_dispatch() {
    struct FailsEnd;
    impl AsyncCallbackHandler for FailsEnd {
        fn options(&self) -> HandlerOptions {
            HandlerOptions::new().raise_error(true)
        }
        async fn on_tool_end(&self, _: &ToolEnd<'_>) -> HandlerResult {
            Err(HandlerError::msg("sink full"))
        }
    }

    let probe = AsyncProbe::new("probe");
    let manager = AsyncCallbackManager::new()
        .with_async_handler(probe.clone())
        .with_async_handler(Arc::new(FailsEnd));
    let tool = manager
        .on_tool_start(None, "x", None, RunOptions::new())
        .await
        .unwrap();
    let id = tool.run_id();
    let err = tool.on_tool_end(&json!("out")).await.unwrap_err();
    assert_eq!(err.handler_error().unwrap().to_string(), "sink full");
    // The run ended (with a failing handler): it is not abandoned as well.
    assert_events(
        &probe.seen(),
        Kind::Tool,
        id,
        &[EventKind::ToolStart, EventKind::ToolEnd],
    );
}

// ---------------------------------------------------------------------------------------------
// Root ids.
// ---------------------------------------------------------------------------------------------

#[test]
fn root_ids_flow_down_the_run_tree() {
    let (manager, probe) = sync_setup();
    let root = manager
        .on_chain_start(None, &json!({}), RunOptions::new())
        .unwrap();
    let root_id = root.run_id();
    assert_eq!(
        root.context().root_run_id,
        None,
        "a root has no root above it"
    );
    assert_eq!(root.context().root_id(), root_id);

    let tool = root
        .child()
        .on_tool_start(None, "x", None, RunOptions::new())
        .unwrap();
    assert_eq!(tool.context().root_run_id, Some(root_id));
    let retriever = tool
        .child_with_tag("step")
        .on_retriever_start(None, "q", RunOptions::new())
        .unwrap();
    assert_eq!(retriever.parent_run_id(), Some(tool.run_id()));
    assert_eq!(retriever.context().root_run_id, Some(root_id));
    let llm = retriever
        .child()
        .clone()
        .on_llm_start(None, "p", RunOptions::new())
        .unwrap();
    assert_eq!(llm.parent_run_id(), Some(retriever.run_id()));
    assert_eq!(llm.context().root_id(), root_id, "a great-grandchild");

    llm.on_llm_end(&LlmResult::from_text("x")).unwrap();
    drop(retriever); // abandoned: its error carries the root too
    tool.on_tool_end(&json!("y")).unwrap();
    root.on_chain_end(&json!({})).unwrap();

    let seen = probe.seen();
    assert_eq!(seen.len(), 8);
    assert!(
        seen.iter().all(|s| s.root_id == root_id),
        "every event of the tree carries the root: {seen:?}"
    );

    // Another tree from the same manager has its own root.
    let other = manager
        .on_chain_start(None, &json!({}), RunOptions::new())
        .unwrap();
    assert_ne!(other.context().root_id(), root_id);
    let child = other
        .child()
        .on_llm_start(None, "p", RunOptions::new())
        .unwrap();
    assert_eq!(child.context().root_run_id, Some(other.run_id()));
}

#[test]
fn custom_events_carry_the_enclosing_runs_root() {
    let (manager, probe) = sync_setup();
    let root = manager
        .on_chain_start(None, &json!({}), RunOptions::new())
        .unwrap();
    let root_id = root.run_id();
    let tool = root
        .child()
        .on_tool_start(None, "x", None, RunOptions::new())
        .unwrap();
    let data = json!({"progress": 0.5});

    root.dispatch_custom_event("from-root", &data).unwrap();
    root.child()
        .dispatch_custom_event("from-root-child", &data)
        .unwrap();
    tool.dispatch_custom_event("from-tool", &data).unwrap();
    tool.child()
        .dispatch_custom_event("from-tool-child", &data)
        .unwrap();

    let custom: Vec<_> = probe
        .seen()
        .into_iter()
        .filter(|s| s.kind == EventKind::CustomEvent)
        .collect();
    let ids: Vec<_> = custom.iter().map(|s| s.run_id).collect();
    assert_eq!(
        ids,
        [root_id, root_id, tool.run_id(), tool.run_id()],
        "attributed to the enclosing run"
    );
    assert!(
        custom.iter().all(|s| s.root_id == root_id),
        "every custom event carries the root: {custom:?}"
    );
    assert!(custom.iter().all(|s| s.parent_run_id.is_none()));
}

#[test]
fn custom_events_of_a_root_run_name_no_root_above_it() {
    /// Keeps the raw root field of custom events.
    #[derive(Default)]
    struct Roots(std::sync::Mutex<Vec<(Uuid, Option<Uuid>)>>);
    impl CallbackHandler for Roots {
        fn on_custom_event(&self, e: &CustomEvent<'_>) -> HandlerResult {
            self.0
                .lock()
                .unwrap()
                .push((e.run.run_id, e.run.root_run_id));
            Ok(())
        }
    }

    let roots = Arc::new(Roots::default());
    let manager = CallbackManager::new().with_handler(roots.clone());
    let root = manager
        .on_chain_start(None, &json!({}), RunOptions::new())
        .unwrap();
    let tool = root
        .child()
        .on_tool_start(None, "x", None, RunOptions::new())
        .unwrap();
    root.dispatch_custom_event("a", &json!(1)).unwrap();
    root.child().dispatch_custom_event("b", &json!(2)).unwrap();
    tool.dispatch_custom_event("c", &json!(3)).unwrap();
    let (root_id, tool_id) = (root.run_id(), tool.run_id());
    assert_eq!(
        *roots.0.lock().unwrap(),
        [(root_id, None), (root_id, None), (tool_id, Some(root_id))],
        "a root's own events have no root_run_id, as its other events"
    );
}

#[tokio::test]
async fn async_root_ids_flow_down_the_run_tree() {
    let (manager, probe) = async_setup();
    let root = manager
        .on_chain_start(None, &json!({}), RunOptions::new())
        .await
        .unwrap();
    let root_id = root.run_id();
    assert_eq!(root.context().root_run_id, None);
    let tool = root
        .child()
        .on_tool_start(None, "x", None, RunOptions::new())
        .await
        .unwrap();
    let llm = tool
        .child()
        .on_chat_model_start(None, &[ChatMessage::user("hi")], RunOptions::new())
        .await
        .unwrap();
    assert_eq!(llm.context().root_run_id, Some(root_id));
    tool.child()
        .dispatch_custom_event("progress", &json!(1))
        .await
        .unwrap();
    llm.on_llm_end(&LlmResult::from_text("x")).await.unwrap();
    drop(tool); // abandoned
    root.on_chain_end(&json!({})).await.unwrap();
    let seen = probe.wait_for(7).await;
    assert!(
        seen.iter().all(|s| s.root_id == root_id),
        "every event of the tree carries the root: {seen:?}"
    );
    assert_eq!(
        seen.iter()
            .filter(|s| s.detail == ErrorInfo::ABANDONED)
            .count(),
        1
    );
}

#[tokio::test]
async fn sync_handlers_get_the_abandoned_error_at_once_beside_async_ones() {
    let (mut manager, probe) = async_setup();
    let sync_probe = Arc::new(Probe::new("sync"));
    manager.add_handler(sync_probe.clone());
    for kind in KINDS {
        let id = Uuid::now_v7();
        let run = kind.start_async(&manager, id).await.unwrap();
        drop(run);
        // No await between the drop and this check: the sync handler had it in the drop.
        assert_abandoned(&of_run(&sync_probe.seen(), id), kind, id);
        assert_abandoned(&of_run(&probe.wait_for(2).await, id), kind, id);
        probe.inner.seen.lock().unwrap().clear();
        probe.count.send_replace(0);
    }
}

#[test]
fn runs_of_tasks_dropped_by_a_runtime_shutdown_are_abandoned() {
    // A service shutting down its runtime drops its in-flight tasks, and their runs.
    let (manager, probe) = async_setup();
    let sync_probe = Arc::new(Probe::new("sync"));
    let manager = {
        let mut manager = manager;
        manager.add_handler(sync_probe.clone());
        manager
    };
    let id = Uuid::now_v7();
    let runtime = tokio::runtime::Builder::new_current_thread()
        .build()
        .unwrap();
    let started = Arc::new(Notify::new());
    let task_started = started.clone();
    runtime.block_on(async move {
        tokio::spawn(async move {
            let _run = Kind::Chain.start_async(&manager, id).await.unwrap();
            task_started.notify_one();
            std::future::pending::<()>().await;
        });
        started.notified().await;
    });
    drop(runtime);
    assert_abandoned(&sync_probe.seen(), Kind::Chain, id);
    let waiter = tokio::runtime::Builder::new_current_thread()
        .enable_time()
        .build()
        .unwrap();
    let seen = waiter.block_on(probe.wait_for(2));
    assert_abandoned(&seen, Kind::Chain, id);
}

#[test]
fn runs_started_from_the_current_run_carry_its_root_and_are_abandoned_too() {
    let (manager, probe) = sync_setup();
    let root = manager
        .on_chain_start(None, &json!({}), RunOptions::new())
        .unwrap();
    let tool = root
        .child()
        .on_tool_start(None, "x", None, RunOptions::new())
        .unwrap();
    let (root_id, tool_id) = (root.run_id(), tool.run_id());
    let llm_id = tool.in_scope(|| {
        let current = CallbackManager::current().expect("the tool is current");
        let llm = current
            .on_llm_start(None, "deep", RunOptions::new())
            .unwrap();
        assert_eq!(llm.parent_run_id(), Some(tool_id));
        assert_eq!(llm.context().root_run_id, Some(root_id));
        llm.run_id() // dropped here without an end
    });
    let llm_events = of_run(&probe.seen(), llm_id);
    let kinds: Vec<_> = llm_events.iter().map(|s| s.kind).collect();
    assert_eq!(kinds, [EventKind::LlmStart, EventKind::LlmError]);
    assert_eq!(llm_events[1].detail, ErrorInfo::ABANDONED);
    assert!(llm_events.iter().all(|s| s.root_id == root_id));
    tool.on_tool_end(&json!("y")).unwrap();
    root.on_chain_end(&json!({})).unwrap();
}

/// Fails (with `raise_error`) on every error event of a run.
struct FailsErrors;

impl CallbackHandler for FailsErrors {
    fn name(&self) -> &str {
        "fails-errors"
    }
    fn options(&self) -> HandlerOptions {
        HandlerOptions::new().raise_error(true)
    }
    fn on_chain_error(&self, _: &ChainError<'_>) -> HandlerResult {
        Err(HandlerError::msg("sink full"))
    }
}

impl AsyncCallbackHandler for FailsErrors {
    fn name(&self) -> &str {
        "fails-errors-async"
    }
    fn options(&self) -> HandlerOptions {
        HandlerOptions::new().raise_error(true).run_inline(true)
    }
    async fn on_chain_error(&self, _: &ChainError<'_>) -> HandlerResult {
        Err(HandlerError::msg("sink full"))
    }
}

#[test]
fn a_raising_handler_does_not_keep_the_abandoned_error_from_later_handlers() {
    // Nobody can receive the error of a drop: every handler still gets its terminal event.
    let probe = Arc::new(Probe::new("after"));
    let manager = CallbackManager::new()
        .with_handler(Arc::new(FailsErrors))
        .with_handler(probe.clone());
    let id = Uuid::now_v7();
    drop(Kind::Chain.start(&manager, id).unwrap());
    assert_abandoned(&probe.seen(), Kind::Chain, id);
}

#[tokio::test]
async fn a_raising_async_handler_does_not_keep_the_abandoned_error_from_later_handlers() {
    let sync_probe = Arc::new(Probe::new("sync-after"));
    let inline_probe = AsyncProbe::with("inline-after", HandlerOptions::new().run_inline(true));
    let probe = AsyncProbe::new("concurrent");
    let manager = AsyncCallbackManager::new()
        .with_handler(Arc::new(FailsErrors))
        .with_async_handler(Arc::new(FailsErrors))
        .with_handler(sync_probe.clone())
        .with_async_handler(inline_probe.clone())
        .with_async_handler(probe.clone());
    let id = Uuid::now_v7();
    drop(Kind::Chain.start_async(&manager, id).await.unwrap());
    assert_abandoned(&sync_probe.seen(), Kind::Chain, id);
    assert_abandoned(&inline_probe.wait_for(2).await, Kind::Chain, id);
    assert_abandoned(&probe.wait_for(2).await, Kind::Chain, id);
}
