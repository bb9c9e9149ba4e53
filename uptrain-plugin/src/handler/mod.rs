//! The UpTrain callback handler: it watches RAG, multi-query and contextual-compression runs,
//! grades every answer in the background, prints the scores and writes them to a file.
//!
//! Event methods only record state and enqueue work, so they return at once; evaluations run
//! on a dedicated thread with its own tokio runtime, so the handler works in sync and async
//! pipelines alike. Everything is bounded: the queue (a full queue turns the answer into a
//! "not evaluated: queue full" row), the kept rows, the tracked runs, each evaluation's time,
//! and the waits of `flush_timeout`, `shutdown` and drop.

mod builder;
mod config;
mod flows;
mod record;
mod report;
mod worker;

use std::collections::{BTreeMap, BTreeSet, VecDeque};
use std::fmt;
use std::fs::File;
use std::io::{self, Seek, SeekFrom, Write};
use std::path::PathBuf;
use std::sync::{Arc, Condvar, Mutex, MutexGuard, PoisonError};
use std::time::{Duration, Instant};

use futures_util::FutureExt as _;
use futures_util::future::BoxFuture;
use handler_core::{
    CallbackHandler, Category, ChainEnd, ChainError, ChainStart, ChatModelStart, HandlerOptions,
    HandlerResult, LlmEnd, LlmError, LlmStart, RetrieverEnd, RetrieverError, RetrieverStart,
    ToolEnd, ToolError, ToolStart, Uuid,
};
use tokio::sync::{Notify, oneshot};

pub use builder::UptrainHandlerBuilder;
pub use config::{ConfigValueError, EvaluatorKind, UptrainConfig, env};
pub use flows::Flow;
pub use record::EvaluatedRow;
pub use report::{FlushReport, HandlerStats, ShutdownReport};

use crate::check::Check;
use crate::error::{ConfigError, EvaluationError};
use crate::evaluator::{EvaluationRequest, Evaluator};
use crate::row::Row;
use flows::{Job, Tracker};
use worker::{Refused, Worker};

