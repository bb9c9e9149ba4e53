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
//! - with the `otel` feature and `OTEL_EXPORTER_OTLP_ENDPOINT` (or `PHOENIX_COLLECTOR_ENDPOINT`)
//!   set, the OpenTelemetry plugin exports every run as a span and every score as an event
//!   of the run it grades (and, with Phoenix, as a span annotation):
//!   `cargo run --features otel --example rag_pipeline`. The exporter captures no content
//!   unless asked; this demo asks (`OTEL_INSTRUMENTATION_GENAI_CAPTURE_MESSAGE_CONTENT=true`
//!   unless set otherwise), so that Phoenix shows the questions and answers.
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
use llm_callbacks::event::{LlmEnd, LlmNewToken};
use llm_callbacks::handlers::ConsoleHandler;
use llm_callbacks::registry::PluginConfig;
use llm_callbacks::uptrain::{EvaluatedRow, UptrainHandler};
use llm_callbacks::{CallbackHandler, CallbackManager, callbacks};

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
    #[allow(unused_mut)] // changed with the `otel` feature only
    let mut config = PluginConfig::from_env();
    // This demo exports to a collector you run (a local Phoenix), so it shows the questions,
    // documents and answers there: the exporter captures no content unless asked. Set
    // OTEL_INSTRUMENTATION_GENAI_CAPTURE_MESSAGE_CONTENT=false to export without it.
    #[cfg(feature = "otel")]
    if config
        .get(llm_callbacks::otel::env::CAPTURE_CONTENT)
        .is_none()
    {
        config = config.set(llm_callbacks::otel::env::CAPTURE_CONTENT, "true");
    }
    let plugins = manager.add_plugins(&config)?;
    let uptrain = manager.find_handler::<UptrainHandler>();
    say!(
        "handlers: {:?} (plugins found: {plugins:?})",
        manager.handler_names()
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
    #[cfg(feature = "otel")]
    let otel = manager.find_handler::<llm_callbacks::otel::OtelHandler>();
    #[cfg(feature = "otel")]
    match &otel {
        Some(otel) => say!(
            "OpenTelemetry export to {}",
            otel.config().traces_endpoint.as_deref().unwrap_or("?")
        )?,
        None => say!("OpenTelemetry export is off (set OTEL_EXPORTER_OTLP_ENDPOINT)")?,
    }

    let mut rows: Vec<EvaluatedRow> = Vec::new();
    for (question, retrieval) in runs {
        say!("\n=== {question} ({} retrieval) ===", retrieval.label())?;
        pipeline.answer(&manager, question, retrieval)?;
        // Waiting here keeps each answer's scores next to its run in the output; a pipeline
        // that does not care would flush once at the end.
        if let Some(uptrain) = &uptrain {
            // The UpTrain plugin publishes each score through the core, where the
            // OpenTelemetry exporter (feature `otel`) picks it up.
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
    #[cfg(feature = "otel")]
    if let Some(otel) = &otel {
        let report = otel.shutdown(std::time::Duration::from_secs(30));
        say!(
            "\nOpenTelemetry: {} spans exported, {} failed, {} dropped; {} Phoenix annotations sent, {} failed",
            report.spans.exported,
            report.spans.failed,
            report.spans.dropped,
            report.annotations.sent,
            report.annotations.failed,
        )?;
    }
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
            // What grading cost: the judge's requests, tokens and their price (or why it is
            // unknown; the offline evaluator calls no judge model).
            say!("Grading cost: {}", stats.judge_usage)?;
        }
        None => {
            say!("\nThe UpTrain plugin is off (LLM_CALLBACKS_PLUGINS), so nothing was graded.")?
        }
    }
    io::stdout().flush()?;
    Ok(())
}
