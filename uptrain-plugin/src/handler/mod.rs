//! The UpTrain callback handler: it watches RAG, multi-query and contextual-compression runs,
//! grades every answer in the background, logs the scores and writes them to a file.
//!
//! Event methods only record state and enqueue work; evaluations run on a dedicated thread
//! with its own tokio runtime, so the handler works in sync and async pipelines alike.
//! Everything is bounded: the queue by the bytes its evaluations hold (when it is full the
//! user's [`WhenFull`] choice refuses the answer, recorded as a "not evaluated: queue full"
//! row by the worker, or waits for room up to a deadline), the kept rows by their bytes, the
//! tracked runs, each evaluation's time, and the waits of `flush_timeout`, `shutdown` and
//! drop.

mod builder;
mod config;
mod ending;
mod events;
mod flows;
mod from_env;
mod outcomes;
mod publish;
mod record;
mod report;
mod room;
mod size;
mod ticket;
mod worker;

use std::collections::BTreeMap;
use std::fmt;
use std::fs::File;
use std::io::{self, Write};
use std::path::PathBuf;
use std::sync::{Arc, Condvar, Mutex, MutexGuard, PoisonError};
use std::time::Duration;

use tokio::sync::{Notify, oneshot};

pub use builder::UptrainHandlerBuilder;
pub use config::{EvaluatorKind, InvalidSetting, ResultsLog, UptrainConfig, WhenFull};
pub use flows::Flow;
pub use record::EvaluatedRow;
pub use report::{FlushReport, HandlerStats, ShutdownReport};

use crate::check::Check;
use crate::error::{BuildError, EvaluationError};
use crate::evaluator::{EvaluationRequest, Evaluator};
use crate::row::Row;
use flows::{Job, Tracker};
use outcomes::Outcomes;
use room::Room;
use ticket::{Admission, Graded, Reply, Ticket};
use worker::{Refused, Worker};

