//! The background dispatcher: one thread, started on first use, that delivers the events no
//! thread of the caller can deliver (an async run abandoned inside another executor, or while
//! a tokio runtime shuts down), through a bounded queue.
//!
//! Before it, each such event had a thread of its own, so mass cancellation outside tokio made
//! thousands of threads. Now the number of threads stays at one whatever the load; a full
//! queue makes the dropping thread wait for room (backpressure, nothing dropped), except on the
//! dispatcher thread itself, which cannot wait for itself: there the event is counted and
//! logged as dropped.

use std::sync::OnceLock;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::mpsc::{SyncSender, TrySendError, sync_channel};
use std::thread::ThreadId;

use futures_util::future::BoxFuture;

use crate::error::CallbackError;

/// How many dispatches may wait for the background thread.
const QUEUE: usize = 1024;

/// A dispatch the background thread runs to completion.
pub(crate) type Job = BoxFuture<'static, Result<(), CallbackError>>;

struct Dispatcher {
    sender: SyncSender<Job>,
    thread: ThreadId,
}

static DISPATCHER: OnceLock<Option<Dispatcher>> = OnceLock::new();
static DROPPED: AtomicU64 = AtomicU64::new(0);

/// Starts the background thread; `None` when the system refuses a thread.
fn start() -> Option<Dispatcher> {
    let (sender, receiver) = sync_channel::<Job>(QUEUE);
    let spawned = std::thread::Builder::new()
        .name("llm-callbacks-dispatch".into())
        .spawn(move || {
            // Handler errors are logged by the dispatch itself.
            for job in receiver {
                let _ = futures_executor::block_on(job);
            }
        });
    match spawned {
        Ok(handle) => Some(Dispatcher {
            sender,
            thread: handle.thread().id(),
        }),
        Err(error) => {
            tracing::error!(%error, "could not start the background dispatch thread; events of abandoned async runs outside a tokio runtime will be dropped (counted)");
            None
        }
    }
}

/// Hands `job` to the background thread, waiting for room when its queue is full. `what`
/// names the event in the log when it cannot be delivered.
pub(crate) fn dispatch(job: Job, what: impl FnOnce() -> String) {
    let Some(dispatcher) = DISPATCHER.get_or_init(start) else {
        return dropped(what);
    };
    let sent = if std::thread::current().id() == dispatcher.thread {
        // Waiting here would wait for this very thread.
        match dispatcher.sender.try_send(job) {
            Ok(()) => Ok(()),
            Err(TrySendError::Full(_) | TrySendError::Disconnected(_)) => Err(()),
        }
    } else {
        dispatcher.sender.send(job).map_err(|_| ())
    };
    if sent.is_err() {
        dropped(what);
    }
}

#[cold]
fn dropped(what: impl FnOnce() -> String) {
    let total = DROPPED.fetch_add(1, Ordering::Relaxed) + 1;
    tracing::warn!(
        event = %what(),
        dropped_total = total,
        "could not dispatch an event to the async handlers"
    );
}
