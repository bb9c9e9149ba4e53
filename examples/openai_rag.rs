//! A small RAG service on an OpenAI-compatible server, written the way you would write yours:
//! the callbacks are attached once at the top, the service's functions are traced, and the
//! async-openai client is wrapped once. No event is sent by hand.
//!
//! ```text
//! OPENAI_BASE_URL=http://localhost:11434/v1 OPENAI_MODEL=llama3.2 \
//!     cargo run -p examples --features openai --example openai_rag
//! ```
//!
//! Without `OPENAI_BASE_URL` or `OPENAI_API_KEY` it says how to start a local server and exits.
//! With the `otel` feature too and `OTEL_EXPORTER_OTLP_ENDPOINT` set, the discovered
//! OpenTelemetry exporter ships the runs and the scores (`--features openai,otel`), with their
//! content (`OTEL_INSTRUMENTATION_GENAI_CAPTURE_MESSAGE_CONTENT=true` unless set otherwise).
//! The UpTrain plugin grades each answer: with the judge when a key is set (on the same server
//! and model unless `UPTRAIN_MODEL` says otherwise), else offline.
//!
//! Each model run's tokens and cost are printed at its end and summed at the end, priced by the
//! shipped price table, with the JSON table in `LLM_CALLBACKS_PRICES` (a file path) merged over
//! it when set.

use std::error::Error;
use std::sync::Arc;

use examples::openai_rag::{NO_SERVER_HELP, RagService, Settings, callbacks};
use examples::{Corpus, UsageSummary, score_table};
use llm_callbacks::cost::PriceTable;
use llm_callbacks::handlers::ConsoleHandler;
use llm_callbacks::openai::RetryPolicy;
use llm_callbacks::registry::PluginConfig;
use llm_callbacks::uptrain::env as uptrain_env;

const QUESTIONS: &[&str] = &[
    "How long is a day on Venus?",
    "Which planet has the Great Red Spot?",
    "What are the rings of Saturn made of?",
];

#[tokio::main]
async fn main() -> Result<(), Box<dyn Error>> {
    let Some(settings) = Settings::from_env() else {
        print!("{NO_SERVER_HELP}");
        return Ok(());
    };

    // Once, at the top: the console handler and the plugins (UpTrain; OpenTelemetry with the
    // `otel` feature and an endpoint).
    let mut plugins = PluginConfig::from_env();
    if plugins.get(uptrain_env::MODEL).is_none() {
        plugins = plugins.set(uptrain_env::MODEL, settings.model.as_str());
    }
    // Exported runs show their prompts and answers in the collector you run (a local Phoenix)
    // only when asked: this demo asks, unless the variable says otherwise.
    #[cfg(feature = "otel")]
    if plugins
        .get(llm_callbacks::otel::env::CAPTURE_CONTENT)
        .is_none()
    {
        plugins = plugins.set(llm_callbacks::otel::env::CAPTURE_CONTENT, "true");
    }
    let prices = match std::env::var_os("LLM_CALLBACKS_PRICES") {
        Some(path) => PriceTable::shipped_with_overrides(path)?,
        None => PriceTable::shipped().clone(),
    };
    let console = ConsoleHandler::new().with_prices(prices.clone());
    let (manager, uptrain) = callbacks(console, &plugins)?;
    let usage = Arc::new(UsageSummary::with_prices(prices));
    let manager = manager.with_handler(usage.clone());

    let client = settings.client(RetryPolicy::default())?;
    let service = RagService::new(client, Corpus::shipped()?, settings.model.as_str());

    for question in QUESTIONS {
        // Each request is a root run of the manager; everything below nests by itself.
        match manager.instrument(service.answer(question)).await {
            Ok(answer) => println!("\nQ: {question}\nA: {answer}\n"),
            Err(error) => eprintln!("\nQ: {question}\nfailed: {error}\n"),
        }
    }

    print!("\n{}", usage.report());

    if let Some(uptrain) = uptrain {
        let rows = uptrain.flush_async().await;
        println!(
            "UpTrain ({}) graded {} answers:\n",
            uptrain.evaluator_name(),
            rows.len()
        );
        print!("{}", score_table(&rows));
    }
    #[cfg(feature = "otel")]
    if let Some(otel) = manager.find_handler::<llm_callbacks::otel::OtelHandler>() {
        // After the scores, which it exports too; bounded, like every wait here.
        let report = otel.shutdown(std::time::Duration::from_secs(30));
        println!(
            "OpenTelemetry: {} spans exported, {} failed, {} dropped",
            report.spans.exported, report.spans.failed, report.spans.dropped,
        );
    }
    Ok(())
}
