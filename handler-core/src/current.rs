//! The current run, as `tracing` has a current span: code deep in a call stack reaches the run
//! it is part of without the run manager being passed down.
//!
//! Entering a manager ([`Manager::enter`], [`Manager::in_scope`], [`Manager::instrument`]) makes
//! it current, for root runs; entering a run ([`RunManager::enter`], [`RunManager::in_scope`])
//! makes it current on this
//! thread until the guard drops; [`RunManager::instrument`] makes it current while a future is
//! polled, so the run follows the future across `.await` points and onto other tasks and threads.
//! [`Manager::current`] then gives the manager of runs nested in the current run: runs started from
//! it get the right parent id, and its `dispatch_custom_event` goes to the current run.
//!
//! Nothing here costs anything until it is used: the start and event methods never look at the
//! current run. A lookup is one thread-local read and a clone of the manager (two reference-count
//! increments).
//!
//! ```
//! use handler_core::{CallbackManager, RunOptions};
//! use serde_json::json;
//!
//! fn deep_in_the_stack() -> Result<(), handler_core::CallbackError> {
//!     // No manager passed down: the current run's child manager.
//!     let Some(manager) = CallbackManager::current() else { return Ok(()) };
//!     let tool = manager.on_tool_start(None, "2 + 2", None, RunOptions::named("calculator"))?;
//!     tool.on_tool_end(&json!("4"))
//! }
//!
//! let chain = CallbackManager::new().on_chain_start(None, &json!({}), RunOptions::named("agent"))?;
//! chain.in_scope(deep_in_the_stack)?;
//! assert!(CallbackManager::current().is_none()); // left again
//! chain.on_chain_end(&json!({}))?;
//! # Ok::<(), handler_core::CallbackError>(())
//! ```

use std::cell::RefCell;
use std::fmt;
use std::future::Future;
use std::marker::PhantomData;
use std::pin::Pin;
use std::task::{Context, Poll};

use crate::manager::{DispatchMode, ErasedManager, Manager, Nestable, RunManager};

/// The current run's manager is stored with its mode erased: this module names no concrete
/// manager, and [`Manager::current`] gets it back only in the mode it was entered with.
type Current = ErasedManager;

thread_local! {
    static CURRENT: RefCell<Option<Current>> = const { RefCell::new(None) };
}

/// Makes `current` the current run and returns what was current before.
fn swap(current: Option<Current>) -> Option<Current> {
    CURRENT
        .try_with(|cell| cell.replace(current))
        .ok()
        .flatten()
}

impl<D: DispatchMode> Manager<D> {
    /// The manager of runs nested in the current run of this thread or future, when one was
    /// entered with a run manager of the same kind (sync or async); `None` otherwise.
    ///
    /// Runs started from it are children of the current run; custom events dispatched from it
    /// belong to the current run.
    pub fn current() -> Option<Self> {
        CURRENT
            .try_with(|cell| {
                let current = cell.try_borrow().ok()?;
                current.as_ref().and_then(Manager::<D>::unerase)
            })
            .ok()
            .flatten()
    }
}

/// The guard of an entered run: the run stays current on this thread until it drops, and
/// whatever was current before is current again.
#[must_use = "the run is current only while the guard lives"]
pub struct Entered<'a> {
    previous: Option<Current>,
    /// Not `Send`: the guard restores this thread's current run.
    _not_send: PhantomData<*const ()>,
    _run: PhantomData<&'a ()>,
}

impl Drop for Entered<'_> {
    fn drop(&mut self) {
        swap(self.previous.take());
    }
}

impl fmt::Debug for Entered<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Entered").finish_non_exhaustive()
    }
}

/// Makes `manager` current until the guard drops.
fn enter<D: DispatchMode>(manager: Manager<D>) -> Entered<'static> {
    Entered {
        previous: swap(Some(manager.erase())),
        _not_send: PhantomData,
        _run: PhantomData,
    }
}

