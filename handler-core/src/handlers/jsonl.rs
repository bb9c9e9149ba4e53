//! Recording events as JSON lines, and replaying them.

use std::fmt;
use std::fs::File;
use std::io::{self, BufRead, BufWriter, Write};
use std::path::Path;
use std::sync::{Mutex, MutexGuard, PoisonError};

use thiserror::Error;

use crate::error::{CallbackError, HandlerResult};
use crate::event::{
    AgentAction, AgentFinish, ChainEnd, ChainError, ChainStart, ChatModelStart, CustomEvent, Event,
    EventRecord, LlmEnd, LlmError, LlmNewToken, LlmStart, RetrieverEnd, RetrieverError,
    RetrieverStart, Retry, Text, ToolEnd, ToolError, ToolStart,
};
use crate::manager::{AsyncCallbackManager, CallbackManager};
use crate::traits::CallbackHandler;

/// Writes every event as one JSON object per line: `{"event": "<kind>", "run": {...}, ...}`.
/// [`replay`] reads such a file and dispatches it to a manager again.
///
/// Lines are buffered; the buffer is flushed when a root run ends or fails, by
/// [`flush`](Self::flush), and on drop.
///
/// A panic while writing (a writer that panics) does not stop the recording: the next event
/// starts a new line (ending the line the panic may have cut short) and is recorded.
///
/// ```
/// use std::sync::Arc;
/// use handler_core::{CallbackManager, RunOptions};
/// use handler_core::handlers::JsonlRecorder;
/// use serde_json::json;
///
/// let dir = tempfile::tempdir()?;
/// let path = dir.path().join("run.jsonl");
/// let recorder = Arc::new(JsonlRecorder::create(&path)?);
/// let manager = CallbackManager::new().with_handler(recorder.clone());
/// let chain = manager.on_chain_start(None, &json!({"q": 1}), RunOptions::default())?;
/// chain.on_chain_end(&json!({"a": 2}))?;
/// let text = std::fs::read_to_string(&path)?;
/// assert_eq!(text.lines().count(), 2);
/// assert!(text.starts_with(r#"{"event":"chain_start""#));
/// # Ok::<(), Box<dyn std::error::Error>>(())
/// ```
pub struct JsonlRecorder {
    out: Mutex<BufWriter<Box<dyn Write + Send>>>,
}

impl JsonlRecorder {
    /// Records into a new file at `path` (truncating it).
    pub fn create(path: impl AsRef<Path>) -> io::Result<Self> {
        Ok(Self::new(File::create(path)?))
    }

    /// Records into any writer.
    pub fn new(writer: impl Write + Send + 'static) -> Self {
        Self {
            out: Mutex::new(BufWriter::new(Box::new(writer))),
        }
    }

    /// Writes buffered lines out.
    pub fn flush(&self) -> io::Result<()> {
        self.lock()?.flush()
    }

    /// The writer. After a panic while it was held, the lock is recovered and a newline ends
    /// whatever line the panic cut short, so later records stay one per line.
    fn lock(&self) -> io::Result<MutexGuard<'_, BufWriter<Box<dyn Write + Send>>>> {
        match self.out.lock() {
            Ok(out) => Ok(out),
            Err(poisoned) => {
                let mut out = poisoned.into_inner();
                self.out.clear_poison();
                out.write_all(b"\n")?;
                Ok(out)
            }
        }
    }

    fn record(&self, event: Event<'_>) -> HandlerResult {
        let mut out = self.lock()?;
        serde_json::to_writer(&mut *out, &event)?;
        out.write_all(b"\n")?;
        let root_finished = event.run().parent_run_id.is_none()
            && matches!(
                event,
                Event::ChainEnd(_)
                    | Event::ChainError(_)
                    | Event::LlmEnd(_)
                    | Event::LlmError(_)
                    | Event::ToolEnd(_)
                    | Event::ToolError(_)
                    | Event::RetrieverEnd(_)
                    | Event::RetrieverError(_)
            );
        if root_finished {
            out.flush()?;
        }
        Ok(())
    }
}