/// Why the handler could not be built.
#[derive(Debug, thiserror::Error)]
pub enum UptrainError {
    /// A configuration value is invalid.
    #[error(transparent)]
    Config(#[from] ConfigValueError),
    /// The evaluator could not be built (missing or empty key, bad URL, ...).
    #[error("evaluator: {0}")]
    Evaluator(#[from] ConfigError),
    /// The output file could not be opened.
    #[error("output file {path}: {source}")]
    OutputFile {
        /// The file.
        path: PathBuf,
        /// Why.
        source: io::Error,
    },
    /// The background evaluation thread could not start.
    #[error("cannot start the evaluation thread: {0}")]
    Worker(io::Error),
}

/// The UpTrain callback handler: it recognises the RAG, multi-query and contextual-compression
/// flows (see [`Flow`]) and grades every answer in the background, without a key (offline) or
/// with an LLM judge or the UpTrain API.
///
/// ```
/// use std::sync::Arc;
/// use handler_core::payload::{LlmResult, Serialized};
/// use handler_core::{CallbackManager, RunOptions};
/// use uptrain_plugin::{Check, UptrainHandler};
/// use serde_json::json;
///
/// # fn main() -> Result<(), Box<dyn std::error::Error>> {
/// let uptrain = Arc::new(UptrainHandler::builder().log_results(false).build()?); // offline: no key
/// let manager = CallbackManager::new().with_handler(uptrain.clone());
///
/// let inputs = json!({"question": "Where is Paris?", "context": "Paris is in France."});
/// let chain = manager.on_chain_start(None, &inputs, RunOptions::named("rag"))?;
/// let llm = chain.child().on_llm_start(&Serialized::named("llm"), "...", RunOptions::new())?;
/// llm.on_llm_end(&LlmResult::from_text("Paris is in France."))?;
/// chain.on_chain_end(&json!({}))?;
///
/// let rows = uptrain.flush();
/// assert_eq!(rows.len(), 1);
/// assert_eq!(rows[0].project, "langchain_rag");
/// assert!(rows[0].score(Check::ContextRelevance).unwrap() > 0.5);
/// # Ok(())
/// # }
/// ```
///
/// # In a long-running service
///
/// - At most [`queue_capacity`](UptrainHandlerBuilder::queue_capacity) evaluations wait; when
///   the queue is full, the answer becomes a row whose checks say "not evaluated: queue full"
///   (console, file, results), counted in [`stats`](Self::stats) and logged. Emitting an
///   event never blocks on the queue.
/// - Each evaluation has a total [deadline](UptrainHandlerBuilder::evaluation_deadline).
/// - [`flush`](Self::flush) waits only for what was enqueued before the call;
///   [`flush_timeout`](Self::flush_timeout) and [`shutdown`](Self::shutdown) also stop at a
///   time you choose and say what did not finish.
/// - Kept rows are bounded by the [retention](UptrainHandlerBuilder::retention); per-run
///   state is freed when the run ends or fails, else after the
///   [time-to-live](UptrainHandlerBuilder::run_ttl), and is capped.
/// - On drop, the handler stops taking work and waits up to the
///   [drop timeout](UptrainHandlerBuilder::drop_timeout) for unfinished evaluations, then
///   gives them up and says how many in the log. Inside a current-thread tokio runtime it
///   does not wait at all (that would stall the runtime): the evaluations get the same time
///   to finish on the handler's own thread.
pub struct UptrainHandler {
    inner: Arc<Inner>,
    worker: Worker,
}

struct Inner {
    config: UptrainConfig,
    evaluator: Arc<dyn Evaluator>,
    /// The evaluator's scores are offline estimates.
    estimates: bool,
    /// Total time per evaluation.
    deadline: Duration,
    tracker: Mutex<Tracker>,
    console: Option<Mutex<Box<dyn Write + Send>>>,
    file: Option<Mutex<File>>,
    outcomes: Mutex<Outcomes>,
    settled: Condvar,
    notify: Notify,
}

/// Rows kept in enqueue order (the sequence number of their evaluation first).
type Kept = VecDeque<(u64, EvaluatedRow)>;

#[derive(Default)]
struct Outcomes {
    /// The number of the next enqueued evaluation: rows are kept in enqueue order, whatever
    /// order their evaluations finish in.
    next_seq: u64,
    /// Evaluations enqueued and not settled yet.
    unsettled: BTreeSet<u64>,
    unflushed: Kept,
    by_project: BTreeMap<String, Kept>,
    /// Rows in `by_project`.
    kept: usize,
    stats: HandlerStats,
}

impl Outcomes {
    /// Keeps `rows` of evaluation `seq` in order, then drops the oldest beyond `retention`.
    fn keep(&mut self, project: &str, seq: u64, rows: &[EvaluatedRow], retention: usize) {
        insert_in_order(&mut self.unflushed, seq, rows);
        let mut dropped = self.unflushed.len().saturating_sub(retention);
        self.unflushed.drain(..dropped);
        let list = self.by_project.entry(project.to_owned()).or_default();
        insert_in_order(list, seq, rows);
        self.kept += rows.len();
        while self.kept > retention {
            // The oldest row of all projects goes first.
            let oldest = self
                .by_project
                .iter()
                .filter_map(|(name, list)| list.front().map(|(s, _)| (*s, name.clone())))
                .min();
            let Some((_, name)) = oldest else { break };
            if let Some(list) = self.by_project.get_mut(&name) {
                list.pop_front();
                if list.is_empty() {
                    self.by_project.remove(&name);
                }
            }
            self.kept -= 1;
            dropped += 1;
        }
        self.stats.rows_not_kept += dropped as u64;
    }

    /// The oldest evaluation not settled yet, or the next number when all are.
    fn first_unsettled(&self) -> u64 {
        self.unsettled.first().copied().unwrap_or(self.next_seq)
    }

    /// Takes the kept rows of evaluations before `target`, and counts those unfinished.
    fn take_before(&mut self, target: u64) -> FlushReport {
        let end = self.unflushed.partition_point(|(s, _)| *s < target);
        let rows = self.unflushed.drain(..end).map(|(_, row)| row).collect();
        let unfinished = self.unsettled.range(..target).count();
        FlushReport { rows, unfinished }
    }
}

/// Inserts the rows of evaluation `seq` after those of every earlier evaluation.
fn insert_in_order(list: &mut Kept, seq: u64, rows: &[EvaluatedRow]) {
    let start = list.partition_point(|(s, _)| *s <= seq);
    for (at, row) in (start..).zip(rows) {
        list.insert(at, (seq, row.clone()));
    }
}

fn lock<T>(mutex: &Mutex<T>) -> MutexGuard<'_, T> {
    mutex.lock().unwrap_or_else(PoisonError::into_inner)
}

/// Runs a blocking wait: on a multi-thread tokio runtime's worker, inside `block_in_place`
/// (so the runtime moves its other tasks elsewhere); elsewhere as is.
fn blocking<R>(wait: impl FnOnce() -> R) -> R {
    match tokio::runtime::Handle::try_current() {
        Ok(handle) if handle.runtime_flavor() == tokio::runtime::RuntimeFlavor::MultiThread => {
            tokio::task::block_in_place(wait)
        }
        _ => wait(),
    }
}

/// True inside a current-thread tokio runtime, where a blocking wait stalls every task.
fn in_current_thread_runtime() -> bool {
    tokio::runtime::Handle::try_current()
        .is_ok_and(|h| h.runtime_flavor() == tokio::runtime::RuntimeFlavor::CurrentThread)
}

/// One enqueued evaluation, from enqueue to its rows. It settles exactly once: with the
/// evaluator's outcome, or with the reason it never ran (queue full, deadline, shutdown),
/// even when it is dropped unfinished.
struct Ticket {
    inner: Arc<Inner>,
    seq: u64,
    request: Arc<EvaluationRequest>,
    run: Option<Graded>,
    reply: Option<Reply>,
    settled: bool,
}

/// The run an evaluation grades: its id and its tree's root.
#[derive(Debug, Clone, Copy)]
struct Graded {
    run_id: Uuid,
    root_run_id: Option<Uuid>,
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
    }

