//! Building the handler: configuration from code, the evaluator it asks for, the output file
//! and the evaluation thread.

use std::fmt;
use std::fs::OpenOptions;
use std::io::{self, Write};
use std::path::PathBuf;
use std::sync::{Arc, Condvar, Mutex};
use std::time::Duration;

use tokio::sync::Notify;

use super::config::{EvaluatorKind, InvalidSetting, ResultsLog, UptrainConfig, WhenFull};
use super::flows::Tracker;
use super::outcomes::Outcomes;
use super::room::Room;
use super::worker::Worker;
use super::{Inner, UptrainError, UptrainHandler};
use crate::defaults;
use crate::evaluator::{Evaluator, KeyType};

/// Builds an [`UptrainHandler`].
#[derive(Default)]
pub struct UptrainHandlerBuilder {
    config: UptrainConfig,
    key_type: Option<String>,
    evaluator: Option<Arc<dyn Evaluator>>,
    console: Option<Box<dyn Write + Send>>,
    flow_checks_error: Option<InvalidSetting>,
}

impl fmt::Debug for UptrainHandlerBuilder {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("UptrainHandlerBuilder")
            .field("config", &self.config)
            .finish_non_exhaustive()
    }
}

impl UptrainHandlerBuilder {
    /// Starts from this configuration (e.g. [`UptrainConfig::from_env`]).
    pub fn config(mut self, config: UptrainConfig) -> Self {
        self.config = config;
        self
    }

    /// Prefix of the project names. Default `langchain`.
    pub fn project_name(mut self, name: impl Into<String>) -> Self {
        self.config.project_name = name.into();
        self
    }

    /// `openai` or `uptrain`; anything else fails at [`build`](Self::build).
    pub fn key_type(mut self, key_type: impl Into<String>) -> Self {
        self.key_type = Some(key_type.into());
        self
    }

    /// The API key.
    pub fn api_key(mut self, key: impl Into<String>) -> Self {
        self.config.api_key = Some(key.into());
        self
    }

    /// The judge model. Default `gpt-3.5-turbo`.
    pub fn model(mut self, model: impl Into<String>) -> Self {
        self.config.model = model.into();
        self
    }

    /// Log each evaluated row (see [`results_log`](Self::results_log)). Default on.
    pub fn log_results(mut self, on: bool) -> Self {
        self.config.log_results = on;
        self
    }

    /// Where rows are logged when [`log_results`](Self::log_results) is on: a readable block
    /// on standard output (or [`log_to`](Self::log_to)'s writer), or one `tracing` event per
    /// row with the scores and the grading cost only. Default [`ResultsLog::Console`].
    ///
    /// ```
    /// use uptrain_plugin::{ResultsLog, UptrainHandler};
    ///
    /// let uptrain = UptrainHandler::builder().results_log(ResultsLog::Tracing).build()?;
    /// assert!(uptrain.config().log_results);
    /// assert_eq!(uptrain.config().results_log, ResultsLog::Tracing);
    /// # Ok::<(), uptrain_plugin::UptrainError>(())
    /// ```
    pub fn results_log(mut self, to: ResultsLog) -> Self {
        self.config.results_log = to;
        self
    }

    /// Prices the judge's tokens with `table` (e.g. the shipped table with your own entries
    /// merged over it) instead of the shipped one; see
    /// [`HandlerStats::judge_usage`](super::HandlerStats::judge_usage).
    ///
    /// ```
    /// use handler_core::cost::{ModelPrices, PriceTable};
    /// use uptrain_plugin::UptrainHandler;
    ///
    /// let ours = PriceTable::shipped()
    ///     .clone()
    ///     .with_model("house-judge", ModelPrices::new(1.0, 2.0, "2026-12-01", "our contract"))?;
    /// let uptrain = UptrainHandler::builder().log_results(false).prices(ours).build()?;
    /// let prices = uptrain.config().prices.as_ref().map(|t| t.lookup("house-judge").is_some());
    /// assert_eq!(prices, Some(true));
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    pub fn prices(mut self, table: handler_core::cost::PriceTable) -> Self {
        self.config.prices = Some(table);
        self
    }

    /// Which evaluator. Default [`EvaluatorKind::Auto`].
    pub fn evaluator_kind(mut self, kind: EvaluatorKind) -> Self {
        self.config.evaluator = kind;
        self
    }

    /// The judge's base URL, or the UpTrain server's URL.
    pub fn base_url(mut self, url: impl Into<String>) -> Self {
        self.config.base_url = Some(url.into());
        self
    }

