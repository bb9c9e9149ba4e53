//! A handler that prints a run as it happens, like LangChain's stdout handler.

use std::fmt;
use std::io::{self, IsTerminal, Write};
use std::sync::{Mutex, PoisonError};

use super::terminal::escaped;
use crate::Category;
use crate::error::HandlerResult;
use crate::event::{
    AgentAction, AgentFinish, ChainEnd, ChainError, ChainStart, LlmEnd, LlmError, RetrieverEnd,
    Text, ToolEnd, ToolError,
};
use crate::handler::{CallbackHandler, HandlerOptions};

const BOLD: &str = "\x1b[1m";
const GREEN: &str = "\x1b[32m";
const BLUE: &str = "\x1b[36m";
const RED: &str = "\x1b[31m";
const RESET: &str = "\x1b[0m";

/// Prints chains entering and finishing, agent actions, tool output, retrieved documents, LLM
/// text and errors, readable in a terminal (colours only when writing to one).
///
/// What it prints from a model (text, outputs, agent logs, errors, names) has its control
/// characters escaped: an `ESC` prints as `\u{1b}`, a carriage return as `\r`; newlines and
/// tabs stay as they are. A panic while printing (a writer that panics) does not silence it:
/// the next event prints again.
///
/// ```
/// use std::sync::Arc;
/// use handler_core::{CallbackManager, RunOptions};
/// use handler_core::handlers::ConsoleHandler;
/// use serde_json::json;
///
/// let console = Arc::new(ConsoleHandler::to_writer(Vec::new()));
/// let manager = CallbackManager::new().with_handler(console.clone());
/// let chain = manager.on_chain_start(None, &json!({}), RunOptions::named("qa"))?;
/// chain.on_chain_end(&json!({}))?;
/// let printed = console.take_output().unwrap_or_default();
/// assert!(printed.contains("> Entering new qa chain..."));
/// assert!(printed.contains("> Finished chain."));
/// # Ok::<(), handler_core::CallbackError>(())
/// ```
pub struct ConsoleHandler {
    out: Mutex<Output>,
    color: bool,
}

enum Output {
    Stdout,
    Buffer(Vec<u8>),
    Writer(Box<dyn Write + Send>),
}

impl ConsoleHandler {
    /// Prints to standard output, with colours when it is a terminal.
    pub fn new() -> Self {
        Self {
            out: Mutex::new(Output::Stdout),
            color: io::stdout().is_terminal(),
        }
    }

    /// Prints into a buffer, without colours; read it with [`take_output`](Self::take_output).
    pub fn to_writer(buffer: Vec<u8>) -> Self {
        Self {
            out: Mutex::new(Output::Buffer(buffer)),
            color: false,
        }
    }

    /// Prints to any writer, without colours.
    pub fn to_boxed_writer(writer: Box<dyn Write + Send>) -> Self {
        Self {
            out: Mutex::new(Output::Writer(writer)),
            color: false,
        }
    }

    /// Takes what was printed so far into the buffer of [`to_writer`](Self::to_writer).
    pub fn take_output(&self) -> Option<String> {
        let mut out = self.out.lock().unwrap_or_else(PoisonError::into_inner);
        match &mut *out {
            Output::Buffer(buffer) => Some(String::from_utf8_lossy(&std::mem::take(buffer)).into()),
            _ => None,
        }
    }

    fn paint<'a>(&self, color: &'a str) -> (&'a str, &'static str) {
        if self.color { (color, RESET) } else { ("", "") }
    }

    fn print(&self, args: fmt::Arguments<'_>) -> HandlerResult {
        // A panic while printing poisons the lock; the output itself is still usable.
        let mut out = self.out.lock().unwrap_or_else(PoisonError::into_inner);
        match &mut *out {
            Output::Stdout => {
                let mut stdout = io::stdout().lock();
                stdout.write_fmt(args)?;
                stdout.flush()?;
            }
            Output::Buffer(buffer) => buffer.write_fmt(args)?,
            Output::Writer(writer) => writer.write_fmt(args)?,
        }
        Ok(())
    }
}

impl Default for ConsoleHandler {
    fn default() -> Self {
        Self::new()
    }
}

impl fmt::Debug for ConsoleHandler {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("ConsoleHandler")
            .field("color", &self.color)
            .finish()
    }
}

fn display_value(value: &serde_json::Value) -> String {
    match value {
        serde_json::Value::String(s) => s.clone(),
        other => other.to_string(),
    }
}

impl CallbackHandler for ConsoleHandler {
    fn name(&self) -> &str {
        "console"
    }

    fn options(&self) -> HandlerOptions {
        HandlerOptions::new()
            .ignore(Category::ChatModel)
            .ignore(Category::LlmNewToken)
            .ignore(Category::Retry)
            .ignore(Category::CustomEvent)
    }

    fn on_chain_start(&self, event: &ChainStart<'_>) -> HandlerResult {
        let name = event
            .run
            .name
            .as_deref()
            .or_else(|| event.serialized.and_then(|s| s.name.as_deref()))
            .unwrap_or("<unknown>");
        let (on, off) = self.paint(BOLD);
        self.print(format_args!(
            "\n\n{on}> Entering new {} chain...{off}\n",
            escaped(name)
        ))
    }

    fn on_chain_end(&self, _event: &ChainEnd<'_>) -> HandlerResult {
        let (on, off) = self.paint(BOLD);
        self.print(format_args!("\n{on}> Finished chain.{off}\n"))
    }

    fn on_chain_error(&self, event: &ChainError<'_>) -> HandlerResult {
        let (on, off) = self.paint(RED);
        self.print(format_args!(
            "\n{on}> Chain failed: {}{off}\n",
            escaped(event.error)
        ))
    }

    fn on_agent_action(&self, event: &AgentAction<'_>) -> HandlerResult {
        let (on, off) = self.paint(BLUE);
        self.print(format_args!("{on}{}{off}\n", escaped(event.log)))
    }

    fn on_agent_finish(&self, event: &AgentFinish<'_>) -> HandlerResult {
        let (on, off) = self.paint(GREEN);
        self.print(format_args!("{on}{}{off}\n", escaped(event.log)))
    }

    fn on_tool_end(&self, event: &ToolEnd<'_>) -> HandlerResult {
        let (on, off) = self.paint(GREEN);
        self.print(format_args!(
            "\nObservation: {on}{}{off}\n",
            escaped(display_value(event.output))
        ))
    }

    fn on_tool_error(&self, event: &ToolError<'_>) -> HandlerResult {
        let (on, off) = self.paint(RED);
        self.print(format_args!(
            "\n{on}Tool failed: {}{off}\n",
            escaped(event.error)
        ))
    }

    fn on_retriever_end(&self, event: &RetrieverEnd<'_>) -> HandlerResult {
        let n = event.documents.len();
        let plural = if n == 1 { "" } else { "s" };
        self.print(format_args!("Retrieved {n} document{plural}\n"))
    }

    fn on_llm_end(&self, event: &LlmEnd<'_>) -> HandlerResult {
        match event.response.first_text() {
            Some(text) => {
                let (on, off) = self.paint(GREEN);
                self.print(format_args!("{on}{}{off}\n", escaped(text)))
            }
            None => Ok(()),
        }
    }

    fn on_llm_error(&self, event: &LlmError<'_>) -> HandlerResult {
        let (on, off) = self.paint(RED);
        self.print(format_args!(
            "{on}LLM failed: {}{off}\n",
            escaped(event.error)
        ))
    }

    fn on_text(&self, event: &Text<'_>) -> HandlerResult {
        self.print(format_args!("{}", escaped(event.text)))
    }
}
