//! The main example: an in-memory RAG pipeline watched by three handlers, its answers graded by
//! the UpTrain plugin, ending with a table of scores.
//!
//! `cargo run --example rag_pipeline`
//!
//! - the console handler prints the runs as they happen;
//! - `TokenCounter`, derived with `#[derive(CallbackHandler)]` and `#[callbacks]`, counts the
//!   streamed tokens and the usage the model reports;
//! - the UpTrain handler is not named here: the facade's `uptrain` feature registers it as a
//!   plugin and `add_plugins` finds it. It reads its settings from the environment and sends
//!   nothing anywhere unless asked: by default it grades offline, with lexical estimates (and
//!   says so, with how to turn a judge on). `UPTRAIN_EVALUATOR=judge` with `OPENAI_API_KEY`
//!   (and `OPENAI_BASE_URL` for a local OpenAI-compatible server) asks an LLM judge;
//!   `UPTRAIN_API_KEY` with `UPTRAIN_SERVER_URL` the UpTrain API. An `OPENAI_API_KEY` alone is
//!   not enough: a key in the environment is not consent to send your answers away.
//!
//! The output is pipe-friendly: `cargo run --example rag_pipeline | head -1` ends quietly, and
//! the log on stderr has colours only when stderr is a terminal.
//!
//! The pipeline answers a few questions with a keyword retriever (UpTrain's RAG checks), one
//! with a multi-query retriever (plus multi-query accuracy) and one with a contextual
//! compression retriever (plus context conciseness and reranking).

use std::error::Error;
use std::io::{self, IsTerminal, Write};
use std::process::ExitCode;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};

use examples::{Pipeline, QUESTIONS, Retrieval, score_table};
use llm_callbacks::handlers::ConsoleHandler;
use llm_callbacks::registry::PluginConfig;
use llm_callbacks::uptrain::{EvaluatedRow, UptrainHandler};
use llm_callbacks::{CallbackHandler, CallbackManager, LlmEnd, LlmNewToken, callbacks};

/// Counts the tokens the model streams and the tokens its runs report using.
#[derive(CallbackHandler, Default)]
#[callback(name = "token-counter")]
struct TokenCounter {
    streamed: AtomicU64,
    prompt: AtomicU64,
    completion: AtomicU64,
    runs: AtomicU64,
}

#[callbacks]
impl TokenCounter {
    #[on(llm_new_token)]
    fn token(&self, _event: &LlmNewToken<'_>) {
        self.streamed.fetch_add(1, Ordering::Relaxed);
    }

    #[on(llm_end)]
    fn usage(&self, event: &LlmEnd<'_>) {
        self.runs.fetch_add(1, Ordering::Relaxed);
        if let Some(usage) = event.response.token_usage {
            self.prompt
                .fetch_add(usage.prompt_tokens, Ordering::Relaxed);
            self.completion
                .fetch_add(usage.completion_tokens, Ordering::Relaxed);
        }
    }
}

/// `println!` that returns the error instead of panicking when stdout is gone.
macro_rules! say {
    ($($arg:tt)*) => {
        writeln!(io::stdout(), $($arg)*)
    };
}

fn main() -> ExitCode {
    // The UpTrain handler logs through `tracing` (which evaluator it uses, failed checks).
    tracing_subscriber::fmt()
        .with_max_level(tracing_subscriber::filter::LevelFilter::INFO)
        .with_writer(io::stderr)
        .with_ansi(io::stderr().is_terminal())
        .init();
    match run() {
        Ok(()) => ExitCode::SUCCESS,
        // The reader went away (`| head -1`): nothing left to say, and no one to say it to.
        Err(error)
            if error
                .downcast_ref::<io::Error>()
                .is_some_and(|e| e.kind() == io::ErrorKind::BrokenPipe) =>
        {
            ExitCode::SUCCESS
        }
        Err(error) => {
            let _ = writeln!(io::stderr(), "error: {error}");
            ExitCode::FAILURE
        }
    }
}

fn run() -> Result<(), Box<dyn Error>> {
    let tokens = Arc::new(TokenCounter::default());
    let mut manager = CallbackManager::new()
        .with_handler(Arc::new(ConsoleHandler::new()))
        .with_handler(tokens.clone());
    let plugins = manager.add_plugins(&PluginConfig::from_env())?;
    let uptrain = manager.find_handler::<UptrainHandler>();
    say!(
        "handlers: {:?} (plugins found: {plugins:?})",
        manager.handlers()
    )?;
    if let Some(uptrain) = &uptrain {
        say!("UpTrain evaluator: {}", uptrain.evaluator_name())?;
        if uptrain.evaluator_name() == "offline" {
            say!(
                "  Scores are offline lexical estimates (word overlap), not an LLM judge's \
                 verdict.\n  For a judge: UPTRAIN_EVALUATOR=judge OPENAI_API_KEY=... \
                 [OPENAI_BASE_URL=http://localhost:11434/v1 for a local server] \
                 [UPTRAIN_MODEL=...]\n  For the UpTrain API: UPTRAIN_API_KEY=... \
                 UPTRAIN_SERVER_URL=https://..."
            )?;
        }
    }

    let pipeline = Pipeline::shipped()?;
    let runs = [
        (QUESTIONS[0], Retrieval::Keyword),
        (QUESTIONS[1], Retrieval::Keyword),
        (QUESTIONS[2], Retrieval::Keyword),
        (QUESTIONS[3], Retrieval::MultiQuery),
        (QUESTIONS[4], Retrieval::Compression),
    ];
    let mut rows: Vec<EvaluatedRow> = Vec::new();
    for (question, retrieval) in runs {
        say!("\n=== {question} ({} retrieval) ===", retrieval.label())?;
        pipeline.answer(&manager, question, retrieval)?;
        // Waiting here keeps each answer's scores next to its run in the output; a pipeline
        // that does not care would flush once at the end.
        if let Some(uptrain) = &uptrain {
            rows.extend(uptrain.flush());
        }
    }

    say!(
        "\n{} model runs, {} tokens streamed; usage reported: {} prompt + {} completion tokens",
        tokens.runs.load(Ordering::Relaxed),
        tokens.streamed.load(Ordering::Relaxed),
        tokens.prompt.load(Ordering::Relaxed),
        tokens.completion.load(Ordering::Relaxed),
    )?;
    match uptrain {
        Some(uptrain) => {
            let failed = rows.iter().filter(|r| !r.is_ok()).count();
            let stats = uptrain.stats();
            say!(
                "\nUpTrain scores ({} rows, {failed} with errors; {} evaluated, {} not \
                 evaluated because the queue was full):\n",
                rows.len(),
                stats.evaluated,
                stats.refused
            )?;
            write!(io::stdout(), "{}", score_table(&rows))?;
        }
        None => {
            say!("\nThe UpTrain plugin is off (LLM_CALLBACKS_PLUGINS), so nothing was graded.")?
        }
    }
    io::stdout().flush()?;
    Ok(())
}
