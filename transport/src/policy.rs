//! One retry policy for every HTTP client: how many retries, how long to wait between them,
//! and the decision for one failed attempt.

use std::fmt;
use std::time::{Duration, Instant};

use crate::deadline::Deadline;
use crate::failure::{Failure, Idempotency, Retryable};

/// Which failed requests are sent again, how often, and how long to wait.
///
/// - **Attempts are counted one way:** `max_retries` is the number of retries after the first
///   attempt, so a request is sent at most `max_retries + 1` times; 0 turns retries off.
/// - **Which failures:** the table of [`Failure::retryable`], read with `idempotency`. The default
///   treats every request as paid and non-idempotent: sent again only when it provably never
///   reached the server, or the server answered 429 (or 503 with `Retry-After`).
/// - **How long to wait:** retry `n` (from 1) waits `initial_backoff * 2^(n-1)`, at most
///   `max_backoff`; with `jitter`, a random part of up to a quarter is taken off each wait, so
///   clients that failed together do not retry together.
/// - **When the server says how long:** its `Retry-After` (or `retry-after-ms`) replaces the
///   computed wait, even when longer than `max_backoff`, up to `max_server_wait`. A server asking
///   for more than `max_server_wait` is taken at its word that the request will not succeed
///   sooner: the failure is final ([`GiveUp::ServerWaitTooLong`]).
/// - **Deadlines:** a wait that would end after the request's deadline is not started
///   ([`GiveUp::DeadlineTooClose`]).
///
/// The default: 2 retries, waiting about 0.5 s then 1 s, computed waits at most 8 s, server
/// waits at most 60 s, with jitter, non-idempotent.
///
/// ```
/// use std::time::Duration;
/// use llm_callbacks_transport::{Idempotency, RetryPolicy};
///
/// let policy = RetryPolicy::default().with_max_retries(3).with_jitter(false);
/// assert_eq!(policy.backoff(1), Duration::from_millis(500));
/// assert_eq!(policy.backoff(3), Duration::from_secs(2));
/// assert_eq!(policy.backoff(30), Duration::from_secs(8));
/// assert_eq!(RetryPolicy::none().max_retries, 0);
/// assert_eq!(policy.idempotency, Idempotency::NonIdempotent);
/// ```
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct RetryPolicy {
    /// Retries after the first attempt; 0 turns retries off.
    pub max_retries: u32,
    /// The computed wait before the first retry.
    pub initial_backoff: Duration,
    /// The longest computed wait.
    pub max_backoff: Duration,
    /// The longest wait a server's `Retry-After` is honoured for; a longer one ends the retries.
    pub max_server_wait: Duration,
    /// Whether computed waits are shortened by a random part of up to a quarter.
    pub jitter: bool,
    /// Whether the requests may be sent twice without harm.
    pub idempotency: Idempotency,
}

impl Default for RetryPolicy {
    fn default() -> Self {
        Self {
            max_retries: 2,
            initial_backoff: Duration::from_millis(500),
            max_backoff: Duration::from_secs(8),
            max_server_wait: Duration::from_secs(60),
            jitter: true,
            idempotency: Idempotency::NonIdempotent,
        }
    }
}

impl RetryPolicy {
    /// No retries: every request is sent once.
    pub fn none() -> Self {
        Self::default().with_max_retries(0)
    }

    /// Sets the number of retries after the first attempt.
    #[must_use]
    pub fn with_max_retries(mut self, max_retries: u32) -> Self {
        self.max_retries = max_retries;
        self
    }

    /// Sets the first computed wait; later ones double up to [`max_backoff`](Self::max_backoff).
    #[must_use]
    pub fn with_initial_backoff(mut self, backoff: Duration) -> Self {
        self.initial_backoff = backoff;
        self
    }

    /// Sets the longest computed wait.
    #[must_use]
    pub fn with_max_backoff(mut self, backoff: Duration) -> Self {
        self.max_backoff = backoff;
        self
    }

    /// Sets the longest server-given wait that is honoured.
    #[must_use]
    pub fn with_max_server_wait(mut self, wait: Duration) -> Self {
        self.max_server_wait = wait;
        self
    }

    /// Turns jitter on or off (off makes the waits exact, as tests want).
    #[must_use]
    pub fn with_jitter(mut self, jitter: bool) -> Self {
        self.jitter = jitter;
        self
    }

    /// Sets whether the requests may be sent twice; [`Idempotency::Idempotent`] opts in to
    /// retrying timeouts, broken connections and 408, 409 and 5xx answers.
    #[must_use]
    pub fn with_idempotency(mut self, idempotency: Idempotency) -> Self {
        self.idempotency = idempotency;
        self
    }

    /// The computed wait before retry number `retry` (from 1), without jitter.
    pub fn backoff(&self, retry: u32) -> Duration {
        let factor = 2u32.saturating_pow(retry.saturating_sub(1));
        self.initial_backoff
            .saturating_mul(factor)
            .min(self.max_backoff)
    }

