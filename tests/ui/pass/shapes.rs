//! Every supported shape of a handler, in a crate that denies missing docs and warnings.
#![deny(missing_docs, warnings)]

use std::sync::Arc;
use llm_callbacks::event::{ChainEnd, ChainError, ChainStart, LlmEnd, LlmStart, Text, ToolStart};
use llm_callbacks::{AsyncCallbackHandler, AsyncCallbackManager, CallbackHandler, CallbackManager, RunContext, callbacks};
use llm_callbacks::error::HandlerError;

/// A public sync handler: every return shape, with and without the run context.
#[derive(CallbackHandler, Default)]
#[callback(name = "shapes", raise_error = false, run_inline = true, ignore_retry = false)]
pub struct Shapes;

#[derive(Debug)]
struct MyError;
impl std::fmt::Display for MyError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("my error")
    }
}
impl std::error::Error for MyError {}

#[callbacks]
impl Shapes {
    #[on(chain_start)]
    fn unit(&self, _event: &ChainStart<'_>) {}

    #[on(chain_end)]
    /// A public marked method.
    pub fn std_error(&self, _event: &ChainEnd<'_>, _run: &RunContext) -> Result<(), std::io::Error> {
        Ok(())
    }

    #[on(chain_error)]
    fn custom_error(&self, _event: &ChainError<'_>) -> Result<(), MyError> {
        Err(MyError)
    }

    #[on(tool_start)]
    fn string_error(&self, _event: &ToolStart<'_>) -> Result<(), String> {
        Err("no".to_owned())
    }

    #[on(llm_start)]
    fn static_str_error(&self, event: &LlmStart<'_>) -> Result<(), &'static str> {
        if event.prompts.is_empty() { Err("empty") } else { Ok(()) }
    }

    #[on(llm_end)]
    fn handler_error<'a>(&'a self, _event: &LlmEnd<'a>) -> Result<(), HandlerError> {
        Ok(())
    }

    #[on(text)]
    const fn constant(&self, _event: &Text<'_>) {}

    /// Unmarked methods stay as they are.
    pub fn helper(&self) -> u32 {
        1
    }
}

/// An async handler mixing async and sync methods; an enum works too.
#[derive(CallbackHandler)]
enum Mixed {
    /// The only variant.
    One,
}

#[callbacks]
impl Mixed {
    #[on(chain_end)]
    async fn awaits(&self, _event: &ChainEnd<'_>, run: &RunContext) -> Result<(), String> {
        let _id = run.run_id;
        std::future::ready(()).await;
        Ok(())
    }

    #[on(text)]
    fn sync_in_async(&self, _event: &Text<'_>) {}
}

/// A generic handler with a lifetime parameter: a handler for `Borrowing<'static>`.
#[derive(CallbackHandler)]
struct Borrowing<'a, T> {
    label: &'a str,
    value: T,
}

#[callbacks]
impl<'a, T: Send + Sync> Borrowing<'a, T> {
    #[on(text)]
    fn text(&self, _event: &Text<'_>) {
        let _ = (self.label, &self.value);
    }
}

fn main() {
    let shapes = Arc::new(Shapes);
    assert_eq!(shapes.helper(), 1);
    const OPTIONS: llm_callbacks::HandlerOptions = Shapes::OPTIONS;
    assert!(OPTIONS.run_inline && !OPTIONS.ignore_retry && !OPTIONS.ignore_llm);
    let _sync = CallbackManager::new().with_handler(shapes.clone());
    let _async = AsyncCallbackManager::new()
        .with_handler(shapes)
        .with_async_handler(Arc::new(Mixed::One))
        .with_handler(Arc::new(Borrowing { label: "static", value: 1_u8 }));
    assert_eq!(AsyncCallbackHandler::name(&Mixed::One), std::any::type_name::<Mixed>());
}
