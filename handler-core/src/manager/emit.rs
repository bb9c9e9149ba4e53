//! Async dispatch: the future of every async emitting method, and the dispatch to a mix of
//! sync and async handlers (ordered ones first, then the concurrent group).

use std::future::Future;
use std::panic::AssertUnwindSafe;
use std::pin::Pin;
use std::sync::Arc;
use std::task::{Context, Poll};

use futures_util::FutureExt;
use futures_util::future::{BoxFuture, join_all};

use super::dispatch::{
    Next, call_sync, dispatch_sync, fallback_event, panic_message, report, triage,
};
use super::set::{Entry, HandlerSet, Lists};
use super::shared::{ErasedAsyncHandler, SharedHandler};
use crate::category::Interest;
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
        interest: Interest,
        event: Event<'a>,
    },
    Mixed(BoxFuture<'a, Result<(), CallbackError>>),
    Done,
}

impl<'a> Emit<'a> {
    #[inline]
    pub(crate) fn new(
        handlers: &'a HandlerSet<SharedHandler>,
        interest: Interest,
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
                    this.state =
                        EmitState::Mixed(Box::pin(
                            async move { dispatch_mixed(lists, &event).await },
                        ));
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

/// Dispatches to sync and async handlers: ordered ones first, then the concurrent group.
async fn dispatch_mixed(
    lists: &Lists<SharedHandler>,
    event: &Event<'_>,
) -> Result<(), CallbackError> {
    for entry in lists.ordered.iter() {
        match &entry.handler {
            // The common case, kept free of futures and allocation.
            SharedHandler::Sync(h) => {
                if let Err(failure) = call_sync(&**h, event) {
                    settle(entry, event, failure).await?;
                }
            }
            SharedHandler::Async(_) => call_entry(entry, event).await?,
        }
    }
    match &*lists.concurrent {
        [] => Ok(()),
        [one] => call_entry(one, event).await,
        many => {
            let results = join_all(many.iter().map(|entry| call_entry(entry, event))).await;
            results.into_iter().find(Result::is_err).unwrap_or(Ok(()))
        }
    }
}

/// Dispatches an owned copy of an event to the handlers of `set`, as a `'static` future that can
/// outlive the caller.
async fn detached(
    set: Arc<HandlerSet<SharedHandler>>,
    record: EventRecord,
) -> Result<(), CallbackError> {
    let event = record.as_event();
    dispatch_mixed(set.lists(event.kind().category()), &event).await
}

/// Sends a run's terminal event so that dropping the caller's future midway cannot lose it:
/// sync handlers are called at once; when async handlers want the event, the dispatch runs as
/// a task of the current tokio runtime (shielded from the caller's cancellation) and this
/// future waits for it. Outside a tokio runtime the dispatch runs in this future.
pub(crate) async fn emit_end(
    set: &Arc<HandlerSet<SharedHandler>>,
    interest: Interest,
    event: Event<'_>,
) -> Result<(), CallbackError> {
    let category = event.kind().category();
    if !interest.contains(category) {
        return Ok(());
    }
    let lists = set.lists(category);
    if lists.sync_only {
        return dispatch_sync(lists, &event);
    }
    let dispatch = detached(set.clone(), EventRecord::from(&event));
    match tokio::runtime::Handle::try_current() {
        Ok(runtime) => match runtime.spawn(dispatch).await {
            Ok(result) => result,
            Err(error) => {
                tracing::warn!(run_id = %event.run().run_id, event = event.kind().name(), %error, "the dispatch of a terminal event did not complete");
                Ok(())
            }
        },
        Err(_) => dispatch.await,
    }
}

/// Dispatches an event from a place that cannot wait (a `Drop`): sync handlers at once, async
/// handlers as a task of the current tokio runtime, or to completion on this thread when there
/// is no runtime.
pub(crate) fn dispatch_detached(
    set: &Arc<HandlerSet<SharedHandler>>,
    event: &Event<'_>,
) -> Result<(), CallbackError> {
    let lists = set.lists(event.kind().category());
    if lists.sync_only {
        return dispatch_sync(lists, event);
    }
    let dispatch = detached(set.clone(), EventRecord::from(event));
    match tokio::runtime::Handle::try_current() {
        Ok(runtime) => {
            runtime.spawn(dispatch);
            Ok(())
        }
        Err(_) => futures_executor::block_on(dispatch),
    }
}