    /// Runs the evaluation under its deadline, then settles.
    fn run(mut self) -> BoxFuture<'static, ()> {
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
        self.settle(Err(EvaluationError::ShutDown));
    }
}

impl UptrainHandler {
    /// A builder with the defaults: project `langchain`, key type `openai`, no key (so the
    /// offline evaluator), results printed to standard output.
    pub fn builder() -> UptrainHandlerBuilder {
        UptrainHandlerBuilder::default()
    }

    /// A handler configured from the environment (see the README's table).
    pub fn from_env() -> Result<Self, UptrainError> {
        Self::builder().config(UptrainConfig::from_env()?).build()
    }

    /// The handler's configuration.
    pub fn config(&self) -> &UptrainConfig {
        &self.inner.config
    }

    /// The name of the evaluator in use (`"judge"`, `"uptrain_api"`, `"offline"`, ...).
    pub fn evaluator_name(&self) -> &'static str {
        self.inner.evaluator.name()
    }

    /// How many evaluations are enqueued or running.
    pub fn pending(&self) -> usize {
        lock(&self.inner.outcomes).unsettled.len()
    }

    /// The handler's counters: evaluations submitted, evaluated, refused (queue full), past
    /// their deadline, failed, given up, pending; rows not kept; runs tracked and expired.
    ///
    /// ```
    /// let uptrain = uptrain_plugin::UptrainHandler::builder().log_results(false).build()?;
    /// let stats = uptrain.stats();
    /// assert_eq!((stats.submitted, stats.refused, stats.pending), (0, 0, 0));
    /// # Ok::<(), uptrain_plugin::UptrainError>(())
    /// ```
    pub fn stats(&self) -> HandlerStats {
        let (tracked_runs, runs_expired) = {
            let tracker = lock(&self.inner.tracker);
            (tracker.tracked(), tracker.expired())
        };
        let outcomes = lock(&self.inner.outcomes);
        HandlerStats {
            pending: outcomes.unsettled.len(),
            tracked_runs,
            runs_expired,
            ..outcomes.stats
        }
    }

    /// Waits for the evaluations enqueued before the call (not for those enqueued while it
    /// waits) and returns the rows evaluated since the last flush, in the order their
    /// evaluations were enqueued (the order the answers came in), failed checks included
    /// (with their errors); at most the [retention](UptrainHandlerBuilder::retention).
    ///
    /// Blocks the calling thread. The wait always ends, since every evaluation ends by its
    /// deadline, but with a full queue that can take several deadlines; to choose the bound,
    /// use [`flush_timeout`](Self::flush_timeout). On a multi-thread tokio runtime it lets the
    /// runtime move its other tasks away first; in async code prefer
    /// [`flush_async`](Self::flush_async).
    pub fn flush(&self) -> Vec<EvaluatedRow> {
        self.flush_until(None).rows
    }

    /// [`flush`](Self::flush) that waits at most `timeout`, and says how many evaluations
    /// enqueued before the call had not finished.
    pub fn flush_timeout(&self, timeout: Duration) -> FlushReport {
        self.flush_until(Some(Instant::now() + timeout))
    }

    fn flush_until(&self, deadline: Option<Instant>) -> FlushReport {
        blocking(|| {
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
        })
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
                    return outcomes.take_before(target).rows;
                }
            }
            notified.await;
        }
    }

    /// Stops taking work and waits at most `timeout` for the evaluations enqueued or running;
    /// the ones still unfinished then are given up (each recorded as a row "not evaluated:
    /// the handler shut down ..."). Answers that arrive afterwards are recorded the same way.
    /// Blocks the calling thread for at most about `timeout` (see [`flush`](Self::flush)
    /// about async runtimes).
    pub fn shutdown(&self, timeout: Duration) -> ShutdownReport {
        let (pending, given_up_before) = {
            let outcomes = lock(&self.inner.outcomes);
            (outcomes.unsettled.len(), outcomes.stats.given_up)
        };
        self.worker.stop(timeout);
        let exited = blocking(|| self.worker.join(timeout + JOIN_MARGIN));
        let outcomes = lock(&self.inner.outcomes);
        let given_up = usize::try_from(outcomes.stats.given_up - given_up_before)
            .unwrap_or(usize::MAX)
            .min(pending);
        let still_running = outcomes.unsettled.len();
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

    /// The rows kept so far (the newest [retention](UptrainHandlerBuilder::retention) of
    /// all), by project (`langchain_rag`, ...), each project's rows in enqueue order.
    pub fn results(&self) -> BTreeMap<String, Vec<EvaluatedRow>> {
        lock(&self.inner.outcomes)
            .by_project
            .iter()
            .map(|(project, rows)| {
                (
                    project.clone(),
                    rows.iter().map(|(_, row)| row.clone()).collect(),
                )
            })
            .collect()
    }

    /// Evaluates `rows` with `checks` under the project `name`, as LangChain's
    /// `uptrain_evaluate`: the results are printed, written and kept like those of the flows,
    /// and returned. Runs on the handler's evaluation thread, so any executor can await it.
    pub async fn uptrain_evaluate(
        &self,
        name: &str,
        rows: Vec<Row>,
        checks: Vec<Check>,
    ) -> Result<Vec<EvaluatedRow>, EvaluationError> {
        crate::row::validate(&rows, &checks)?;
        let (reply, answer) = oneshot::channel();
        self.enqueue(
            name.to_owned(),
            name.to_owned(),
            None,
            rows,
            checks,
            Some(reply),
        );
        answer.await.unwrap_or_else(|_| {
            Err(EvaluationError::Internal(
                "the evaluation thread stopped before answering".into(),
            ))
        })
    }

    fn submit(&self, job: Job) {
        let project = format!("{}_{}", self.inner.config.project_name, job.flow.suffix());
        let evaluation = job.flow.suffix().to_owned();
        self.enqueue(
            project,
            evaluation,
            Some(Graded {
                run_id: job.run_id,
                root_run_id: job.root_run_id,
            }),
            vec![job.row],
            self.inner.config.flow_checks.get(job.flow).to_vec(),
            None,
        );
    }

    fn enqueue(
        &self,
        project: String,
        evaluation: String,
        run: Option<Graded>,
        rows: Vec<Row>,
        checks: Vec<Check>,
        reply: Option<Reply>,
    ) {
        let seq = {
            let mut outcomes = lock(&self.inner.outcomes);
            let seq = outcomes.next_seq;
            outcomes.next_seq += 1;
            outcomes.unsettled.insert(seq);
            outcomes.stats.submitted += 1;
            seq
        };
        let request = Arc::new(
            EvaluationRequest::new(rows, checks)
                .project(project)
                .evaluation(evaluation),
        );
        let ticket = Ticket {
            inner: self.inner.clone(),
            seq,
            request,
            run,
            reply,
            settled: false,
        };
        match self.worker.submit(ticket) {
            Ok(()) => {}
            Err(Refused::Full(mut ticket)) => ticket.settle(Err(EvaluationError::QueueFull {
                capacity: self.inner.config.queue_capacity,
            })),
            // Dropping it records it as given up.
            Err(Refused::Stopped(ticket)) => drop(ticket),
        }
    }
}