/// Why the handler could not be built.
#[derive(Debug, thiserror::Error)]
pub enum UptrainError {
    /// A configuration value is invalid.
    #[error(transparent)]
    Config(#[from] InvalidSetting),
    /// The evaluator could not be built (missing or empty key, bad URL, ...).
    #[error("evaluator: {0}")]
    Evaluator(#[from] BuildError),
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
/// # In a long-running service, and for batch work
///
/// - The evaluations waiting or running hold at most
///   [`pending_bytes`](UptrainHandlerBuilder::pending_bytes) (64 MiB by default, estimated
///   from their rows' strings). When an answer does not fit,
///   [`when_full`](UptrainHandlerBuilder::when_full) decides: [`WhenFull::Refuse`] (the
///   default, for a request path) makes it a row whose checks say "not evaluated: queue full",
///   counted in [`stats`](Self::stats) and recorded by the evaluation thread, so the thread
///   that emitted the event only counts it; [`WhenFull::Wait`] (for batch work) waits for
///   room up to the deadline given (`Duration::MAX`: until there is room), and
///   [`uptrain_evaluate`](Self::uptrain_evaluate) awaits that room without blocking its
///   thread.
/// - Each evaluation has a total [deadline](UptrainHandlerBuilder::evaluation_deadline).
/// - [`flush`](Self::flush) waits only for what was enqueued before the call and returns
///   every row finished since the last flush, within
///   [`kept_bytes`](UptrainHandlerBuilder::kept_bytes) (64 MiB by default); rows beyond it
///   are counted and said in the log ([`flush_timeout`](Self::flush_timeout) reports them).
///   `flush_timeout` and [`shutdown`](Self::shutdown) also stop at a time you choose and say
///   what did not finish.
/// - Per-run state is freed when the run ends or fails, else after the
///   [time-to-live](UptrainHandlerBuilder::run_ttl), and is capped.
/// - On drop, the handler stops taking work and waits up to the
///   [drop timeout](UptrainHandlerBuilder::drop_timeout) for unfinished evaluations, then
///   gives them up and says how many in the log. Inside a current-thread tokio runtime it
///   does not wait at all (that would stall the runtime): the evaluations get the same time
///   to finish on the handler's own thread.
/// - Every timeout may be `Duration::MAX`: no deadline, never a panic.
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
    room: Room,
    outcomes: Mutex<Outcomes>,
    settled: Condvar,
    notify: Notify,
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
        lock(&self.inner.outcomes).pending()
    }

    /// The handler's counters: evaluations submitted, evaluated, refused (queue full), past
    /// their deadline, failed, given up, pending; rows not kept; runs tracked and expired;
    /// and what the judge spent (requests, tokens, cost).
    ///
    /// ```
    /// let uptrain = uptrain_plugin::UptrainHandler::builder().log_results(false).build()?;
    /// let stats = uptrain.stats();
    /// assert_eq!((stats.submitted, stats.refused, stats.pending), (0, 0, 0));
    /// assert_eq!(stats.judge_usage.requests, 0);
    /// # Ok::<(), uptrain_plugin::UptrainError>(())
    /// ```
    pub fn stats(&self) -> HandlerStats {
        let (tracked_runs, runs_expired) = {
            let tracker = lock(&self.inner.tracker);
            (tracker.tracked(), tracker.expired())
        };
        let outcomes = lock(&self.inner.outcomes);
        HandlerStats {
            pending: outcomes.pending(),
            tracked_runs,
            runs_expired,
            ..outcomes.stats.clone()
        }
    }

    /// The rows kept so far (the newest, within the [memory budget for kept
    /// rows](UptrainHandlerBuilder::kept_bytes)), by project (`langchain_rag`, ...), each
    /// project's rows in enqueue order.
    pub fn results(&self) -> BTreeMap<String, Vec<EvaluatedRow>> {
        lock(&self.inner.outcomes).results()
    }

    /// Evaluates `rows` with `checks` under the project `name`, as LangChain's
    /// `uptrain_evaluate`: the results are logged, written and kept like those of the flows,
    /// and returned. Runs on the handler's evaluation thread, so any executor can await it.
    /// When the queue is full it refuses or, in [`WhenFull::Wait`] mode, awaits room up to
    /// the deadline without blocking the thread (the timer runs on the handler's thread).
    pub async fn uptrain_evaluate(
        &self,
        name: &str,
        rows: Vec<Row>,
        checks: Vec<Check>,
    ) -> Result<Vec<EvaluatedRow>, EvaluationError> {
        crate::row::validate(&rows, &checks)?;
        let request = EvaluationRequest::new(rows, checks)
            .project(name)
            .evaluation(name);
        let bytes = size::request_bytes(&request);
        let admission = if self.worker.is_stopped() {
            Admission::Stopped
        } else {
            let admitted = match self.inner.config.when_full {
                WhenFull::Refuse => self.inner.room.try_take(bytes),
                WhenFull::Wait(wait) => {
                    self.inner
                        .room
                        .take_async(bytes, wait, self.worker.timers())
                        .await
                }
            };
            if admitted {
                Admission::Room(bytes)
            } else {
                Admission::Refused
            }
        };
        let (reply, answer) = oneshot::channel();
        self.enqueue(request, None, Some(reply), admission);
        answer.await.unwrap_or_else(|_| {
            Err(EvaluationError::Internal(
                "the evaluation thread stopped before answering".into(),
            ))
        })
    }

    /// Submits a flow's row, from the thread that emitted the event: when the queue is full
    /// it refuses at once or waits there, as the user chose.
    fn submit(&self, job: Job) {
        let project = format!("{}_{}", self.inner.config.project_name, job.flow.suffix());
        let request = EvaluationRequest::new(
            vec![job.row],
            self.inner.config.flow_checks.get(job.flow).to_vec(),
        )
        .project(project)
        .evaluation(job.flow.suffix());
        let bytes = size::request_bytes(&request);
        let admission = if self.worker.is_stopped() {
            Admission::Stopped
        } else {
            let room = &self.inner.room;
            let admitted = room.try_take(bytes)
                || match self.inner.config.when_full {
                    WhenFull::Refuse => false,
                    // It may be the thread that would free the room: never wait there.
                    WhenFull::Wait(_) if worker::on_evaluation_thread() => false,
                    WhenFull::Wait(wait) => blocking(|| room.take_within(bytes, wait)),
                };
            if admitted {
                Admission::Room(bytes)
            } else {
                Admission::Refused
            }
        };
        let run = Graded {
            run_id: job.run_id,
            root_run_id: job.root_run_id,
        };
        self.enqueue(request, Some(run), None, admission);
    }

    /// Numbers an evaluation and hands it to the worker: to run, or (refused) to record its
    /// row. The calling thread does no printing, writing or publishing, except for answers
    /// that arrive after a shutdown.
    fn enqueue(
        &self,
        request: EvaluationRequest,
        run: Option<Graded>,
        reply: Option<Reply>,
        admission: Admission,
    ) {
        let refused = matches!(admission, Admission::Refused).then(|| self.inner.room.count());
        let seq = {
            let mut outcomes = lock(&self.inner.outcomes);
            let seq = outcomes.begin();
            if refused.is_some() {
                outcomes.stats.refused += 1;
                outcomes.refusals_in_flight += 1;
            }
            seq
        };
        let ticket = Ticket {
            inner: self.inner.clone(),
            seq,
            request: Arc::new(request),
            run,
            reply,
            settled: false,
            room: match admission {
                Admission::Room(bytes) => Some(bytes),
                Admission::Refused | Admission::Stopped => None,
            },
            refused,
        };
        let handed = match admission {
            Admission::Room(_) => self.worker.submit(ticket),
            Admission::Refused => self.worker.refuse(ticket),
            // Dropping it records it as given up.
            Admission::Stopped => Err(Refused::Stopped(ticket)),
        };
        match handed {
            Ok(()) => {}
            // The worker is behind on recording refusals: this one is a count only.
            Err(Refused::Full(ticket)) => ticket.count_only(),
            // Dropping it records it (as given up, or as refused).
            Err(Refused::Stopped(ticket)) => drop(ticket),
        }
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
