//! The UpTrain callback handler: it watches RAG, multi-query and contextual-compression runs,
//! grades every answer in the background, prints the scores and writes them to a file.
//!
//! Event methods only record state and enqueue work, so they return at once; evaluations run
//! on a dedicated thread with its own tokio runtime, so the handler works in sync and async
//! pipelines alike. [`UptrainHandler::flush`] waits for every pending evaluation.

mod builder;
mod config;
mod flows;
mod record;
mod worker;

use std::collections::BTreeMap;
use std::fmt;
use std::fs::File;
use std::io::{self, BufWriter, Write};
use std::path::PathBuf;
use std::sync::{Arc, Condvar, Mutex, MutexGuard, PoisonError};

use futures_util::FutureExt as _;
use handler_core::{
    CallbackHandler, Category, ChainEnd, ChainError, ChainStart, ChatModelStart, HandlerOptions,
    HandlerResult, LlmEnd, LlmError, LlmStart, RetrieverEnd, RetrieverError, RetrieverStart, Uuid,
};
use tokio::sync::{Notify, oneshot};

pub use builder::UptrainHandlerBuilder;
pub use config::{ConfigValueError, EvaluatorKind, UptrainConfig, env};
pub use flows::Flow;
pub use record::EvaluatedRow;

use crate::check::Check;
use crate::error::{ConfigError, EvaluationError};
use crate::evaluator::{EvaluationRequest, Evaluator};
use crate::row::Row;
use flows::{Job, Tracker};
use worker::Worker;

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
/// On drop, the handler stops taking work and waits for the evaluations already enqueued, so
/// their scores still reach the console and the output file; call [`flush`](Self::flush)
/// first to get them as values.
pub struct UptrainHandler {
    inner: Arc<Inner>,
    worker: Worker,
}

struct Inner {
    config: UptrainConfig,
    evaluator: Arc<dyn Evaluator>,
    tracker: Mutex<Tracker>,
    console: Option<Mutex<Box<dyn Write + Send>>>,
    file: Option<Mutex<BufWriter<File>>>,
    outcomes: Mutex<Outcomes>,
    settled: Condvar,
    notify: Notify,
}

#[derive(Default)]
struct Outcomes {
    pending: usize,
    /// The number of the next enqueued evaluation: rows are kept in enqueue order, whatever
    /// order their evaluations finish in.
    next_seq: u64,
    unflushed: Vec<(u64, EvaluatedRow)>,
    by_project: BTreeMap<String, Vec<(u64, EvaluatedRow)>>,
}

/// Inserts the rows of evaluation `seq` after those of every earlier evaluation.
fn insert_in_order(list: &mut Vec<(u64, EvaluatedRow)>, seq: u64, rows: &[EvaluatedRow]) {
    let at = list.partition_point(|(s, _)| *s <= seq);
    list.splice(at..at, rows.iter().map(|r| (seq, r.clone())));
}

fn without_seq(rows: Vec<(u64, EvaluatedRow)>) -> Vec<EvaluatedRow> {
    rows.into_iter().map(|(_, row)| row).collect()
}

