//! Several questions answered at once through an `AsyncCallbackManager`, graded by the UpTrain
//! plugin in the background, then one `flush_async` and a summary.
//!
//! `cargo run --example async_pipeline`
//!
//! Every question runs in its own tokio task and the stand-in model pauses between tokens, so
//! the runs really interleave; the UpTrain handler keys its state by run id, so each score
//! belongs to its own question. Like `rag_pipeline`, it grades offline (lexical estimates)
//! unless asked for a judge: `UPTRAIN_EVALUATOR=judge` with `OPENAI_API_KEY` (and optionally
//! `OPENAI_BASE_URL`).

use std::collections::BTreeMap;
use std::error::Error;
use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::{Duration, Instant};

use examples::{Pipeline, QUESTIONS, Retrieval, UsageSummary, score_table};
use llm_callbacks::event::{ChainEnd, ChainStart, LlmNewToken};
use llm_callbacks::registry::PluginConfig;
use llm_callbacks::uptrain::{Check, UptrainHandler};
use llm_callbacks::{AsyncCallbackManager, CallbackHandler, callbacks};

/// Counts how many `rag` chains are running at once, and the most there ever were.
#[derive(CallbackHandler, Default)]
#[callback(name = "concurrency")]
struct Concurrency {
    open: AtomicUsize,
    peak: AtomicUsize,
    tokens: AtomicUsize,
}

#[callbacks]
impl Concurrency {
    #[on(chain_start)]
    fn started(&self, event: &ChainStart<'_>) {
        if event.run.name.as_deref() == Some(examples::RAG_CHAIN) {
            let open = self.open.fetch_add(1, Ordering::SeqCst) + 1;
            self.peak.fetch_max(open, Ordering::SeqCst);
        }
    }

    #[on(chain_end)]
    fn ended(&self, event: &ChainEnd<'_>) {
        if event.run.name.as_deref() == Some(examples::RAG_CHAIN) {
            self.open.fetch_sub(1, Ordering::SeqCst);
        }
    }

    #[on(llm_new_token)]
    fn token(&self, _event: &LlmNewToken<'_>) {
        self.tokens.fetch_add(1, Ordering::Relaxed);
    }
}

#[tokio::main]
async fn main() -> Result<(), Box<dyn Error>> {
    tracing_subscriber::fmt()
        .with_max_level(tracing_subscriber::filter::LevelFilter::INFO)
        .with_writer(std::io::stderr)
        .with_ansi(std::io::IsTerminal::is_terminal(&std::io::stderr()))
        .init();

    let concurrency = Arc::new(Concurrency::default());
    let usage = Arc::new(UsageSummary::new());
    let mut manager = AsyncCallbackManager::new()
        .with_handler(concurrency.clone())
        .with_handler(usage.clone());
    // Quiet per-answer blocks: the summary at the end says it all.
    let config = PluginConfig::from_env().set(llm_callbacks::uptrain::env::LOG_RESULTS, "false");
    manager.add_plugins(&config)?;
    let uptrain = manager.find_handler::<UptrainHandler>();

    let pipeline = Arc::new(Pipeline::shipped()?.with_token_delay(Duration::from_millis(2)));
    let started = Instant::now();
    let mut tasks = Vec::new();
    for (i, question) in QUESTIONS.iter().enumerate() {
        let (pipeline, manager) = (pipeline.clone(), manager.clone());
        let retrieval = Retrieval::ALL[i % Retrieval::ALL.len()];
        tasks.push(tokio::spawn(async move {
            pipeline.answer_async(&manager, question, retrieval).await
        }));
    }
    let mut answers = Vec::new();
    for task in tasks {
        answers.push(task.await??);
    }
    println!(
        "{} questions answered in {:?}, at most {} at once, {} tokens streamed",
        answers.len(),
        started.elapsed(),
        concurrency.peak.load(Ordering::SeqCst),
        concurrency.tokens.load(Ordering::Relaxed),
    );
    for answer in &answers {
        println!("- {} → {}", answer.question, answer.response);
    }
    // The stand-in model is in no price table: the summary says so rather than costing zero.
    print!("\n{}", usage.report());

    let Some(uptrain) = uptrain else {
        println!("\nThe UpTrain plugin is off (LLM_CALLBACKS_PLUGINS), so nothing was graded.");
        return Ok(());
    };
    let mut rows = uptrain.flush_async().await;
    // They finished in any order; group them by project for the table.
    rows.sort_by(|a, b| a.project.cmp(&b.project));
    println!(
        "\nUpTrain ({}) graded {} rows in the background:\n",
        uptrain.evaluator_name(),
        rows.len()
    );
    print!("{}", score_table(&rows));

    println!("\nMean score per check:");
    let mut sums: BTreeMap<&str, (f64, usize)> = BTreeMap::new();
    for row in &rows {
        for check in &row.checks {
            if let Some(score) = check.score {
                let entry = sums.entry(check.check.display_name()).or_default();
                entry.0 += score;
                entry.1 += 1;
            }
        }
    }
    for check in Check::ALL {
        if let Some((sum, n)) = sums.get(check.display_name()) {
            println!(
                "  {:<24} {:.2} over {n} rows",
                check.display_name(),
                sum / *n as f64
            );
        }
    }
    Ok(())
}
