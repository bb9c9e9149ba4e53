//! The call being made, for the HTTP layer: the instrumented client sets its scope (the chat
//! model run, if any, and the call's deadline) while the call's future is polled, and the
//! [`RetryService`](crate::RetryService) reports its retries to the run and waits no longer
//! than the deadline allows.
//!
//! The scope is restored on every exit from `poll`, a panic included: a drop guard puts the
//! previous scope back, so the next task on the thread never sees a dead call's run.

use std::cell::RefCell;
use std::future::Future;
use std::pin::Pin;
use std::task::{Context, Poll};

use handler_core::manager::AsyncLlmRunManager;
use llm_callbacks_transport::Deadline;

/// What the HTTP layer knows of the call it is sending.
#[derive(Clone)]
pub(crate) struct Scope {
    /// The call's chat model run; `None` for a call made with nothing current.
    pub(crate) run: Option<AsyncLlmRunManager>,
    /// When the call must be over, retries and their waits included.
    pub(crate) deadline: Deadline,
}

thread_local! {
    static CALL: RefCell<Option<Scope>> = const { RefCell::new(None) };
}

fn swap(scope: Option<Scope>) -> Option<Scope> {
    CALL.try_with(|cell| {
        cell.try_borrow_mut()
            .ok()
            .map(|mut slot| std::mem::replace(&mut *slot, scope))
    })
    .ok()
    .flatten()
    .flatten()
}

/// The scope of the call whose future is being polled on this thread, if any.
pub(crate) fn current() -> Option<Scope> {
    CALL.try_with(|cell| cell.try_borrow().ok().and_then(|scope| scope.clone()))
        .ok()
        .flatten()
}

/// Polls `future` with `scope` as the call's scope.
pub(crate) fn with_scope<F: Future>(scope: Scope, future: F) -> WithScope<F> {
    WithScope {
        scope,
        future: Box::pin(future),
    }
}

/// A future polled with its call's scope set; see [`with_scope`].
pub(crate) struct WithScope<F> {
    scope: Scope,
    future: Pin<Box<F>>,
}

/// Puts the previous scope back when dropped: at the end of `poll`, or while a panic unwinds.
struct Restore(Option<Scope>);

impl Drop for Restore {
    fn drop(&mut self) {
        swap(self.0.take());
    }
}

impl<F: Future> Future for WithScope<F> {
    type Output = F::Output;

    fn poll(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<F::Output> {
        let this = self.get_mut();
        let _restore = Restore(swap(Some(this.scope.clone())));
        this.future.as_mut().poll(cx)
    }
}

#[cfg(test)]
mod tests {
    use std::panic::{AssertUnwindSafe, catch_unwind};
    use std::task::Waker;

    use super::*;

    #[test]
    fn a_panic_inside_the_call_restores_the_previous_scope() {
        let scope = Scope {
            run: None,
            deadline: Deadline::after(std::time::Duration::from_secs(1)),
        };
        let mut call = with_scope(scope, async {
            // Panics only when the scope is set, so a scope never set fails the test below.
            if current().is_some() {
                panic!("the call panics");
            }
        });
        let mut cx = Context::from_waker(Waker::noop());
        let polled = catch_unwind(AssertUnwindSafe(|| Pin::new(&mut call).poll(&mut cx)));
        assert!(polled.is_err());
        assert!(current().is_none(), "the scope leaked past the panic");
    }
}