fn lock<T>(mutex: &Mutex<T>) -> MutexGuard<'_, T> {
    mutex.lock().unwrap_or_else(PoisonError::into_inner)
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
        lock(&self.inner.outcomes).pending
    }

    /// Waits for every pending evaluation and returns the rows evaluated since the last flush,
    /// in the order their evaluations were enqueued (the order the answers came in),
    /// failed checks included (with their errors). Blocks the calling thread; in async code
    /// use [`flush_async`](Self::flush_async).
    pub fn flush(&self) -> Vec<EvaluatedRow> {
        let mut outcomes = lock(&self.inner.outcomes);
        while outcomes.pending > 0 {
            outcomes = self
                .inner
                .settled
                .wait(outcomes)
                .unwrap_or_else(PoisonError::into_inner);
        }
        without_seq(std::mem::take(&mut outcomes.unflushed))
    }

    /// [`flush`](Self::flush) without blocking the thread.
    pub async fn flush_async(&self) -> Vec<EvaluatedRow> {
        loop {
            let notified = self.inner.notify.notified();
            tokio::pin!(notified);
            notified.as_mut().enable();
            {
                let mut outcomes = lock(&self.inner.outcomes);
                if outcomes.pending == 0 {
                    return without_seq(std::mem::take(&mut outcomes.unflushed));
                }
            }
            notified.await;
        }
    }

    /// Every row evaluated so far, by project (`langchain_rag`, ...), each project's rows in
    /// enqueue order.
    pub fn results(&self) -> BTreeMap<String, Vec<EvaluatedRow>> {
        lock(&self.inner.outcomes)
            .by_project
            .iter()
            .map(|(project, rows)| (project.clone(), without_seq(rows.clone())))
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
            Some(job.run_id),
            vec![job.row],
            job.flow.checks().to_vec(),
            None,
        );
    }

    fn enqueue(
        &self,
        project: String,
        evaluation: String,
        run_id: Option<Uuid>,
        rows: Vec<Row>,
        checks: Vec<Check>,
        reply: Option<Reply>,
    ) {
        let seq = {
            let mut outcomes = lock(&self.inner.outcomes);
            outcomes.pending += 1;
            outcomes.next_seq += 1;
            outcomes.next_seq - 1
        };
        let request = Arc::new(
            EvaluationRequest::new(rows, checks)
                .project(project)
                .evaluation(evaluation),
        );
        let reply = Arc::new(Mutex::new(reply));
        let (inner, task_request, task_reply) =
            (self.inner.clone(), request.clone(), reply.clone());
        let task = async move {
            let outcome = std::panic::AssertUnwindSafe(inner.evaluator.evaluate(&task_request))
                .catch_unwind()
                .await
                .unwrap_or_else(|_| {
                    Err(EvaluationError::Internal("the evaluator panicked".into()))
                });
            inner.publish(
                &task_request,
                seq,
                run_id,
                outcome,
                lock(&task_reply).take(),
            );
        };
        if self.worker.submit(Box::pin(task)).is_err() {
            // The thread is gone (it can only have died): record the loss instead of hiding it.
            let error = EvaluationError::Internal("the evaluation thread stopped".into());
            self.inner
                .publish(&request, seq, run_id, Err(error), lock(&reply).take());
        }
    }
}

type Reply = oneshot::Sender<Result<Vec<EvaluatedRow>, EvaluationError>>;

/// The rows of an evaluation: its results, or every input row carrying the evaluation's error.
fn rows_of(
    request: &EvaluationRequest,
    run_id: Option<Uuid>,
    outcome: &Result<crate::Evaluation, EvaluationError>,
) -> Vec<EvaluatedRow> {
    let (project, evaluation) = (&request.project, &request.evaluation);
    match outcome {
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
    }
}

impl Inner {
    /// Records an evaluation's rows: console, file, per-project results, flush list. The rows
    /// are always recorded and the evaluation always leaves the pending count, even when
    /// printing or logging panics (as a `tracing` subscriber does when its stderr is closed).
    fn publish(
        &self,
        request: &EvaluationRequest,
        seq: u64,
        run_id: Option<Uuid>,
        outcome: Result<crate::Evaluation, EvaluationError>,
        reply: Option<Reply>,
    ) {
        let rows = rows_of(request, run_id, &outcome);
        let announced = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| {
            self.announce(request, &outcome, &rows)
        }));
        {
            let mut outcomes = lock(&self.outcomes);
            let project_rows = outcomes
                .by_project
                .entry(request.project.clone())
                .or_default();
            insert_in_order(project_rows, seq, &rows);
            insert_in_order(&mut outcomes.unflushed, seq, &rows);
            outcomes.pending = outcomes.pending.saturating_sub(1);
        }
        self.settled.notify_all();
        self.notify.notify_waiters();
        if let Some(reply) = reply {
            let _ = reply.send(outcome.map(|_| rows));
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
        if let Err(error) = outcome {
            tracing::warn!(%project, %evaluation, %error, "UpTrain evaluation failed");
        }
        for row in rows {
            for (check, error) in &row.errors {
                tracing::warn!(%project, run_id = ?row.run_id, %check, %error, "UpTrain check failed");
            }
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

    fn write(&self, row: &EvaluatedRow) {
        let Some(file) = &self.file else { return };
        let mut file = lock(file);
        let written = serde_json::to_writer(&mut *file, row)
            .map_err(io::Error::from)
            .and_then(|()| file.write_all(b"\n"))
            .and_then(|()| file.flush());
        if let Err(error) = written {
            tracing::warn!(%error, "UpTrain: cannot write results to the output file");
        }
    }
}

impl Drop for UptrainHandler {
    fn drop(&mut self) {
        let pending = self.pending();
        if pending > 0 {
            tracing::info!(
                pending,
                "UpTrain handler dropped: finishing pending evaluations"
            );
        }
        self.worker.shutdown();
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
        HandlerOptions::new()
            .ignore(Category::Agent)
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
}
