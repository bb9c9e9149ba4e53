//! One evaluation on its way through the handler, from enqueue to its rows: how it got into
//! the queue (or why not), and how it settles exactly once, whatever happens to it.

use std::sync::Arc;

use futures_util::FutureExt as _;
use futures_util::future::BoxFuture;
use handler_core::Uuid;
use tokio::sync::oneshot;

use super::record::EvaluatedRow;
use super::{Inner, lock};
use crate::error::EvaluationError;
use crate::evaluator::EvaluationRequest;

/// Where an `uptrain_evaluate` caller gets its rows.
pub(super) type Reply = oneshot::Sender<Result<Vec<EvaluatedRow>, EvaluationError>>;

/// How an evaluation got into the queue, or why it did not.
#[derive(Debug, Clone, Copy)]
pub(super) enum Admission {
    /// It holds this many bytes of room until it settles.
    Room(usize),
    /// The queue was full (and stayed full for the wait chosen).
    Refused,
    /// The handler is shutting down.
    Stopped,
}

/// One enqueued evaluation, from enqueue to its rows. It settles exactly once: with the
/// evaluator's outcome, or with the reason it never ran (queue full, deadline, shutdown),
/// even when it is dropped unfinished.
pub(super) struct Ticket {
    pub(super) inner: Arc<Inner>,
    pub(super) seq: u64,
    pub(super) request: Arc<EvaluationRequest>,
    pub(super) run: Option<Graded>,
    pub(super) reply: Option<Reply>,
    pub(super) settled: bool,
    /// The room it holds, given back when it settles.
    pub(super) room: Option<usize>,
    /// Refused: the evaluations in the queue then.
    pub(super) refused: Option<usize>,
}

/// The run an evaluation grades: its id and its tree's root.
#[derive(Debug, Clone, Copy)]
pub(super) struct Graded {
    pub(super) run_id: Uuid,
    pub(super) root_run_id: Option<Uuid>,
}

impl Ticket {
    fn settle(&mut self, outcome: Result<crate::Evaluation, EvaluationError>) {
        if std::mem::replace(&mut self.settled, true) {
            return;
        }
        self.inner.publish(
            &self.request,
            self.seq,
            self.run,
            outcome,
            self.reply.take(),
        );
        if let Some(bytes) = self.room.take() {
            self.inner.room.give_back(bytes);
        }
    }

    /// The outcome of a refused evaluation.
    fn refusal(waiting: usize) -> Result<crate::Evaluation, EvaluationError> {
        Err(EvaluationError::QueueFull { capacity: waiting })
    }

    /// Records a refused evaluation's row (on the worker).
    pub(super) fn record_refusal(mut self) {
        let waiting = self.refused.unwrap_or_default();
        self.settle(Self::refusal(waiting));
    }

    /// Settles a refused evaluation that could not be handed to the worker, as a count only:
    /// no row is printed, written, published or kept; an `uptrain_evaluate` caller still
    /// gets its error.
    pub(super) fn count_only(mut self) {
        self.settled = true;
        {
            let mut outcomes = lock(&self.inner.outcomes);
            outcomes.refusals_in_flight = outcomes.refusals_in_flight.saturating_sub(1);
            outcomes.refused_unrecorded(self.seq);
        }
        self.inner.settled.notify_all();
        self.inner.notify.notify_waiters();
        if let Some(reply) = self.reply.take() {
            let waiting = self.refused.unwrap_or_default();
            let _ = reply.send(Self::refusal(waiting).map(|_| Vec::new()));
        }
    }

    /// Runs the evaluation under its deadline, then settles.
    pub(super) fn run(mut self) -> BoxFuture<'static, ()> {
        Box::pin(async move {
            let (inner, request) = (self.inner.clone(), self.request.clone());
            let deadline = inner.deadline;
            let evaluation =
                std::panic::AssertUnwindSafe(inner.evaluator.evaluate(&request)).catch_unwind();
            let outcome = match tokio::time::timeout(deadline, evaluation).await {
                Ok(Ok(outcome)) => outcome,
                Ok(Err(_)) => Err(EvaluationError::Internal("the evaluator panicked".into())),
                Err(_) => Err(EvaluationError::DeadlineExceeded { deadline }),
            };
            self.settle(outcome);
        })
    }
}

impl Drop for Ticket {
    fn drop(&mut self) {
        let outcome = match self.refused {
            Some(waiting) => Self::refusal(waiting),
            None => Err(EvaluationError::ShutDown),
        };
        self.settle(outcome);
    }
}