/// Extra time `shutdown` gives the worker thread to exit after its grace period.
const JOIN_MARGIN: Duration = Duration::from_secs(1);

type Reply = oneshot::Sender<Result<Vec<EvaluatedRow>, EvaluationError>>;

/// The rows of an evaluation: its results, or every input row carrying the evaluation's error.
fn rows_of(
    request: &EvaluationRequest,
    run: Option<Graded>,
    outcome: &Result<crate::Evaluation, EvaluationError>,
    evaluator: &str,
    estimate: bool,
) -> Vec<EvaluatedRow> {
    let (project, evaluation) = (&request.project, &request.evaluation);
    let run_id = run.map(|r| r.run_id);
    let rows: Vec<EvaluatedRow> = match outcome {
        Ok(done) => done
            .rows
            .iter()
            .cloned()
            .map(|r| EvaluatedRow::from_result(project, evaluation, run_id, r))
            .collect(),
        Err(error) => request
            .rows
            .iter()
            .map(|row| {
                EvaluatedRow::failed(
                    project,
                    evaluation,
                    run_id,
                    row.clone(),
                    &request.checks,
                    error,
                )
            })
            .collect(),
    };
    // Rows that were never graded carry no estimate.
    let estimate = estimate && outcome.is_ok();
    rows.into_iter()
        .map(|row| {
            row.graded_by(evaluator, estimate)
                .in_tree(run.and_then(|r| r.root_run_id))
        })
        .collect()
}

