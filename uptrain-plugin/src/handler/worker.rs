//! The background worker: a thread with its own tokio runtime that runs evaluations off the
//! event hot path, whatever runtime (or none) the pipeline uses.
//!
//! Bounded by design: what waits in its queue is bounded by the room each evaluation took
//! before it was submitted (see `room`), and at most [`MAX_RUNNING`] run at once. Refused
//! evaluations come through a second queue of at most [`MAX_REFUSALS`], so the thread that
//! refused them only hands them over: the worker prints, writes and publishes their rows; when
//! that queue is full too, the caller only counts them. On [`Worker::stop`], it finishes what
//! it holds until the grace period ends, then drops the rest: every dropped evaluation settles
//! itself (see `Ticket` in the parent module).

use std::io;
use std::sync::mpsc as std_mpsc;
use std::sync::{Mutex, PoisonError};
use std::thread::JoinHandle;
use std::time::{Duration, Instant};

use tokio::sync::{mpsc, oneshot};
use tokio::task::JoinSet;

use super::Ticket;

/// Evaluations running at once, at most. Each waits on its evaluator's own limiter, so this
/// only needs to keep that limiter busy.
pub(crate) const MAX_RUNNING: usize = 64;

/// Refused evaluations waiting for the worker to record them, at most.
pub(crate) const MAX_REFUSALS: usize = 1024;

/// Why a submission was handed back.
pub(crate) enum Refused<T> {
    /// The queue is full.
    Full(T),
    /// The worker has stopped.
    Stopped(T),
}

thread_local! {
    /// True on an evaluation thread.
    static EVALUATION_THREAD: std::cell::Cell<bool> = const { std::cell::Cell::new(false) };
}

/// True on a handler's evaluation thread, which must never wait for room in a queue (it may be
/// the one that would free it: an evaluator or listener that emits events).
pub(crate) fn on_evaluation_thread() -> bool {
    EVALUATION_THREAD.with(std::cell::Cell::get)
}

/// When the worker gives up what it holds: at an instant, or never (wait for all of it).
type GiveUpAt = Option<Instant>;

/// Runs submitted futures on a dedicated thread.
pub(crate) struct Worker {
    sender: Mutex<Option<mpsc::UnboundedSender<Ticket>>>,
    refusals: Mutex<Option<mpsc::Sender<Ticket>>>,
    stop: Mutex<Option<oneshot::Sender<GiveUpAt>>>,
    thread: Mutex<Option<(JoinHandle<()>, std_mpsc::Receiver<()>)>>,
    timers: tokio::runtime::Handle,
}

impl Worker {
    pub(crate) fn start() -> io::Result<Self> {
        let runtime = tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()?;
        let timers = runtime.handle().clone();
        // Unbounded by count: each ticket holds room in the byte budget before it is sent.
        let (sender, receiver) = mpsc::unbounded_channel::<Ticket>();
        let (refusals, refused) = mpsc::channel::<Ticket>(MAX_REFUSALS);
        let (stop, stop_signal) = oneshot::channel::<GiveUpAt>();
        let (exited, exit_signal) = std_mpsc::channel();
        let thread = std::thread::Builder::new()
            .name("uptrain-evaluations".into())
            .spawn(move || {
                EVALUATION_THREAD.with(|flag| flag.set(true));
                runtime.block_on(run(receiver, refused, stop_signal));
                // Dropping the runtime drops any task still held; each settles itself.
                drop(runtime);
                let _ = exited.send(());
            })?;
        Ok(Self {
            sender: Mutex::new(Some(sender)),
            refusals: Mutex::new(Some(refusals)),
            stop: Mutex::new(Some(stop)),
            thread: Mutex::new(Some((thread, exit_signal))),
            timers,
        })
    }

    /// The worker's runtime, for timers of callers on other executors.
    pub(crate) fn timers(&self) -> &tokio::runtime::Handle {
        &self.timers
    }

    /// True once the worker stopped taking work.
    pub(crate) fn is_stopped(&self) -> bool {
        self.sender
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .is_none()
    }

    /// Queues an evaluation (which holds its room), or hands it back when the worker stopped.
    pub(crate) fn submit(&self, task: Ticket) -> Result<(), Refused<Ticket>> {
        let sender = self.sender.lock().unwrap_or_else(PoisonError::into_inner);
        match sender.as_ref() {
            Some(sender) => sender.send(task).map_err(|e| Refused::Stopped(e.0)),
            None => Err(Refused::Stopped(task)),
        }
    }