impl Drop for JsonlRecorder {
    fn drop(&mut self) {
        let out = self.out.get_mut().unwrap_or_else(PoisonError::into_inner);
        if let Err(error) = out.flush() {
            tracing::warn!(%error, "JSONL recorder could not flush on drop");
        }
    }
}

impl fmt::Debug for JsonlRecorder {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("JsonlRecorder").finish_non_exhaustive()
    }
}

macro_rules! record_all {
    ($($method:ident($event:ident);)*) => {
        impl CallbackHandler for JsonlRecorder {
            fn name(&self) -> &str {
                "jsonl-recorder"
            }
            $(
                fn $method(&self, event: &$event<'_>) -> HandlerResult {
                    self.record(Event::$event(*event))
                }
            )*
        }
    };
}

record_all! {
    on_llm_start(LlmStart);
    on_chat_model_start(ChatModelStart);
    on_llm_new_token(LlmNewToken);
    on_llm_end(LlmEnd);
    on_llm_error(LlmError);
    on_chain_start(ChainStart);
    on_chain_end(ChainEnd);
    on_chain_error(ChainError);
    on_tool_start(ToolStart);
    on_tool_end(ToolEnd);
    on_tool_error(ToolError);
    on_retriever_start(RetrieverStart);
    on_retriever_end(RetrieverEnd);
    on_retriever_error(RetrieverError);
    on_agent_action(AgentAction);
    on_agent_finish(AgentFinish);
    on_retry(Retry);
    on_text(Text);
    on_custom_event(CustomEvent);
}

/// Why a replay stopped.
#[derive(Debug, Error)]
#[non_exhaustive]
pub enum ReplayError {
    /// The file could not be read.
    #[error("reading line {line}: {source}")]
    Io {
        /// The line number, from 1.
        line: usize,
        /// The I/O error.
        source: io::Error,
    },
    /// A line is not a recorded event.
    #[error("line {line} is not a recorded event: {source}")]
    Parse {
        /// The line number, from 1.
        line: usize,
        /// The JSON error.
        source: serde_json::Error,
    },
    /// A handler with `raise_error` failed.
    #[error("line {line}: {source}")]
    Callback {
        /// The line number, from 1.
        line: usize,
        /// The handler's error.
        source: CallbackError,
    },
}

fn records(
    reader: impl BufRead,
) -> impl Iterator<Item = Result<(usize, EventRecord), ReplayError>> {
    reader
        .lines()
        .enumerate()
        .map(|(i, line)| (i + 1, line))
        .filter(|(_, line)| !matches!(line, Ok(l) if l.trim().is_empty()))
        .map(|(line, text)| {
            let text = text.map_err(|source| ReplayError::Io { line, source })?;
            let record = serde_json::from_str(&text)
                .map_err(|source| ReplayError::Parse { line, source })?;
            Ok((line, record))
        })
}

/// Reads events recorded by [`JsonlRecorder`] and dispatches each, with its recorded run
/// context, to the handlers of `manager`. Returns how many events were dispatched.
pub fn replay(reader: impl BufRead, manager: &CallbackManager) -> Result<usize, ReplayError> {
    let mut count = 0;
    for record in records(reader) {
        let (line, record) = record?;
        manager
            .emit(&record.as_event())
            .map_err(|source| ReplayError::Callback { line, source })?;
        count += 1;
    }
    Ok(count)
}

/// [`replay`] into an async manager.
pub async fn replay_async(
    reader: impl BufRead,
    manager: &AsyncCallbackManager,
) -> Result<usize, ReplayError> {
    let mut count = 0;
    for record in records(reader) {
        let (line, record) = record?;
        manager
            .emit(&record.as_event())
            .await
            .map_err(|source| ReplayError::Callback { line, source })?;
        count += 1;
    }
    Ok(count)
}