impl Inner {
    /// Records an evaluation's rows: console, file, per-project results, flush list,
    /// counters. The rows are always recorded and the evaluation always leaves the pending
    /// set, even when printing or logging panics (as a `tracing` subscriber does when its
    /// stderr is closed).
    fn publish(
        &self,
        request: &EvaluationRequest,
        seq: u64,
        run: Option<Graded>,
        outcome: Result<crate::Evaluation, EvaluationError>,
        reply: Option<Reply>,
    ) {
        let rows = rows_of(
            request,
            run,
            &outcome,
            self.evaluator.name(),
            self.estimates,
        );
        let announced = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| {
            self.announce(request, &outcome, &rows)
        }));
        // One result per check per row, through the core, to whoever listens (listeners
        // return at once; the core catches a panicking one). Before the rows are settled, so
        // a flush that returns them returns after the listeners have them too.
        if handler_core::evaluation::has_listeners() {
            for row in &rows {
                for result in row.evaluation_results() {
                    handler_core::evaluation::publish(&result);
                }
            }
        }
        let refused_so_far = {
            let mut outcomes = lock(&self.outcomes);
            outcomes.keep(&request.project, seq, &rows, self.config.retention);
            outcomes.unsettled.remove(&seq);
            let stats = &mut outcomes.stats;
            match &outcome {
                Ok(_) => stats.evaluated += 1,
                Err(EvaluationError::QueueFull { .. }) => stats.refused += 1,
                Err(EvaluationError::DeadlineExceeded { .. }) => stats.deadline_exceeded += 1,
                Err(EvaluationError::ShutDown) => stats.given_up += 1,
                Err(_) => stats.failed += 1,
            }
            matches!(outcome, Err(EvaluationError::QueueFull { .. })).then_some(stats.refused)
        };
        self.settled.notify_all();
        self.notify.notify_waiters();
        if let Some(reply) = reply {
            let _ = reply.send(outcome.map(|_| rows));
        }
        if let Some(refused) = refused_so_far
            && refused.is_power_of_two()
        {
            // 1, 2, 4, 8, ...: a full queue is said, without a line per answer.
            let capacity = self.config.queue_capacity;
            let _ = std::panic::catch_unwind(|| {
                tracing::warn!(
                    refused,
                    capacity,
                    "UpTrain: evaluation queue full; answers recorded as not evaluated \
                     (raise the queue capacity or the evaluator's limits)"
                );
            });
        }
        if announced.is_err() {
            // Logging itself may be what failed: say it the one way that does not panic.
            let _ = writeln!(
                io::stderr(),
                "UpTrain: printing or logging results panicked; the results are kept"
            );
        }
    }

    /// Logs failures, prints the result blocks and writes the output file.
    fn announce(
        &self,
        request: &EvaluationRequest,
        outcome: &Result<crate::Evaluation, EvaluationError>,
        rows: &[EvaluatedRow],
    ) {
        let (project, evaluation) = (&request.project, &request.evaluation);
        match outcome {
            // Counted and summarised elsewhere: no line per row.
            Err(EvaluationError::QueueFull { .. } | EvaluationError::ShutDown) => {}
            Err(error) => {
                tracing::warn!(%project, %evaluation, %error, "UpTrain evaluation failed");
            }
            Ok(_) => {
                for row in rows {
                    for (check, error) in &row.errors {
                        tracing::warn!(%project, run_id = ?row.run_id, %check, %error, "UpTrain check failed");
                    }
                }
            }
        }
        for row in rows {
            self.print(row);
            self.write(row);
        }
    }

    fn print(&self, row: &EvaluatedRow) {
        let Some(console) = &self.console else { return };
        let mut out = lock(console);
        let written = writeln!(out, "\n{}", row.display_block()).and_then(|()| out.flush());
        if let Err(error) = written {
            tracing::warn!(%error, "UpTrain: cannot print results");
        }
    }

    /// Appends the row as one JSON line, whole or not at all: the line is built first and
    /// written with one call; if that fails part way (a full disk), the file is cut back to
    /// where it was, so the next line starts clean.
    fn write(&self, row: &EvaluatedRow) {
        let Some(file) = &self.file else { return };
        let mut line = match serde_json::to_vec(row) {
            Ok(line) => line,
            Err(error) => {
                tracing::warn!(%error, "UpTrain: cannot encode a result row");
                return;
            }
        };
        line.push(b'\n');
        let mut file = lock(file);
        if let Err(error) = append_whole(&mut file, &line) {
            tracing::warn!(%error, "UpTrain: cannot write results to the output file");
        }
    }
}

