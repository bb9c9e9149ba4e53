//! The handler's configuration: from code (a builder) or from the environment.

use std::fmt;
use std::path::PathBuf;
use std::str::FromStr;
use std::time::Duration;

use llm_callbacks_transport::redacted_url;

use crate::config::{Limits, RetryPolicy, Timeouts};
use crate::evaluator::KeyType;
use crate::{defaults, env};

/// Which evaluator grades the answers.
///
/// Nothing leaves the process unless asked for: [`Auto`](Self::Auto) uses a remote evaluator
/// only for a key given in code (or the UpTrain API key, `UPTRAIN_API_KEY`); an
/// `OPENAI_API_KEY` that merely sits in the environment is not used unless
/// `UPTRAIN_EVALUATOR=judge` says so.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub enum EvaluatorKind {
    /// By key type when an API key was given in code or `UPTRAIN_API_KEY` is set; else
    /// offline (said once in the log, with how to turn a judge on).
    #[default]
    Auto,
    /// The LLM judge on an OpenAI-compatible server.
    Judge,
    /// The managed UpTrain API.
    UptrainApi,
    /// The offline lexical evaluator: no network, no key.
    Offline,
}

impl EvaluatorKind {
    const NAMES: &'static str = "auto, judge, uptrain_api, offline";
}

impl FromStr for EvaluatorKind {
    type Err = InvalidSetting;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        match s.trim().to_ascii_lowercase().as_str() {
            "auto" => Ok(EvaluatorKind::Auto),
            "judge" | "openai" => Ok(EvaluatorKind::Judge),
            "uptrain_api" | "uptrain" | "api" => Ok(EvaluatorKind::UptrainApi),
            "offline" => Ok(EvaluatorKind::Offline),
            _ => Err(InvalidSetting::new("evaluator", s, Self::NAMES)),
        }
    }
}

/// What happens to an answer when the evaluation queue is full (its memory budget, or its
/// count when one was set, is reached).
///
/// ```
/// use std::time::Duration;
/// use uptrain_plugin::WhenFull;
/// assert_eq!("refuse".parse::<WhenFull>()?, WhenFull::Refuse);
/// assert_eq!("wait".parse::<WhenFull>()?, WhenFull::Wait(Duration::MAX));
/// assert_eq!(WhenFull::default(), WhenFull::Refuse);
/// # Ok::<(), uptrain_plugin::InvalidSetting>(())
/// ```
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub enum WhenFull {
    /// The answer is not evaluated: it becomes a row whose checks say "not evaluated: queue
    /// full", counted in [`HandlerStats::refused`](super::HandlerStats::refused). Emitting an
    /// event never waits. Right for a request path.
    #[default]
    Refuse,
    /// The thread that emitted the event (or the task awaiting
    /// [`uptrain_evaluate`](super::UptrainHandler::uptrain_evaluate), without blocking its
    /// thread) waits for room up to this long, then refuses as [`Refuse`](Self::Refuse) does;
    /// `Duration::MAX` waits until there is room (each evaluation ends by its deadline, so
    /// room always comes). Right for batch work. Inside a current-thread tokio runtime the
    /// wait holds up that runtime too (prefer `uptrain_evaluate` there); on the handler's own
    /// evaluation thread (an evaluator or listener that emits events) it never waits.
    Wait(Duration),
}

impl FromStr for WhenFull {
    type Err = InvalidSetting;

    /// `refuse`, or `wait` (until there is room; the environment's
    /// `UPTRAIN_WAIT_FOR_ROOM_SECS` sets a deadline).
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        match s.trim().to_ascii_lowercase().as_str() {
            "refuse" => Ok(WhenFull::Refuse),
            "wait" => Ok(WhenFull::Wait(Duration::MAX)),
            _ => Err(InvalidSetting::new(env::WHEN_FULL, s, "refuse or wait")),
        }
    }
}

/// Where evaluated rows are logged when [`log_results`](UptrainConfig::log_results) is on.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub enum ResultsLog {
    /// A readable block per row (question, response, scores, grading cost) on standard
    /// output, or on the writer given to [`log_to`](super::UptrainHandlerBuilder::log_to).
    #[default]
    Console,
    /// One `tracing` event per row (target `uptrain`, level info) with the project, run,
    /// evaluator, scores and grading cost; no question, context or answer.
    Tracing,
}

