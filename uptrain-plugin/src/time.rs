//! Deadlines that cannot overflow: `Duration::MAX` (or any wait too long to add to now) means
//! "no deadline", never a panic.

use std::time::{Duration, Instant};

/// The instant `wait` from now, or `None` when it cannot be represented (no deadline).
pub(crate) fn deadline_after(wait: Duration) -> Option<Instant> {
    Instant::now().checked_add(wait)
}

/// The instant `wait` from now, or an instant about thirty years away when that overflows:
/// for timers that need an instant (a pause that lasts "forever" in practice).
pub(crate) fn instant_after(wait: Duration) -> Instant {
    let now = Instant::now();
    now.checked_add(wait)
        .or_else(|| now.checked_add(FAR))
        .unwrap_or(now)
}

/// How far "forever" is for a timer that needs an instant (as tokio's own far future).
const FAR: Duration = Duration::from_secs(86_400 * 365 * 30);

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_longest_wait_is_no_deadline_and_never_panics() {
        assert_eq!(deadline_after(Duration::MAX), None);
        assert!(deadline_after(Duration::from_secs(1)).is_some());
        assert!(instant_after(Duration::MAX) > Instant::now() + Duration::from_secs(86_400));
        let soon = instant_after(Duration::from_millis(5));
        assert!(soon <= Instant::now() + Duration::from_secs(1));
    }
}