    /// Hands a refused evaluation to the worker to record, or hands it back when that queue
    /// is full too (`Full`) or the worker stopped. Never blocks.
    pub(crate) fn refuse(&self, task: Ticket) -> Result<(), Refused<Ticket>> {
        let refusals = self.refusals.lock().unwrap_or_else(PoisonError::into_inner);
        match refusals.as_ref() {
            Some(refusals) => refusals.try_send(task).map_err(|e| match e {
                mpsc::error::TrySendError::Full(task) => Refused::Full(task),
                mpsc::error::TrySendError::Closed(task) => Refused::Stopped(task),
            }),
            None => Err(Refused::Stopped(task)),
        }
    }

    /// Stops taking work and gives the worker `grace` to finish what it holds
    /// (`Duration::MAX`: all the time it needs); after that it drops the rest. Returns at
    /// once.
    pub(crate) fn stop(&self, grace: Duration) {
        self.sender
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .take();
        self.refusals
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .take();
        if let Some(stop) = self
            .stop
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .take()
        {
            let _ = stop.send(llm_callbacks_transport::Deadline::after(grace).at());
        }
    }

    /// Waits up to `wait` (`Duration::MAX`: until it exits) for the worker thread to exit.
    /// True when it did (or was already gone); false when it is still running (then it is
    /// left to finish on its own).
    pub(crate) fn join(&self, wait: Duration) -> bool {
        let mut slot = self.thread.lock().unwrap_or_else(PoisonError::into_inner);
        let Some((_, exited)) = slot.as_ref() else {
            return true;
        };
        let outcome = match llm_callbacks_transport::Deadline::after(wait).at() {
            Some(_) => exited.recv_timeout(wait),
            None => exited
                .recv()
                .map_err(|_| std_mpsc::RecvTimeoutError::Disconnected),
        };
        match outcome {
            Ok(()) | Err(std_mpsc::RecvTimeoutError::Disconnected) => {
                if let Some((thread, _)) = slot.take()
                    && thread.join().is_err()
                {
                    tracing::error!("the UpTrain evaluation thread panicked");
                }
                true
            }
            Err(std_mpsc::RecvTimeoutError::Timeout) => false,
        }
    }
}

/// The worker loop: records refused evaluations, and takes queued evaluations while fewer
/// than [`MAX_RUNNING`] run, until the queue closes and empties, or the stop deadline passes.
async fn run(
    mut receiver: mpsc::UnboundedReceiver<Ticket>,
    mut refused: mpsc::Receiver<Ticket>,
    mut stop_signal: oneshot::Receiver<GiveUpAt>,
) {
    let mut running = JoinSet::new();
    let mut give_up_at: Option<tokio::time::Instant> = None;
    let mut stopping = false;
    let mut queue_open = true;
    let mut refusals_open = true;
    loop {
        let can_take = queue_open && running.len() < MAX_RUNNING;
        let give_up = async {
            match give_up_at {
                Some(at) => tokio::time::sleep_until(at).await,
                None => std::future::pending().await,
            }
        };
        tokio::select! {
            next = refused.recv(), if refusals_open => match next {
                Some(ticket) => ticket.record_refusal(),
                None => refusals_open = false,
            },
            next = receiver.recv(), if can_take => match next {
                Some(ticket) => {
                    running.spawn(ticket.run());
                }
                None => queue_open = false,
            },
            Some(_) = running.join_next(), if !running.is_empty() => {}
            at = &mut stop_signal, if !stopping => {
                stopping = true;
                give_up_at = match at {
                    Ok(Some(at)) => Some(tokio::time::Instant::from_std(at)),
                    // No deadline: finish everything.
                    Ok(None) => None,
                    // The handle dropped its sender without a deadline: give up at once.
                    Err(_) => Some(tokio::time::Instant::now()),
                };
                receiver.close();
                refused.close();
            }
            () = give_up => break,
        }
        if !queue_open && !refusals_open && running.is_empty() {
            return;
        }
    }
    // Out of time: record the refusals still held, drop the running evaluations and the
    // queued ones; each settles itself as given up.
    refused.close();
    while let Ok(ticket) = refused.try_recv() {
        ticket.record_refusal();
    }
    let mut given_up = running.len();
    running.shutdown().await;
    receiver.close();
    while let Ok(ticket) = receiver.try_recv() {
        given_up += 1;
        drop(ticket);
    }
    if given_up > 0 {
        tracing::warn!(
            given_up,
            "UpTrain: gave up {given_up} unfinished evaluations at shutdown (each recorded as \
             a row \"not evaluated\")"
        );
    }
}
