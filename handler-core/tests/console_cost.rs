//! The console's lines at a model run's end: the token usage with the details the server
//! reported, and the run's cost with where its prices came from, or why it has none.
#![allow(clippy::unwrap_used, clippy::expect_used)] // tests fail loudly

use std::sync::Arc;

use handler_core::cost::{ModelPrices, PriceTable};
use handler_core::handlers::ConsoleHandler;
use handler_core::payload::{LlmResult, Serialized, TokenUsage};
use handler_core::{CallbackManager, RunOptions};

/// What the console prints for one model run ending with `result`.
fn printed(console: ConsoleHandler, result: &LlmResult) -> String {
    let console = Arc::new(console);
    let manager = CallbackManager::new().with_handler(console.clone());
    let llm = manager
        .on_llm_start(&Serialized::named("m"), "hi", RunOptions::new())
        .unwrap();
    llm.on_llm_end(result).unwrap();
    console.take_output().unwrap()
}

fn answer() -> LlmResult {
    LlmResult::from_text("Paris.")
}

#[test]
fn an_llm_end_shows_its_tokens_and_its_cost_or_why_it_has_none() {
    let unknown_llama = format!(
        "Paris.\ntokens 5 in, 1 out, 6 total\n\
         cost unknown: model \"llama3.2\" not in the price table (version {})\n",
        PriceTable::shipped().version()
    );
    let cases: [(&str, LlmResult, &str); 6] = [
        (
            "cached prompt tokens on a known snapshot",
            answer()
                .with_model_name("gpt-4o-mini-2024-07-18")
                .with_token_usage(TokenUsage::new(2048, 3).with_cache_read_tokens(1920)),
            // 128 * 0.15 + 1920 * 0.075 + 3 * 0.6, per million.
            "Paris.\ntokens 2048 in (1920 cached), 3 out, 2051 total\n\
             cost $0.000165 (gpt-4o-mini, prices of 2024-10-01)\n",
        ),
        (
            "reasoning tokens",
            answer()
                .with_model_name("o4-mini")
                .with_token_usage(TokenUsage::new(100, 1000).with_reasoning_tokens(900)),
            // 100 * 1.1 + 1000 * 4.4, per million.
            "Paris.\ntokens 100 in, 1000 out (900 reasoning), 1100 total\n\
             cost $0.004510 (o4-mini, prices of 2025-04-16)\n",
        ),
        (
            "cache writes",
            answer()
                .with_model_name("claude-sonnet-4-0")
                .with_token_usage(TokenUsage::new(10_000, 0).with_cache_write_tokens(10_000)),
            "Paris.\ntokens 10000 in (10000 cache-write), 0 out, 10000 total\n\
             cost $0.037500 (claude-sonnet-4-20250514, prices of 2025-05-22)\n",
        ),
        (
            "an unknown model",
            answer()
                .with_model_name("llama3.2")
                .with_token_usage(TokenUsage::new(5, 1)),
            &unknown_llama,
        ),
        (
            "no usage",
            answer().with_model_name("gpt-4o"),
            "Paris.\ncost unknown: the run reported no token usage\n",
        ),
        (
            "no model",
            answer().with_token_usage(TokenUsage::new(5, 1)),
            "Paris.\ntokens 5 in, 1 out, 6 total\ncost unknown: the run named no model\n",
        ),
    ];
    for (what, result, expected) in cases {
        let out = printed(ConsoleHandler::to_writer(Vec::new()), &result);
        assert_eq!(out, expected, "{what}");
    }
}

#[test]
fn a_console_prices_with_the_table_it_is_given() {
    let prices = PriceTable::shipped()
        .clone()
        .with_model(
            "llama3.2",
            ModelPrices::new(1.0, 2.0, "2026-12-01", "our GPUs"),
        )
        .unwrap();
    let result = answer()
        .with_model_name("llama3.2")
        .with_token_usage(TokenUsage::new(1_000_000, 500_000));
    let out = printed(
        ConsoleHandler::to_writer(Vec::new()).with_prices(prices),
        &result,
    );
    assert!(
        out.ends_with("cost $2.000000 (llama3.2, prices of 2026-12-01)\n"),
        "{out}"
    );
}

#[test]
fn a_hostile_model_name_is_escaped_in_the_cost_line() {
    let result = answer()
        .with_model_name("evil\x1b]0;pwned\x07")
        .with_token_usage(TokenUsage::new(1, 1));
    let out = printed(ConsoleHandler::to_writer(Vec::new()), &result);
    assert!(!out.contains('\x1b') && !out.contains('\x07'), "{out:?}");
    assert!(
        out.contains("cost unknown: model \"evil\\u{1b}]0;pwned\\u{7}\""),
        "{out}"
    );
}
