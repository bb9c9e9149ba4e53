//! A derived handler next to a hand-written one, in one async pipeline.
//!
//! `cargo run -p examples --example custom_handler`
//!
//! - `Timeline` is written by hand: it implements `CallbackHandler` and lists its flags itself.
//! - `RunStats` is derived: a plain struct, its marked methods, nothing else. The macros write
//!   the trait impl and ignore every category it has no method for.
//! - `Auditor` is derived too, with an `async` method, which makes it an async handler.

use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use llm_callbacks::event::Category;
use llm_callbacks::event::{ChainEnd, ChainStart, LlmNewToken, RetrieverEnd};
use llm_callbacks::payload::{Document, LlmResult, Serialized};
use llm_callbacks::{
    AsyncCallbackManager, CallbackError, CallbackHandler, HandlerOptions, HandlerResult,
    RunContext, RunOptions, callbacks,
};
use serde_json::json;

/// Hand-written: prints when chains start and end, and ignores the rest.
struct Timeline;

impl CallbackHandler for Timeline {
    fn name(&self) -> &str {
        "timeline"
    }

    fn options(&self) -> HandlerOptions {
        HandlerOptions::new()
            .ignore(Category::Llm)
            .ignore(Category::ChatModel)
            .ignore(Category::Agent)
            .ignore(Category::Retriever)
            .ignore(Category::Retry)
            .ignore(Category::CustomEvent)
            .run_inline(true)
    }

    fn on_chain_start(&self, event: &ChainStart<'_>) -> HandlerResult {
        println!("[timeline] chain started: {}", event.inputs);
        Ok(())
    }

    fn on_chain_end(&self, event: &ChainEnd<'_>) -> HandlerResult {
        println!("[timeline] chain ended:   {}", event.outputs);
        Ok(())
    }
}

/// Derived: counts retrieved documents and streamed tokens, and reports them when the chain
/// ends.
#[derive(CallbackHandler, Default)]
#[callback(name = "run-stats")]
struct RunStats {
    documents: AtomicUsize,
    tokens: AtomicUsize,
}

#[callbacks]
impl RunStats {
    #[on(retriever_end)]
    fn documents(&self, event: &RetrieverEnd<'_>) {
        self.documents
            .fetch_add(event.documents.len(), Ordering::Relaxed);
    }

    #[on(llm_new_token)]
    fn token(&self, _event: &LlmNewToken<'_>) {
        self.tokens.fetch_add(1, Ordering::Relaxed);
    }

    #[on(chain_end)]
    fn report(&self, _event: &ChainEnd<'_>, run: &RunContext) {
        println!(
            "[run-stats] run …{} ended; so far {} documents retrieved, {} tokens streamed",
            short(run),
            self.documents.load(Ordering::Relaxed),
            self.tokens.load(Ordering::Relaxed),
        );
    }
}

/// Derived and asynchronous: "uploads" each finished answer (a sleep stands in for the
/// network), and refuses empty answers with an error the manager logs.
#[derive(CallbackHandler, Default)]
#[callback(name = "auditor")]
struct Auditor {
    uploaded: Mutex<Vec<String>>,
}

#[callbacks]
impl Auditor {
    #[on(chain_end)]
    async fn upload(&self, event: &ChainEnd<'_>) -> Result<(), String> {
        let answer = event.outputs["answer"]
            .as_str()
            .unwrap_or_default()
            .to_owned();
        if answer.is_empty() {
            return Err("refusing to upload an empty answer".to_owned());
        }
        tokio::time::sleep(Duration::from_millis(20)).await;
        println!("[auditor] uploaded answer: {answer:?}");
        if let Ok(mut uploaded) = self.uploaded.lock() {
            uploaded.push(answer);
        }
        Ok(())
    }
}

fn short(run: &RunContext) -> String {
    let id = run.run_id.simple().to_string();
    id[id.len() - 6..].to_owned()
}

#[tokio::main]
async fn main() -> Result<(), CallbackError> {
    let stats = Arc::new(RunStats::default());
    let auditor = Arc::new(Auditor::default());
    let manager = AsyncCallbackManager::new()
        .with_handler(Arc::new(Timeline))
        .with_handler(stats.clone())
        .with_async_handler(auditor.clone());

    println!("handlers: {:?}", manager.handler_names());
    let flags = |o: HandlerOptions| {
        Category::ALL
            .iter()
            .copied()
            .filter(|c| !o.ignores(*c))
            .map(|c| c.to_string())
            .collect::<Vec<_>>()
            .join(", ")
    };
    println!("run-stats wants: {}", flags(RunStats::OPTIONS));
    println!("auditor wants:   {}", flags(Auditor::OPTIONS));
    println!();

    // A small retrieval-augmented answer: chain -> retriever -> streamed LLM.
    let question = "What is the capital of France?";
    let chain = manager
        .on_chain_start(
            None,
            &json!({ "question": question }),
            RunOptions::named("qa"),
        )
        .await?;
    let steps = chain.child();
    let retriever = steps
        .on_retriever_start(None, question, RunOptions::named("retrieve"))
        .await?;
    retriever
        .on_retriever_end(&[
            Document::new("Paris is the capital of France."),
            Document::new("France is in Europe."),
        ])
        .await?;
    let llm = steps
        .on_llm_start(
            &Serialized::named("echo-model"),
            question,
            RunOptions::new(),
        )
        .await?;
    let mut answer = String::new();
    for token in ["Paris", " is", " the", " capital", "."] {
        answer.push_str(token);
        llm.on_llm_new_token(token, None).await?;
    }
    llm.on_llm_end(&LlmResult::from_text(&answer)).await?;
    chain.on_chain_end(&json!({ "answer": answer })).await?;

    // An empty answer: the auditor's error is logged (it does not raise), the pipeline goes on.
    let chain = manager
        .on_chain_start(None, &json!({ "question": "?" }), RunOptions::named("qa"))
        .await?;
    chain.on_chain_end(&json!({ "answer": "" })).await?;
    println!("[auditor] refused the empty answer: its error went to the `tracing` log, not to us");

    println!();
    let uploaded = auditor.uploaded.lock().map(|u| u.len()).unwrap_or_default();
    println!("done: {uploaded} answer(s) uploaded");
    Ok(())
}
