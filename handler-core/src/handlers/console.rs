//! A handler that prints a run as it happens, like LangChain's stdout handler.

use std::borrow::Cow;
use std::fmt;
use std::io::{self, IsTerminal, Write};
use std::sync::{Mutex, PoisonError};

use super::terminal::escaped;
use crate::category::Category;
use crate::cost::PriceTable;
use crate::error::HandlerResult;
use crate::event::{
    AgentAction, AgentFinish, ChainEnd, ChainError, ChainStart, LlmEnd, LlmError, RetrieverEnd,
    Text, ToolEnd, ToolError,
};
use crate::traits::{CallbackHandler, HandlerOptions};

const BOLD: &str = "\x1b[1m";
const GREEN: &str = "\x1b[32m";
const BLUE: &str = "\x1b[36m";
const RED: &str = "\x1b[31m";
const RESET: &str = "\x1b[0m";

/// Prints chains entering and finishing, agent actions, tool output, retrieved documents, LLM
/// text and errors, readable in a terminal (colours only when writing to one).
///
/// At a model run's end it prints, under the text, the run's token usage (with the cached,
/// cache-write and reasoning tokens the server reported) and its cost, priced by the shipped
/// [`PriceTable`] or the one given to [`with_prices`](Self::with_prices):
///
/// ```text
/// tokens 2048 in (1920 cached), 3 out (0 reasoning), 2051 total
/// cost $0.000185 (gpt-4o-mini, prices of 2024-10-01)
/// ```
///
/// or `cost unknown: model "llama3.2" not in the price table (version ...)` (no usage, no
/// model: it says which).
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
    prices: Cow<'static, PriceTable>,
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
            prices: Cow::Borrowed(PriceTable::shipped()),
        }
    }

    /// Prints into a buffer, without colours; read it with [`take_output`](Self::take_output).
    pub fn to_writer(buffer: Vec<u8>) -> Self {
        Self {
            out: Mutex::new(Output::Buffer(buffer)),
            color: false,
            prices: Cow::Borrowed(PriceTable::shipped()),
        }
    }

    /// Prints to any writer, without colours.
    pub fn to_boxed_writer(writer: Box<dyn Write + Send>) -> Self {
        Self {
            out: Mutex::new(Output::Writer(writer)),
            color: false,
            prices: Cow::Borrowed(PriceTable::shipped()),
        }
    }

    /// Prices model runs with `prices` (the shipped table with your overrides merged over it,
    /// say) instead of the shipped table.
    ///
    /// ```
    /// use std::sync::Arc;
    /// use handler_core::CallbackManager;
    /// use handler_core::cost::{ModelPrices, PriceTable};
    /// use handler_core::handlers::ConsoleHandler;
    /// use handler_core::payload::{LlmResult, Serialized, TokenUsage};
    ///
    /// let prices = PriceTable::shipped()
    ///     .clone()
    ///     .with_model("llama3.2", ModelPrices::new(0.0, 0.0, "2026-12-01", "our GPUs"))?;
    /// let console = Arc::new(ConsoleHandler::to_writer(Vec::new()).with_prices(prices));
    /// let manager = CallbackManager::new().with_handler(console.clone());
    /// let llm = manager.on_llm_start(&Serialized::named("ollama"), "hi", Default::default())?;
    /// llm.on_llm_end(
    ///     &LlmResult::from_text("hello")
    ///         .with_model_name("llama3.2")
    ///         .with_token_usage(TokenUsage::new(5, 1)),
    /// )?;
    /// let printed = console.take_output().unwrap_or_default();
    /// assert!(printed.contains("tokens 5 in, 1 out, 6 total\n"));
    /// assert!(printed.contains("cost $0.000000 (llama3.2, prices of 2026-12-01)\n"));
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    #[must_use]
    pub fn with_prices(mut self, prices: PriceTable) -> Self {
        self.prices = Cow::Owned(prices);
        self
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
            .field("prices", &self.prices.version())
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
        let response = event.response;
        if let Some(text) = response.first_text() {
            let (on, off) = self.paint(GREEN);
            self.print(format_args!("{on}{}{off}\n", escaped(text)))?;
        }
        if let Some(usage) = &response.token_usage {
            self.print(format_args!("tokens {usage}\n"))?;
        }
        // Model names come from the server: escaped like any model output.
        match self.prices.cost_of(response) {
            Ok(cost) => self.print(format_args!("cost {}\n", escaped(cost))),
            Err(unknown) => self.print(format_args!("cost unknown: {}\n", escaped(unknown))),
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
