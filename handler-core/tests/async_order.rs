//! The async manager: inline handlers in registration order, then the others concurrently;
//! one handler sees the events of one run in emission order.
#![allow(clippy::unwrap_used, clippy::expect_used)] // tests fail loudly

use std::sync::{Arc, Mutex};
use std::time::Duration;

use handler_core::error::*;
use handler_core::event::*;
use handler_core::manager::*;
use handler_core::payload::{LlmResult, Serialized};
use handler_core::*;
use serde_json::json;

type Log = Arc<Mutex<Vec<String>>>;

struct Timed {
    label: &'static str,
    inline: bool,
    delay_ms: u64,
    log: Log,
}

impl AsyncCallbackHandler for Timed {
    fn name(&self) -> &str {
        self.label
    }
    fn options(&self) -> HandlerOptions {
        HandlerOptions::new().run_inline(self.inline)
    }
    async fn on_chain_start(&self, _: &ChainStart<'_>) -> HandlerResult {
        self.log
            .lock()
            .unwrap()
            .push(format!("{} start", self.label));
        tokio::time::sleep(Duration::from_millis(self.delay_ms)).await;
        self.log.lock().unwrap().push(format!("{} end", self.label));
        Ok(())
    }
    async fn on_llm_new_token(&self, e: &LlmNewToken<'_>) -> HandlerResult {
        // Later tokens finish faster: only awaiting each dispatch keeps them in order.
        let n: u64 = e.token.parse().unwrap_or(0);
        tokio::time::sleep(Duration::from_millis(5u64.saturating_sub(n))).await;
        self.log
            .lock()
            .unwrap()
            .push(format!("{} {}:{}", self.label, e.run.run_id, e.token));
        Ok(())
    }
}

struct SyncLogger(Log);
impl CallbackHandler for SyncLogger {
    fn on_chain_start(&self, _: &ChainStart<'_>) -> HandlerResult {
        self.0.lock().unwrap().push("sync".into());
        Ok(())
    }
}

fn timed(label: &'static str, inline: bool, delay_ms: u64, log: &Log) -> Arc<Timed> {
    Arc::new(Timed {
        label,
        inline,
        delay_ms,
        log: log.clone(),
    })
}

#[tokio::test(start_paused = true)] // sleeps order the handlers, on virtual time
async fn inline_handlers_run_in_order_before_the_concurrent_group() {
    let log: Log = Arc::default();
    let mut manager = AsyncCallbackManager::new();
    manager
        .add_async_handler(timed("c1", false, 30, &log))
        .add_async_handler(timed("i1", true, 10, &log))
        .add_handler(Arc::new(SyncLogger(log.clone())))
        .add_async_handler(timed("c2", false, 1, &log))
        .add_async_handler(timed("i2", true, 1, &log));
    manager
        .on_chain_start(None, &json!({}), RunOptions::default())
        .await
        .unwrap();
    let log = log.lock().unwrap().clone();
    assert_eq!(
        &log[..5],
        ["i1 start", "i1 end", "sync", "i2 start", "i2 end"]
    );
    // c1 and c2 overlap: both start before the slower c1 ends, and c2 ends first.
    assert_eq!(&log[5..7], ["c1 start", "c2 start"]);
    assert_eq!(&log[7..], ["c2 end", "c1 end"]);
}

#[tokio::test]
async fn concurrent_handlers_run_together() {
    // Each handler waits at a barrier for all four: run one after another, they never pass it.
    struct AtBarrier(Arc<tokio::sync::Barrier>);
    impl AsyncCallbackHandler for AtBarrier {
        async fn on_chain_start(&self, _: &ChainStart<'_>) -> HandlerResult {
            self.0.wait().await;
            Ok(())
        }
    }
    let barrier = Arc::new(tokio::sync::Barrier::new(4));
    let mut manager = AsyncCallbackManager::new();
    for _ in 0..4 {
        manager.add_async_handler(Arc::new(AtBarrier(barrier.clone())));
    }
    let inputs = json!({});
    let start = manager.on_chain_start(None, &inputs, RunOptions::default());
    let finished = tokio::time::timeout(Duration::from_secs(10), start).await;
    assert!(finished.is_ok(), "the handlers did not run concurrently");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn one_handler_sees_each_runs_events_in_emission_order() {
    let log: Log = Arc::default();
    let mut manager = AsyncCallbackManager::new();
    manager.add_async_handler(timed("h", false, 0, &log));
    let manager = Arc::new(manager);
    let mut tasks = Vec::new();
    for _ in 0..4 {
        let manager = manager.clone();
        tasks.push(tokio::spawn(async move {
            let runs = manager
                .on_llm_start(&Serialized::named("m"), "p", RunOptions::default())
                .await
                .unwrap();
            for i in 0..5 {
                runs.on_llm_new_token(&i.to_string(), None).await.unwrap();
            }
            let run_id = runs.run_id();
            runs.on_llm_end(&LlmResult::from_text("x")).await.unwrap();
            run_id
        }));
    }
    for task in tasks {
        let run_id = task.await.unwrap();
        let tokens: Vec<String> = log
            .lock()
            .unwrap()
            .iter()
            .filter_map(|l| l.strip_prefix(&format!("h {run_id}:")).map(String::from))
            .collect();
        assert_eq!(tokens, ["0", "1", "2", "3", "4"]);
    }
}

#[tokio::test]
async fn every_handler_gets_llm_start_when_inline_and_concurrent_handlers_mix() {
    // LangChain 1.8.3 drops llm start for non-inline handlers when any handler is inline.
    struct Starts(Log, &'static str, bool);
    impl AsyncCallbackHandler for Starts {
        fn options(&self) -> HandlerOptions {
            HandlerOptions::new().run_inline(self.2)
        }
        async fn on_llm_start(&self, _: &LlmStart<'_>) -> HandlerResult {
            self.0.lock().unwrap().push(self.1.into());
            Ok(())
        }
    }
    let log: Log = Arc::default();
    let mut manager = AsyncCallbackManager::new();
    manager
        .add_async_handler(Arc::new(Starts(log.clone(), "inline", true)))
        .add_async_handler(Arc::new(Starts(log.clone(), "concurrent", false)));
    manager
        .on_llm_start_batch(
            &Serialized::named("m"),
            &["a".into(), "b".into()],
            RunOptions::default(),
        )
        .await
        .unwrap();
    assert_eq!(
        *log.lock().unwrap(),
        ["inline", "concurrent", "inline", "concurrent"]
    );
}
