//! Async dispatch: the future of every async emitting method, and the dispatch to a mix of
//! sync and async handlers (ordered ones first, then the concurrent group).

use std::future::Future;
use std::panic::AssertUnwindSafe;
use std::pin::Pin;
use std::sync::Arc;
use std::task::{Context, Poll};

use futures_util::FutureExt;
use futures_util::future::{BoxFuture, join_all};

use super::background;
use super::dispatch_sync::{
    Next, call_sync, dispatch_sync, dispatch_sync_to_all, fallback_event, panic_message, report,
    triage,
};
use super::set::{Entry, HandlerSet, Lists};
use super::shared::{ErasedAsyncHandler, SharedHandler};
use crate::category::Categories;
use crate::error::{CallbackError, Failure};
use crate::event::{Event, EventRecord};

/// Calls an async handler, catching its panic.
async fn call_async(handler: &dyn ErasedAsyncHandler, event: &Event<'_>) -> Result<(), Failure> {
    match AssertUnwindSafe(async { handler.handle(event).await })
        .catch_unwind()
        .await
    {
        Ok(Ok(())) => Ok(()),
        Ok(Err(error)) => Err(Failure::Error(error)),
        Err(panic) => Err(Failure::Panic(panic_message(panic))),
    }
}

/// Calls one handler of either kind.
async fn call_any(handler: &SharedHandler, event: &Event<'_>) -> Result<(), Failure> {
    match handler {
        SharedHandler::Sync(h) => call_sync(&**h, event),
        SharedHandler::Async(h) => call_async(&**h, event).await,
    }
}

/// Calls one handler and applies the error policy.
async fn call_entry(entry: &Entry<SharedHandler>, event: &Event<'_>) -> Result<(), CallbackError> {
    match call_any(&entry.handler, event).await {
        Ok(()) => Ok(()),
        Err(failure) => settle(entry, event, failure).await,
    }
}

/// Applies the error policy to a failure, running the chat fallback when it applies.
async fn settle(
    entry: &Entry<SharedHandler>,
    event: &Event<'_>,
    failure: Failure,
) -> Result<(), CallbackError> {
    match triage(entry, event, failure) {
        Next::Done(result) => result,
        Next::Fallback(prompts) => match fallback_event(event, &prompts) {
            Some(fallback) => match call_any(&entry.handler, &fallback).await {
                Ok(()) => Ok(()),
                Err(failure) => report(entry, &fallback, failure),
            },
            None => Ok(()),
        },
    }
}

/// The future of an async emitting method. On its first poll it checks the handlers' interest
/// and, when only sync handlers want the event, dispatches to them at once: no allocation, and
/// a future as small as the event. When async handlers want it, the dispatch is boxed.
#[must_use = "futures do nothing unless awaited"]
pub(crate) struct Emit<'a> {
    state: EmitState<'a>,
}

enum EmitState<'a> {
    Start {
        handlers: &'a HandlerSet<SharedHandler>,
        interest: Categories,
        event: Event<'a>,
    },
    Mixed(BoxFuture<'a, Result<(), CallbackError>>),
    Done,
}

impl<'a> Emit<'a> {
    #[inline]
    pub(crate) fn new(
        handlers: &'a HandlerSet<SharedHandler>,
        interest: Categories,
        event: Event<'a>,
    ) -> Self {
        Self {
            state: EmitState::Start {
                handlers,
                interest,
                event,
            },
        }
    }
}

impl Future for Emit<'_> {
    type Output = Result<(), CallbackError>;

    fn poll(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Self::Output> {
        let this = self.get_mut();
        loop {
            match std::mem::replace(&mut this.state, EmitState::Done) {
                EmitState::Start {
                    handlers,
                    interest,
                    event,
                } => {
                    let category = event.kind().category();
                    if !interest.contains(category) {
                        return Poll::Ready(Ok(()));
                    }
                    let lists = handlers.lists(category);
                    if lists.sync_only {
                        return Poll::Ready(dispatch_sync(lists, &event));
                    }
                    this.state = EmitState::Mixed(Box::pin(async move {
                        dispatch_mixed(lists, &event, Delivery::UntilRaised).await
                    }));
                }
                EmitState::Mixed(mut dispatch) => {
                    return match dispatch.as_mut().poll(cx) {
                        Poll::Ready(result) => Poll::Ready(result),
                        Poll::Pending => {
                            this.state = EmitState::Mixed(dispatch);
                            Poll::Pending
                        }
                    };
                }
                EmitState::Done => return Poll::Ready(Ok(())),
            }
        }
    }
}