/// A configuration value that could not be used.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("invalid {name} `{value}`: expected {expected}")]
pub struct InvalidSetting {
    /// The setting.
    pub name: &'static str,
    /// The value given.
    pub value: String,
    /// What is accepted.
    pub expected: String,
}

impl InvalidSetting {
    pub(super) fn new(name: &'static str, value: &str, expected: &str) -> Self {
        Self {
            name,
            value: value.to_owned(),
            expected: expected.to_owned(),
        }
    }
}

/// Every setting of the UpTrain handler. Build it with
/// [`UptrainHandler::builder`](super::UptrainHandler::builder) or read it with
/// [`UptrainConfig::from_env`].
///
/// ```
/// use std::time::Duration;
/// use uptrain_plugin::WhenFull;
/// let config = uptrain_plugin::UptrainConfig::default();
/// assert_eq!(config.pending_bytes, 64 << 20);
/// assert_eq!(config.kept_bytes, 64 << 20);
/// assert_eq!(config.when_full, WhenFull::Refuse);
/// assert_eq!((config.queue_capacity, config.retention), (None, None), "bounded by memory");
/// assert_eq!(config.drop_timeout, Duration::from_secs(5));
/// assert_eq!(config.limits, None, "each evaluator keeps its own defaults");
/// ```
#[derive(Clone)]
#[non_exhaustive]
pub struct UptrainConfig {
    /// Prefix of the project names: `<project>_rag`, `<project>_multi_query`,
    /// `<project>_context_reranking`. Default `langchain`.
    pub project_name: String,
    /// `openai` (judge locally) or `uptrain` (managed API). Default `openai`.
    pub key_type: KeyType,
    /// The API key; else `OPENAI_API_KEY` or `UPTRAIN_API_KEY` by key type.
    pub api_key: Option<String>,
    /// The judge model. Default `gpt-3.5-turbo`.
    pub model: String,
    /// Log each evaluated row (see [`results_log`](Self::results_log)). Default on.
    pub log_results: bool,
    /// Where rows are logged: a readable block on standard output (the default), or the
    /// `tracing` log (the default for a handler built by plugin discovery unless
    /// `UPTRAIN_LOG_RESULTS` is set).
    pub results_log: ResultsLog,
    /// Which evaluator. Default [`EvaluatorKind::Auto`].
    pub evaluator: EvaluatorKind,
    /// The judge's base URL (`OPENAI_BASE_URL`) or the UpTrain server (`UPTRAIN_SERVER_URL`).
    pub base_url: Option<String>,
    /// Concurrency and rate limits of remote evaluators; `None` = the evaluator's own
    /// defaults (judge: 16 in flight, 100 requests and 90,000 tokens a minute; UpTrain API:
    /// 4 in flight, no rate limit).
    pub limits: Option<Limits>,
    /// Retries of remote evaluators; `None` = the evaluator's own defaults.
    pub retry: Option<RetryPolicy>,
    /// Timeouts of remote evaluators; `None` = the evaluator's own defaults (judge: 120 s per
    /// request; UpTrain API: 600 s).
    pub timeouts: Option<Timeouts>,
    /// A JSONL file that gets one line per evaluated row (appended).
    pub output_file: Option<PathBuf>,
    /// Estimated bytes the evaluations waiting or running may hold (their rows' strings plus
    /// a small overhead each). When an answer does not fit, [`when_full`](Self::when_full)
    /// decides. Default 64 MiB: some 27,000 RAG rows with a 1 KiB context.
    pub pending_bytes: usize,
    /// What happens to an answer that does not fit the queue. Default
    /// [`WhenFull::Refuse`].
    pub when_full: WhenFull,
    /// Evaluations waiting or running, at most, as well as the bytes; `None` (the default):
    /// bounded by [`pending_bytes`](Self::pending_bytes) only.
    pub queue_capacity: Option<usize>,
    /// Estimated bytes of the rows kept for [`results`](super::UptrainHandler::results) and
    /// for the next [`flush`](super::UptrainHandler::flush) (the two share their rows; the
    /// newest are kept); `0` keeps none. Rows dropped are counted
    /// ([`HandlerStats::rows_not_kept`](super::HandlerStats::rows_not_kept),
    /// [`FlushReport::not_kept`](super::FlushReport::not_kept)) and still reach the console,
    /// the file and the evaluation listeners. Default 64 MiB: some 13,000 graded RAG rows
    /// (1 KiB of context, three checks with their explanations).
    pub kept_bytes: usize,
    /// Rows kept, at most, as well as the bytes; `None` (the default): bounded by
    /// [`kept_bytes`](Self::kept_bytes) only.
    pub retention: Option<usize>,
    /// Time after which the state of a run that never ended is dropped. Default 15 min.
    pub run_ttl: Duration,
    /// Runs tracked at once, at most; beyond, the oldest run's state is dropped. Default
    /// 10,000.
    pub max_tracked_runs: usize,
    /// Total time one evaluation may take, every attempt and wait included; `None` = by
    /// evaluator (5 min; 11 min for the UpTrain API).
    pub evaluation_deadline: Option<Duration>,
    /// How long dropping the handler waits for unfinished evaluations before giving them up
    /// (and saying how many in the log). Default 5 s.
    pub drop_timeout: Duration,
    /// The checks run for each flow; default LangChain's ([`Flow::checks`](super::Flow::checks)).
    pub flow_checks: crate::FlowChecks,
    /// The table that prices the judge's tokens; `None` (the default): the table shipped with
    /// handler-core ([`PriceTable::shipped`](handler_core::cost::PriceTable::shipped)).
    pub prices: Option<handler_core::cost::PriceTable>,
    /// An API key variable that was present but not used (no consent).
    pub(crate) ignored_key_env: Option<&'static str>,
}

