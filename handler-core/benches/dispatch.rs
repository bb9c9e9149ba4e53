//! Cost of dispatch per token event, sync and async, and of a whole run.
//!
//! `cargo bench -p handler-core`. The `baseline` group is a plain loop over
//! `Arc<dyn Trait>` with a mask test and `catch_unwind`: the floor the managers are compared to.
#![allow(clippy::unwrap_used, clippy::expect_used)] // tests fail loudly
#![allow(missing_docs)]

use std::hint::black_box;
use std::panic::{AssertUnwindSafe, catch_unwind};
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, Instant};

use criterion::{Criterion, criterion_group, criterion_main};
use handler_core::error::*;
use handler_core::event::*;
use handler_core::manager::*;
use handler_core::payload::{LlmResult, Serialized};
use handler_core::*;
use serde_json::json;

#[derive(Default)]
struct Counting(AtomicU64);
impl CallbackHandler for Counting {
    fn on_llm_new_token(&self, e: &LlmNewToken<'_>) -> HandlerResult {
        self.0.fetch_add(e.token.len() as u64, Ordering::Relaxed);
        Ok(())
    }
}

#[derive(Default)]
struct AsyncCounting(AtomicU64);
impl AsyncCallbackHandler for AsyncCounting {
    async fn on_llm_new_token(&self, e: &LlmNewToken<'_>) -> HandlerResult {
        self.0.fetch_add(e.token.len() as u64, Ordering::Relaxed);
        Ok(())
    }
}

struct IgnoresLlm;
impl CallbackHandler for IgnoresLlm {
    fn options(&self) -> HandlerOptions {
        HandlerOptions::new().ignore(Category::Llm)
    }
}

fn sync_manager(ignoring: usize, counting: usize) -> CallbackManager {
    let mut manager = CallbackManager::new();
    for _ in 0..ignoring {
        manager.add_handler(Arc::new(IgnoresLlm));
    }
    for _ in 0..counting {
        manager.add_handler(Arc::new(Counting::default()));
    }
    manager
}

fn async_manager(ignoring: usize, counting: usize, async_counting: usize) -> AsyncCallbackManager {
    let mut manager = AsyncCallbackManager::new();
    for _ in 0..ignoring {
        manager.add_handler(Arc::new(IgnoresLlm));
    }
    for _ in 0..counting {
        manager.add_handler(Arc::new(Counting::default()));
    }
    for _ in 0..async_counting {
        manager.add_async_handler(Arc::new(AsyncCounting::default()));
    }
    manager
}

const SYNC_CASES: [(&str, usize, usize); 4] = [
    ("no handler", 0, 0),
    ("4 ignoring LLM", 4, 0),
    ("1 counting", 0, 1),
    ("4 counting", 0, 4),
];

fn baseline(c: &mut Criterion) {
    trait Plain: Send + Sync {
        fn mask(&self) -> u8;
        fn on_token(&self, token: &str);
    }
    struct P(AtomicU64, u8);
    impl Plain for P {
        fn mask(&self) -> u8 {
            self.1
        }
        fn on_token(&self, token: &str) {
            self.0.fetch_add(token.len() as u64, Ordering::Relaxed);
        }
    }
    let mut group = c.benchmark_group("baseline");
    for (name, ignoring, counting) in SYNC_CASES {
        let handlers: Vec<Arc<dyn Plain>> = (0..ignoring)
            .map(|_| Arc::new(P(AtomicU64::new(0), 0)) as Arc<dyn Plain>)
            .chain((0..counting).map(|_| Arc::new(P(AtomicU64::new(0), 1)) as Arc<dyn Plain>))
            .collect();
        group.bench_function(name, |b| {
            b.iter(|| {
                for h in &handlers {
                    if h.mask() & 1 != 0 {
                        let _ = catch_unwind(AssertUnwindSafe(|| h.on_token(black_box("tok"))));
                    }
                }
            })
        });
    }
    group.finish();
}

/// Consumes a result as `?` does: an `Ok` costs a test, not a call to the error's drop glue
/// (which criterion's `iter` would make when handed the `Result` to drop, and which the floor's
/// loop, returning `()`, never pays).
#[inline(always)]
fn checked(result: Result<(), CallbackError>) {
    if let Err(error) = result {
        panic!("{error}");
    }
}

fn sync_tokens(c: &mut Criterion) {
    let mut group = c.benchmark_group("sync token");
    for (name, ignoring, counting) in SYNC_CASES {
        let manager = sync_manager(ignoring, counting);
        let Ok(run) = manager.on_llm_start(&Serialized::named("m"), "p", RunOptions::default())
        else {
            return;
        };
        group.bench_function(name, |b| {
            b.iter(|| checked(run.on_llm_new_token(black_box("tok"), None)))
        });
    }
    group.finish();
}