/// Which handlers of a list a dispatch calls, and whether a raised error stops it.
#[derive(Clone, Copy, PartialEq, Eq)]
enum Delivery {
    /// Every handler, in order, until one with `raise_error` fails (as in LangChain).
    UntilRaised,
    /// Every handler, whatever the others returned: a run's terminal event.
    ToAll,
    /// Every async handler (the sync ones already had the event): an abandoned run's error.
    ToAsyncOnly,
}

/// Dispatches to sync and async handlers: ordered ones first, then the concurrent group.
async fn dispatch_mixed(
    lists: &Lists<SharedHandler>,
    event: &Event<'_>,
    delivery: Delivery,
) -> Result<(), CallbackError> {
    let mut first_error = Ok(());
    for entry in lists.ordered.iter() {
        let result = match &entry.handler {
            SharedHandler::Sync(_) if delivery == Delivery::ToAsyncOnly => continue,
            // The common case, kept free of futures and allocation.
            SharedHandler::Sync(h) => match call_sync(&**h, event) {
                Ok(()) => Ok(()),
                Err(failure) => settle(entry, event, failure).await,
            },
            SharedHandler::Async(_) => call_entry(entry, event).await,
        };
        if let Err(error) = result {
            if delivery == Delivery::UntilRaised {
                return Err(error);
            }
            if first_error.is_ok() {
                first_error = Err(error);
            }
        }
    }
    first_error.and(dispatch_concurrent(lists, event).await)
}

/// Dispatches to the concurrent group: async handlers without `run_inline`, together.
async fn dispatch_concurrent(
    lists: &Lists<SharedHandler>,
    event: &Event<'_>,
) -> Result<(), CallbackError> {
    match &*lists.concurrent {
        [] => Ok(()),
        [one] => call_entry(one, event).await,
        many => {
            let results = join_all(many.iter().map(|entry| call_entry(entry, event))).await;
            results.into_iter().find(Result::is_err).unwrap_or(Ok(()))
        }
    }
}

/// Dispatches an owned copy of a terminal event to every handler of `set`, as a `'static`
/// future that can outlive the caller.
async fn detached(
    set: Arc<HandlerSet<SharedHandler>>,
    record: EventRecord,
) -> Result<(), CallbackError> {
    let event = record.as_event();
    dispatch_mixed(set.lists(event.kind().category()), &event, Delivery::ToAll).await
}

/// Sends a run's terminal event so that neither a failing handler nor dropping the caller's
/// future midway can keep it from the others: every interested handler gets it, whatever an
/// earlier one returned, and the first raised error is returned. Sync handlers are called at
/// once; when async handlers want the event, the dispatch runs as
/// a task of the current tokio runtime (shielded from the caller's cancellation) and this
/// future waits for it. Outside a tokio runtime the dispatch runs in this future.
pub(crate) async fn emit_end(
    set: &Arc<HandlerSet<SharedHandler>>,
    interest: Categories,
    event: Event<'_>,
) -> Result<(), CallbackError> {
    let category = event.kind().category();
    if !interest.contains(category) {
        return Ok(());
    }
    let lists = set.lists(category);
    if lists.sync_only {
        return dispatch_sync_to_all(lists, &event);
    }
    let record = EventRecord::from(&event);
    match tokio::runtime::Handle::try_current() {
        Ok(runtime) => match spawn_shielded(&runtime, set.clone(), record, detached).await {
            Ok(result) => result,
            Err(error) => {
                tracing::warn!(run_id = %event.run().run_id, event = event.kind().name(), %error, "the task dispatching a terminal event was cancelled (is the runtime shutting down?)");
                Ok(())
            }
        },
        Err(_) => detached(set.clone(), record).await,
    }
}

