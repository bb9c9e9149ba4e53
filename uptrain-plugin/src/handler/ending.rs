//! How a handler's work ends, within a time the user chose: flushing finished rows, shutting
//! down, and dropping.

use std::sync::PoisonError;
use std::time::{Duration, Instant};

use super::record::EvaluatedRow;
use super::report::{FlushReport, ShutdownReport};
use super::{UptrainHandler, blocking, in_current_thread_runtime, lock};

impl UptrainHandler {
    /// Waits for the evaluations enqueued before the call (not for those enqueued while it
    /// waits) and returns the rows finished since the last flush, in the order their
    /// evaluations were enqueued (the order the answers came in), failed checks included
    /// (with their errors), within the [memory budget for kept
    /// rows](super::UptrainHandlerBuilder::kept_bytes); rows beyond it are said in the log (and
    /// counted by [`flush_timeout`](Self::flush_timeout)).
    ///
    /// Blocks the calling thread. The wait always ends, since every evaluation ends by its
    /// deadline, but with a long queue that can take a while; to choose the bound, use
    /// [`flush_timeout`](Self::flush_timeout). On a multi-thread tokio runtime it lets the
    /// runtime move its other tasks away first; in async code prefer
    /// [`flush_async`](Self::flush_async).
    pub fn flush(&self) -> Vec<EvaluatedRow> {
        self.flush_until(None).rows
    }

    /// [`flush`](Self::flush) that waits at most `timeout` (`Duration::MAX`: as `flush`), and
    /// says how many evaluations enqueued before the call had not finished and how many
    /// finished rows were not kept.
    pub fn flush_timeout(&self, timeout: Duration) -> FlushReport {
        self.flush_until(llm_callbacks_transport::Deadline::after(timeout).at())
    }

    fn flush_until(&self, deadline: Option<Instant>) -> FlushReport {
        let report = blocking(|| {
            let mut outcomes = lock(&self.inner.outcomes);
            let target = outcomes.next_seq;
            while outcomes.first_unsettled() < target {
                outcomes = match deadline {
                    None => self
                        .inner
                        .settled
                        .wait(outcomes)
                        .unwrap_or_else(PoisonError::into_inner),
                    Some(deadline) => {
                        let left = deadline.saturating_duration_since(Instant::now());
                        if left.is_zero() {
                            break;
                        }
                        self.inner
                            .settled
                            .wait_timeout(outcomes, left)
                            .unwrap_or_else(PoisonError::into_inner)
                            .0
                    }
                };
            }
            outcomes.take_before(target)
        });
        warn_not_kept(&report);
        report
    }

    /// [`flush`](Self::flush) without blocking the thread.
    pub async fn flush_async(&self) -> Vec<EvaluatedRow> {
        let target = lock(&self.inner.outcomes).next_seq;
        loop {
            let notified = self.inner.notify.notified();
            tokio::pin!(notified);
            notified.as_mut().enable();
            {
                let mut outcomes = lock(&self.inner.outcomes);
                if outcomes.first_unsettled() >= target {
                    let report = outcomes.take_before(target);
                    drop(outcomes);
                    warn_not_kept(&report);
                    return report.rows;
                }
            }
            notified.await;
        }
    }

    /// Stops taking work and waits at most `timeout` (`Duration::MAX`: until they finish)
    /// for the evaluations enqueued or running; the ones still unfinished then are given up
    /// (each recorded as a row "not evaluated: the handler shut down ..."). Answers that
    /// arrive afterwards are recorded the same way. Blocks the calling thread for at most
    /// about `timeout` (see [`flush`](Self::flush) about async runtimes).
    pub fn shutdown(&self, timeout: Duration) -> ShutdownReport {
        let (pending, given_up_before) = {
            let outcomes = lock(&self.inner.outcomes);
            (outcomes.pending(), outcomes.stats.given_up)
        };
        self.worker.stop(timeout);
        let exited = blocking(|| self.worker.join(timeout.saturating_add(JOIN_MARGIN)));
        let outcomes = lock(&self.inner.outcomes);
        let given_up = usize::try_from(outcomes.stats.given_up - given_up_before)
            .unwrap_or(usize::MAX)
            .min(pending);
        let still_running = outcomes.pending();
        if !exited {
            tracing::warn!(
                still_running,
                "UpTrain: the evaluation thread did not stop in time; leaving it to finish"
            );
        }
        ShutdownReport {
            pending,
            finished: pending.saturating_sub(given_up + still_running),
            given_up,
        }
    }
}

/// Says in the log that a flush did not return every finished row.
fn warn_not_kept(report: &FlushReport) {
    if report.not_kept > 0 {
        tracing::warn!(
            not_kept = report.not_kept,
            returned = report.rows.len(),
            "UpTrain: {} rows finished since the last flush are not returned (over the memory \
             budget for kept rows, or refused while the queue was full and only counted); \
             flush more often or raise the kept bytes",
            report.not_kept
        );
    }
}

/// Extra time `shutdown` gives the worker thread to exit after its grace period.
const JOIN_MARGIN: Duration = Duration::from_secs(1);

impl Drop for UptrainHandler {
    fn drop(&mut self) {
        let pending = self.pending();
        let wait = self.inner.config.drop_timeout;
        // The worker gives up a little before the drop stops waiting, so the rows of what it
        // gives up are recorded within the drop timeout: drop never blocks longer than that.
        self.worker.stop(wait.saturating_sub(settle_time(wait)));
        if in_current_thread_runtime() {
            if pending > 0 {
                tracing::warn!(
                    pending,
                    wait_ms = wait.as_millis() as u64,
                    "UpTrain handler dropped inside a current-thread tokio runtime: not \
                     waiting (it would stall the runtime); the evaluations get the drop timeout \
                     to finish on their own thread"
                );
            }
            return;
        }
        if pending > 0 {
            tracing::info!(
                pending,
                wait_ms = wait.as_millis() as u64,
                "UpTrain handler dropped: finishing pending evaluations"
            );
        }
        if !blocking(|| self.worker.join(wait)) {
            tracing::warn!(
                "UpTrain: the evaluation thread did not stop within the drop timeout; leaving \
                 it to finish"
            );
        }
    }
}

/// The end of a drop timeout kept for recording what the worker gives up: a tenth, at most
/// 200 ms.
fn settle_time(wait: Duration) -> Duration {
    (wait / 10).min(Duration::from_millis(200))
}
