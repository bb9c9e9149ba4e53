//! Deadlines that cannot overflow: a point in time, or none at all.

use std::time::{Duration, Instant};

/// When a wait must end, or never.
///
/// Built from a timeout with `checked_add`, so no timeout can overflow: [`Duration::MAX`] (or any
/// timeout too long to add to now) means no deadline. [`remaining`](Self::remaining) of no
/// deadline is [`Duration::MAX`], which every API here takes as "no deadline" again.
///
/// ```
/// use std::time::Duration;
/// use llm_callbacks_transport::Deadline;
///
/// let never = Deadline::after(Duration::MAX);
/// assert!(never.is_none());
/// assert_eq!(never.remaining(), Duration::MAX);
/// assert!(!never.is_past());
///
/// let soon = Deadline::after(Duration::from_secs(60));
/// assert!(soon.remaining() <= Duration::from_secs(60));
/// assert!(Deadline::after(Duration::ZERO).is_past());
/// ```
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct Deadline {
    at: Option<Instant>,
}

impl Deadline {
    /// No deadline: waits forever.
    pub const NONE: Deadline = Deadline { at: None };

    /// `timeout` from now; no deadline when `timeout` is [`Duration::MAX`] or too long to add.
    pub fn after(timeout: Duration) -> Self {
        Self::after_from(Instant::now(), timeout)
    }

    /// `timeout` from `start`; no deadline when `timeout` is [`Duration::MAX`] or too long to
    /// add to `start`.
    pub fn after_from(start: Instant, timeout: Duration) -> Self {
        if timeout == Duration::MAX {
            return Self::NONE;
        }
        Self {
            at: start.checked_add(timeout),
        }
    }

    /// The instant the deadline falls on, if there is one.
    pub fn at(&self) -> Option<Instant> {
        self.at
    }

    /// True when there is no deadline.
    pub fn is_none(&self) -> bool {
        self.at.is_none()
    }

    /// The time left: zero once past, [`Duration::MAX`] with no deadline.
    pub fn remaining(&self) -> Duration {
        self.remaining_at(Instant::now())
    }

    /// The time left at `now`: zero once past, [`Duration::MAX`] with no deadline.
    pub fn remaining_at(&self, now: Instant) -> Duration {
        match self.at {
            Some(at) => at.saturating_duration_since(now),
            None => Duration::MAX,
        }
    }

    /// True once the deadline has passed (never with no deadline).
    pub fn is_past(&self) -> bool {
        self.is_past_at(Instant::now())
    }

    /// True when the deadline is at or before `now` (never with no deadline).
    pub fn is_past_at(&self, now: Instant) -> bool {
        self.at.is_some_and(|at| at <= now)
    }

    /// The earlier of two deadlines (no deadline is later than any).
    ///
    /// ```
    /// use std::time::Duration;
    /// use llm_callbacks_transport::Deadline;
    ///
    /// let soon = Deadline::after(Duration::from_secs(1));
    /// assert_eq!(soon.min(Deadline::NONE), soon);
    /// assert_eq!(Deadline::NONE.min(Deadline::NONE), Deadline::NONE);
    /// ```
    #[must_use]
    pub fn min(self, other: Deadline) -> Deadline {
        match (self.at, other.at) {
            (Some(a), Some(b)) => Deadline { at: Some(a.min(b)) },
            (Some(_), None) => self,
            (None, _) => other,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn timeouts_too_long_to_add_mean_no_deadline() {
        let start = Instant::now();
        let cases = [
            (Duration::MAX, None),
            (Duration::from_secs(u64::MAX), None),
            (Duration::ZERO, Some(Duration::ZERO)),
            (Duration::from_secs(5), Some(Duration::from_secs(5))),
        ];
        for (timeout, expected) in cases {
            let deadline = Deadline::after_from(start, timeout);
            let remaining = (!deadline.is_none()).then(|| deadline.remaining_at(start));
            assert_eq!(remaining, expected, "{timeout:?}");
        }
    }

    #[test]
    fn past_and_remaining_at_given_instants() {
        let start = Instant::now();
        let deadline = Deadline::after_from(start, Duration::from_secs(10));
        let cases = [
            (Duration::ZERO, Duration::from_secs(10), false),
            (Duration::from_secs(4), Duration::from_secs(6), false),
            (Duration::from_secs(10), Duration::ZERO, true),
            (Duration::from_secs(30), Duration::ZERO, true),
        ];
        for (elapsed, remaining, past) in cases {
            let now = start + elapsed;
            assert_eq!(deadline.remaining_at(now), remaining, "{elapsed:?}");
            assert_eq!(deadline.is_past_at(now), past, "{elapsed:?}");
        }
        assert!(!Deadline::NONE.is_past_at(start + Duration::from_secs(1 << 40)));
        assert_eq!(Deadline::NONE.remaining_at(start), Duration::MAX);
    }

    #[test]
    fn min_picks_the_earlier() {
        let start = Instant::now();
        let near = Deadline::after_from(start, Duration::from_secs(1));
        let far = Deadline::after_from(start, Duration::from_secs(2));
        assert_eq!(near.min(far), near);
        assert_eq!(far.min(near), near);
        assert_eq!(Deadline::NONE.min(far), far);
    }
}
