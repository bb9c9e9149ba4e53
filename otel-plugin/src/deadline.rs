//! Talking to a background thread under a deadline: a full queue is retried, never waited on
//! without bound.

use std::sync::mpsc::{Receiver, SyncSender, TrySendError};
use std::time::{Duration, Instant};

/// Sends `message`, retrying every `pause` while the queue is full, until `deadline`; false
/// when the deadline passed or the thread is gone.
pub(crate) fn send_before<T>(
    sender: &SyncSender<T>,
    mut message: T,
    deadline: Instant,
    pause: Duration,
) -> bool {
    loop {
        match sender.try_send(message) {
            Ok(()) => return true,
            Err(TrySendError::Full(back)) if Instant::now() < deadline => {
                message = back;
                std::thread::sleep(pause);
            }
            Err(_) => return false,
        }
    }
}

/// Waits for the thread's answer until `deadline`; false when it did not come in time.
pub(crate) fn answered_before(answer: &Receiver<()>, deadline: Instant) -> bool {
    answer
        .recv_timeout(deadline.saturating_duration_since(Instant::now()))
        .is_ok()
}