    /// Concurrency and rate limits of remote evaluators (else each evaluator's own).
    pub fn limits(mut self, limits: crate::Limits) -> Self {
        self.config.limits = Some(limits);
        self
    }

    /// Retries of remote evaluators (else each evaluator's own).
    pub fn retry(mut self, retry: crate::RetryPolicy) -> Self {
        self.config.retry = Some(retry);
        self
    }

    /// Timeouts of remote evaluators (else each evaluator's own).
    pub fn timeouts(mut self, timeouts: crate::Timeouts) -> Self {
        self.config.timeouts = Some(timeouts);
        self
    }

    /// Estimated bytes the evaluations waiting or running may hold (at least one evaluation
    /// is always let in). Default 64 MiB.
    pub fn pending_bytes(mut self, bytes: usize) -> Self {
        self.config.pending_bytes = bytes;
        self
    }

    /// What happens to an answer when the queue is full: refuse it (the default) or wait for
    /// room up to a deadline.
    ///
    /// ```
    /// use std::time::Duration;
    /// use uptrain_plugin::{UptrainHandler, WhenFull};
    ///
    /// // Batch work: every answer waits for room, however long grading takes.
    /// let batch = UptrainHandler::builder()
    ///     .log_results(false)
    ///     .when_full(WhenFull::Wait(Duration::MAX))
    ///     .build()?;
    /// assert_eq!(batch.config().when_full, WhenFull::Wait(Duration::MAX));
    /// assert_eq!(batch.config().pending_bytes, 64 << 20);
    /// # Ok::<(), uptrain_plugin::UptrainError>(())
    /// ```
    pub fn when_full(mut self, choice: WhenFull) -> Self {
        self.config.when_full = choice;
        self
    }

    /// Evaluations waiting or running, at most (at least 1), as well as the bytes. Default:
    /// no count, the [bytes](Self::pending_bytes) bound the queue.
    pub fn queue_capacity(mut self, capacity: usize) -> Self {
        self.config.queue_capacity = Some(capacity);
        self
    }

    /// Estimated bytes of the rows kept for `results` and for the next `flush` (the newest;
    /// 0 = none). Default 64 MiB.
    pub fn kept_bytes(mut self, bytes: usize) -> Self {
        self.config.kept_bytes = bytes;
        self
    }

    /// Rows kept for `results` and for the next `flush`, at most (the newest; 0 = none), as
    /// well as the bytes. Default: no count, the [bytes](Self::kept_bytes) bound them.
    pub fn retention(mut self, rows: usize) -> Self {
        self.config.retention = Some(rows);
        self
    }

    /// Time after which the state of a run that never ended is dropped. Default 15 min.
    pub fn run_ttl(mut self, ttl: Duration) -> Self {
        self.config.run_ttl = ttl;
        self
    }

    /// Runs tracked at once, at most (at least 1). Default 10,000.
    pub fn max_tracked_runs(mut self, runs: usize) -> Self {
        self.config.max_tracked_runs = runs;
        self
    }

    /// Total time one evaluation may take, every attempt and wait included. Default 5 min
    /// (11 min for the UpTrain API).
    pub fn evaluation_deadline(mut self, deadline: Duration) -> Self {
        self.config.evaluation_deadline = Some(deadline);
        self
    }

    /// How long dropping the handler waits for unfinished evaluations (`Duration::MAX`: until
    /// they finish). Default 5 s.
    pub fn drop_timeout(mut self, wait: Duration) -> Self {
        self.config.drop_timeout = wait;
        self
    }

    /// Appends one JSON line per evaluated row to this file.
    pub fn output_file(mut self, path: impl Into<PathBuf>) -> Self {
        self.config.output_file = Some(path.into());
        self
    }

    /// Uses this evaluator instead of building one from the configuration.
    pub fn evaluator(mut self, evaluator: Arc<dyn Evaluator>) -> Self {
        self.evaluator = Some(evaluator);
        self
    }

    /// Prints the result blocks to this writer instead of standard output.
    pub fn log_to(mut self, writer: impl Write + Send + 'static) -> Self {
        self.console = Some(Box::new(writer));
        self
    }

    /// The checks run for `flow` (default LangChain's, [`Flow::checks`](super::Flow::checks)).
    /// A check whose inputs the flow's rows do not carry is refused at [`build`](Self::build).
    pub fn flow_checks(
        mut self,
        flow: super::Flow,
        checks: impl IntoIterator<Item = impl Into<crate::Check>>,
    ) -> Self {
        if let Err(e) = self.config.flow_checks.set(flow, checks) {
            self.flow_checks_error.get_or_insert(e);
        }
        self
    }

