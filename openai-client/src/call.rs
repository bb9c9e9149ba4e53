//! The chat model run of the call being made, for the HTTP layer: the instrumented client sets
//! it while the call's future is polled, and the [`RetryService`](crate::RetryService) reports
//! its retries to it.

use std::cell::RefCell;
use std::future::Future;
use std::pin::Pin;
use std::task::{Context, Poll};

use handler_core::AsyncLlmRunManager;

thread_local! {
    static CALL_RUN: RefCell<Option<AsyncLlmRunManager>> = const { RefCell::new(None) };
}

fn swap(run: Option<AsyncLlmRunManager>) -> Option<AsyncLlmRunManager> {
    CALL_RUN
        .try_with(|cell| {
            cell.try_borrow_mut()
                .ok()
                .map(|mut slot| std::mem::replace(&mut *slot, run))
        })
        .ok()
        .flatten()
        .flatten()
}

/// The run of the call whose future is being polled on this thread, if any.
pub(crate) fn current() -> Option<AsyncLlmRunManager> {
    CALL_RUN
        .try_with(|cell| cell.try_borrow().ok().and_then(|run| run.clone()))
        .ok()
        .flatten()
}

/// Polls `future` with `run` as the call's run.
pub(crate) fn with_run<F: Future>(run: &AsyncLlmRunManager, future: F) -> WithRun<F> {
    WithRun {
        run: Some(run.clone()),
        future: Box::pin(future),
    }
}

/// A future polled with its call's run set; see [`with_run`].
pub(crate) struct WithRun<F> {
    run: Option<AsyncLlmRunManager>,
    future: Pin<Box<F>>,
}

impl<F: Future> Future for WithRun<F> {
    type Output = F::Output;

    fn poll(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<F::Output> {
        let this = self.get_mut();
        let previous = swap(this.run.clone());
        let result = this.future.as_mut().poll(cx);
        swap(previous);
        result
    }
}
