//! The background worker: a thread with its own tokio runtime that runs evaluations off the
//! event hot path, whatever runtime (or none) the pipeline uses.
//!
//! Bounded by design: at most `capacity` evaluations wait in its queue and at most
//! [`MAX_RUNNING`] run at once; a submission to a full queue is handed back at once (the
//! caller records it as not evaluated), never blocking the thread that emits events. On
//! [`Worker::stop`], it finishes what it holds until the grace period ends, then drops the
//! rest: every dropped evaluation settles itself (see `Ticket` in the parent module).

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

/// Why a submission was handed back.
pub(crate) enum Refused<T> {
    /// The queue is full.
    Full(T),
    /// The worker has stopped.
    Stopped(T),
}

/// Runs submitted futures on a dedicated thread.
pub(crate) struct Worker {
    sender: Mutex<Option<mpsc::Sender<Ticket>>>,
    stop: Mutex<Option<oneshot::Sender<Instant>>>,
    thread: Mutex<Option<(JoinHandle<()>, std_mpsc::Receiver<()>)>>,
}

impl Worker {
    pub(crate) fn start(capacity: usize) -> io::Result<Self> {
        let runtime = tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()?;
        let (sender, receiver) = mpsc::channel::<Ticket>(capacity.max(1));
        let (stop, stop_signal) = oneshot::channel::<Instant>();
        let (exited, exit_signal) = std_mpsc::channel();
        let thread = std::thread::Builder::new()
            .name("uptrain-evaluations".into())
            .spawn(move || {
                runtime.block_on(run(receiver, stop_signal));
                // Dropping the runtime drops any task still held; each settles itself.
                drop(runtime);
                let _ = exited.send(());
            })?;
        Ok(Self {
            sender: Mutex::new(Some(sender)),
            stop: Mutex::new(Some(stop)),
            thread: Mutex::new(Some((thread, exit_signal))),
        })
    }

    /// Queues an evaluation, or hands it back when the queue is full or the worker stopped.
    pub(crate) fn submit(&self, task: Ticket) -> Result<(), Refused<Ticket>> {
        let sender = self.sender.lock().unwrap_or_else(PoisonError::into_inner);
        match sender.as_ref() {
            Some(sender) => sender.try_send(task).map_err(|e| match e {
                mpsc::error::TrySendError::Full(task) => Refused::Full(task),
                mpsc::error::TrySendError::Closed(task) => Refused::Stopped(task),
            }),
            None => Err(Refused::Stopped(task)),
        }
    }

    /// Stops taking work and gives the worker `grace` to finish what it holds; after that it
    /// drops the rest. Returns at once.
    pub(crate) fn stop(&self, grace: Duration) {
        self.sender
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .take();
        if let Some(stop) = self
            .stop
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .take()
        {
            let _ = stop.send(Instant::now() + grace);
        }
    }

    /// Waits up to `wait` for the worker thread to exit. True when it did (or was already
    /// gone); false when it is still running (then it is left to finish on its own).
    pub(crate) fn join(&self, wait: Duration) -> bool {
        let mut slot = self.thread.lock().unwrap_or_else(PoisonError::into_inner);
        let Some((_, exited)) = slot.as_ref() else {
            return true;
        };
        match exited.recv_timeout(wait) {
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

/// The worker loop: takes queued evaluations while fewer than [`MAX_RUNNING`] run, until the
/// queue closes and empties, or the stop deadline passes.
async fn run(mut receiver: mpsc::Receiver<Ticket>, mut stop_signal: oneshot::Receiver<Instant>) {
    let mut running = JoinSet::new();
    let mut give_up_at: Option<tokio::time::Instant> = None;
    let mut queue_open = true;
    loop {
        let can_take = queue_open && running.len() < MAX_RUNNING;
        let give_up = async {
            match give_up_at {
                Some(at) => tokio::time::sleep_until(at).await,
                None => std::future::pending().await,
            }
        };
        tokio::select! {
            next = receiver.recv(), if can_take => match next {
                Some(ticket) => {
                    running.spawn(ticket.run());
                }
                None => queue_open = false,
            },
            Some(_) = running.join_next(), if !running.is_empty() => {}
            at = &mut stop_signal, if give_up_at.is_none() => {
                // Without a deadline (the handle dropped its sender), give up at once.
                let at = at.unwrap_or_else(|_| Instant::now());
                give_up_at = Some(tokio::time::Instant::from_std(at));
                receiver.close();
            }
            () = give_up => break,
        }
        if !queue_open && running.is_empty() {
            return;
        }
    }
    // Out of time: drop the running evaluations and the queued ones; each settles itself as
    // given up.
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
