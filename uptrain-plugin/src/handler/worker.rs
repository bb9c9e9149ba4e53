//! The background worker: a thread with its own tokio runtime that runs evaluations off the
//! event hot path, whatever runtime (or none) the pipeline uses.

use std::io;
use std::sync::{Mutex, PoisonError};
use std::thread::JoinHandle;

use futures_util::future::BoxFuture;
use tokio::sync::mpsc::{UnboundedSender, unbounded_channel};
use tokio::task::JoinSet;

/// Runs submitted futures on a dedicated thread. Dropping the sender lets the thread finish
/// the futures already submitted, then stop.
pub(crate) struct Worker {
    sender: Mutex<Option<UnboundedSender<BoxFuture<'static, ()>>>>,
    thread: Mutex<Option<JoinHandle<()>>>,
}

impl Worker {
    pub(crate) fn start() -> io::Result<Self> {
        let runtime = tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()?;
        let (sender, mut receiver) = unbounded_channel::<BoxFuture<'static, ()>>();
        let thread = std::thread::Builder::new()
            .name("uptrain-evaluations".into())
            .spawn(move || {
                runtime.block_on(async move {
                    let mut running = JoinSet::new();
                    loop {
                        tokio::select! {
                            next = receiver.recv() => match next {
                                Some(task) => {
                                    running.spawn(task);
                                }
                                None => break,
                            },
                            Some(_) = running.join_next(), if !running.is_empty() => {}
                        }
                    }
                    while running.join_next().await.is_some() {}
                });
            })?;
        Ok(Self {
            sender: Mutex::new(Some(sender)),
            thread: Mutex::new(Some(thread)),
        })
    }

    /// Submits a future; gives it back when the worker has stopped.
    pub(crate) fn submit(
        &self,
        task: BoxFuture<'static, ()>,
    ) -> Result<(), BoxFuture<'static, ()>> {
        let sender = self.sender.lock().unwrap_or_else(PoisonError::into_inner);
        match sender.as_ref() {
            Some(sender) => sender.send(task).map_err(|e| e.0),
            None => Err(task),
        }
    }

    /// Stops taking work, lets submitted futures finish, and waits for the thread.
    pub(crate) fn shutdown(&self) {
        self.sender
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .take();
        let thread = self
            .thread
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .take();
        if let Some(thread) = thread
            && thread.join().is_err()
        {
            tracing::error!("the UpTrain evaluation thread panicked");
        }
    }
}