impl<D: DispatchMode> Manager<D> {
    /// Makes this manager current on this thread until the guard drops: code that starts runs
    /// from [`Manager::current`] (the run attributes, instrumented clients) starts them here,
    /// as root runs. Entering a run inside makes that run current instead, until it is left.
    ///
    /// ```
    /// use handler_core::{CallbackManager, RunOptions};
    /// use serde_json::json;
    ///
    /// let manager = CallbackManager::new();
    /// let _entered = manager.enter();
    /// let root = CallbackManager::current().map(|m| m.parent_run_id());
    /// assert_eq!(root, Some(None)); // a manager, not a run: runs started from it are roots
    /// ```
    pub fn enter(&self) -> Entered<'_> {
        enter(self.clone())
    }

    /// Runs `f` with this manager current on this thread; see [`enter`](Self::enter).
    pub fn in_scope<R>(&self, f: impl FnOnce() -> R) -> R {
        let _entered = self.enter();
        f()
    }

    /// Makes this manager current whenever `future` is polled; see
    /// [`RunManager::instrument`].
    pub fn instrument<F: Future>(&self, future: F) -> Instrumented<F> {
        Instrumented {
            current: Some(self.clone().erase()),
            future: Box::pin(future),
        }
    }
}

impl<D: DispatchMode, K: Nestable> RunManager<D, K> {
    /// Makes this run current on this thread until the guard drops.
    pub fn enter(&self) -> Entered<'_> {
        enter(self.child())
    }

    /// Runs `f` with this run current on this thread.
    pub fn in_scope<R>(&self, f: impl FnOnce() -> R) -> R {
        let _entered = self.enter();
        f()
    }

    /// Makes this run current whenever `future` is polled, on whatever thread polls it: the run
    /// follows the future across `.await` points and task hops (`tokio::spawn(run.instrument(..))`).
    ///
    /// ```
    /// use handler_core::{AsyncCallbackManager, RunOptions, Uuid};
    /// use serde_json::json;
    ///
    /// /// Starts a retriever run under the current run; returns its parent's id.
    /// async fn retrieve(query: &str) -> Result<Option<Uuid>, handler_core::CallbackError> {
    ///     let Some(manager) = AsyncCallbackManager::current() else { return Ok(None) };
    ///     let run = manager.on_retriever_start(None, query, RunOptions::new()).await?;
    ///     let parent = run.parent_run_id();
    ///     run.on_retriever_end(&[]).await?;
    ///     Ok(parent)
    /// }
    ///
    /// # tokio::runtime::Builder::new_current_thread().build().unwrap().block_on(async {
    /// let chain = AsyncCallbackManager::new()
    ///     .on_chain_start(None, &json!({}), RunOptions::named("rag"))
    ///     .await?;
    /// let parent = chain.instrument(retrieve("where is Paris?")).await?;
    /// assert_eq!(parent, Some(chain.run_id())); // nested under the instrumenting run
    /// assert_eq!(retrieve("elsewhere").await?, None); // nothing current outside it
    /// chain.on_chain_end(&json!({})).await?;
    /// # Ok::<(), handler_core::CallbackError>(())
    /// # }).unwrap();
    /// ```
    pub fn instrument<F: Future>(&self, future: F) -> Instrumented<F> {
        Instrumented {
            current: Some(self.child().erase()),
            future: Box::pin(future),
        }
    }
}

/// A future with a current run: see [`RunManager::instrument`]. The future is boxed once, when
/// it is instrumented, so that it can be polled pinned without unsafe code.
#[must_use = "futures do nothing unless awaited"]
pub struct Instrumented<F> {
    current: Option<Current>,
    future: Pin<Box<F>>,
}

impl<F: Future> Future for Instrumented<F> {
    type Output = F::Output;

    fn poll(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<F::Output> {
        let this = self.get_mut();
        // The guard restores what was current on every exit, a panic in `poll` included, so a
        // dead request's run never stays current for the next task on this thread.
        let _entered = Entered {
            previous: swap(this.current.clone()),
            _not_send: PhantomData,
            _run: PhantomData,
        };
        this.future.as_mut().poll(cx)
    }
}

impl<F> fmt::Debug for Instrumented<F> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Instrumented")
            .field("current", &self.current)
            .finish_non_exhaustive()
    }
}