/// Dispatches an event from a place that cannot wait (a `Drop`): sync handlers at once, in
/// registration order; async handlers as a task of the current tokio runtime, or, when there
/// is none, to completion on this thread, or on the background dispatcher when this thread is
/// already running another executor (blocking on it there would panic).
pub(crate) fn dispatch_detached(
    set: &Arc<HandlerSet<SharedHandler>>,
    event: &Event<'_>,
) -> Result<(), CallbackError> {
    let lists = set.lists(event.kind().category());
    let sync_result = dispatch_sync_to_all(lists, event);
    if lists.sync_only {
        return sync_result;
    }
    let record = EventRecord::from(event);
    let async_result = match tokio::runtime::Handle::try_current() {
        Ok(runtime) => {
            drop(spawn_shielded(
                &runtime,
                set.clone(),
                record,
                detached_async,
            ));
            Ok(())
        }
        Err(_) => match futures_executor::enter() {
            Ok(enter) => {
                drop(enter);
                futures_executor::block_on(detached_async(set.clone(), record))
            }
            Err(_) => {
                on_own_thread(set.clone(), record, detached_async);
                Ok(())
            }
        },
    };
    sync_result.and(async_result)
}

/// A detached dispatch: the handlers and an owned copy of the event.
type Dispatch<F> = fn(Arc<HandlerSet<SharedHandler>>, EventRecord) -> F;

/// Spawns `dispatch` on `runtime` so that it happens even if the task is dropped before it
/// first runs (a runtime shutting down drops the tasks still queued, and refuses new ones):
/// then it runs on the background dispatcher.
fn spawn_shielded<F>(
    runtime: &tokio::runtime::Handle,
    set: Arc<HandlerSet<SharedHandler>>,
    record: EventRecord,
    dispatch: Dispatch<F>,
) -> tokio::task::JoinHandle<Result<(), CallbackError>>
where
    F: Future<Output = Result<(), CallbackError>> + Send + 'static,
{
    let mut unstarted = Unstarted(Some((set, record, dispatch)));
    runtime.spawn(async move {
        match unstarted.0.take() {
            Some((set, record, dispatch)) => dispatch(set, record).await,
            None => Ok(()),
        }
    })
}

/// The dispatch of a task that has not run yet; dropped unstarted, it runs on the background
/// dispatcher.
struct Unstarted<F: Future<Output = Result<(), CallbackError>> + Send + 'static>(
    Option<(Arc<HandlerSet<SharedHandler>>, EventRecord, Dispatch<F>)>,
);

impl<F: Future<Output = Result<(), CallbackError>> + Send + 'static> Drop for Unstarted<F> {
    fn drop(&mut self) {
        if let Some((set, record, dispatch)) = self.0.take() {
            on_own_thread(set, record, dispatch);
        }
    }
}

/// Runs a dispatch to completion on the background dispatcher, for when neither a tokio
/// runtime nor this thread can run it (blocking here would panic inside another executor).
/// Handler errors are logged by the dispatch.
fn on_own_thread<F>(set: Arc<HandlerSet<SharedHandler>>, record: EventRecord, dispatch: Dispatch<F>)
where
    F: Future<Output = Result<(), CallbackError>> + Send + 'static,
{
    let what = {
        let event = record.as_event();
        let (run_id, kind) = (event.run().run_id, event.kind().name());
        move || format!("{kind} of run {run_id}")
    };
    background::dispatch(Box::pin(dispatch(set, record)), what);
}

/// Dispatches an owned copy of an event nobody waits for to the async handlers of `set` only
/// (the sync ones already had it): inline ones in registration order, then the concurrent
/// group. A failing handler with `raise_error` does not stop it (there is no caller to raise
/// to); the first such error is returned.
async fn detached_async(
    set: Arc<HandlerSet<SharedHandler>>,
    record: EventRecord,
) -> Result<(), CallbackError> {
    let event = record.as_event();
    dispatch_mixed(
        set.lists(event.kind().category()),
        &event,
        Delivery::ToAsyncOnly,
    )
    .await
}
