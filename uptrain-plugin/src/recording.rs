//! The rows a recording holds: events captured by handler-core's `JsonlRecorder` are replayed
//! into an [`UptrainHandler`], so its flow recognition (RAG, multi-query, contextual
//! compression) finds exactly the rows and checks the live handler would have graded; they
//! are captured instead of graded, to be graded later at full concurrency with
//! [`grade`](crate::grade).

use std::collections::BTreeMap;
use std::fs::File;
use std::io::{self, BufRead, BufReader};
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex, PoisonError};
use std::time::Duration;

use futures_util::future::BoxFuture;
use handler_core::handlers::{ReplayError, replay};
use handler_core::{CallbackManager, Uuid};

use crate::check::Check;
use crate::error::EvaluationError;
use crate::evaluation::{Evaluation, RowResult};
use crate::evaluator::{EvaluationRequest, Evaluator};
use crate::handler::{UptrainError, UptrainHandler, WhenFull};

/// The least room kept for the recorded rows (the handler's default).
const KEPT_BYTES_FLOOR: usize = 64 << 20;
use crate::row::Row;

/// One answer the handler recognised in a recording.
#[derive(Debug, Clone, PartialEq)]
pub struct RecordedRow {
    /// The flow: `rag`, `multi_query` or `context_reranking`.
    pub flow: String,
    /// The run whose answer it is.
    pub run_id: Option<Uuid>,
    /// The row the handler built: question, context, response, ...
    pub row: Row,
    /// The checks the handler runs on this flow.
    pub checks: Vec<Check>,
}

/// What a recording held.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Recording {
    /// Every recognised answer, in the order the answers came in.
    pub rows: Vec<RecordedRow>,
    /// Events replayed.
    pub events: usize,
}

/// Why a recording could not be read.
#[derive(Debug, thiserror::Error)]
pub enum RecordingError {
    /// The file could not be opened or read.
    #[error("{path}: {source}")]
    Io {
        /// The file.
        path: PathBuf,
        /// Why.
        source: io::Error,
    },
    /// A line is not a recorded event (the line is named).
    #[error("{path}: {source}")]
    Replay {
        /// The file.
        path: PathBuf,
        /// Which line and why.
        source: ReplayError,
    },
    /// The handler could not be built.
    #[error(transparent)]
    Handler(#[from] UptrainError),
    /// Some recognised answers could not be captured (counted, never dropped silently).
    #[error("{lost} of {submitted} recognised answers could not be captured")]
    Lost {
        /// Answers lost.
        lost: u64,
        /// Answers recognised.
        submitted: u64,
    },
}

/// Reads the rows a recording holds (see the module docs).
///
/// ```
/// use std::sync::Arc;
/// use handler_core::handlers::JsonlRecorder;
/// use handler_core::payload::{LlmResult, Serialized};
/// use handler_core::{CallbackManager, RunOptions};
/// use serde_json::json;
///
/// let dir = tempfile::tempdir()?;
/// let path = dir.path().join("runs.jsonl");
/// {
///     let recorder = Arc::new(JsonlRecorder::create(&path)?);
///     let manager = CallbackManager::new().with_handler(recorder);
///     let inputs = json!({"question": "Where is Paris?", "context": "Paris is in France."});
///     let chain = manager.on_chain_start(None, &inputs, RunOptions::named("rag"))?;
///     let llm = chain.child().on_llm_start(&Serialized::named("llm"), "...", RunOptions::new())?;
///     llm.on_llm_end(&LlmResult::from_text("Paris is in France."))?;
///     chain.on_chain_end(&json!({}))?;
/// }
/// let recording = uptrain_plugin::read_recording(&path)?;
/// assert_eq!(recording.rows.len(), 1);
/// assert_eq!(recording.rows[0].flow, "rag");
/// assert_eq!(recording.rows[0].row["response"], "Paris is in France.");
/// # Ok::<(), Box<dyn std::error::Error>>(())
/// ```
pub fn read_recording(path: impl AsRef<Path>) -> Result<Recording, RecordingError> {
    let path = path.as_ref();
    let io_error = |source| RecordingError::Io {
        path: path.to_path_buf(),
        source,
    };
    // Every event can yield at most one answer, and an answer's row is built from the events'
    // text: the kept rows are bounded by the file (its lines, a multiple of its bytes), and
    // the replay waits for room in the queue instead of refusing, so nothing is lost.
    let lines = BufReader::new(File::open(path).map_err(io_error)?)
        .lines()
        .try_fold(0usize, |n, line| line.map(|_| n + 1))
        .map_err(io_error)?;
    let file_bytes = std::fs::metadata(path)
        .map(|m| usize::try_from(m.len()).unwrap_or(usize::MAX))
        .map_err(io_error)?;
    let capture = Arc::new(Capture::default());
    let handler = Arc::new(
        UptrainHandler::builder()
            .evaluator(capture.clone())
            .log_results(false)
            .when_full(WhenFull::Wait(Duration::MAX))
            .retention(lines)
            .kept_bytes(file_bytes.saturating_mul(8).max(KEPT_BYTES_FLOOR))
            .build()?,
    );
    let manager = CallbackManager::new().with_handler(handler.clone());
    let events = replay(
        BufReader::new(File::open(path).map_err(io_error)?),
        &manager,
    )
    .map_err(|source| RecordingError::Replay {
        path: path.to_path_buf(),
        source,
    })?;
    let evaluated = handler.flush();
    let stats = handler.stats();
    let captured = u64::try_from(evaluated.len()).unwrap_or(u64::MAX);
    if captured < stats.submitted {
        return Err(RecordingError::Lost {
            lost: stats.submitted - captured,
            submitted: stats.submitted,
        });
    }
    let checks = capture
        .checks
        .lock()
        .unwrap_or_else(PoisonError::into_inner)
        .clone();
    let rows = evaluated
        .into_iter()
        .map(|r| RecordedRow {
            checks: checks.get(&r.evaluation).cloned().unwrap_or_default(),
            flow: r.evaluation,
            run_id: r.run_id,
            row: r.input,
        })
        .collect();
    Ok(Recording { rows, events })
}

/// An evaluator that grades nothing: it notes each flow's checks and hands the rows back.
#[derive(Debug, Default)]
struct Capture {
    /// Checks by flow (three flows at most).
    checks: Mutex<BTreeMap<String, Vec<Check>>>,
}

impl Evaluator for Capture {
    fn name(&self) -> &'static str {
        "capture"
    }

    fn evaluate<'a>(
        &'a self,
        request: &'a EvaluationRequest,
    ) -> BoxFuture<'a, Result<Evaluation, EvaluationError>> {
        self.checks
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .entry(request.evaluation.clone())
            .or_insert_with(|| request.checks.clone());
        let rows = request
            .rows
            .iter()
            .enumerate()
            .map(|(index, input)| RowResult {
                index,
                input: input.clone(),
                checks: Vec::new(),
                usage: Default::default(),
            })
            .collect();
        Box::pin(async move {
            Ok(Evaluation {
                rows,
                usage: Default::default(),
            })
        })
    }
}