    /// Builds the handler and starts its evaluation thread.
    pub fn build(mut self) -> Result<UptrainHandler, UptrainError> {
        if let Some(e) = self.flow_checks_error.take() {
            return Err(e.into());
        }
        if let Some(key_type) = self.key_type.take() {
            self.config.key_type = key_type.parse::<KeyType>().map_err(|_| InvalidSetting {
                name: "key type",
                value: key_type,
                expected: "one of openai, uptrain".into(),
            })?;
        }
        for (name, value) in [
            ("queue capacity", self.config.queue_capacity.unwrap_or(1)),
            ("max tracked runs", self.config.max_tracked_runs),
        ] {
            if value == 0 {
                return Err(InvalidSetting {
                    name,
                    value: "0".into(),
                    expected: "at least 1".into(),
                }
                .into());
            }
        }
        if self.config.run_ttl.is_zero() || self.config.evaluation_deadline == Some(Duration::ZERO)
        {
            return Err(InvalidSetting {
                name: "run ttl / evaluation deadline",
                value: "0".into(),
                expected: "a positive duration".into(),
            }
            .into());
        }
        let (evaluator, kind) = match self.evaluator.take() {
            Some(evaluator) => (evaluator, None),
            None => {
                let (evaluator, kind) = make_evaluator(&self.config)?;
                (evaluator, Some(kind))
            }
        };
        let deadline =
            self.config
                .evaluation_deadline
                .unwrap_or(if kind == Some(EvaluatorKind::UptrainApi) {
                    defaults::API_DEADLINE
                } else {
                    defaults::DEADLINE
                });
        let file = match &self.config.output_file {
            Some(path) => Some(Mutex::new(
                OpenOptions::new()
                    .create(true)
                    .append(true)
                    .open(path)
                    .map_err(|source| UptrainError::OutputFile {
                        path: path.clone(),
                        source,
                    })?,
            )),
            None => None,
        };
        let to_console = self.config.log_results && self.config.results_log == ResultsLog::Console;
        let console = to_console.then(|| {
            Mutex::new(
                self.console
                    .take()
                    .unwrap_or_else(|| Box::new(io::stdout()) as Box<dyn Write + Send>),
            )
        });
        let worker = Worker::start().map_err(UptrainError::Worker)?;
        let room = Room::new(self.config.pending_bytes, self.config.queue_capacity);
        tracing::debug!(evaluator = evaluator.name(), project = %self.config.project_name, "UpTrain handler ready");
        let estimates = evaluator.name() == "offline";
        let tracker = Tracker::new(self.config.run_ttl, self.config.max_tracked_runs);
        Ok(UptrainHandler {
            inner: Arc::new(Inner {
                config: self.config,
                evaluator,
                estimates,
                deadline,
                tracker: Mutex::new(tracker),
                console,
                file,
                room,
                outcomes: Mutex::new(Outcomes::default()),
                settled: Condvar::new(),
                notify: Notify::new(),
            }),
            worker,
        })
    }
}

/// How to turn on a real judge, for the log line that says the plugin grades offline.
pub(crate) const OFFLINE_HINT: &str = "scores are lexical estimates, not a judge's verdict. \
    For an LLM judge set UPTRAIN_EVALUATOR=judge with OPENAI_API_KEY (and OPENAI_BASE_URL, e.g. \
    http://localhost:11434/v1, for a local OpenAI-compatible server); for the UpTrain API set \
    UPTRAIN_API_KEY and UPTRAIN_SERVER_URL";

/// Builds the evaluator the configuration asks for ([`crate::choose::evaluator_for`], the one
/// consent rule), and says in the log when it grades offline.
fn make_evaluator(
    config: &UptrainConfig,
) -> Result<(Arc<dyn Evaluator>, EvaluatorKind), UptrainError> {
    let (evaluator, kind) = crate::choose::evaluator_for(config, None)?;
    if kind == EvaluatorKind::Offline {
        match config.ignored_key_env {
            Some(env) => tracing::info!(
                "UpTrain: grading answers offline; {env} is set but not used (a key in the \
                 environment is not consent to send answers to a judge): {OFFLINE_HINT}"
            ),
            None => tracing::info!("UpTrain: grading answers offline: {OFFLINE_HINT}"),
        }
    }
    Ok((evaluator, kind))
}