/// Appends `line` to `file` (opened in append mode), or leaves the file as it was.
fn append_whole(file: &mut File, line: &[u8]) -> io::Result<()> {
    let before = file.seek(SeekFrom::End(0))?;
    match file.write_all(line) {
        Ok(()) => Ok(()),
        Err(error) => {
            if let Err(undo) = file.set_len(before) {
                tracing::warn!(%undo, "UpTrain: cannot cut a partly written line from the output file");
            }
            Err(error)
        }
    }
}

impl Drop for UptrainHandler {
    fn drop(&mut self) {
        let pending = self.pending();
        let wait = self.inner.config.drop_timeout;
        self.worker.stop(wait);
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
        blocking(|| self.worker.join(wait + JOIN_MARGIN));
    }
}

impl fmt::Debug for UptrainHandler {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("UptrainHandler")
            .field("config", &self.inner.config)
            .field("evaluator", &self.inner.evaluator.name())
            .field("pending", &self.pending())
            .finish()
    }
}

impl CallbackHandler for UptrainHandler {
    fn name(&self) -> &str {
        "uptrain"
    }

    fn options(&self) -> HandlerOptions {
        // Agent events stay on for the tool runs: a chain under a tool is found through them.
        // Tokens are not graded: the answer is read from the model run's end.
        HandlerOptions::new()
            .ignore(Category::LlmNewToken)
            .ignore(Category::Retry)
            .ignore(Category::CustomEvent)
    }