    /// The wait before retry number `retry`, jittered when [`jitter`](Self::jitter) is on: between
    /// three quarters of [`backoff`](Self::backoff) and all of it.
    pub fn jittered_backoff(&self, retry: u32) -> Duration {
        let wait = self.backoff(retry);
        if !self.jitter {
            return wait;
        }
        wait.mul_f64(1.0 - 0.25 * fastrand::f64())
    }

    /// What to do after the failed attempt that used up `retries_so_far` retries (0 after the
    /// first attempt), for a request due by `deadline`.
    ///
    /// ```
    /// use std::time::Duration;
    /// use llm_callbacks_transport::reqwest::StatusCode;
    /// use llm_callbacks_transport::{Deadline, Decision, Failure, GiveUp, RetryPolicy};
    ///
    /// let policy = RetryPolicy::default().with_jitter(false);
    /// let busy = Failure::Status {
    ///     status: StatusCode::TOO_MANY_REQUESTS,
    ///     retry_after: Some(Duration::from_secs(3)),
    /// };
    /// assert_eq!(policy.decide(&busy, 0, Deadline::NONE), Decision::Retry(Duration::from_secs(3)));
    /// assert_eq!(
    ///     policy.decide(&busy, 2, Deadline::NONE),
    ///     Decision::GiveUp(GiveUp::RetriesExhausted { retries: 2 })
    /// );
    /// assert_eq!(
    ///     policy.decide(&Failure::TimedOut, 0, Deadline::NONE),
    ///     Decision::GiveUp(GiveUp::MayHaveReachedServer)
    /// );
    /// ```
    pub fn decide(&self, failure: &Failure, retries_so_far: u32, deadline: Deadline) -> Decision {
        self.decide_at(failure, retries_so_far, deadline, Instant::now())
    }

    /// [`decide`](Self::decide) at the instant `now`.
    pub fn decide_at(
        &self,
        failure: &Failure,
        retries_so_far: u32,
        deadline: Deadline,
        now: Instant,
    ) -> Decision {
        match failure.retryable(self.idempotency) {
            Retryable::Yes => {}
            Retryable::MayHaveReachedServer => {
                return Decision::GiveUp(GiveUp::MayHaveReachedServer);
            }
            Retryable::No => return Decision::GiveUp(GiveUp::NotRetryable),
        }
        if retries_so_far >= self.max_retries {
            return Decision::GiveUp(GiveUp::RetriesExhausted {
                retries: retries_so_far,
            });
        }
        let wait = match failure.retry_after() {
            Some(asked) if asked > self.max_server_wait => {
                return Decision::GiveUp(GiveUp::ServerWaitTooLong {
                    asked,
                    cap: self.max_server_wait,
                });
            }
            Some(asked) => asked,
            None => self.jittered_backoff(retries_so_far.saturating_add(1)),
        };
        let remaining = deadline.remaining_at(now);
        if wait >= remaining {
            return Decision::GiveUp(GiveUp::DeadlineTooClose { remaining, wait });
        }
        Decision::Retry(wait)
    }
}

/// What to do after a failed attempt; see [`RetryPolicy::decide`].
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Decision {
    /// Wait this long, then send the request again.
    Retry(Duration),
    /// The failure is final.
    GiveUp(GiveUp),
}

/// Why a failure is final.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum GiveUp {
    /// Sending the request again would fail the same way.
    NotRetryable,
    /// The server may have received the request and done (and billed) the work, and the
    /// request is not idempotent.
    MayHaveReachedServer,
    /// The policy's retries are used up.
    RetriesExhausted {
        /// The retries made.
        retries: u32,
    },
    /// The server asked for a longer wait than the policy honours.
    ServerWaitTooLong {
        /// The wait the server asked for.
        asked: Duration,
        /// The policy's [`max_server_wait`](RetryPolicy::max_server_wait).
        cap: Duration,
    },
    /// The wait would end after the request's deadline.
    DeadlineTooClose {
        /// The time left before the deadline.
        remaining: Duration,
        /// The wait the retry needed.
        wait: Duration,
    },
}

impl fmt::Display for GiveUp {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            GiveUp::NotRetryable => f.write_str("the failure is not one a retry cures"),
            GiveUp::MayHaveReachedServer => f.write_str(
                "the request may have reached the server, which may have done (and billed) the \
                 work; a non-idempotent request is sent again only when it never reached the \
                 server or the server asked for it (opt in with Idempotency::Idempotent)",
            ),
            GiveUp::RetriesExhausted { retries } => {
                write!(f, "no retries left after {retries}")
            }
            GiveUp::ServerWaitTooLong { asked, cap } => write!(
                f,
                "the server asked to wait {:.3} s, longer than the {:.3} s honoured",
                asked.as_secs_f64(),
                cap.as_secs_f64()
            ),
            GiveUp::DeadlineTooClose { remaining, wait } => write!(
                f,
                "the deadline is {:.3} s away, too close for a wait of {:.3} s",
                remaining.as_secs_f64(),
                wait.as_secs_f64()
            ),
        }
    }
}

#[cfg(test)]
mod tests {
    use reqwest::StatusCode;

