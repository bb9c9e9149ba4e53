//! Mass cancellation outside tokio: runs of the async manager abandoned inside another executor
//! reach the async handlers from one background thread, not a thread each, and none is lost.
#![allow(clippy::unwrap_used, clippy::expect_used)] // tests fail loudly

use std::collections::HashSet;
use std::sync::Arc;
use std::sync::Mutex;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::thread::ThreadId;
use std::time::{Duration, Instant};

use handler_core::error::*;
use handler_core::event::*;
use handler_core::manager::*;
use handler_core::*;
use serde_json::json;

/// Counts the abandoned chain errors it gets, and the threads it got them on.
#[derive(Default)]
struct Abandoned {
    count: AtomicUsize,
    threads: Mutex<HashSet<ThreadId>>,
}

impl AsyncCallbackHandler for Abandoned {
    async fn on_chain_error(&self, event: &ChainError<'_>) -> HandlerResult {
        assert!(event.error.is_abandoned());
        self.threads
            .lock()
            .unwrap()
            .insert(std::thread::current().id());
        self.count.fetch_add(1, Ordering::SeqCst);
        Ok(())
    }
}

#[test]
fn ten_thousand_runs_abandoned_outside_tokio_use_one_thread_and_all_arrive() {
    const RUNS: usize = 10_000;
    let handler = Arc::new(Abandoned::default());
    let manager = AsyncCallbackManager::new().with_async_handler(handler.clone());

    // Inside another executor, the drop cannot block on the async handler itself.
    futures_executor::block_on(async {
        for _ in 0..RUNS {
            let run = manager
                .on_chain_start(None, &json!({}), RunOptions::new())
                .await
                .unwrap();
            drop(run);
        }
    });

    // A generous limit that only catches a hang.
    let deadline = Instant::now() + Duration::from_secs(120);
    while handler.count.load(Ordering::SeqCst) < RUNS && Instant::now() < deadline {
        std::thread::sleep(Duration::from_millis(10));
    }
    assert_eq!(
        handler.count.load(Ordering::SeqCst),
        RUNS,
        "abandoned errors lost"
    );
    let threads = handler.threads.lock().unwrap();
    assert_eq!(threads.len(), 1, "one background thread, not one per run");
    assert!(!threads.contains(&std::thread::current().id()));
}