    fn on_chain_start(&self, event: &ChainStart<'_>) -> HandlerResult {
        lock(&self.inner.tracker).chain_started(event.run, event.inputs);
        Ok(())
    }

    fn on_chain_end(&self, event: &ChainEnd<'_>) -> HandlerResult {
        lock(&self.inner.tracker).run_ended(event.run.run_id);
        Ok(())
    }

    fn on_chain_error(&self, event: &ChainError<'_>) -> HandlerResult {
        lock(&self.inner.tracker).run_ended(event.run.run_id);
        Ok(())
    }

    fn on_llm_start(&self, event: &LlmStart<'_>) -> HandlerResult {
        lock(&self.inner.tracker).run_started(event.run);
        Ok(())
    }

    fn on_chat_model_start(&self, event: &ChatModelStart<'_>) -> HandlerResult {
        lock(&self.inner.tracker).run_started(event.run);
        Ok(())
    }

    fn on_llm_end(&self, event: &LlmEnd<'_>) -> HandlerResult {
        let job = lock(&self.inner.tracker).llm_ended(event.run, event.response.first_text());
        if let Some(job) = job {
            self.submit(job);
        }
        Ok(())
    }

    fn on_llm_error(&self, event: &LlmError<'_>) -> HandlerResult {
        lock(&self.inner.tracker).run_ended(event.run.run_id);
        Ok(())
    }

    fn on_retriever_start(&self, event: &RetrieverStart<'_>) -> HandlerResult {
        lock(&self.inner.tracker).retriever_started(event.run, event.serialized, event.query);
        Ok(())
    }

    fn on_retriever_end(&self, event: &RetrieverEnd<'_>) -> HandlerResult {
        let job = lock(&self.inner.tracker).retriever_ended(event.run, event.documents);
        if let Some(job) = job {
            self.submit(job);
        }
        Ok(())
    }

    fn on_retriever_error(&self, event: &RetrieverError<'_>) -> HandlerResult {
        lock(&self.inner.tracker).run_ended(event.run.run_id);
        Ok(())
    }

    fn on_tool_start(&self, event: &ToolStart<'_>) -> HandlerResult {
        lock(&self.inner.tracker).run_started(event.run);
        Ok(())
    }

    fn on_tool_end(&self, event: &ToolEnd<'_>) -> HandlerResult {
        lock(&self.inner.tracker).run_ended(event.run.run_id);
        Ok(())
    }

    fn on_tool_error(&self, event: &ToolError<'_>) -> HandlerResult {
        lock(&self.inner.tracker).run_ended(event.run.run_id);
        Ok(())
    }
}