impl Default for UptrainConfig {
    fn default() -> Self {
        Self {
            project_name: "langchain".to_owned(),
            key_type: KeyType::OpenAi,
            api_key: None,
            model: defaults::MODEL.to_owned(),
            log_results: true,
            results_log: ResultsLog::Console,
            evaluator: EvaluatorKind::Auto,
            base_url: None,
            limits: None,
            retry: None,
            timeouts: None,
            output_file: None,
            pending_bytes: defaults::PENDING_BYTES,
            when_full: WhenFull::Refuse,
            queue_capacity: None,
            kept_bytes: defaults::KEPT_BYTES,
            retention: None,
            run_ttl: defaults::RUN_TTL,
            max_tracked_runs: defaults::MAX_TRACKED_RUNS,
            evaluation_deadline: None,
            drop_timeout: defaults::DROP_TIMEOUT,
            flow_checks: crate::FlowChecks::default(),
            prices: None,
            ignored_key_env: None,
        }
    }
}

impl fmt::Debug for UptrainConfig {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("UptrainConfig")
            .field("project_name", &self.project_name)
            .field("key_type", &self.key_type)
            .field("api_key", &self.api_key.as_ref().map(|_| "<redacted>"))
            .field("model", &self.model)
            .field("log_results", &self.log_results)
            .field("results_log", &self.results_log)
            .field("evaluator", &self.evaluator)
            .field("base_url", &self.base_url.as_deref().map(redacted_url))
            .field("limits", &self.limits)
            .field("retry", &self.retry)
            .field("timeouts", &self.timeouts)
            .field("output_file", &self.output_file)
            .field("pending_bytes", &self.pending_bytes)
            .field("when_full", &self.when_full)
            .field("queue_capacity", &self.queue_capacity)
            .field("kept_bytes", &self.kept_bytes)
            .field("retention", &self.retention)
            .field("run_ttl", &self.run_ttl)
            .field("max_tracked_runs", &self.max_tracked_runs)
            .field("evaluation_deadline", &self.evaluation_deadline)
            .field("drop_timeout", &self.drop_timeout)
            .field(
                "prices",
                &self
                    .prices
                    .as_ref()
                    .map(handler_core::cost::PriceTable::version),
            )
            .finish()
    }
}
