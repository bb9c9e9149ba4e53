//! The one evaluator trait, the request it takes, and the key type that picks a remote
//! evaluator.

use std::fmt;
use std::str::FromStr;

use futures_util::future::BoxFuture;

use crate::check::Check;
use crate::error::EvaluationError;
use crate::evaluation::Evaluation;
use crate::row::Row;

/// What to evaluate: rows, checks, and the names the UpTrain dashboard files results under.
///
/// ```
/// use uptrain_plugin::{Check, EvaluationRequest};
///
/// let rows = vec![uptrain_plugin::row([("question", "q"), ("context", "c")])];
/// let request = EvaluationRequest::new(rows, [Check::ContextRelevance])
///     .project("langchain_rag")
///     .evaluation("nightly");
/// assert_eq!(request.project, "langchain_rag");
/// assert_eq!(request.checks, vec![Check::ContextRelevance]);
/// ```
#[derive(Debug, Clone, PartialEq)]
pub struct EvaluationRequest {
    /// The rows, each a JSON object with UpTrain's column names.
    pub rows: Vec<Row>,
    /// The checks to run on every row (repeats are run once).
    pub checks: Vec<Check>,
    /// Project name (used by the UpTrain API; ignored by local evaluators).
    pub project: String,
    /// Evaluation name (used by the UpTrain API; ignored by local evaluators).
    pub evaluation: String,
}

impl EvaluationRequest {
    /// Default project name.
    pub const DEFAULT_PROJECT: &'static str = "llm-callbacks";
    /// Default evaluation name.
    pub const DEFAULT_EVALUATION: &'static str = "default";

    /// A request with the default project and evaluation names.
    pub fn new(rows: Vec<Row>, checks: impl IntoIterator<Item = Check>) -> Self {
        Self {
            rows,
            checks: checks.into_iter().collect(),
            project: Self::DEFAULT_PROJECT.to_owned(),
            evaluation: Self::DEFAULT_EVALUATION.to_owned(),
        }
    }

    /// Sets the project name.
    pub fn project(mut self, project: impl Into<String>) -> Self {
        self.project = project.into();
        self
    }

    /// Sets the evaluation name.
    pub fn evaluation(mut self, evaluation: impl Into<String>) -> Self {
        self.evaluation = evaluation.into();
        self
    }
}

/// Grades rows with UpTrain's checks.
///
/// Object safe: store it as `Arc<dyn Evaluator>` and call it from any tokio task. An
/// implementation validates every row before sending anything, and returns every row, in input
/// order, with one result per check; a check that fails for a row is recorded as that row's
/// [`CheckError`](crate::CheckError), never dropped. [`EvaluationError`] is kept for calls that
/// cannot start at all.
///
/// ```
/// use std::sync::Arc;
/// use uptrain_plugin::{Check, EvaluationRequest, Evaluator, OfflineEvaluator};
///
/// # fn main() -> Result<(), Box<dyn std::error::Error>> {
/// let evaluator: Arc<dyn Evaluator> = Arc::new(OfflineEvaluator::new());
/// let rows = vec![uptrain_plugin::row([
///     ("question", "What is the capital of France?"),
///     ("context", "Paris is the capital of France."),
/// ])];
/// let request = EvaluationRequest::new(rows, [Check::ContextRelevance]);
/// let runtime = tokio::runtime::Builder::new_current_thread().build()?;
/// let evaluation = runtime.block_on(evaluator.evaluate(&request))?;
/// assert!(evaluation.rows[0].score(Check::ContextRelevance).unwrap() > 0.9);
/// # Ok(())
/// # }
/// ```
pub trait Evaluator: Send + Sync + 'static {
    /// A short name for logs (`"judge"`, `"uptrain_api"`, `"offline"`).
    fn name(&self) -> &'static str;

    /// Evaluates `request.rows` with `request.checks`.
    fn evaluate<'a>(
        &'a self,
        request: &'a EvaluationRequest,
    ) -> BoxFuture<'a, Result<Evaluation, EvaluationError>>;
}

/// Which kind of key the caller has, as in LangChain's `UpTrainCallbackHandler`.
///
/// ```
/// use uptrain_plugin::KeyType;
///
/// assert_eq!("openai".parse::<KeyType>().unwrap(), KeyType::OpenAi);
/// let err = "anthropic".parse::<KeyType>().unwrap_err();
/// assert_eq!(err.to_string(), "unknown key type `anthropic`: expected one of openai, uptrain");
/// ```
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum KeyType {
    /// An OpenAI-compatible key: we judge locally with [`JudgeEvaluator`](crate::JudgeEvaluator).
    OpenAi,
    /// An UpTrain access key: the managed API ([`UptrainApiEvaluator`](crate::UptrainApiEvaluator)).
    Uptrain,
}

impl KeyType {
    /// The accepted spellings.
    pub const VALID: [&'static str; 2] = ["openai", "uptrain"];

    /// The canonical spelling.
    pub const fn as_str(self) -> &'static str {
        match self {
            KeyType::OpenAi => "openai",
            KeyType::Uptrain => "uptrain",
        }
    }
}

impl fmt::Display for KeyType {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// The error returned for a key type other than `openai` or `uptrain`.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("unknown key type `{given}`: expected one of {}", KeyType::VALID.join(", "))]
pub struct UnknownKeyType {
    /// The value that was given.
    pub given: String,
}

impl FromStr for KeyType {
    type Err = UnknownKeyType;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        match s.trim().to_ascii_lowercase().as_str() {
            "openai" => Ok(KeyType::OpenAi),
            "uptrain" => Ok(KeyType::Uptrain),
            _ => Err(UnknownKeyType {
                given: s.to_owned(),
            }),
        }
    }
}