    use super::*;

    fn status(code: StatusCode, retry_after: Option<Duration>) -> Failure {
        Failure::Status {
            status: code,
            retry_after,
        }
    }

    #[test]
    fn backoff_doubles_up_to_the_cap_and_never_overflows() {
        let policy = RetryPolicy::default().with_jitter(false);
        let ms = Duration::from_millis;
        let cases = [
            (0, ms(500)),
            (1, ms(500)),
            (2, ms(1000)),
            (4, ms(4000)),
            (5, ms(8000)),
            (6, ms(8000)),
            (u32::MAX, ms(8000)),
        ];
        for (retry, wait) in cases {
            assert_eq!(policy.backoff(retry), wait, "retry {retry}");
            assert_eq!(policy.jittered_backoff(retry), wait, "retry {retry}");
        }
        let huge = policy
            .with_initial_backoff(Duration::MAX)
            .with_max_backoff(Duration::MAX);
        assert_eq!(huge.backoff(40), Duration::MAX);
    }

    #[test]
    fn jitter_takes_off_at_most_a_quarter() {
        let policy = RetryPolicy::default().with_max_backoff(Duration::from_secs(100));
        for retry in 1..=6 {
            let full = policy.backoff(retry);
            for _ in 0..200 {
                let wait = policy.jittered_backoff(retry);
                assert!(
                    wait <= full && wait >= full.mul_f64(0.75),
                    "{wait:?} of {full:?}"
                );
            }
        }
    }

    #[test]
    fn decisions() {
        let now = Instant::now();
        let secs = Duration::from_secs;
        let policy = RetryPolicy::default()
            .with_jitter(false)
            .with_max_retries(2);
        let idempotent = policy.with_idempotency(Idempotency::Idempotent);
        let far = Deadline::after_from(now, secs(3600));
        let close = Deadline::after_from(now, secs(2));
        let busy = status(StatusCode::TOO_MANY_REQUESTS, None);
        let busy_for = |s| status(StatusCode::TOO_MANY_REQUESTS, Some(secs(s)));
        let failed = status(StatusCode::INTERNAL_SERVER_ERROR, None);
        let cases = [
            // policy, failure, retries so far, deadline, decision
            (
                policy,
                busy,
                0,
                Deadline::NONE,
                Decision::Retry(Duration::from_millis(500)),
            ),
            (policy, busy, 1, far, Decision::Retry(secs(1))),
            (
                policy,
                busy,
                2,
                far,
                Decision::GiveUp(GiveUp::RetriesExhausted { retries: 2 }),
            ),
            (policy, busy_for(30), 0, far, Decision::Retry(secs(30))),
            (policy, busy_for(60), 0, far, Decision::Retry(secs(60))),
            (
                policy,
                busy_for(61),
                0,
                far,
                Decision::GiveUp(GiveUp::ServerWaitTooLong {
                    asked: secs(61),
                    cap: secs(60),
                }),
            ),
            (
                policy,
                busy_for(5),
                0,
                close,
                Decision::GiveUp(GiveUp::DeadlineTooClose {
                    remaining: secs(2),
                    wait: secs(5),
                }),
            ),
            (
                policy,
                Failure::NotSent,
                0,
                far,
                Decision::Retry(Duration::from_millis(500)),
            ),
            (
                policy,
                Failure::TimedOut,
                0,
                far,
                Decision::GiveUp(GiveUp::MayHaveReachedServer),
            ),
            (
                policy,
                failed,
                0,
                far,
                Decision::GiveUp(GiveUp::MayHaveReachedServer),
            ),
            (
                idempotent,
                failed,
                0,
                far,
                Decision::Retry(Duration::from_millis(500)),
            ),
            (
                idempotent,
                Failure::TimedOut,
                1,
                far,
                Decision::Retry(secs(1)),
            ),
            (
                idempotent,
                status(StatusCode::BAD_REQUEST, None),
                0,
                far,
                Decision::GiveUp(GiveUp::NotRetryable),
            ),
            (
                RetryPolicy::none(),
                Failure::NotSent,
                0,
                far,
                Decision::GiveUp(GiveUp::RetriesExhausted { retries: 0 }),
            ),
        ];
        for (policy, failure, retries, deadline, decision) in cases {
            assert_eq!(
                policy.decide_at(&failure, retries, deadline, now),
                decision,
                "{failure:?} after {retries}"
            );
        }
    }

    #[test]
    fn reasons_read_as_english() {
        let cases = [
            (GiveUp::NotRetryable, "the failure is not one a retry cures"),
            (
                GiveUp::ServerWaitTooLong {
                    asked: Duration::from_secs(90),
                    cap: Duration::from_secs(60),
                },
                "the server asked to wait 90.000 s, longer than the 60.000 s honoured",
            ),
        ];
        for (reason, text) in cases {
            assert_eq!(reason.to_string(), text);
        }
        assert!(
            GiveUp::MayHaveReachedServer
                .to_string()
                .contains("Idempotency::Idempotent")
        );
    }
}
