//! The main example: an in-memory RAG pipeline watched by three handlers, its answers graded by
//! the UpTrain plugin, ending with a table of scores.
//!
//! `cargo run --example rag_pipeline`
//!
//! - the console handler prints the runs as they happen;
//! - `TokenCounter`, derived with `#[derive(CallbackHandler)]` and `#[callbacks]`, counts the
//!   streamed tokens and the usage the model reports;
//! - the UpTrain handler is not named here: the facade's `uptrain` feature registers it as a
//!   plugin and `add_plugins` finds it. It reads its settings from the environment: with no
//!   key it grades offline (and says so once in the log); with `OPENAI_API_KEY` (and
//!   `OPENAI_BASE_URL` for a local OpenAI-compatible server) it asks that judge.
//!
//! - with the `otel` feature and `OTEL_EXPORTER_OTLP_ENDPOINT` (or `PHOENIX_COLLECTOR_ENDPOINT`)
//!   set, the OpenTelemetry plugin exports every run as a span and every score as an event
//!   of the run it grades (and, with Phoenix, as a span annotation):
//!   `cargo run --features otel --example rag_pipeline`.
//!
//! The pipeline answers a few questions with a keyword retriever (UpTrain's RAG checks), one
//! with a multi-query retriever (plus multi-query accuracy) and one with a contextual
//! compression retriever (plus context conciseness and reranking).

use std::error::Error;
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

fn main() -> Result<(), Box<dyn Error>> {
    // The UpTrain handler logs through `tracing` (which evaluator it uses, failed checks).
    tracing_subscriber::fmt()
        .with_max_level(tracing_subscriber::filter::LevelFilter::INFO)
        .with_writer(std::io::stderr)
        .init();

    let tokens = Arc::new(TokenCounter::default());
    let mut manager = CallbackManager::new()
        .with_handler(Arc::new(ConsoleHandler::new()))
        .with_handler(tokens.clone());
    let plugins = manager.add_plugins(&PluginConfig::from_env())?;
    let uptrain = manager.find_handler::<UptrainHandler>();
    println!(
        "handlers: {:?} (plugins found: {plugins:?})",
        manager.handlers()
    );
    if let Some(uptrain) = &uptrain {
        println!("UpTrain evaluator: {}", uptrain.evaluator_name());
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
        Some(otel) => println!(
            "OpenTelemetry export to {}",
            otel.config().traces_endpoint.as_deref().unwrap_or("?")
        ),
        None => println!("OpenTelemetry export is off (set OTEL_EXPORTER_OTLP_ENDPOINT)"),
    }

    let mut rows: Vec<EvaluatedRow> = Vec::new();
    for (question, retrieval) in runs {
        println!("\n=== {question} ({} retrieval) ===", retrieval.label());
        pipeline.answer(&manager, question, retrieval)?;
        // Waiting here keeps each answer's scores next to its run in the output; a pipeline
        // that does not care would flush once at the end.
        if let Some(uptrain) = &uptrain {
            let evaluated = uptrain.flush();
            #[cfg(feature = "otel")]
            examples::export::publish_rows(&evaluated);
            rows.extend(evaluated);
        }
    }

    println!(
        "\n{} model runs, {} tokens streamed; usage reported: {} prompt + {} completion tokens",
        tokens.runs.load(Ordering::Relaxed),
        tokens.streamed.load(Ordering::Relaxed),
        tokens.prompt.load(Ordering::Relaxed),
        tokens.completion.load(Ordering::Relaxed),
    );
    #[cfg(feature = "otel")]
    if let Some(otel) = &otel {
        let report = otel.shutdown(std::time::Duration::from_secs(30));
        println!(
            "\nOpenTelemetry: {} spans exported, {} failed, {} dropped; {} Phoenix annotations sent, {} failed",
            report.spans.exported,
            report.spans.failed,
            report.spans.dropped,
            report.annotations.sent,
            report.annotations.failed,
        );
    }
    match uptrain {
        Some(_) => {
            let failed = rows.iter().filter(|r| !r.is_ok()).count();
            println!(
                "\nUpTrain scores ({} rows, {failed} with errors):\n",
                rows.len()
            );
            print!("{}", score_table(&rows));
        }
        None => {
            println!("\nThe UpTrain plugin is off (LLM_CALLBACKS_PLUGINS), so nothing was graded.")
        }
    }
    Ok(())
}
