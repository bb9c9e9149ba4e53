//! Room in the evaluation queue, bounded by the bytes the waiting and running evaluations
//! hold (and, when asked, by their count).
//!
//! An evaluation takes room for its estimated size before it is queued and gives it back when
//! it settles. When there is not enough room the caller chooses: take it now or refuse
//! ([`Room::try_take`]), wait on this thread up to a deadline ([`Room::take_within`]), or await
//! it up to a deadline ([`Room::take_async`], whose timer runs on the handler's own runtime so
//! any executor can await it). A deadline of `Duration::MAX` waits until there is room.
//!
//! One evaluation larger than the whole budget is let in when nothing else is waiting, so it
//! is never refused forever; the queue then holds at most that one.

use std::sync::{Condvar, Mutex, MutexGuard, PoisonError};
use std::time::{Duration, Instant};

use tokio::sync::Notify;

/// The bytes and count held by waiting and running evaluations.
#[derive(Debug, Default, Clone, Copy)]
struct Held {
    bytes: usize,
    count: usize,
}

/// The queue's room.
#[derive(Debug)]
pub(crate) struct Room {
    budget: usize,
    max_count: Option<usize>,
    held: Mutex<Held>,
    /// Signalled when room is given back, for threads waiting.
    freed: Condvar,
    /// Signalled when room is given back, for tasks waiting.
    notify: Notify,
}

impl Room {
    pub(crate) fn new(budget: usize, max_count: Option<usize>) -> Self {
        Self {
            budget,
            max_count,
            held: Mutex::new(Held::default()),
            freed: Condvar::new(),
            notify: Notify::new(),
        }
    }

    fn held(&self) -> MutexGuard<'_, Held> {
        self.held.lock().unwrap_or_else(PoisonError::into_inner)
    }

    /// Evaluations holding room now.
    pub(crate) fn count(&self) -> usize {
        self.held().count
    }

    /// Takes `bytes` of room if there is enough now.
    pub(crate) fn try_take(&self, bytes: usize) -> bool {
        let mut held = self.held();
        self.take_locked(&mut held, bytes)
    }

    fn take_locked(&self, held: &mut Held, bytes: usize) -> bool {
        let fits_count = self.max_count.is_none_or(|max| held.count < max);
        let fits_bytes = held.count == 0 || held.bytes.saturating_add(bytes) <= self.budget;
        if fits_count && fits_bytes {
            held.bytes = held.bytes.saturating_add(bytes);
            held.count += 1;
            true
        } else {
            false
        }
    }

    /// Takes `bytes` of room, blocking this thread up to `wait` for it (`Duration::MAX`: until
    /// there is room). False when the time ran out first.
    pub(crate) fn take_within(&self, bytes: usize, wait: Duration) -> bool {
        let deadline = llm_callbacks_transport::Deadline::after(wait).at();
        let mut held = self.held();
        loop {
            if self.take_locked(&mut held, bytes) {
                return true;
            }
            held = match deadline {
                None => self
                    .freed
                    .wait(held)
                    .unwrap_or_else(PoisonError::into_inner),
                Some(deadline) => {
                    let left = deadline.saturating_duration_since(Instant::now());
                    if left.is_zero() {
                        return false;
                    }
                    self.freed
                        .wait_timeout(held, left)
                        .unwrap_or_else(PoisonError::into_inner)
                        .0
                }
            };
        }
    }

    /// Takes `bytes` of room, awaiting it up to `wait` (`Duration::MAX`: until there is
    /// room), without blocking the thread. The timer runs on `timers` (the handler's own
    /// runtime), so the caller's executor needs no timer of its own.
    pub(crate) async fn take_async(
        &self,
        bytes: usize,
        wait: Duration,
        timers: &tokio::runtime::Handle,
    ) -> bool {
        use futures_util::future::{Either, select};

        let deadline = llm_callbacks_transport::Deadline::after(wait).at();
        // The sleep is made inside the task, so it registers with `timers`, not with
        // whatever runtime (if any) the caller runs on.
        let mut timer = deadline.map(|at| {
            timers.spawn(async move {
                tokio::time::sleep_until(tokio::time::Instant::from_std(at)).await;
            })
        });
        let taken = loop {
            let notified = self.notify.notified();
            let mut notified = std::pin::pin!(notified);
            notified.as_mut().enable();
            if self.try_take(bytes) {
                break true;
            }
            match timer.as_mut() {
                None => notified.await,
                Some(timer) => {
                    if let Either::Right(_) = select(notified, timer).await {
                        // Out of time (or the handler's runtime is gone): one last look.
                        break self.try_take(bytes);
                    }
                }
            }
        };
        if let Some(timer) = timer {
            timer.abort();
        }
        taken
    }

    /// Gives back room taken for `bytes`.
    pub(crate) fn give_back(&self, bytes: usize) {
        {
            let mut held = self.held();
            held.bytes = held.bytes.saturating_sub(bytes);
            held.count = held.count.saturating_sub(1);
        }
        self.freed.notify_all();
        self.notify.notify_waiters();
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::sync::Arc;

    #[test]
    fn room_is_bounded_by_bytes_and_by_count() {
        let room = Room::new(100, None);
        assert!(room.try_take(60));
        assert!(!room.try_take(60), "over the byte budget");
        assert!(room.try_take(40));
        room.give_back(60);
        assert!(room.try_take(50));

        let counted = Room::new(usize::MAX, Some(2));
        assert!(counted.try_take(1) && counted.try_take(1));
        assert!(!counted.try_take(1), "over the count");
    }

    #[test]
    fn one_evaluation_larger_than_the_budget_fits_an_empty_queue() {
        let room = Room::new(10, None);
        assert!(room.try_take(1_000));
        assert!(!room.try_take(1));
        room.give_back(1_000);
        assert_eq!(room.count(), 0);
        assert!(room.try_take(1));
    }

    #[test]
    fn a_thread_waits_for_room_until_its_deadline() {
        let room = Arc::new(Room::new(10, None));
        assert!(room.try_take(10));
        assert!(!room.take_within(5, Duration::from_millis(30)), "timed out");
        let waiter = {
            let room = room.clone();
            std::thread::spawn(move || room.take_within(5, Duration::MAX))
        };
        room.give_back(10);
        assert!(waiter.join().unwrap_or(false), "room given back wakes it");
    }

    #[test]
    fn a_task_awaits_room_until_its_deadline() {
        let timers = tokio::runtime::Builder::new_current_thread()
            .enable_time()
            .build()
            .unwrap_or_else(|e| panic!("{e}"));
        let timers_thread = timers.handle().clone();
        std::thread::spawn(move || timers.block_on(std::future::pending::<()>()));
        let room = Room::new(10, None);
        assert!(room.try_take(10));
        let refused =
            block_on_without_timers(room.take_async(5, Duration::from_millis(30), &timers_thread));
        assert!(!refused);
        let taken = block_on_without_timers(async {
            let waiting = room.take_async(5, Duration::MAX, &timers_thread);
            let freeing = async {
                tokio::task::yield_now().await;
                room.give_back(10);
            };
            futures_util::future::join(waiting, freeing).await.0
        });
        assert!(taken);
    }

    /// Runs a future on this thread without a tokio runtime (as another executor would).
    fn block_on_without_timers<F: std::future::Future>(future: F) -> F::Output {
        let runtime = tokio::runtime::Builder::new_current_thread()
            .build()
            .unwrap_or_else(|e| panic!("{e}"));
        runtime.block_on(future)
    }
}
