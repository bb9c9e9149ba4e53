//! Streamed tokens are counted by the run: the end event carries the count and the time to the
//! first token, also for handlers that ignore the tokens themselves.
#![allow(clippy::unwrap_used, clippy::expect_used)] // tests fail loudly

use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use handler_core::event::{Category, LlmEnd, LlmError, LlmNewToken};
use handler_core::payload::{LlmResult, Serialized, StreamStats};
use handler_core::{
    AsyncCallbackHandler, AsyncCallbackManager, CallbackHandler, CallbackManager, HandlerOptions,
    HandlerResult, RunOptions,
};

/// Records the stream stats of every end and error, and counts the tokens it receives.
struct Ends {
    options: HandlerOptions,
    tokens: AtomicU64,
    stats: Mutex<Vec<StreamStats>>,
}

impl Ends {
    fn new(options: HandlerOptions) -> Arc<Self> {
        Arc::new(Self {
            options,
            tokens: AtomicU64::new(0),
            stats: Mutex::new(Vec::new()),
        })
    }

    fn stats(&self) -> Vec<StreamStats> {
        self.stats.lock().unwrap().clone()
    }
}

impl CallbackHandler for Ends {
    fn options(&self) -> HandlerOptions {
        self.options
    }
    fn on_llm_new_token(&self, _: &LlmNewToken<'_>) -> HandlerResult {
        self.tokens.fetch_add(1, Ordering::Relaxed);
        Ok(())
    }
    fn on_llm_end(&self, event: &LlmEnd<'_>) -> HandlerResult {
        self.stats.lock().unwrap().push(*event.stream);
        Ok(())
    }
    fn on_llm_error(&self, event: &LlmError<'_>) -> HandlerResult {
        self.stats.lock().unwrap().push(*event.stream);
        Ok(())
    }
}

fn model() -> Serialized {
    Serialized::named("model")
}

#[test]
fn a_handler_ignoring_tokens_gets_none_and_still_their_count() {
    let quiet = Ends::new(HandlerOptions::new().ignore(Category::LlmNewToken));
    let manager = CallbackManager::new().with_handler(quiet.clone());
    let started = Instant::now();
    let run = manager
        .on_llm_start(&model(), "hi", RunOptions::new())
        .unwrap();
    std::thread::sleep(Duration::from_millis(20));
    for token in ["a", "b", "c"] {
        run.on_llm_new_token(token, None).unwrap();
    }
    run.on_llm_end(&LlmResult::from_text("abc")).unwrap();
    let elapsed = started.elapsed();

    assert_eq!(
        quiet.tokens.load(Ordering::Relaxed),
        0,
        "tokens not dispatched"
    );
    let stats = quiet.stats();
    assert_eq!(stats.len(), 1);
    assert_eq!(stats[0].tokens, 3);
    let first = stats[0].time_to_first_token.expect("a first token");
    assert!(first >= Duration::from_millis(20), "{first:?}");
    assert!(first <= elapsed, "{first:?} > {elapsed:?}");
}

#[test]
fn ignore_llm_ignores_tokens_too() {
    let options = HandlerOptions::new().ignore(Category::Llm);
    assert!(!options.categories().contains(Category::LlmNewToken));
    assert!(options.ignores(Category::LlmNewToken));
    let tokens_only = HandlerOptions::new().ignore(Category::LlmNewToken);
    assert!(tokens_only.categories().contains(Category::Llm));
}

#[test]
fn a_handler_of_tokens_and_one_ignoring_them_see_the_same_count() {
    let all = Ends::new(HandlerOptions::new());
    let quiet = Ends::new(HandlerOptions::new().ignore(Category::LlmNewToken));
    let manager = CallbackManager::new()
        .with_handler(all.clone())
        .with_handler(quiet.clone());
    let run = manager
        .on_llm_start(&model(), "hi", RunOptions::new())
        .unwrap();
    for _ in 0..100 {
        run.on_llm_new_token("t", None).unwrap();
    }
    run.on_llm_end(&LlmResult::default()).unwrap();
    assert_eq!(all.tokens.load(Ordering::Relaxed), 100);
    assert_eq!(quiet.tokens.load(Ordering::Relaxed), 0);
    assert_eq!(all.stats()[0].tokens, 100);
    assert_eq!(quiet.stats()[0].tokens, 100);
}

#[test]
fn an_unstreamed_run_reports_no_tokens_and_no_first_token() {
    let ends = Ends::new(HandlerOptions::new());
    let manager = CallbackManager::new().with_handler(ends.clone());
    let run = manager
        .on_llm_start(&model(), "hi", RunOptions::new())
        .unwrap();
    run.on_llm_end(&LlmResult::from_text("at once")).unwrap();
    assert_eq!(ends.stats(), [StreamStats::NONE]);
}

