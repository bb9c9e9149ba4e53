//! The 30-second tour: a manager with two handlers, a chain run and a streamed LLM child run.
//!
//! `cargo run --example quickstart`

use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};

use llm_callbacks::event::Category;
use llm_callbacks::event::LlmNewToken;
use llm_callbacks::handlers::ConsoleHandler;
use llm_callbacks::payload::{LlmResult, Serialized};
use llm_callbacks::{
    CallbackError, CallbackHandler, CallbackManager, HandlerOptions, HandlerResult, RunOptions,
};
use serde_json::json;

/// Counts streamed tokens; ignores every category but LLM events, so the rest costs nothing.
#[derive(Default)]
struct TokenCounter(AtomicUsize);

impl CallbackHandler for TokenCounter {
    fn name(&self) -> &str {
        "token-counter"
    }

    fn options(&self) -> HandlerOptions {
        let mut options = HandlerOptions::new();
        for &category in Category::ALL {
            if category != Category::Llm {
                options = options.ignore(category);
            }
        }
        options
    }

    fn on_llm_new_token(&self, _event: &LlmNewToken<'_>) -> HandlerResult {
        self.0.fetch_add(1, Ordering::Relaxed);
        Ok(())
    }
}

fn main() -> Result<(), CallbackError> {
    let tokens = Arc::new(TokenCounter::default());
    let manager = CallbackManager::new()
        .with_handler(Arc::new(ConsoleHandler::new()))
        .with_handler(tokens.clone());

    let question = "What does a callback manager do?";
    let chain = manager.on_chain_start(
        None,
        &json!({ "question": question }),
        RunOptions::named("qa"),
    )?;
    let llm = chain.child().on_llm_start(
        &Serialized::new(["llm", "stand_in", "EchoModel"]),
        &format!("Answer briefly: {question}"),
        RunOptions::default(),
    )?;
    let answer = "It fans every event of a run out to the handlers that want it.";
    for token in answer.split_inclusive(' ') {
        llm.on_llm_new_token(token, None)?;
    }
    llm.on_llm_end(&LlmResult::from_text(answer))?;
    chain.on_chain_end(&json!({ "answer": answer }))?;

    println!(
        "\n{} tokens streamed through {} handlers.",
        tokens.0.load(Ordering::Relaxed),
        manager.handler_names().len()
    );
    Ok(())
}
