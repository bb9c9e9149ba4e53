//! What the handler can tell about its work: counters ([`HandlerStats`]), and what a timed
//! flush or a shutdown finished ([`FlushReport`], [`ShutdownReport`]).

use super::record::EvaluatedRow;
use crate::usage::JudgeUsage;

/// Counters of the handler since it was built; see
/// [`UptrainHandler::stats`](super::UptrainHandler::stats).
///
/// Every answer the handler recognised is accounted for:
/// `submitted = evaluated + refused + deadline_exceeded + failed + given_up + pending`.
#[derive(Debug, Clone, Default, PartialEq)]
#[non_exhaustive]
pub struct HandlerStats {
    /// Evaluations asked for (one per recognised answer, or per `uptrain_evaluate` call).
    pub submitted: u64,
    /// Evaluations the evaluator finished (their checks scored or failed one by one).
    pub evaluated: u64,
    /// Not evaluated because the queue was full (in wait mode: still full at the deadline).
    pub refused: u64,
    /// Of those, how many were only counted: refused while the worker was behind on
    /// recording refusals, so they have no row (not printed, written, published or kept).
    pub refused_unrecorded: u64,
    /// Not finished within the evaluation deadline.
    pub deadline_exceeded: u64,
    /// Failed as a whole for another reason (invalid rows, a panicking evaluator).
    pub failed: u64,
    /// Given up at shutdown or drop, or submitted after it.
    pub given_up: u64,
    /// Enqueued or running now.
    pub pending: usize,
    /// Rows dropped from the kept results (or from the next flush) by the memory budget for
    /// kept rows (or the retention count). They still reached the console, the output file
    /// and the evaluation listeners.
    pub rows_not_kept: u64,
    /// Runs whose state the handler holds now.
    pub tracked_runs: usize,
    /// Runs forgotten because they never ended (time-to-live) or the cap was reached.
    pub runs_expired: u64,
    /// What the judge spent on the evaluations finished so far: requests, tokens and their
    /// cost, priced by the judge's table (or why it is unknown; "no judge" for the UpTrain
    /// API and offline evaluators). Each handler counts its own.
    pub judge_usage: JudgeUsage,
}

/// What [`flush_timeout`](super::UptrainHandler::flush_timeout) got.
#[derive(Debug, Clone, PartialEq)]
#[non_exhaustive]
pub struct FlushReport {
    /// The rows of the evaluations enqueued before the call that finished, in enqueue order
    /// (within the memory budget for kept rows).
    pub rows: Vec<EvaluatedRow>,
    /// Evaluations enqueued before the call still unfinished when the time ran out (their
    /// rows come with a later flush).
    pub unfinished: usize,
    /// Rows finished since the last flush that this one does not return: dropped, oldest
    /// first, by the budget for kept rows (or the retention count), or refused rows that
    /// were only counted. Zero when every row came back.
    pub not_kept: u64,
}

impl FlushReport {
    /// True when every evaluation enqueued before the call finished and every finished row
    /// was kept.
    pub fn is_complete(&self) -> bool {
        self.unfinished == 0 && self.not_kept == 0
    }
}

/// What [`shutdown`](super::UptrainHandler::shutdown) finished and gave up.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
#[non_exhaustive]
pub struct ShutdownReport {
    /// Evaluations enqueued or running when shutdown began.
    pub pending: usize,
    /// Of those, how many finished within the timeout.
    pub finished: usize,
    /// Of those, how many were given up (recorded as rows "not evaluated: the handler shut
    /// down ...").
    pub given_up: usize,
}
