//! Talking to a background thread under a deadline that cannot overflow (the transport's
//! [`Deadline`]: `Duration::MAX`, or any timeout too far to add to the clock, means none): a
//! full queue is retried, never waited on without bound.

use std::sync::mpsc::{Receiver, SyncSender, TrySendError};
use std::time::Duration;

use llm_callbacks_transport::Deadline;

/// The longest timeout handed to clients that add it to a clock themselves (HTTP clients, the
/// OTLP exporter): a century, which is "never" in practice and cannot overflow.
const LONGEST: Duration = Duration::from_secs(100 * 365 * 24 * 60 * 60);

/// `timeout`, capped so that a client adding it to its clock cannot overflow.
pub(crate) fn finite(timeout: Duration) -> Duration {
    timeout.min(LONGEST)
}

/// Sends `message`, retrying every `pause` while the queue is full, until `deadline`; false
/// when the deadline passed or the thread is gone.
pub(crate) fn send_before<T>(
    sender: &SyncSender<T>,
    mut message: T,
    deadline: Deadline,
    pause: Duration,
) -> bool {
    loop {
        match sender.try_send(message) {
            Ok(()) => return true,
            Err(TrySendError::Full(back)) if !deadline.is_past() => {
                message = back;
                std::thread::sleep(pause.min(deadline.remaining()));
            }
            Err(_) => return false,
        }
    }
}

/// Waits for the thread's answer until `deadline`; false when it did not come in time.
pub(crate) fn answered_before<T>(answer: &Receiver<T>, deadline: Deadline) -> bool {
    if deadline.is_none() {
        return answer.recv().is_ok();
    }
    answer.recv_timeout(deadline.remaining()).is_ok()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_longest_timeouts_mean_no_deadline() {
        assert_eq!(finite(Duration::MAX), LONGEST);
        assert_eq!(finite(Duration::from_secs(1)), Duration::from_secs(1));
        assert!(
            std::time::Instant::now()
                .checked_add(finite(Duration::MAX))
                .is_some()
        );
        let (send, receive) = std::sync::mpsc::sync_channel(1);
        let never = Deadline::after(Duration::MAX);
        assert!(send_before(&send, (), never, Duration::from_millis(1)));
        assert!(answered_before(&receive, never));
        let passed = Deadline::after(Duration::ZERO);
        assert!(!answered_before(&receive, passed));
        // A full queue past its deadline gives up rather than wait.
        assert!(send.try_send(()).is_ok());
        assert!(!send_before(&send, (), passed, Duration::from_millis(1)));
    }
}