#[test]
fn errors_and_abandoned_runs_carry_what_was_streamed() {
    let ends = Ends::new(HandlerOptions::new().ignore(Category::LlmNewToken));
    let manager = CallbackManager::new().with_handler(ends.clone());

    let failed = manager
        .on_llm_start(&model(), "hi", RunOptions::new())
        .unwrap();
    failed.on_llm_new_token("a", None).unwrap();
    failed
        .on_llm_error(handler_core::payload::ErrorInfo::new("Cut", "cut off"))
        .unwrap();

    let abandoned = manager
        .on_llm_start(&model(), "hi", RunOptions::new())
        .unwrap();
    abandoned.on_llm_new_token("a", None).unwrap();
    abandoned.on_llm_new_token("b", None).unwrap();
    drop(abandoned);

    let counts: Vec<u64> = ends.stats().iter().map(|s| s.tokens).collect();
    assert_eq!(counts, [1, 2]);
    assert!(ends.stats().iter().all(|s| s.time_to_first_token.is_some()));
}

#[test]
fn tokens_from_clones_on_many_threads_are_all_counted() {
    let ends = Ends::new(HandlerOptions::new().ignore(Category::LlmNewToken));
    let manager = CallbackManager::new().with_handler(ends.clone());
    let run = manager
        .on_llm_start(&model(), "hi", RunOptions::new())
        .unwrap();
    std::thread::scope(|scope| {
        for _ in 0..4 {
            let run = run.clone();
            scope.spawn(move || {
                for _ in 0..1000 {
                    run.on_llm_new_token("t", None).unwrap();
                }
            });
        }
    });
    run.on_llm_end(&LlmResult::default()).unwrap();
    assert_eq!(ends.stats()[0].tokens, 4000);
}

#[test]
fn tokens_from_one_run_shared_by_the_starting_thread_and_others_are_all_counted() {
    // The starting thread counts without an atomic add; other threads with one. Both at once,
    // through the same run manager (not clones), must lose nothing.
    let ends = Ends::new(HandlerOptions::new().ignore(Category::LlmNewToken));
    let manager = CallbackManager::new().with_handler(ends.clone());
    let run = manager
        .on_llm_start(&model(), "hi", RunOptions::new())
        .unwrap();
    const EACH: u64 = 1_000_000;
    let start = std::sync::Barrier::new(4);
    std::thread::scope(|scope| {
        for _ in 0..3 {
            let (run, start) = (&run, &start);
            scope.spawn(move || {
                start.wait();
                for _ in 0..EACH {
                    run.on_llm_new_token("t", None).unwrap();
                }
            });
        }
        start.wait();
        for _ in 0..EACH {
            run.on_llm_new_token("t", None).unwrap();
        }
    });
    run.on_llm_end(&LlmResult::default()).unwrap();
    assert_eq!(ends.stats()[0].tokens, 4 * EACH);
    assert!(ends.stats()[0].time_to_first_token.is_some());
}

#[test]
fn a_run_streamed_only_by_another_thread_is_counted() {
    let ends = Ends::new(HandlerOptions::new().ignore(Category::LlmNewToken));
    let manager = CallbackManager::new().with_handler(ends.clone());
    let run = manager
        .on_llm_start(&model(), "hi", RunOptions::new())
        .unwrap();
    std::thread::spawn(move || {
        for _ in 0..7 {
            run.on_llm_new_token("t", None).unwrap();
        }
        run.on_llm_end(&LlmResult::default()).unwrap();
    })
    .join()
    .unwrap();
    assert_eq!(ends.stats()[0].tokens, 7);
    assert!(ends.stats()[0].time_to_first_token.is_some());
}

/// The async twin of [`Ends`].
struct AsyncEnds(Mutex<Vec<StreamStats>>);

impl AsyncCallbackHandler for AsyncEnds {
    fn options(&self) -> HandlerOptions {
        HandlerOptions::new().ignore(Category::LlmNewToken)
    }
    async fn on_llm_end(&self, event: &LlmEnd<'_>) -> HandlerResult {
        self.0.lock().unwrap().push(*event.stream);
        Ok(())
    }
}

#[tokio::test]
async fn async_runs_count_tokens_the_same_way() {
    let ends = Arc::new(AsyncEnds(Mutex::new(Vec::new())));
    let manager = AsyncCallbackManager::new().with_async_handler(ends.clone());
    let run = manager
        .on_chat_model_start(&model(), &[], RunOptions::new())
        .await
        .unwrap();
    for _ in 0..5 {
        run.on_llm_new_token("t", None).await.unwrap();
    }
    run.on_llm_end(&LlmResult::default()).await.unwrap();
    let stats = ends.0.lock().unwrap().clone();
    assert_eq!(stats.len(), 1);
    assert_eq!(stats[0].tokens, 5);
    assert!(stats[0].time_to_first_token.is_some());
}

#[test]
fn stream_stats_survive_a_json_round_trip_and_old_records_read_as_none() {
    let stats = StreamStats::new(7, Some(Duration::from_millis(12)));
    let json = serde_json::to_string(&stats).unwrap();
    assert_eq!(serde_json::from_str::<StreamStats>(&json).unwrap(), stats);

    let old = r#"{"event":"llm_end","run":{"run_id":"00000000-0000-0000-0000-000000000001"},"response":{"generations":[]}}"#;
    let record: handler_core::event::EventRecord = serde_json::from_str(old).unwrap();
    let handler_core::event::EventRecord::LlmEnd { stream, .. } = record else {
        panic!("{record:?}");
    };
    assert_eq!(stream, StreamStats::NONE);
}