fn whole_run_sync(manager: &CallbackManager) -> Result<(), CallbackError> {
    let chain = manager.on_chain_start(None, &json!(null), RunOptions::default())?;
    let llm = chain
        .child()
        .on_llm_start(&Serialized::named("m"), "", RunOptions::default())?;
    for _ in 0..100 {
        llm.on_llm_new_token(black_box("tok"), None)?;
    }
    llm.on_llm_end(&LlmResult::default())?;
    chain.on_chain_end(&json!(null))
}

/// The same run, with the LLM started from the current run instead of `chain.child()`: what
/// entering a run and looking it up costs.
fn whole_run_through_current(manager: &CallbackManager) -> Result<(), CallbackError> {
    let chain = manager.on_chain_start(None, &json!(null), RunOptions::default())?;
    chain.in_scope(|| {
        let Some(current) = CallbackManager::current() else {
            return Ok(());
        };
        let llm = current.on_llm_start(&Serialized::named("m"), "", RunOptions::default())?;
        for _ in 0..100 {
            llm.on_llm_new_token(black_box("tok"), None)?;
        }
        llm.on_llm_end(&LlmResult::default())
    })?;
    chain.on_chain_end(&json!(null))
}

fn sync_whole_run(c: &mut Criterion) {
    let mut group = c.benchmark_group("sync whole run (chain, LLM, 100 tokens)");
    for (name, ignoring, counting) in SYNC_CASES {
        let manager = sync_manager(ignoring, counting);
        group.bench_function(name, |b| b.iter(|| checked(whole_run_sync(&manager))));
        group.bench_function(format!("{name}, through the current run"), |b| {
            b.iter(|| checked(whole_run_through_current(&manager)))
        });
    }
    group.finish();
}

const ASYNC_CASES: [(&str, usize, usize, usize); 6] = [
    ("no handler", 0, 0, 0),
    ("4 ignoring LLM", 4, 0, 0),
    ("1 counting", 0, 1, 0),
    ("4 counting", 0, 4, 0),
    ("1 async counting", 0, 0, 1),
    ("4 async counting", 0, 0, 4),
];

/// Times `iters` calls of `step` inside one `block_on`, so the runtime's cost is not counted.
fn time_async<F, Fut>(runtime: &tokio::runtime::Runtime, iters: u64, step: F) -> Duration
where
    F: Fn() -> Fut,
    Fut: std::future::Future<Output = ()>,
{
    runtime.block_on(async {
        let start = Instant::now();
        for _ in 0..iters {
            step().await;
        }
        start.elapsed()
    })
}

fn async_tokens(c: &mut Criterion) {
    let Ok(runtime) = tokio::runtime::Builder::new_current_thread().build() else {
        return;
    };
    let mut group = c.benchmark_group("async token");
    for (name, ignoring, counting, async_counting) in ASYNC_CASES {
        let manager = async_manager(ignoring, counting, async_counting);
        let Ok(run) = runtime.block_on(manager.on_llm_start(
            &Serialized::named("m"),
            "p",
            RunOptions::default(),
        )) else {
            return;
        };
        group.bench_function(name, |b| {
            b.iter_custom(|iters| {
                time_async(&runtime, iters, || async {
                    let _ = black_box(run.on_llm_new_token(black_box("tok"), None).await);
                })
            })
        });
    }
    group.finish();
}

fn async_whole_run(c: &mut Criterion) {
    let Ok(runtime) = tokio::runtime::Builder::new_current_thread().build() else {
        return;
    };
    let mut group = c.benchmark_group("async whole run (chain, LLM, 100 tokens)");
    for (name, ignoring, counting, async_counting) in ASYNC_CASES {
        let manager = async_manager(ignoring, counting, async_counting);
        group.bench_function(name, |b| {
            b.iter_custom(|iters| {
                time_async(&runtime, iters, || async {
                    let run = async {
                        let chain = manager
                            .on_chain_start(None, &json!(null), RunOptions::default())
                            .await?;
                        let llm = chain
                            .child()
                            .on_llm_start(&Serialized::named("m"), "", RunOptions::default())
                            .await?;
                        for _ in 0..100 {
                            llm.on_llm_new_token(black_box("tok"), None).await?;
                        }
                        llm.on_llm_end(&LlmResult::default()).await?;
                        chain.on_chain_end(&json!(null)).await
                    };
                    let _ = black_box(run.await);
                })
            })
        });
    }
    group.finish();
}

fn config() -> Criterion {
    Criterion::default()
        .warm_up_time(Duration::from_millis(500))
        .measurement_time(Duration::from_secs(2))
        .sample_size(30)
}

criterion_group! {
    name = benches;
    config = config();
    targets = baseline, sync_tokens, sync_whole_run, async_tokens, async_whole_run
}
criterion_main!(benches);
