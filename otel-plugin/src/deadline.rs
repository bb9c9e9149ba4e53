//! Time limits that cannot overflow, and talking to a background thread under them: a full
//! queue is retried, never waited on without bound. `Duration::MAX` (or any timeout too far
//! to add to the clock) means "no deadline".

use std::sync::mpsc::{Receiver, SyncSender, TrySendError};
use std::time::{Duration, Instant};

/// The longest timeout handed to clients that add it to a clock themselves (HTTP clients, the
/// OTLP exporter): a century, which is "never" in practice and cannot overflow.
const LONGEST: Duration = Duration::from_secs(100 * 365 * 24 * 60 * 60);

/// The instant `timeout` from now; `None` when it is too far to represent: no deadline.
pub(crate) fn deadline_after(timeout: Duration) -> Option<Instant> {
    Instant::now().checked_add(timeout)
}

/// The time left until `deadline` (zero once passed; `Duration::MAX` without a deadline).
pub(crate) fn left(deadline: Option<Instant>) -> Duration {
    deadline.map_or(Duration::MAX, |d| {
        d.saturating_duration_since(Instant::now())
    })
}

/// `timeout`, capped so that a client adding it to its clock cannot overflow.
pub(crate) fn finite(timeout: Duration) -> Duration {
    timeout.min(LONGEST)
}

fn before(deadline: Option<Instant>) -> bool {
    deadline.is_none_or(|d| Instant::now() < d)
}

/// Sends `message`, retrying every `pause` while the queue is full, until `deadline`; false
/// when the deadline passed or the thread is gone.
pub(crate) fn send_before<T>(
    sender: &SyncSender<T>,
    mut message: T,
    deadline: Option<Instant>,
    pause: Duration,
) -> bool {
    loop {
        match sender.try_send(message) {
            Ok(()) => return true,
            Err(TrySendError::Full(back)) if before(deadline) => {
                message = back;
                std::thread::sleep(pause);
            }
            Err(_) => return false,
        }
    }
}

/// Waits for the thread's answer until `deadline`; false when it did not come in time.
pub(crate) fn answered_before<T>(answer: &Receiver<T>, deadline: Option<Instant>) -> bool {
    match deadline {
        None => answer.recv().is_ok(),
        Some(deadline) => answer
            .recv_timeout(deadline.saturating_duration_since(Instant::now()))
            .is_ok(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_longest_timeouts_mean_no_deadline() {
        assert_eq!(deadline_after(Duration::MAX), None);
        assert_eq!(left(None), Duration::MAX);
        assert_eq!(finite(Duration::MAX), LONGEST);
        assert_eq!(finite(Duration::from_secs(1)), Duration::from_secs(1));
        assert!(Instant::now().checked_add(finite(Duration::MAX)).is_some());
        let (send, receive) = std::sync::mpsc::sync_channel(1);
        assert!(send_before(&send, (), None, Duration::from_millis(1)));
        assert!(answered_before(&receive, None));
        let passed = deadline_after(Duration::ZERO);
        assert!(!answered_before(&receive, passed));
        assert_eq!(left(passed), Duration::ZERO);
    }
}
