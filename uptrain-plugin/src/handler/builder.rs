//! Building the handler: configuration from code, the evaluator it asks for, the output file
//! and the evaluation thread.

use std::fmt;
use std::fs::OpenOptions;
use std::io::{self, BufWriter, Write};
use std::path::PathBuf;
use std::sync::{Arc, Condvar, Mutex};

use tokio::sync::Notify;

use super::config::{ConfigValueError, EvaluatorKind, UptrainConfig};
use super::flows::Tracker;
use super::worker::Worker;
use super::{Inner, Outcomes, UptrainError, UptrainHandler};
use crate::config::ProgressMode;
use crate::evaluator::{Evaluator, KeyType};
use crate::judge::{API_KEY_ENV, JudgeEvaluator};
use crate::offline::OfflineEvaluator;
use crate::uptrain_api::{UPTRAIN_KEY_ENV, UptrainApiEvaluator};

/// Builds an [`UptrainHandler`].
#[derive(Default)]
pub struct UptrainHandlerBuilder {
    config: UptrainConfig,
    key_type: Option<String>,
    evaluator: Option<Arc<dyn Evaluator>>,
    console: Option<Box<dyn Write + Send>>,
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

    /// Print a block per evaluated answer. Default on.
    pub fn log_results(mut self, on: bool) -> Self {
        self.config.log_results = on;
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

    /// Concurrency and rate limits of remote evaluators.
    pub fn limits(mut self, limits: crate::Limits) -> Self {
        self.config.limits = limits;
        self
    }

    /// Retries of remote evaluators.
    pub fn retry(mut self, retry: crate::RetryPolicy) -> Self {
        self.config.retry = retry;
        self
    }

    /// Timeouts of remote evaluators.
    pub fn timeouts(mut self, timeouts: crate::Timeouts) -> Self {
        self.config.timeouts = timeouts;
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

    /// Builds the handler and starts its evaluation thread.
    pub fn build(mut self) -> Result<UptrainHandler, UptrainError> {
        if let Some(key_type) = self.key_type.take() {
            self.config.key_type = key_type.parse::<KeyType>().map_err(|_| ConfigValueError {
                name: "key type",
                value: key_type,
                expected: "one of openai, uptrain".into(),
            })?;
        }
        let evaluator = match self.evaluator.take() {
            Some(evaluator) => evaluator,
            None => make_evaluator(&self.config)?,
        };
        let file = match &self.config.output_file {
            Some(path) => Some(Mutex::new(BufWriter::new(
                OpenOptions::new()
                    .create(true)
                    .append(true)
                    .open(path)
                    .map_err(|source| UptrainError::OutputFile {
                        path: path.clone(),
                        source,
                    })?,
            ))),
            None => None,
        };
        let console = self.config.log_results.then(|| {
            Mutex::new(
                self.console
                    .take()
                    .unwrap_or_else(|| Box::new(io::stdout()) as Box<dyn Write + Send>),
            )
        });
        let worker = Worker::start().map_err(UptrainError::Worker)?;
        tracing::debug!(evaluator = evaluator.name(), project = %self.config.project_name, "UpTrain handler ready");
        Ok(UptrainHandler {
            inner: Arc::new(Inner {
                config: self.config,
                evaluator,
                tracker: Mutex::new(Tracker::default()),
                console,
                file,
                outcomes: Mutex::new(Outcomes::default()),
                settled: Condvar::new(),
                notify: Notify::new(),
            }),
            worker,
        })
    }
}

/// Builds the evaluator the configuration asks for.
fn make_evaluator(config: &UptrainConfig) -> Result<Arc<dyn Evaluator>, UptrainError> {
    let kind = match config.evaluator {
        EvaluatorKind::Auto => match (&config.api_key, config.key_type) {
            (Some(_), KeyType::OpenAi) => EvaluatorKind::Judge,
            (Some(_), KeyType::Uptrain) => EvaluatorKind::UptrainApi,
            (None, key_type) => {
                let env = match key_type {
                    KeyType::OpenAi => API_KEY_ENV,
                    KeyType::Uptrain => UPTRAIN_KEY_ENV,
                };
                tracing::info!(
                    "UpTrain: no API key configured ({env}); grading answers with the offline \
                     lexical evaluator"
                );
                EvaluatorKind::Offline
            }
        },
        kind => kind,
    };
    Ok(match kind {
        EvaluatorKind::Judge => {
            let mut builder = JudgeEvaluator::builder()
                .model(config.model.clone())
                .limits(config.limits)
                .retry(config.retry)
                .timeouts(config.timeouts)
                .progress(ProgressMode::Never);
            if let Some(key) = &config.api_key {
                builder = builder.api_key(key.clone());
            }
            if let Some(url) = &config.base_url {
                builder = builder.base_url(url.clone());
            }
            Arc::new(builder.build()?)
        }
        EvaluatorKind::UptrainApi => {
            let mut builder = UptrainApiEvaluator::builder()
                .limits(config.limits)
                .retry(config.retry)
                .timeouts(config.timeouts)
                .progress(ProgressMode::Never);
            if let Some(key) = &config.api_key {
                builder = builder.api_key(key.clone());
            }
            if let Some(url) = &config.base_url {
                builder = builder.server_url(url.clone());
            }
            Arc::new(builder.build()?)
        }
        EvaluatorKind::Offline | EvaluatorKind::Auto => Arc::new(OfflineEvaluator::new()),
    })
}
