//! A token event allocates nothing on the heap: in the sync manager, and for sync handlers in
//! the async manager. Counted with a counting global allocator.
#![allow(clippy::unwrap_used, clippy::expect_used)] // tests fail loudly

use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};

use handler_core::error::*;
use handler_core::event::*;
use handler_core::manager::*;
use handler_core::payload::Serialized;
use handler_core::*;
use llm_callbacks_test_support::{CountingAllocator, allocations};

#[global_allocator]
static GLOBAL: CountingAllocator = CountingAllocator;

#[derive(Default)]
struct Counter(AtomicUsize);
impl CallbackHandler for Counter {
    fn on_llm_new_token(&self, e: &LlmNewToken<'_>) -> HandlerResult {
        self.0.fetch_add(e.token.len(), Ordering::Relaxed);
        Ok(())
    }
}

struct IgnoresLlm;
impl CallbackHandler for IgnoresLlm {
    fn options(&self) -> HandlerOptions {
        HandlerOptions::new().ignore(Category::Llm)
    }
}

#[derive(Default)]
struct AsyncCounter(AtomicUsize);
impl AsyncCallbackHandler for AsyncCounter {
    async fn on_llm_new_token(&self, _: &LlmNewToken<'_>) -> HandlerResult {
        self.0.fetch_add(1, Ordering::Relaxed);
        Ok(())
    }
}

const BURST: usize = 10_000;

#[test]
fn sync_manager_token_burst_allocates_nothing() {
    let counters: Vec<Arc<Counter>> = (0..4).map(|_| Arc::default()).collect();
    let mut manager = CallbackManager::new();
    for c in &counters {
        manager.add_handler(c.clone());
    }
    manager.add_handler(Arc::new(IgnoresLlm));
    let runs = manager
        .on_llm_start(&Serialized::named("m"), "p", RunOptions::default())
        .unwrap();
    let run = &runs;

    let before = allocations();
    for _ in 0..BURST {
        run.on_llm_new_token("tok", None).unwrap();
    }
    let during = allocations() - before;

    assert_eq!(during, 0, "{during} allocations for {BURST} token events");
    for c in &counters {
        assert_eq!(
            c.0.load(Ordering::Relaxed),
            3 * BURST,
            "every handler saw every token"
        );
    }
}

#[test]
fn async_manager_token_burst_allocates_nothing_for_sync_handlers() {
    let runtime = tokio::runtime::Builder::new_current_thread()
        .build()
        .unwrap();
    let counters: Vec<Arc<Counter>> = (0..4).map(|_| Arc::default()).collect();
    let mut manager = AsyncCallbackManager::new();
    for c in &counters {
        manager.add_handler(c.clone());
    }
    runtime.block_on(async {
        let runs = manager
            .on_llm_start(&Serialized::named("m"), "p", RunOptions::default())
            .await
            .unwrap();
        let before = allocations();
        for _ in 0..BURST {
            runs.on_llm_new_token("tok", None).await.unwrap();
        }
        let during = allocations() - before;
        assert_eq!(during, 0, "{during} allocations for {BURST} token events");
    });
    assert_eq!(counters[3].0.load(Ordering::Relaxed), 3 * BURST);
}

#[test]
fn async_handlers_cost_two_boxed_futures_per_token() {
    let runtime = tokio::runtime::Builder::new_current_thread()
        .build()
        .unwrap();
    let one = Arc::new(AsyncCounter::default());
    let mut manager = AsyncCallbackManager::new();
    manager.add_async_handler(one.clone());
    runtime.block_on(async {
        let runs = manager
            .on_llm_start(&Serialized::named("m"), "p", RunOptions::default())
            .await
            .unwrap();
        let before = allocations();
        for _ in 0..BURST {
            runs.on_llm_new_token("tok", None).await.unwrap();
        }
        let per_token = (allocations() - before) as f64 / BURST as f64;
        // One box for the dispatch (kept off the sync-only fast path) and one for the
        // handler's future.
        assert_eq!(per_token, 2.0, "one async handler: two boxed futures");
    });
    assert_eq!(one.0.load(Ordering::Relaxed), BURST);
}
